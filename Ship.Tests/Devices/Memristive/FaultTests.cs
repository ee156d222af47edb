using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Devices.Memristive;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

public class FaultTests
{
    [Test]
    public void FaultRatesAreWithinBinomialBounds()
    {
        const double pLow = 0.05, pHigh = 0.1;
        var w = torch.full(100, 200, 0.5f);
        w[0, 0] = torch.tensor(1f);
        using var dev = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), new StuckAtFaults(pLow, pHigh));
        var ctx = Stat.Ctx(41);
        dev.Program(w, ctx);
        var plus = Stat.D(dev.ReadConductances(ctx)[0]).Skip(1).ToArray(); // G+ programmed at 85 µS
        long n = plus.Length;
        Stat.BinomialConsistent(plus.Count(v => v == 50e-6), n, pLow, "stuck low among G+");
        Stat.BinomialConsistent(plus.Count(v => v == 120e-6), n, pHigh, "stuck high among G+");
        Assert.That(plus.Count(v => v != 50e-6 && v != 120e-6 && Math.Abs(v - 85e-6) > 1e-15), Is.Zero, "others hold their programmed value");
        var mask = Stat.D(dev.State.PinnedMask!.to_type(ScalarType.Float64));
        Stat.BinomialConsistent((long)mask.Sum(), mask.Length, pLow + pHigh, "all stuck devices");
    }

    [Test]
    public void StuckDevicesIgnoreProgrammingAndDrift()
    {
        var g = new torch.Generator(4);
        var w1 = torch.rand(new long[] { 60, 80 }, generator: g);
        var w2 = torch.rand(new long[] { 60, 80 }, generator: g).neg_();
        using var dev = MemristivePresets.ShipRram(1e4).With(new StuckAtFaults(0.1, 0.1));
        var ctx = Stat.Ctx(42);
        dev.Program(w1, ctx);
        var mask = Stat.D(dev.State.PinnedMask!.to_type(ScalarType.Float64));
        var read1 = Stat.D(dev.ReadConductances(ctx));
        dev.Program(w2, ctx);
        Assert.That(Stat.D(dev.State.PinnedMask!.to_type(ScalarType.Float64)), Is.EqualTo(mask), "the same devices are stuck after reprogramming");
        var read2 = Stat.D(dev.ReadConductances(ctx));
        var prog2 = Stat.D(dev.State.Programmed);
        int stuck = 0, moved = 0;
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i] == 1)
            {
                stuck++;
                Assert.That(read1[i] == 50e-6 || read1[i] == 120e-6, $"stuck device {i} reads its stuck value after drift, got {read1[i]}");
                Assert.That(read2[i], Is.EqualTo(read1[i]), "and keeps it after reprogramming");
            }
            else if (Math.Abs(read2[i] - prog2[i]) > 1e-12) moved++;
        }
        Assert.That(stuck, Is.GreaterThan(0));
        Assert.That(moved, Is.EqualTo(mask.Length - stuck), "every healthy device drifted");
    }

    [TestCase(-0.1, 0.0, "lowProbability")]
    [TestCase(1.5, 0.0, "lowProbability")]
    [TestCase(0.0, -0.01, "highProbability")]
    [TestCase(0.0, double.NaN, "highProbability")]
    [TestCase(0.6, 0.6, "lowProbability + highProbability")]
    public void ProbabilitiesOutsideZeroOneAreTypedErrors(double low, double high, string parameter)
    {
        var e = Assert.Throws<ParameterException>(() => new StuckAtFaults(low, high))!;
        Assert.That(e.Parameter, Is.EqualTo(parameter));
        Assert.That(e.Group, Is.EqualTo(nameof(StuckAtFaults)));
    }
}
