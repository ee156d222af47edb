using Ship.Devices.Neurons;
using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

public class DeviceArrayTests
{
    [Test]
    public void ReferenceMappingPutsMagnitudesOnGPlusAndKeepsTheSign()
    {
        var w = torch.tensor(new float[] { -2f, -0.5f, 0f, 1f, 2f, 0.25f }).reshape(2, 3);
        using var dev = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6));
        var ctx = Stat.Ctx();
        dev.Program(w, ctx);
        var g = Stat.D(dev.State.Programmed);
        var x = Stat.D(w);
        for (int i = 0; i < 6; i++)
        {
            Assert.That(g[i], Is.EqualTo((Math.Abs(x[i]) / 2 * 70 + 50) * 1e-6).Within(1e-15), "G+ = (|w|/M·70 + 50) µS");
            Assert.That(g[6 + i], Is.EqualTo(50e-6), "G− = Gmin");
        }
        var r = Stat.D(dev.Read(ctx));
        for (int i = 0; i < 6; i++) Assert.That(r[i], Is.EqualTo(x[i]).Within(1e-6));
    }

    [Test]
    public void SymmetricMappingProgramsTheDeviceOfTheSign()
    {
        var w = torch.tensor(new float[] { -2f, -0.5f, 0f, 1f, 2f, 0.25f }).reshape(2, 3);
        using var dev = new DeviceArray(new SymmetricDifferentialMapping(10e-6, 30e-6));
        var ctx = Stat.Ctx();
        dev.Program(w, ctx);
        var g = Stat.D(dev.State.Programmed);
        var x = Stat.D(w);
        for (int i = 0; i < 6; i++)
        {
            Assert.That(g[i], Is.EqualTo((Math.Max(x[i], 0) / 2 * 20 + 10) * 1e-6).Within(1e-15));
            Assert.That(g[6 + i], Is.EqualTo((Math.Max(-x[i], 0) / 2 * 20 + 10) * 1e-6).Within(1e-15));
        }
        Assert.That(Stat.D(dev.Read(ctx)), Is.EqualTo(x).Within(1e-6));
        // A fixed scale replaces max|w|.
        using var fixedScale = new DeviceArray(new SymmetricDifferentialMapping(10e-6, 30e-6, scale: 4));
        fixedScale.Program(w, ctx);
        Assert.That(Stat.D(fixedScale.State.Programmed)[4], Is.EqualTo((2.0 / 4 * 20 + 10) * 1e-6).Within(1e-15));
    }

    [Test]
    public void IdealPresetReadsTheWeightsExactly()
    {
        var g = new torch.Generator(2);
        var w = torch.randn(new long[] { 17, 9 }, generator: g);
        using var dev = MemristivePresets.Ideal();
        var ctx = Stat.Ctx();
        dev.Program(w, ctx);
        var r = dev.Read(ctx);
        Assert.That(r.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(r.data<float>().ToArray(), Is.EqualTo(w.data<float>().ToArray()));
        Assert.That(dev.ReadsVary, Is.False);
    }

    [Test]
    public void DenseSynapseWithADeviceInANetworkComputesXTimesTheReadWeights()
    {
        const int b = 2, steps = 6, ns = 4, nt = 3;
        var g = new torch.Generator(7);
        var w = torch.rand(new long[] { ns, nt }, generator: g).sub_(0.5f);
        var x = torch.rand(new long[] { b, steps, ns }, generator: g);
        var device = MemristivePresets.ShipRram(1e4);
        var net = new Network { Dt = 1e-3, Steps = steps, BatchSize = b, Seed = 5 };
        net.Add("I", new TensorInput(ns));
        net.Add("L", new LeakyIntegrator(nt)); // a sink: the synapse output is what is checked
        net.Add("S", new Dense(w).WithDevice(device), "I", "L");
        net.MarkOutput("S");
        var y = net.Run(new Dictionary<string, Tensor> { ["I"] = x })["S"];
        var wEff = device.Read(net.Context);
        Assert.That(Stat.D(wEff).Zip(Stat.D(w)).Count(p => Math.Abs(p.First - p.Second) > 1e-3), Is.GreaterThan(0), "the device changed the weights");
        var expected = torch.matmul(x.to_type(ScalarType.Float64), wEff.to_type(ScalarType.Float64));
        Assert.That(Stat.D(y), Is.EqualTo(Stat.D(expected)).Within(1e-5));

        // The ideal device gives exactly the synapse without a device.
        var plain = new Network { Dt = 1e-3, Steps = steps, BatchSize = b, Seed = 5 };
        plain.Add("I", new TensorInput(ns));
        plain.Add("L", new LeakyIntegrator(nt)); // a sink: the synapse output is what is checked
        plain.Add("S", new Dense(w), "I", "L");
        plain.MarkOutput("S");
        var ideal = new Network { Dt = 1e-3, Steps = steps, BatchSize = b, Seed = 5 };
        ideal.Add("I", new TensorInput(ns));
        ideal.Add("L", new LeakyIntegrator(nt)); // a sink: the synapse output is what is checked
        ideal.Add("S", new Dense(w).WithDevice(MemristivePresets.Ideal()), "I", "L");
        ideal.MarkOutput("S");
        var inputs = new Dictionary<string, Tensor> { ["I"] = x };
        Assert.That(Stat.D(ideal.Run(inputs)["S"]), Is.EqualTo(Stat.D(plain.Run(inputs)["S"])));
    }

    [Test]
    public void ReadNoiseInANetworkGivesDifferentWeightsAtEveryStep()
    {
        const int steps = 5;
        var w = torch.ones(3, 2);
        var net = new Network { Dt = 1e-3, Steps = steps, Seed = 8 };
        net.Add("I", new TensorInput(3));
        net.Add("L", new LeakyIntegrator(2)); // a sink: the synapse output is what is checked
        net.Add("S", new Dense(w).WithDevice(new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), ReadNoise.Absolute(1e-6))), "I", "L");
        net.MarkOutput("S");
        var y = net.Run(new Dictionary<string, Tensor> { ["I"] = torch.ones(1, steps, 3) })["S"];
        var rows = Enumerable.Range(0, steps).Select(k => Stat.D(y[0, k])).ToArray();
        for (int k = 1; k < steps; k++) Assert.That(rows[k], Is.Not.EqualTo(rows[k - 1]));
        Assert.That(rows.SelectMany(r => r).All(v => Math.Abs(v - 3) < 3 * 4 * Math.Sqrt(2) / 70 * 1), "each is 3 ± noise");
    }

    [Test]
    public void SameSeedGivesSameDevicesAndDifferentSeedDifferentOnes()
    {
        var g = new torch.Generator(3);
        var w = torch.rand(new long[] { 20, 30 }, generator: g);
        double[] Devices(long seed)
        {
            using var dev = MemristivePresets.PcmLike(3600).With(new StuckAtFaults(0.02, 0.02), new QuantizedLevels(8));
            var ctx = Stat.Ctx(seed);
            dev.Program(w, ctx);
            return Stat.D(dev.Read(ctx));
        }
        Assert.That(Devices(1), Is.EqualTo(Devices(1)));
        Assert.That(Devices(1), Is.Not.EqualTo(Devices(2)));

        Tensor RunNet(long seed)
        {
            var net = new Network { Dt = 1e-3, Steps = 4, Seed = seed };
            net.Add("I", new TensorInput(20));
            net.Add("L", new LeakyIntegrator(30)); // a sink: the synapse output is what is checked
            net.Add("S", new Dense(w).WithDevice(MemristivePresets.PcmLike(60)), "I", "L");
            net.MarkOutput("S");
            return net.Run(new Dictionary<string, Tensor> { ["I"] = torch.ones(1, 4, 20) })["S"];
        }
        Assert.That(Stat.D(RunNet(4)), Is.EqualTo(Stat.D(RunNet(4))));
        Assert.That(Stat.D(RunNet(4)), Is.Not.EqualTo(Stat.D(RunNet(5))));
    }

    [Test]
    public void PcmPresetComposesDriftNoiseAndClip()
    {
        var w = torch.ones(100, 100);
        using var dev = MemristivePresets.PcmLike(3600);
        var ctx = Stat.Ctx(9);
        dev.Program(w, ctx);
        Assert.That(dev.ReadsVary, Is.True);
        Assert.That(dev.NonIdealities.Select(n => n.GetType()), Is.EqualTo(new[]
            { typeof(PowerLawDrift), typeof(ProgrammingNoise), typeof(ReadNoise), typeof(ConductanceClip) }));
        var g = dev.ReadConductances(ctx);
        Assert.That(Stat.D(g).All(v => v >= 0), "conductances clamped at 0");
        // Mean full-scale G+ after drift: programmed mean 25 µS times E[((t+t0)/t0)^(−ν)], ν ≈ N(0.049, 0.008), up to noise.
        double ratio = (3600 + 20) / 20.0;
        double expected = 25e-6 * Math.Exp(-0.049 * Math.Log(ratio) + 0.5 * Math.Pow(0.008 * Math.Log(ratio), 2));
        var plus = Stat.D(g[0]);
        double sigmaProg = (0.26348 + 1.9650 - 1.1731) * 1e-6;
        Assert.That(Stat.Mean(plus), Is.EqualTo(expected).Within(4 * (sigmaProg + 0.06 * 25e-6) / 100));
        Assert.That(Stat.D(g).Max(), Is.LessThan(50e-6), "conductances are in siemens (a 25 µS window)");
    }

    [Test]
    public void BadWindowsAndReadsBeforeProgrammingAreTypedErrors()
    {
        var e = Assert.Throws<ParameterException>(() => new DifferentialReferenceMapping(120e-6, 50e-6))!;
        Assert.That(e.Parameter, Is.EqualTo("Gmin/Gmax"));
        Assert.That(e.Message, Does.Contain("Gmin < Gmax"));
        Assert.Throws<ParameterException>(() => new SymmetricDifferentialMapping(10e-6, 10e-6));
        Assert.Throws<ParameterException>(() => new ConductanceRange(0, double.NaN));
        Assert.That(Assert.Throws<ParameterException>(() => new DirectMapping(scale: -1))!.Parameter, Is.EqualTo("scale"));
        Assert.That(Assert.Throws<ParameterException>(() => new RramDrift(-1))!.Parameter, Is.EqualTo("validFrom"));
        Assert.That(Assert.Throws<ParameterException>(() => ProgrammingNoise.Absolute(-1))!.Parameter, Is.EqualTo("sigma"));
        Assert.That(Assert.Throws<ParameterException>(() => new RangeVariability(-0.1, 0))!.Parameter, Is.EqualTo("gminSpread"));
        Assert.That(Assert.Throws<ParameterException>(() => new ConductanceClip(5e-6, 1e-6))!.Parameter, Is.EqualTo("min/max"));
        var dev = MemristivePresets.ShipRram();
        Assert.Throws<ShipException>(() => dev.Read(Stat.Ctx()));
        Assert.That(Assert.Throws<ParameterException>(() => dev.Program(torch.tensor(new[] { float.NaN, 1f }).reshape(1, 2), Stat.Ctx()))!.Parameter, Is.EqualTo("weights"));
    }

    [Test]
    public void AllZeroWeightsReadZeroInsteadOfNaN()
    {
        using var dev = MemristivePresets.ShipRram(1e4);
        var ctx = Stat.Ctx();
        dev.Program(torch.zeros(4, 5), ctx);
        Assert.That(Stat.D(dev.Read(ctx)).All(v => v == 0.0));
    }

    [Test]
    public void RefabricateDrawsNewDevicesWhileReprogrammingKeepsThem()
    {
        var w = torch.full(50, 50, 0.5f);
        using var dev = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), new StuckAtFaults(0.2, 0.2));
        var ctx = Stat.Ctx(10);
        dev.Program(w, ctx);
        var m1 = Stat.D(dev.State.PinnedMask!.to_type(ScalarType.Float64));
        dev.Program(w.neg(), ctx);
        Assert.That(Stat.D(dev.State.PinnedMask!.to_type(ScalarType.Float64)), Is.EqualTo(m1));
        dev.Refabricate();
        dev.Program(w, ctx);
        Assert.That(Stat.D(dev.State.PinnedMask!.to_type(ScalarType.Float64)), Is.Not.EqualTo(m1));
    }
}
