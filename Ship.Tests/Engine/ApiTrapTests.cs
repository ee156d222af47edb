using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.Devices.Memristive;
using TorchSharp;
using static Ship.Tests.Reliability.ReliabilityKit;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>API traps a new user met (issue #12, point 5): each now does the obvious thing.</summary>
public class ApiTrapTests
{
    private static Network Sources(long seed)
    {
        var net = new Network("sources") { Dt = 1e-3, BatchSize = 2, Seed = seed };
        net.Add("P", new PoissonSource(3, rate: 300));
        net.Add("PL", new Dense(0.6), "P", "L");
        net.Add("L", new Lif(2, tau: 5e-3, threshold: 0.5));
        net.MarkOutput("P", "L");
        return net;
    }

    [Test]
    public void RunAndContinueTakeAScheduleAlone()
    {
        var a = Sources(4);
        var b = Sources(4);
        var first = a.Run(new Schedule((1e-3, 6), (0.5e-3, 4)));
        var expected = b.Run((IReadOnlyDictionary<string, Tensor>?)null, new Schedule((1e-3, 6), (0.5e-3, 4)));
        Assert.That(first["L"].shape, Is.EqualTo(new long[] { 2, 10, 2 }));
        AssertBitIdentical(expected["P"], first["P"], "Run(schedule)");
        AssertBitIdentical(b.Continue((IReadOnlyDictionary<string, Tensor>?)null, Schedule.Fixed(1e-3, 5))["L"], a.Continue(Schedule.Fixed(1e-3, 5))["L"], "Continue(schedule)");
        Assert.That(a.Timeline.Times.Count, Is.EqualTo(15));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AnInfiniteTimeConstantMeansNoLeak(bool timeBatching)
    {
        const int steps = 12;
        var net = new Network { Dt = 1e-3, Steps = steps, BatchSize = 2, DType = ScalarType.Float64, TimeBatching = timeBatching };
        net.Add("I", new TensorInput(3));
        net.Add("S", new Dense(torch.eye(3, dtype: ScalarType.Float64)), "I", "L");
        net.Add("L", new Lif(3, tau: double.PositiveInfinity, threshold: 1e9));
        net.Add("S2", new Dense(torch.eye(3, dtype: ScalarType.Float64)), "I", "R");
        net.Add("R", new LeakyIntegrator(3, tau: double.PositiveInfinity));
        net.MarkOutput("R");
        var u = net.Monitor("L", "u");
        var x = torch.rand(new long[] { 2, steps, 3 }, ScalarType.Float64, generator: new torch.Generator(9));
        var r = net.Run(x);
        // No leak: u_k = Σ_{j ≤ k} x_j (inputs are ≥ 0, so the rectification never acts), summed here step by step.
        var xs = x.data<double>().ToArray();
        var expected = new double[xs.Length];
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 3; i++)
            {
                double acc = 0;
                for (int k = 0; k < steps; k++) { acc += xs[(b * steps + k) * 3 + i]; expected[(b * steps + k) * 3 + i] = acc; }
            }
        Assert.That(u.Values.data<double>().ToArray(), Is.EqualTo(expected).Within(1e-12), "LIF membrane");
        Assert.That(r["R"].data<double>().ToArray(), Is.EqualTo(expected).Within(1e-12), "leaky integrator");
        var g = new Lif(1);
        g.Bind(new SimulationContext(1));
        Assert.Throws<Ship.Core.Errors.ParameterException>(() => g.Set("tau", double.NegativeInfinity), "−∞ is still refused");
    }

    [Test]
    public void StateMonitorValuesAreEmptyBeforeAnyRecord()
    {
        var net = Sources(1);
        var m = net.Monitor("L", "u");
        Assert.That(m.Values.shape, Is.EqualTo(new long[] { 0 }), "not bound yet");
        m.Enabled = false;
        net.Run(Schedule.Fixed(1e-3, 5));
        Assert.That(m.Count, Is.EqualTo(0));
        Assert.That(m.Values.shape, Is.EqualTo(new long[] { 2, 0, 2 }), "[batch, 0 steps, N]");
        Assert.That(m.Values.dtype, Is.EqualTo(net.DType));
        m.Enabled = true;
        net.Continue(Schedule.Fixed(1e-3, 3));
        Assert.That(m.Values.shape, Is.EqualTo(new long[] { 2, 3, 2 }), "records after enabling");
    }

    [Test]
    public void QuantizedLevelsExposeLevelsAndBinEdges()
    {
        var q = new QuantizedLevels(5, levelSigma: 0);
        var range = new ConductanceRange(10, 30); // the arithmetic is the same in any unit; round numbers keep it exact
        // Δ = (30 − 10)/4 = 5: levels 10, 15, 20, 25, 30; edges halfway.
        Assert.That(q.LevelValues(range), Is.EqualTo(new[] { 10.0, 15, 20, 25, 30 }));
        Assert.That(q.BinEdges(range), Is.EqualTo(new[] { 12.5, 17.5, 22.5, 27.5 }));
        // The model quantizes with exactly these: a value on an edge goes up, just below stays down.
        var g = torch.tensor(new[] { 12.5, 12.499, 27.5, 9.0, 31.0 }, ScalarType.Float64);
        var index = QuantizedLevels.LevelIndex(g, range, 5);
        Assert.That(Stat.D(index), Is.EqualTo(new[] { 1.0, 0, 4, 0, 4 }));
    }

    [Test]
    public void PerDeviceDriftDrawsAreReachable()
    {
        var drift = new PowerLawDrift(20, PowerLawClock.OffsetByT0);
        var rram = new RramDrift();
        using var array = new DeviceArray(new SymmetricDifferentialMapping(0, 25e-6), drift);
        var ctx = Stat.Ctx(3);
        var w = torch.rand(new long[] { 6, 5 }, ScalarType.Float64, generator: new torch.Generator(2));
        array.Program(w, ctx);
        var nu = drift.Exponents(array);
        var g0 = array.State.Programmed;
        Assert.That(nu.shape, Is.EqualTo(g0.shape));
        Assert.That(nu.std().item<double>(), Is.GreaterThan(0), "one exponent per device");
        // G(t) = G0·((t + t0)/t0)^(−ν), with the exponents read through the documented member.
        array.ElapsedTime = 1000;
        var expected = g0 * ((1000.0 + 20) / 20).ToTensor(nu).pow(-nu);
        Assert.That(Stat.D(array.ReadConductances(ctx)), Is.EqualTo(Stat.D(expected)).Within(1e-9));
        Assert.That(Assert.Throws<Ship.Core.Errors.ShipException>(() => rram.Deviations(array))!.Message, Does.Contain("RramDrift"), "a drift not in the array");

        using var rramArray = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), rram);
        rramArray.Program(torch.rand(new long[] { 40, 50 }, ScalarType.Float64, generator: new torch.Generator(4)), ctx);
        var z = Stat.D(rram.Deviations(rramArray));
        Assert.That(z.Average(), Is.EqualTo(0).Within(0.1), "standard-normal deviations");
        Assert.That(Math.Sqrt(z.Select(v => v * v).Average()), Is.EqualTo(1).Within(0.1));
    }
}

internal static class ScalarTensorExtensions
{
    public static Tensor ToTensor(this double v, Tensor like) => torch.tensor(v, dtype: like.dtype, device: like.device);
}
