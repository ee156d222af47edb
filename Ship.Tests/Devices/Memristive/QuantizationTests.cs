using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Devices.Memristive;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

public class QuantizationTests
{
    /// <summary>Nearest of n levels evenly spaced on [−m, m]; a value halfway between two levels goes to the upper one.</summary>
    private static double Nearest(double w, int n, double m)
    {
        double best = double.NaN, dist = double.PositiveInfinity;
        for (int k = 0; k < n; k++)
        {
            double level = -m + 2 * m * k / (n - 1), d = Math.Abs(w - level);
            if (d <= dist) { dist = d; best = level; }
        }
        return best;
    }

    [Test]
    public void ThreeLevelsOnMinusOneToOneAreMinusOneZeroOneWithBoundariesAtHalf()
    {
        var values = new float[] { -1f, -0.7f, -0.5f, -0.49f, 0f, 0.3f, 0.49f, 0.5f, 0.51f, 1f, -0.51f, 0.99f };
        var w = torch.tensor(values).reshape(3, 4);
        using var dev = MemristivePresets.ShipQuantized(3, levelSigma: 0);
        var ctx = Stat.Ctx();
        dev.Program(w, ctx);
        var r = Stat.D(dev.Read(ctx));
        var expected = new double[] { -1, -1, 0, 0, 0, 0, 0, 1, 1, 1, -1, 1 };
        Assert.That(r, Is.EqualTo(expected));
        Assert.That(r, Is.EqualTo(values.Select(v => Nearest(v, 3, 1)).ToArray()));
    }

    [TestCase(2)]
    [TestCase(5)]
    [TestCase(16)]
    public void RandomWeightsGoToTheNearestLevel(int n)
    {
        var g = new torch.Generator(8);
        var w = torch.rand(new long[] { 30, 40 }, generator: g).mul_(3).sub_(1.5f);
        double m = w.abs().max().item<float>();
        using var dev = MemristivePresets.ShipQuantized(n, levelSigma: 0);
        var ctx = Stat.Ctx();
        dev.Program(w, ctx);
        var r = Stat.D(dev.Read(ctx));
        var x = Stat.D(w);
        for (int i = 0; i < x.Length; i++)
            Assert.That(r[i], Is.EqualTo(Nearest(x[i], n, m)).Within(1e-6 * m), $"w = {x[i]}");
        Assert.That(r.Distinct().Count(), Is.LessThanOrEqualTo(n));
    }

    [Test]
    public void DefaultLevelVariabilityIsRangeOverNOverSix()
    {
        var w = torch.zeros(100, 200);
        w[0, 0] = torch.tensor(1f);
        w[0, 1] = torch.tensor(-1f);
        using var dev = MemristivePresets.ShipQuantized(3);
        var ctx = Stat.Ctx(17);
        dev.Program(w, ctx);
        var r = Stat.D(dev.Read(ctx)).Skip(2).ToArray();
        double sigma = 2.0 / 3 / 6;
        Assert.That(sigma, Is.EqualTo(0.111).Within(5e-4), "DRIFT.md §3 example");
        Stat.MeanConsistent(r, 0, sigma, "level 0");
        Stat.SdConsistent(r, sigma, "level 0");
    }

    [Test]
    public void StepSpreadMovesUpperLevelsPerDevice()
    {
        // n = 3 on [−1, 1]: step Δ = 1; a device at the top level sits at −1 + 2·Δ·(1 + s·ξ), so its sd is 2·s.
        var w = torch.ones(100, 100);
        using var dev = new DeviceArray(new DirectMapping(), new QuantizedLevels(3, levelSigma: 0, stepSpread: 0.05));
        var ctx = Stat.Ctx(23);
        dev.Program(w, ctx);
        var r = Stat.D(dev.Read(ctx));
        Stat.MeanConsistent(r, 1, 0.1, "top level");
        Stat.SdConsistent(r, 0.1, "top level");
        var before = r.ToArray();
        dev.Program(w, ctx); // the spread is a property of the fabricated devices: reprogramming keeps it
        Assert.That(Stat.D(dev.Read(ctx)), Is.EqualTo(before));
    }

    [TestCase(1)]
    [TestCase(0)]
    [TestCase(-3)]
    public void FewerThanTwoLevelsIsATypedError(int n)
    {
        var e = Assert.Throws<ParameterException>(() => new QuantizedLevels(n))!;
        Assert.That(e.Parameter, Is.EqualTo("levels"));
        Assert.That(e.Message, Does.Contain("at least 2"));
    }

    [Test]
    public void NegativeLevelSigmaIsATypedError() =>
        Assert.That(Assert.Throws<ParameterException>(() => new QuantizedLevels(4, -0.1))!.Parameter, Is.EqualTo("levelSigma"));
}
