using NUnit.Framework;
using Ship.Characterization.Fitting;
using Ship.Characterization.Measurements;
using Ship.Devices.Memristive;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Characterization;

public class DriftFitTests
{
    private const double NuMean = 0.05, NuSigma = 0.01;

    private static double Gauss(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    // Independent generator: G(t) = G0·t^(−ν) (t0 = 1 s), ν ~ N(μ, σ) per device, 0.2 % relative read noise.
    private static (RetentionMeasurements Data, Dictionary<string, double> Nu) Synthetic(int seed, int devices = 16)
    {
        var rng = new Random(seed);
        var samples = new List<RetentionSample>();
        var nus = new Dictionary<string, double>();
        var times = Enumerable.Range(0, 15).Select(i => 10 * Math.Pow(1000, i / 14.0)).ToArray();
        for (int d = 0; d < devices; d++)
        {
            double level = 20e-6 * (1 + d % 4);
            double nu = Math.Abs(NuMean + NuSigma * Gauss(rng));
            nus[$"d{d}"] = nu;
            foreach (var t in times)
                samples.Add(new RetentionSample($"d{d}", level, t, level * Math.Pow(t, -nu) * (1 + 0.002 * Gauss(rng))));
        }
        return (new RetentionMeasurements($"synthetic #{seed}", samples), nus);
    }

    [Test]
    public void PowerLawIntervalsCoverTheTruthIn90PercentOfSeeds()
    {
        int meanCovered = 0, seriesCovered = 0, series = 0;
        for (int seed = 0; seed < 100; seed++)
        {
            var (data, nus) = Synthetic(seed);
            var report = DriftFitter.FitPowerLaw(data);
            if (report.NuMean.Covers(NuMean)) meanCovered++;
            foreach (var s in report.Series)
            {
                series++;
                if (s.Nu.Covers(nus[s.Device])) seriesCovered++;
            }
        }
        TestContext.Out.WriteLine($"μν covered {meanCovered}/100, per-series ν covered {seriesCovered}/{series}");
        Assert.That(meanCovered, Is.GreaterThanOrEqualTo(90), "μν inside its 95 % interval");
        Assert.That(seriesCovered, Is.GreaterThanOrEqualTo(0.9 * series), "each device's ν inside its 95 % interval");
    }

    [Test]
    public void TheFittedDriftDrawsTheFittedExponentDistributionOnTheBench()
    {
        var (data, _) = Synthetic(1, devices: 400);
        var report = DriftFitter.FitPowerLaw(data);
        var drift = report.ToDrift();
        Assert.That(drift.NuMean, Is.EqualTo(NuMean).Within(0.002));
        Assert.That(drift.NuSigma, Is.EqualTo(NuSigma).Within(0.0015));
        // On the bench: ν = −ln(G(t)/G0)/ln(t/t0) per device; its sample σ lies within the 99 % chi-square bounds of σν.
        var array = new DeviceArray(new DirectMapping(1), drift);
        using var bench = new DeviceBench(array, seed: 3);
        const int n = 4000;
        using var w = torch.full(new long[] { n }, 50e-6, ScalarType.Float64);
        bench.Program(w);
        var g0 = bench.Read().data<double>().ToArray();
        var g = bench.AgeTo(1e4).Read().data<double>().ToArray();
        var nu = g0.Select((v, i) => -Math.Log(g[i] / v) / Math.Log(1e4)).ToArray();
        double m = nu.Average(), s2 = nu.Sum(x => (x - m) * (x - m)) / (n - 1);
        double lo = MathNet.Numerics.Distributions.ChiSquared.InvCDF(n - 1, 0.005) / (n - 1), hi = MathNet.Numerics.Distributions.ChiSquared.InvCDF(n - 1, 0.995) / (n - 1);
        Assert.That(s2 / (drift.NuSigma * drift.NuSigma), Is.InRange(lo, hi), "sample variance of ν within its 99 % chi-square bounds");
        Assert.That(Math.Abs(m - drift.NuMean), Is.LessThan(3 * drift.NuSigma / Math.Sqrt(n)), "sample mean of ν");
    }
}
