using MathNet.Numerics.Distributions;
using Ship.Characterization.Measurements;
using Ship.Devices.Memristive;

namespace Ship.Characterization.Fitting;

/// <summary>Options of <see cref="DriftFitter.FitPowerLaw"/>.</summary>
public sealed record DriftFitOptions
{
    /// <summary>Clock of the law (MemTorch's G0·(t/t0)^(−ν) by default).</summary>
    public PowerLawClock Clock { get; init; } = PowerLawClock.FromZero;
    /// <summary>t0 in seconds (1 s).</summary>
    public double T0 { get; init; } = 1;
    /// <summary>Confidence level (0.95).</summary>
    public double Level { get; init; } = 0.95;
}

/// <summary>Power-law fit of one retention series (one device at one programmed level).</summary>
/// <param name="Device">Device.</param>
/// <param name="Level">Programmed level (S).</param>
/// <param name="G0">Fitted conductance at t0 (S), with its interval.</param>
/// <param name="Nu">Fitted exponent ν, with its interval.</param>
/// <param name="Rmse">RMS residual (S).</param>
/// <param name="Times">Read times (s).</param>
/// <param name="Observed">Reads (S).</param>
/// <param name="Fitted">Model values (S).</param>
public sealed record DriftSeriesFit(string Device, double Level, FittedParameter G0, FittedParameter Nu, double Rmse, double[] Times, double[] Observed, double[] Fitted);

/// <summary>Power-law drift of a data set: per-series fits and the distribution of ν over them.</summary>
/// <param name="Source">Where the data came from.</param>
/// <param name="Options">Clock and t0 used.</param>
/// <param name="Series">One fit per (device, level).</param>
/// <param name="NuMean">Mean of the per-series ν with its confidence interval (Student t).</param>
/// <param name="NuSigma">Standard deviation of the per-series ν with its confidence interval (χ²); includes the fit error of each ν (see NuFitError).</param>
/// <param name="NuFitError">RMS of the per-series standard errors of ν: the part of NuSigma that is estimation noise.</param>
/// <param name="NuByLevel">Mean ν per programmed level (S), to see a level dependence.</param>
public sealed record PowerLawDriftReport(string Source, DriftFitOptions Options, IReadOnlyList<DriftSeriesFit> Series,
    FittedParameter NuMean, FittedParameter NuSigma, double NuFitError, IReadOnlyList<(double Level, double Nu, int Count)> NuByLevel)
{
    /// <summary>
    /// The fitted drift as a device non-ideality: ν ~ |N(μν, σν)| per device, where σν is the spread of the per-series
    /// estimates less their own fit error (in quadrature, floored at 0).
    /// </summary>
    public FittedPowerLawDrift ToDrift() =>
        new(Options.T0, Options.Clock, NuMean.Value, Math.Sqrt(Math.Max(0, NuSigma.Value * NuSigma.Value - NuFitError * NuFitError)));
}

/// <summary>Fits retention measurements with MathNet's Levenberg–Marquardt minimizer.</summary>
public static class DriftFitter
{
    /// <summary>
    /// Fits G(t) = G0·f(t)^(−ν) to every (device, level) series (f = t/t0 or (t + t0)/t0; reads at t ≤ t0 on the
    /// MemTorch clock count as undrifted), then summarizes ν over series.
    /// </summary>
    public static PowerLawDriftReport FitPowerLaw(RetentionMeasurements data, DriftFitOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var o = options ?? new DriftFitOptions();
        var fits = new List<DriftSeriesFit>();
        foreach (var (device, level, times, g) in data.Series())
        {
            double scale = g.Max();
            if (!(scale > 0)) throw new FitException($"power-law drift of device '{device}' at {level} S", "all reads are zero");
            var lnf = times.Select(t => o.Clock == PowerLawClock.OffsetByT0 ? Math.Log((t + o.T0) / o.T0) : Math.Log(Math.Max(t / o.T0, 1))).ToArray();
            var y = g.Select(v => v / scale).ToArray();
            var r = LeastSquares.Fit($"power-law drift of device '{device}' at {level} S",
                th => lnf.Select(l => th[0] * Math.Exp(-th[1] * l)).ToArray(), y, new[] { y[0], 0.05 });
            var (g0Lo, g0Hi) = r.Interval(0, o.Level);
            var (nuLo, nuHi) = r.Interval(1, o.Level);
            fits.Add(new DriftSeriesFit(device, level,
                new FittedParameter("g0", "S", r.Theta[0] * scale, g0Lo * scale, g0Hi * scale),
                new FittedParameter("nu", "", r.Theta[1], nuLo, nuHi),
                r.Rmse * scale, times, g, r.Fitted.Select(v => v * scale).ToArray()));
        }
        var nus = fits.Select(f => f.Nu.Value).ToArray();
        int n = nus.Length;
        double mean = nus.Average();
        double sd = n > 1 ? Math.Sqrt(nus.Sum(v => (v - mean) * (v - mean)) / (n - 1)) : 0;
        FittedParameter meanP, sdP;
        if (n > 1)
        {
            double t = StudentT.InvCDF(0, 1, n - 1, 0.5 + o.Level / 2);
            meanP = new FittedParameter("nu_mean", "", mean, mean - t * sd / Math.Sqrt(n), mean + t * sd / Math.Sqrt(n));
            double lo = ChiSquared.InvCDF(n - 1, 0.5 + o.Level / 2), hi = ChiSquared.InvCDF(n - 1, 0.5 - o.Level / 2);
            sdP = new FittedParameter("nu_sigma", "", sd, sd * Math.Sqrt((n - 1) / lo), sd * Math.Sqrt((n - 1) / hi));
        }
        else
        {
            meanP = fits[0].Nu with { Name = "nu_mean" };
            sdP = new FittedParameter("nu_sigma", "", 0, 0, double.PositiveInfinity);
        }
        double fitErr = Math.Sqrt(fits.Average(f =>
        {
            double se = (f.Nu.Upper - f.Nu.Lower) / 2 / StudentT.InvCDF(0, 1, Math.Max(1, f.Times.Length - 2), 0.5 + o.Level / 2);
            return se * se;
        }));
        var byLevel = fits.GroupBy(f => f.Level).OrderBy(gp => gp.Key).Select(gp => (gp.Key, gp.Average(f => f.Nu.Value), gp.Count())).ToArray();
        return new PowerLawDriftReport(data.Source, o, fits, meanP, sdP, fitErr, byLevel);
    }
}
