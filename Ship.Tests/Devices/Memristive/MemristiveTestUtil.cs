using NUnit.Framework;
using Ship.Core.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

/// <summary>Statistics helpers: bounds are computed from distributions, never from the code under test.</summary>
internal static class Stat
{
    public static SimulationContext Ctx(long seed = 1) => new(1, seed: seed);

    public static double[] D(Tensor t) => t.detach().to_type(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();

    public static double Mean(IReadOnlyList<double> x) => x.Average();

    public static double Var(IReadOnlyList<double> x)
    {
        double m = Mean(x);
        return x.Sum(v => (v - m) * (v - m)) / (x.Count - 1);
    }

    public static double Sd(IReadOnlyList<double> x) => Math.Sqrt(Var(x));

    /// <summary>Chi-square quantile (Wilson–Hilferty) for k degrees of freedom at standard-normal z.</summary>
    public static double ChiSquareQuantile(double k, double z)
    {
        double a = 2.0 / (9.0 * k);
        return k * Math.Pow(1 - a + z * Math.Sqrt(a), 3);
    }

    /// <summary>Asserts the sample sd of x is consistent with σ at 4 sigma (chi-square on n − 1 dof).</summary>
    public static void SdConsistent(IReadOnlyList<double> x, double sigma, string what)
    {
        int k = x.Count - 1;
        double s2 = Var(x);
        double lo = sigma * sigma * ChiSquareQuantile(k, -4) / k, hi = sigma * sigma * ChiSquareQuantile(k, 4) / k;
        Assert.That(s2, Is.InRange(lo, hi), $"{what}: sample variance {s2:G6} vs σ² = {sigma * sigma:G6} (n = {x.Count})");
    }

    /// <summary>Asserts the sample mean of x is within 4 standard errors of μ, with σ known.</summary>
    public static void MeanConsistent(IReadOnlyList<double> x, double mu, double sigma, string what)
    {
        double se = sigma / Math.Sqrt(x.Count);
        Assert.That(Mean(x), Is.EqualTo(mu).Within(4 * se + 1e-12), $"{what}: mean vs μ = {mu:G8}, 4·SE = {4 * se:G3}");
    }

    /// <summary>Asserts a binomial count is within 4 sigma of n·p.</summary>
    public static void BinomialConsistent(long count, long n, double p, string what)
    {
        double mu = n * p, sd = Math.Sqrt(n * p * (1 - p));
        Assert.That((double)count, Is.EqualTo(mu).Within(4 * sd + 1e-9), $"{what}: {count} of {n} vs expected {mu:G6} ± {4 * sd:G4}");
    }

    /// <summary>Mean and variance of |X|, X ~ N(μ, σ²), by numerical integration (Simpson, ±12σ).</summary>
    public static (double Mean, double Var) FoldedNormal(double mu, double sigma)
    {
        int n = 200_000;
        double a = mu - 12 * sigma, b = mu + 12 * sigma, h = (b - a) / n;
        double m1 = 0, m2 = 0;
        for (int i = 0; i <= n; i++)
        {
            double x = a + i * h;
            double w = i == 0 || i == n ? 1 : (i % 2 == 1 ? 4 : 2);
            double pdf = Math.Exp(-0.5 * Math.Pow((x - mu) / sigma, 2)) / (sigma * Math.Sqrt(2 * Math.PI));
            m1 += w * Math.Abs(x) * pdf;
            m2 += w * x * x * pdf;
        }
        m1 *= h / 3;
        m2 *= h / 3;
        return (m1, m2 - m1 * m1);
    }
}
