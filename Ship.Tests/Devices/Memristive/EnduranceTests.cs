using MathNet.Numerics.Distributions;
using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Persistence;
using Ship.Devices.Synapses;
using Ship.Tests.Datasets;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

public class EnduranceTests
{
    private const double Gmin = 10e-6, Gmax = 110e-6;

    private static double[] D(Tensor t) => t.to_type(ScalarType.Float64).flatten().cpu().data<double>().ToArray();

    // Weights strictly inside (−0.9, 0.9), so no programmed conductance sits on a window bound.
    private static Tensor Weights(long n, int seed) =>
        torch.rand(new long[] { 1, n }, dtype: ScalarType.Float64, generator: new torch.Generator((ulong)seed)).mul_(1.8).sub_(0.9);

    [Test]
    public void WindowAfterKPulsesIsTheClosedFormAndPulsesAfterProgrammingWearToo()
    {
        double nHalf = 50, beta = 1.5, c = 0.3;
        var array = new DeviceArray("e", new SingleDeviceMapping(Gmin, Gmax, scale: 1.0), new Endurance(nHalf, beta, c, pulsesPerProgramming: 20))
        {
            Pulses = new LinearStepPulses(dwMin: 1e-6, wMin: Gmin, wMax: Gmax, reference: 60e-6),
        };
        var rng = new torch.Generator(3);
        var w = Weights(200, 1);
        double center = Gmin + c * (Gmax - Gmin);
        double F(double k) => 1 / (1 + Math.Pow(k / nHalf, beta)); // written here, not taken from the model
        void Check(double[] writes, string when)
        {
            var g0 = D(array.State.Programmed);
            var read = D(array.ReadConductances(rng));
            Assert.That(D(array.State.LifetimeWrites), Is.EqualTo(writes), $"{when}: write counts");
            for (int i = 0; i < g0.Length; i++)
                Assert.That(read[i], Is.EqualTo(center + (g0[i] - center) * F(writes[i])).Within(1e-18), $"{when}: device {i}");
        }
        array.Program(w, rng);
        Check(Enumerable.Repeat(20.0, 200).ToArray(), "after one programming");
        array.Program(w, rng);
        Check(Enumerable.Repeat(40.0, 200).ToArray(), "after two programmings");
        var mask = torch.arange(200).remainder(2).eq(0).reshape(1, 200);
        array.ApplyPulses(7, PulseDirection.Potentiation, rng, mask);
        Check(Enumerable.Range(0, 200).Select(i => i % 2 == 0 ? 47.0 : 40.0).ToArray(), "after 7 pulses on every other device");
        // The window itself: a device programmed to G_max and one to G_min read (G_max − G_min)·f(k) apart.
        array.Program(torch.tensor(new[] { -1.0, 1.0 }).reshape(1, 2), rng);
        var edge = D(array.ReadConductances(rng));
        Assert.That(edge[1] - edge[0], Is.EqualTo((Gmax - Gmin) * F(20)).Within(1e-18), "a new shape is a new chip: 20 pulses");
    }

    [Test]
    public void StuckFractionStaysInsideItsBinomialBoundAndOnlyGrowsWithWrites()
    {
        const int n = 20000;
        double eta = 100, k = 2;
        var array = new DeviceArray("e", new SingleDeviceMapping(Gmin, Gmax, scale: 1.0), new Endurance(lifetimePulses: eta, weibullShape: k, stuckHighFraction: 0.3, pulsesPerProgramming: 80));
        var rng = new torch.Generator(11);
        var w = Weights(n, 2);
        array.Program(w, rng);
        bool[] Failed(out int high)
        {
            var g = D(array.ReadConductances(rng));
            high = g.Count(v => v == Gmax);
            return g.Select(v => v == Gmax || v == Gmin).ToArray();
        }
        var first = Failed(out int high1);
        int failed1 = first.Count(f => f);
        double p = 1 - Math.Exp(-Math.Pow(80 / eta, k)); // Weibull CDF, written here
        var (lo, hi) = Bounds(n, p);
        Assert.That(failed1, Is.InRange(lo, hi), $"stuck devices after 80 pulses: Binomial({n}, {p:F4}) at 99.9 %");
        var (hlo, hhi) = Bounds(failed1, 0.3);
        Assert.That(high1, Is.InRange(hlo, hhi), "stuck high: Binomial(failed, 0.3)");

        array.Program(w, rng); // 160 pulses
        var second = Failed(out _);
        Assert.That(first.Zip(second).All(t => !t.First || t.Second), Is.True, "a failed device stays failed (lifetimes are fixed at fabrication)");
        double p2 = 1 - Math.Exp(-Math.Pow(160 / eta, k));
        var (lo2, hi2) = Bounds(n, p2);
        Assert.That(second.Count(f => f), Is.InRange(lo2, hi2), "after 160 pulses");
    }

    // Two-sided 99.9 % bounds of Binomial(n, p), from its CDF.
    private static (int Lo, int Hi) Bounds(int n, double p)
    {
        int lo = 0, hi = n;
        while (lo < n && Binomial.CDF(p, n, lo) < 0.0005) lo++;
        while (hi > 0 && Binomial.CDF(p, n, hi - 1) >= 0.9995) hi--;
        return (lo, hi);
    }

    [Test]
    public void ClosedFormsOfTheHelpers()
    {
        Assert.That(Endurance.WindowFraction(0, 100, 2), Is.EqualTo(1));
        Assert.That(Endurance.WindowFraction(100, 100, 2), Is.EqualTo(0.5));
        Assert.That(Endurance.WindowFraction(300, 100, 2), Is.EqualTo(0.1).Within(1e-15));
        Assert.That(Endurance.WindowFraction(1e9, double.PositiveInfinity, 2), Is.EqualTo(1));
        Assert.That(Endurance.FailureProbability(100, 100, 3), Is.EqualTo(1 - Math.Exp(-1)).Within(1e-15));
        Assert.That(Endurance.FailureProbability(1e9, double.PositiveInfinity, 3), Is.EqualTo(0));
    }

    [Test]
    public void WearAndLifetimesAreSavedWithTheNetwork()
    {
        var array = new DeviceArray("worn", new SymmetricDifferentialMapping(Gmin, Gmax),
            new PulseProgramming(new LinearStepPulses(dwMin: 2e-6, wMin: Gmin, wMax: Gmax, reference: 60e-6), maxPulses: 100),
            new Endurance(halfWindowPulses: 60, sharpness: 2, collapsePoint: 0.4, lifetimePulses: 80, weibullShape: 1.5))
        {
            Pulses = new LinearStepPulses(dwMin: 2e-6, wMin: Gmin, wMax: Gmax, reference: 60e-6),
        };
        var net = new Network { Dt = 1e-3, Steps = 4, Seed = 5, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(6));
        net.Add("L", new Lif(5));
        net.Add("S", new Dense(torch.linspace(-1, 1, 30, dtype: ScalarType.Float64).reshape(6, 5)).WithDevice(array), "I", "L");
        net.Initialize();
        array.ApplyPulses(30, PulseDirection.Depression, net.Context);
        var writes = D(array.State.LifetimeWrites);
        Assert.That(writes.All(v => v >= 30), Is.True, "pulse programming counted, then 30 pulses on every device");
        var before = D(array.ReadConductances(net.Context));
        Assert.That(before.Count(v => v == Gmin || v == Gmax), Is.GreaterThan(0), "some devices failed (η = 80 pulses)");
        using var dir = new TempDir();
        Checkpoint.Save(net, dir.Path);
        var loaded = Checkpoint.Load(dir.Path);
        var la = (DeviceArray)((WeightedSynapse)loaded["S"]).WeightDevice!;
        Assert.That(D(la.State.LifetimeWrites), Is.EqualTo(writes));
        Assert.That(D(la.ReadConductances(loaded.Context)), Is.EqualTo(before));
        Assert.That(la.NonIdealities.OfType<Endurance>().Single().GetSettings(), Is.EqualTo(array.NonIdealities.OfType<Endurance>().Single().GetSettings()));
    }

    [Test]
    public void BadSettingsAreTypedErrorsNamingTheParameter()
    {
        Assert.That(Assert.Throws<ParameterException>(() => new Endurance(halfWindowPulses: 0))!.Parameter, Is.EqualTo("halfWindowPulses"));
        Assert.That(Assert.Throws<ParameterException>(() => new Endurance(sharpness: -1))!.Parameter, Is.EqualTo("sharpness"));
        Assert.That(Assert.Throws<ParameterException>(() => new Endurance(collapsePoint: 1.5))!.Parameter, Is.EqualTo("collapsePoint"));
        Assert.That(Assert.Throws<ParameterException>(() => new Endurance(lifetimePulses: double.NaN))!.Parameter, Is.EqualTo("lifetimePulses"));
        Assert.That(Assert.Throws<ParameterException>(() => new Endurance(weibullShape: 0))!.Parameter, Is.EqualTo("weibullShape"));
        Assert.That(Assert.Throws<ParameterException>(() => new Endurance(pulsesPerProgramming: -1))!.Parameter, Is.EqualTo("pulsesPerProgramming"));
        var array = new DeviceArray(new SingleDeviceMapping(Gmin, Gmax));
        array.Program(Weights(4, 1), new torch.Generator(1));
        Assert.That(Assert.Throws<ParameterException>(() => array.State.AddDeviceWrites(torch.tensor(-1.0)))!.Message, Does.Contain("-1"), "the count given is named");
        Assert.That(Assert.Throws<ParameterException>(() => array.State.AddDeviceWrites(torch.tensor(new[] { 1.0, 2.0, 3.0 })))!.Message,
            Does.Contain("[3]"), "a count that does not broadcast to the 4 devices is refused, naming its shape");
        Assert.That(D(array.State.LifetimeWrites), Is.EqualTo(new double[4]), "a refused count changes nothing");
    }
}
