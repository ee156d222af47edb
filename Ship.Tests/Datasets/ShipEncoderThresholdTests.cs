using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Datasets.Encoders;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Datasets;

/// <summary>
/// SHIP's encoder thresholds as options: with SHIP's settings the encoders give exactly what SHIP's <c>linI</c>/<c>Rencoder</c>
/// and <c>logI</c>/<c>TTFSencoder</c> equations give, written out here (SHIP data_utils.py), for the same uniform draws.
/// </summary>
public class ShipEncoderThresholdTests
{
    /// <summary>SHIP's linI: rate = min + (max − min)·min(x, 1), and min where x ≤ thr.</summary>
    private static double LinI(double x, double maxRate, double thr, double minRate = 0) => x <= thr ? minRate : minRate + (maxRate - minRate) * Math.Min(x, 1);

    /// <summary>SHIP's logI: t = −τ·ln(min(x, 1)), and +∞ (no spike) where x ≤ thr.</summary>
    private static double LogI(double x, double tau, double thr) => x <= thr ? double.PositiveInfinity : -tau * Math.Log(Math.Min(x, 1));

    [Test]
    public void RateEncoderWithShipSettingsIsShipsLinI()
    {
        const int batch = 3, n = 40, steps = 25;
        const double dt = 1e-3, maxRate = 400;
        var g = new torch.Generator(11);
        // Intensities on both sides of the threshold and of the clamp, with exact hits of both.
        var x = torch.rand(new long[] { batch, n }, ScalarType.Float64, generator: g).mul_(1.4);
        x[0, 0] = torch.tensor(0.2); x[0, 1] = torch.tensor(1.0); x[0, 2] = torch.tensor(0.0); x[0, 3] = torch.tensor(1.3);
        var raster = RateEncoder.Encode(x, steps, dt, maxRate, new torch.Generator(5), ScalarType.Float64,
            threshold: RateEncoder.ShipThreshold, saturation: RateEncoder.ShipSaturation);
        // The same uniform draws SHIP compares with R·dt: one per (sample, step, channel).
        var u = Ship.Core.Networks.Draw.Rand(new long[] { batch, steps, n }, ScalarType.Float64, CPU, new torch.Generator(5));
        var xs = x.data<double>().ToArray();
        var us = u.data<double>().ToArray();
        var got = raster.data<double>().ToArray();
        int fired = 0, silencedByThreshold = 0;
        for (int b = 0; b < batch; b++)
            for (int k = 0; k < steps; k++)
                for (int i = 0; i < n; i++)
                {
                    double xi = xs[b * n + i];
                    double expected = us[(b * steps + k) * n + i] < LinI(xi, maxRate, 0.2) * dt ? 1 : 0;
                    Assert.That(got[(b * steps + k) * n + i], Is.EqualTo(expected), $"sample {b}, step {k}, channel {i}, x = {xi}");
                    fired += (int)expected;
                    if (xi <= 0.2 && us[(b * steps + k) * n + i] < xi * maxRate * dt) silencedByThreshold++;
                }
        Assert.That(fired, Is.GreaterThan(100), "the comparison sees spikes");
        Assert.That(silencedByThreshold, Is.GreaterThan(0), "the threshold removed spikes the plain code would have sent");
        // Defaults keep Ship.NET's behaviour: every positive intensity fires at x·maxRate.
        var plain = RateEncoder.Encode(x.clamp_max(1.0), steps, dt, maxRate, new torch.Generator(5), ScalarType.Float64);
        Assert.That(plain.sum().item<double>(), Is.GreaterThan(raster.sum().item<double>()));
    }

    [TestCase(0.0)]
    [TestCase(TimeToFirstSpike.ShipDocumentedThreshold)]
    public void LogarithmicLatencyWithShipSettingsIsShipsLogI(double thr)
    {
        const int batch = 2, n = 300, steps = 60;
        const double dt = 1e-3, tau = 0.02;
        var x = torch.rand(new long[] { batch, n }, ScalarType.Float64, generator: new torch.Generator(3));
        x[0, 0] = torch.tensor(0.2); x[0, 1] = torch.tensor(1.0); x[0, 2] = torch.tensor(0.0);
        var raster = TimeToFirstSpike.Logarithmic(x, steps, dt, tau, xMax: 1, late: LateSpikes.Drop, dtype: ScalarType.Float64, threshold: thr);
        var xs = x.data<double>().ToArray();
        var got = raster.data<double>().ToArray();
        int spikes = 0;
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < n; i++)
            {
                double t = LogI(xs[b * n + i], tau, thr);
                // SHIP: index = (t/dt).long() (truncation), spike if 0 <= index < nts.
                long index = double.IsInfinity(t) ? long.MaxValue : (long)(t / dt);
                for (int k = 0; k < steps; k++)
                {
                    double expected = k == index ? 1 : 0;
                    Assert.That(got[(b * steps + k) * n + i], Is.EqualTo(expected), $"sample {b}, channel {i}, x = {xs[b * n + i]}, step {k}");
                    spikes += (int)expected;
                }
            }
        Assert.That(spikes, Is.GreaterThan(batch * n / 2), "most channels fire within the window");
    }

    [Test]
    public void BadThresholdsAreTypedErrors()
    {
        var x = torch.rand(2, 4);
        Assert.That(Assert.Throws<ParameterException>(() => RateEncoder.Encode(x, 5, 1e-3, 100, new torch.Generator(1), threshold: double.NaN))!.Message, Does.Contain("threshold"));
        Assert.That(Assert.Throws<ParameterException>(() => RateEncoder.Encode(x, 5, 1e-3, 100, new torch.Generator(1), saturation: -1))!.Message, Does.Contain("saturation"));
        Assert.That(Assert.Throws<ParameterException>(() => TimeToFirstSpike.Logarithmic(x, 5, 1e-3, 0.02, threshold: 1))!.Message, Does.Contain("threshold"));
    }
}
