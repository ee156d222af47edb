using MathNet.Numerics.Distributions;
using NUnit.Framework;
using Ship.Characterization.Mismatch;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Characterization;

public class MismatchTests
{
    private const int N = 2000;
    private const double Tau = 20e-3;

    private static Network Net(long seed = 1)
    {
        var net = new Network { Dt = 1e-3, Steps = 3, Seed = seed };
        net.Add("I", new TensorInput(4));
        net.Add("L", new Lif(N, tau: Tau));
        net.Add("S", new Dense(torch.full(new long[] { 4, N }, 0.1)), "I", "L");
        net.Initialize();
        return net;
    }

    private static double[] TauOf(Network net) => net["L"].Get("tau").to_type(ScalarType.Float64).flatten().data<double>().ToArray();

    [Test]
    public void ThirtyPercentAtThreeSigmaIsTenPercentSigma() =>
        Assert.That(MismatchSpec.SigmaFromDeviation(0.30, 3), Is.EqualTo(0.10).Within(1e-15));

    [TestCase(MismatchDistribution.Normal)]
    [TestCase(MismatchDistribution.Uniform)]
    [TestCase(MismatchDistribution.LogNormal)]
    public void RelativeTenPercentGivesASampleSigmaInsideTheChiSquareBound(MismatchDistribution distribution)
    {
        var net = Net();
        using var chip = new ChipMismatch(7, new MismatchSpec("L", "tau", 0.10, Distribution: distribution));
        chip.Apply(net);
        var x = TauOf(net).Select(t => t / Tau).ToArray();
        Assert.That(x, Has.Length.EqualTo(N), "one value per neuron");
        double m = x.Average(), s2 = x.Sum(v => (v - m) * (v - m)) / (N - 1);
        // (n − 1)·s²/σ² ~ χ²(n − 1) for normal draws; for the others the bound still holds with these n (kurtosis ≤ 3 for the uniform; the log-normal at σ = 0.1 is near normal).
        double lo = ChiSquared.InvCDF(N - 1, 0.005) / (N - 1), hi = ChiSquared.InvCDF(N - 1, 0.995) / (N - 1);
        Assert.That(s2 / 0.01, Is.InRange(lo, hi), $"sample variance ratio for {distribution}");
        Assert.That(Math.Abs(m - 1), Is.LessThan(2.576 * 0.1 / Math.Sqrt(N)), "mean factor 1 (99 %)");
        if (distribution == MismatchDistribution.Uniform)
            Assert.That(x.All(v => Math.Abs(v - 1) <= 0.1 * Math.Sqrt(3) + 1e-12), Is.True, "uniform support ±√3·σ");
        if (distribution == MismatchDistribution.LogNormal) Assert.That(x.All(v => v > 0), Is.True);
    }

    [Test]
    public void AbsoluteSigmaAddsInTheParameterUnit()
    {
        var net = Net();
        using var chip = new ChipMismatch(3, new MismatchSpec("L", "tau", 1e-3, Relative: false));
        chip.Apply(net);
        var d = TauOf(net).Select(t => t - Tau).ToArray();
        double m = d.Average(), s2 = d.Sum(v => (v - m) * (v - m)) / (N - 1);
        double lo = ChiSquared.InvCDF(N - 1, 0.005) / (N - 1), hi = ChiSquared.InvCDF(N - 1, 0.995) / (N - 1);
        Assert.That(s2 / 1e-6, Is.InRange(lo, hi));
    }

    [Test]
    public void FixedPerChipStaysAcrossRunsAndNetworksAndChangesAcrossChipSeeds()
    {
        var spec = new MismatchSpec("L", "tau", 0.1);
        var a = Net(seed: 1);
        using var chipA = new ChipMismatch(11, spec);
        chipA.Apply(a);
        var first = TauOf(a);
        a.Run(new Dictionary<string, Tensor> { ["I"] = torch.ones(1, 3, 4) });
        chipA.Apply(a);
        Assert.That(TauOf(a), Is.EqualTo(first), "same chip, next run: unchanged (and not compounded)");

        var b = Net(seed: 99); // another network (other generator), same chip seed
        using var chipA2 = new ChipMismatch(11, spec);
        chipA2.Apply(b);
        Assert.That(TauOf(b), Is.EqualTo(first), "chip 11 is the same chip in another network");

        var c = Net(seed: 1);
        using var chipB = new ChipMismatch(12, spec);
        chipB.Apply(c);
        var other = TauOf(c);
        Assert.That(other.Zip(first).Count(p => p.First != p.Second), Is.EqualTo(N), "chip 12 differs everywhere");
    }

    [Test]
    public void ASpecificationsFixedDrawDoesNotDependOnTheOtherSpecifications()
    {
        var a = Net();
        using var alone = new ChipMismatch(21, new MismatchSpec("L", "tau", 0.1));
        alone.Apply(a);
        var b = Net();
        using var withOthers = new ChipMismatch(21, new MismatchSpec("L", "thr", 0.2), new MismatchSpec("L", "tau", 0.1));
        withOthers.Apply(b);
        Assert.That(TauOf(b), Is.EqualTo(TauOf(a)), "τ of chip 21 is the same whether or not the threshold also varies");
        Assert.That(b["L"].Get("thr").to_type(ScalarType.Float64).flatten().data<double>().ToArray().Distinct().Count(), Is.EqualTo(N), "the threshold varies per neuron");
    }

    [Test]
    public void PerRunDrawsChangeAtEveryApplyFromTheNetworksGenerator()
    {
        var spec = new MismatchSpec("L", "tau", 0.1, Scope: MismatchScope.PerRun);
        var a = Net(seed: 5);
        using var chip = new ChipMismatch(1, spec);
        chip.Apply(a);
        var r1 = TauOf(a);
        chip.Apply(a);
        var r2 = TauOf(a);
        Assert.That(r1.Zip(r2).Count(p => p.First != p.Second), Is.EqualTo(N), "redrawn");
        var b = Net(seed: 5);
        using var chip2 = new ChipMismatch(2, spec);
        chip2.Apply(b);
        Assert.That(TauOf(b), Is.EqualTo(r1), "per-run draws follow the network's generator, not the chip seed");
    }

    [Test]
    public void BadSpecificationsAreTypedErrors()
    {
        Assert.Throws<Ship.Core.Errors.ParameterException>(() => new ChipMismatch(1, new MismatchSpec("L", "tau", -0.1)));
        Assert.Throws<Ship.Core.Errors.ParameterException>(() => new ChipMismatch(1, new MismatchSpec("L", "tau", 0.1, Relative: false, Distribution: MismatchDistribution.LogNormal)));
        var net = Net();
        using var chip = new ChipMismatch(1, new MismatchSpec("L", "nope", 0.1));
        Assert.Throws<Ship.Core.Errors.ParameterException>(() => chip.Apply(net));
    }
}
