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
        FitOptionChecks.Level(nameof(DriftFitOptions), o.Level);
        FitOptionChecks.Positive(nameof(DriftFitOptions), nameof(o.T0), o.T0, "s");
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

    /// <summary>
    /// Fits SHIP's RRAM drift form (<see cref="RramDriftLaw"/>) to retention data: the reads of each (level, time) group
    /// give a mean, a standard deviation and a relative spread; the mean law (a, b, c, d below the breakpoint, e above)
    /// is fitted to the group means weighted by their standard errors (σ/√n), the spread law (A, B, C, D, r) to the
    /// relative spreads weighted by theirs (≈ (σ/μ)/√(2(n − 1))), both with Levenberg–Marquardt from SHIP's published
    /// values. Reads at t ≤ <see cref="RramFitOptions.ValidFrom"/> are left out. The intervals assume the groups are
    /// independent: reads of the same devices at several times are correlated, which makes them narrower than the truth.
    /// Needs at least 2 levels with 2 devices below the breakpoint and 1 above, every level above SHIP's pole r (FitException otherwise).
    /// </summary>
    public static RramDriftReport FitRram(RetentionMeasurements data, RramFitOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var o = options ?? new RramFitOptions();
        FitOptionChecks.Level(nameof(RramFitOptions), o.Level);
        FitOptionChecks.Positive(nameof(RramFitOptions), nameof(o.Breakpoint), o.Breakpoint, "S");
        FitOptionChecks.NonNegative(nameof(RramFitOptions), nameof(o.ValidFrom), o.ValidFrom, "s");
        var ship = RramDriftLaw.Ship;
        var groups = data.Samples.Where(x => x.Time > o.ValidFrom).GroupBy(x => (x.Level, x.Time)).Select(g =>
        {
            var v = g.Select(x => x.Conductance).ToArray();
            double m = v.Average();
            double sd = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)) : 0;
            return new RramGroup(g.Key.Level, g.Key.Time, v.Length, m, sd);
        }).Where(g => g.Count >= 2 && g.Mean > 0).OrderBy(g => g.Level).ThenBy(g => g.Time).ToArray();
        var low = groups.Where(g => g.Level < o.Breakpoint).ToArray();
        var high = groups.Where(g => g.Level >= o.Breakpoint).ToArray();
        if (low.Select(g => g.Level).Distinct().Count() < 2 || high.Length == 0 || groups.Select(g => g.Time).Distinct().Count() < 2)
            throw new FitException("SHIP RRAM drift form",
                $"needs reads of at least 2 devices per (level, time), at 2 or more times after {o.ValidFrom} s, at 2 or more levels below the breakpoint {o.Breakpoint:g4} S and 1 or more above; " +
                $"got {low.Select(g => g.Level).Distinct().Count()} below, {high.Select(g => g.Level).Distinct().Count()} above");
        // The spread law has a pole at r: a level at or below SHIP's r (where the fit starts) has no finite spread there.
        if (groups.FirstOrDefault(g => g.Level <= ship.Pole) is { } under)
            throw new FitException("SHIP RRAM drift form",
                $"every programmed level must lie above the spread law's pole r = {ship.Pole:g4} S (SHIP's fit, where the fit starts); got a level of {under.Level:g4} S");
        const double U = 1e-6; // fitted in µS numbers, so every coefficient is O(1); converted back to siemens below
        double floor = groups.Where(g => g.Std > 0).Select(g => g.Std / Math.Sqrt(g.Count)).DefaultIfEmpty(U * 1e-3).Min();

        // Mean: θ = (a, b, c, d, e) in µS; weighted by 1/se.
        var lowIdx = groups.Select(g => g.Level < o.Breakpoint).ToArray();
        var seMean = groups.Select(g => Math.Max(g.Std / Math.Sqrt(g.Count), floor) / U).ToArray();
        var yMean = groups.Select((g, i) => g.Mean / U / seMean[i]).ToArray();
        double[] MeanModel(double[] th) => groups.Select((g, i) =>
        {
            double g0 = g.Level / U, l = Math.Log10(g.Time);
            return (lowIdx[i] ? (th[0] * g0 + th[1]) * l + th[2] * g0 + th[3] : g0 - th[4] * l) / seMean[i];
        }).ToArray();
        var rm = LeastSquares.Fit("SHIP RRAM drift mean", MeanModel, yMean,
            new[] { ship.LowSlopeGain, ship.LowSlopeOffset / U, ship.LowGain, ship.LowOffset / U, ship.HighSlope / U });

        // Relative spread: θ = (A, B, C, D, r) with B, D, r in µS; weighted by 1/se of a sample σ/μ.
        var q = groups.Select(g => g.Std / g.Mean).ToArray();
        var seQ = groups.Select((g, i) => Math.Max(q[i], 1e-6) / Math.Sqrt(2.0 * (g.Count - 1))).ToArray();
        var yQ = q.Select((v, i) => v / seQ[i]).ToArray();
        double[] SpreadModel(double[] th) => groups.Select((g, i) =>
        {
            double p = 1 / (g.Level / U - th[4]), l = Math.Log10(g.Time);
            // The reads spread by |σ/μ|: the fitted form is signed, the data's spread is not.
            return Math.Abs((th[0] + th[1] * p) * l + th[2] + th[3] * p) / seQ[i];
        }).ToArray();
        var rs = LeastSquares.Fit("SHIP RRAM drift spread", SpreadModel, yQ,
            new[] { ship.SpreadSlope, ship.SpreadSlopePole / U, ship.SpreadOffset, ship.SpreadOffsetPole / U, ship.Pole / U });

        FittedParameter P(LeastSquaresResult r, int i, string name, string unit, double toUnit)
        {
            var (lo, hi) = r.Interval(i, o.Level);
            return new FittedParameter(name, unit, r.Theta[i] * toUnit, lo * toUnit, hi * toUnit);
        }
        var parameters = new[]
        {
            P(rm, 0, "low_slope_gain", "1/decade", 1), P(rm, 1, "low_slope_offset", "S/decade", U), P(rm, 2, "low_gain", "", 1),
            P(rm, 3, "low_offset", "S", U), P(rm, 4, "high_slope", "S/decade", U),
            P(rs, 0, "spread_slope", "1/decade", 1), P(rs, 1, "spread_slope_pole", "S/decade", U), P(rs, 2, "spread_offset", "", 1),
            P(rs, 3, "spread_offset_pole", "S", U), P(rs, 4, "pole", "S", U),
        };
        var law = new RramDriftLaw(o.Breakpoint, parameters[0].Value, parameters[1].Value, parameters[2].Value, parameters[3].Value,
            parameters[4].Value, parameters[5].Value, parameters[6].Value, parameters[7].Value, parameters[8].Value, parameters[9].Value);
        double meanRmse = Math.Sqrt(groups.Average(g => Math.Pow(g.Mean - law.Mean(g.Level, g.Time), 2)));
        double spreadRmse = Math.Sqrt(groups.Select((g, i) => Math.Pow(q[i] - Math.Abs(law.RelativeSpread(g.Level, g.Time)), 2)).Average());
        return new RramDriftReport(data.Source, o, law, parameters, groups, meanRmse, spreadRmse);
    }
}

/// <summary>Options of <see cref="DriftFitter.FitRram"/>.</summary>
public sealed record RramFitOptions
{
    /// <summary>Breakpoint of the mean law (S; SHIP's 64.41e-6), held fixed.</summary>
    public double Breakpoint { get; init; } = RramDriftLaw.Ship.Breakpoint;
    /// <summary>Reads at or before this time (s) are left out (SHIP's validity limit, 0.83 s).</summary>
    public double ValidFrom { get; init; } = 0.83;
    /// <summary>Confidence level (0.95).</summary>
    public double Level { get; init; } = 0.95;
}

/// <summary>The reads of one programmed level at one time.</summary>
/// <param name="Level">Programmed conductance (S).</param>
/// <param name="Time">Time since programming (s).</param>
/// <param name="Count">Reads (devices).</param>
/// <param name="Mean">Mean read (S).</param>
/// <param name="Std">Sample standard deviation of the reads (S).</param>
public sealed record RramGroup(double Level, double Time, int Count, double Mean, double Std);

/// <summary>SHIP's RRAM drift form fitted to retention data.</summary>
/// <param name="Source">Where the data came from.</param>
/// <param name="Options">Breakpoint, validity limit and level used.</param>
/// <param name="Law">The fitted coefficients (S).</param>
/// <param name="Parameters">Each coefficient with its interval, in <see cref="RramDriftLaw"/>'s order after the breakpoint.</param>
/// <param name="Groups">The (level, time) groups fitted.</param>
/// <param name="MeanRmse">RMS of group mean − fitted mean (S).</param>
/// <param name="SpreadRmse">RMS of group σ/μ − fitted |σ/μ|.</param>
public sealed record RramDriftReport(string Source, RramFitOptions Options, RramDriftLaw Law, IReadOnlyList<FittedParameter> Parameters,
    IReadOnlyList<RramGroup> Groups, double MeanRmse, double SpreadRmse)
{
    /// <summary>The fitted drift as a device non-ideality (SHIP's form with these coefficients).</summary>
    public RramDrift ToDrift() => new(Options.ValidFrom, Law);
}
