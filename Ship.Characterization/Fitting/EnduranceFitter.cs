using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;
using Ship.Characterization.Measurements;
using Ship.Devices.Memristive;

namespace Ship.Characterization.Fitting;

/// <summary>Options of <see cref="EnduranceFitter.Fit"/>.</summary>
public sealed record EnduranceFitOptions
{
    /// <summary>
    /// A device counts as failed (stuck) from the first cycle count at which its window is below this fraction of its
    /// window at its first cycle count (0.05): a stuck device reads the same in both states.
    /// </summary>
    public double StuckWindow { get; init; } = 0.05;
    /// <summary>Confidence level of the intervals (0.95).</summary>
    public double Level { get; init; } = 0.95;
}

/// <summary>
/// Endurance of a data set: the window narrowing W(n) = W0 / (1 + (n/N½)^β) closing towards G_c = G_low0 + c·W0 (one
/// least-squares fit of both states' reads of devices not yet failed), and the Weibull lifetime of the devices (scale η, shape k; interval-censored maximum
/// likelihood from the cycle counts between which each device was first seen stuck, or right-censored at its last read).
/// Cycles are counted as in the file; <see cref="ToEndurance"/> converts them to write pulses.
/// </summary>
/// <param name="Source">Where the data came from.</param>
/// <param name="Window0">W0: the fresh window (S).</param>
/// <param name="HalfWindowCycles">N½ (cycles).</param>
/// <param name="Sharpness">β.</param>
/// <param name="CollapsePoint">c: where the levels meet, as a fraction of the fresh window from its low level.</param>
/// <param name="FreshLow">Fresh low level G_low(0) (S).</param>
/// <param name="NarrowingRmse">RMS residual of the window fit (S).</param>
/// <param name="LifetimeCycles">η (cycles), or null when no device failed.</param>
/// <param name="WeibullShape">k, or null when no device failed.</param>
/// <param name="StuckHighFraction">Fraction of failed devices stuck nearer the high level (Clopper–Pearson interval), or null when none failed.</param>
/// <param name="Devices">Devices in the data.</param>
/// <param name="Failed">Devices seen stuck.</param>
/// <param name="Series">The data per device.</param>
/// <param name="FailedAt">Per device, the first cycle count at which it was seen stuck (null: never).</param>
public sealed record EnduranceReport(string Source, FittedParameter Window0, FittedParameter HalfWindowCycles, FittedParameter Sharpness,
    FittedParameter CollapsePoint, double FreshLow, double NarrowingRmse, FittedParameter? LifetimeCycles, FittedParameter? WeibullShape,
    FittedParameter? StuckHighFraction, int Devices, int Failed, IReadOnlyList<CyclingSeries> Series, IReadOnlyList<long?> FailedAt)
{
    /// <summary>The fitted window fraction f(n) = 1 / (1 + (n/N½)^β) after <paramref name="cycles"/> cycles.</summary>
    public double WindowFraction(double cycles) => Endurance.WindowFraction(cycles, HalfWindowCycles.Value, Sharpness.Value);

    /// <summary>
    /// The fitted endurance as a device non-ideality, counting <paramref name="pulsesPerCycle"/> write pulses per cycle
    /// (2: one SET and one RESET pulse): N½ and η are multiplied by it. No failures when none was seen.
    /// </summary>
    public Endurance ToEndurance(double pulsesPerCycle = 2) => new(
        HalfWindowCycles.Value * pulsesPerCycle, Sharpness.Value, Math.Clamp(CollapsePoint.Value, 0, 1),
        LifetimeCycles is { } l ? l.Value * pulsesPerCycle : double.PositiveInfinity, WeibullShape?.Value ?? 1,
        Math.Clamp(StuckHighFraction?.Value ?? 0.5, 0, 1));
}

/// <summary>Fits cycling (endurance) measurements: MathNet's Levenberg–Marquardt for the narrowing, its Nelder–Mead simplex for the lifetime likelihood.</summary>
public static class EnduranceFitter
{
    /// <summary>Fits window narrowing, collapse point and Weibull lifetime; throws <see cref="FitException"/> when the data cannot carry the fit.</summary>
    public static EnduranceReport Fit(CyclingMeasurements data, EnduranceFitOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var o = options ?? new EnduranceFitOptions();
        FitOptionChecks.Level(nameof(EnduranceFitOptions), o.Level);
        FitOptionChecks.Fraction(nameof(EnduranceFitOptions), nameof(o.StuckWindow), o.StuckWindow);
        var series = data.Series();
        var failedAt = new List<long?>();
        var cycles = new List<double>();
        var highs = new List<double>();
        var lows = new List<double>();
        var lifetimes = new List<(double After, double By)>(); // failed in (After, By]; By = +∞ for a device never seen stuck
        int stuckHigh = 0;
        foreach (var s in series)
        {
            var w = s.Window;
            double fresh = Math.Abs(w[0]);
            if (!(fresh > 0)) throw new FitException($"endurance of device '{s.Device}'", "its window at its first cycle count is zero (stuck from the start?)");
            int fail = Array.FindIndex(w, v => v < o.StuckWindow * fresh);
            for (int i = 0; i < (fail < 0 ? w.Length : fail); i++)
            {
                cycles.Add(s.Cycles[i]);
                highs.Add(s.High[i]);
                lows.Add(s.Low[i]);
            }
            if (fail < 0)
            {
                failedAt.Add(null);
                lifetimes.Add((s.Cycles[^1], double.PositiveInfinity));
            }
            else
            {
                if (fail == 0) throw new FitException($"endurance of device '{s.Device}'", "stuck at its first cycle count");
                failedAt.Add(s.Cycles[fail]);
                lifetimes.Add((s.Cycles[fail - 1], s.Cycles[fail]));
                // Stuck nearer the fresh high level than the fresh low one.
                double level = (s.High[fail] + s.Low[fail]) / 2;
                if (Math.Abs(level - s.High[0]) < Math.Abs(level - s.Low[0])) stuckHigh++;
            }
        }

        // Narrowing and collapse in one fit of both reads, θ = (G_low0, W0, c, ln N½, ln β), conductances scaled to O(1):
        // high = G_low0 + W0·(c + (1 − c)·f(n)), low = G_low0 + c·W0·(1 − f(n)), so their difference is W0·f(n) and
        // they meet at G_low0 + c·W0. One least-squares fit gives every interval, c's included.
        double scale = highs.Concat(lows).Max();
        var n = cycles.ToArray();
        int count = n.Length;
        double nMid = Math.Exp(n.Where(c => c > 0).Select(c => Math.Log(c)).DefaultIfEmpty(0).Average());
        var y = highs.Concat(lows).Select(v => v / scale).ToArray();
        double[] Model(double[] th)
        {
            var v = new double[2 * count];
            for (int i = 0; i < count; i++)
            {
                double f = Endurance.WindowFraction(n[i], Math.Exp(th[3]), Math.Exp(th[4]));
                v[i] = th[0] + th[1] * (th[2] + (1 - th[2]) * f);
                v[count + i] = th[0] + th[2] * th[1] * (1 - f);
            }
            return v;
        }
        double low0 = lows.Take(Math.Max(1, count / 10)).Average() / scale, w0 = highs.Take(Math.Max(1, count / 10)).Average() / scale - low0;
        var r = LeastSquares.Fit("endurance window narrowing", Model, y, new[] { low0, w0, 0.5, Math.Log(Math.Max(nMid, 1)), 0.0 });
        FittedParameter P(string name, string unit, int i, Func<double, double> map)
        {
            var (lo, hi) = r.Interval(i, o.Level);
            return new FittedParameter(name, unit, map(r.Theta[i]), map(lo), map(hi));
        }
        var window0 = P("window0", "S", 1, v => v * scale);
        var collapse = P("collapse_point", "", 2, v => v);
        var half = P("half_window_cycles", "cycles", 3, Math.Exp);
        var beta = P("sharpness", "", 4, Math.Exp);
        double freshLow = r.Theta[0] * scale;
        var windowFit = Enumerable.Range(0, count).Select(i => (r.Fitted[i] - r.Fitted[count + i]) * scale).ToArray();
        double windowRmse = Math.Sqrt(Enumerable.Range(0, count).Average(i => Math.Pow(highs[i] - lows[i] - windowFit[i], 2)));

        int failed = failedAt.Count(a => a is not null);
        FittedParameter? eta = null, shape = null, high = null;
        if (failed > 0)
        {
            (eta, shape) = Weibull(lifetimes, o.Level);
            double alpha = 1 - o.Level;
            double lo = stuckHigh == 0 ? 0 : Beta.InvCDF(stuckHigh, failed - stuckHigh + 1, alpha / 2);
            double hi = stuckHigh == failed ? 1 : Beta.InvCDF(stuckHigh + 1, failed - stuckHigh, 1 - alpha / 2);
            high = new FittedParameter("stuck_high_fraction", "", (double)stuckHigh / failed, lo, hi);
        }
        return new EnduranceReport(data.Source, window0, half, beta, collapse, freshLow, windowRmse, eta, shape, high,
            series.Count, failed, series, failedAt);
    }

    /// <summary>
    /// Weibull (η, k) by maximum likelihood from intervals (a, b] in which each device failed (b = +∞: still working at
    /// a): log L = Σ ln(S(a) − S(b)), S(t) = e^(−(t/η)^k); intervals from the inverse of the numerical Hessian of −log L
    /// in (ln η, ln k).
    /// </summary>
    public static (FittedParameter Eta, FittedParameter Shape) Weibull(IReadOnlyList<(double After, double By)> intervals, double level = 0.95)
    {
        ArgumentNullException.ThrowIfNull(intervals);
        if (!intervals.Any(i => double.IsFinite(i.By))) throw new FitException("Weibull lifetime", "no device failed");
        double typical = Math.Exp(intervals.Where(i => double.IsFinite(i.By)).Average(i => Math.Log(i.By)));
        double Nll(double lnEta, double lnK)
        {
            double eta = Math.Exp(lnEta), k = Math.Exp(lnK), sum = 0;
            foreach (var (a, b) in intervals)
            {
                double ha = Math.Pow(a / eta, k);
                if (double.IsPositiveInfinity(b)) { sum -= ha; continue; }
                double hb = Math.Pow(b / eta, k);
                // ln(e^(−ha) − e^(−hb)) = −ha + ln(1 − e^(−(hb − ha))), stable for close bounds.
                sum += -ha + Math.Log(-double.ExpM1(-(hb - ha)));
            }
            return double.IsFinite(sum) ? -sum : 1e300;
        }
        var objective = ObjectiveFunction.Value(v => Nll(v[0], v[1]));
        MinimizationResult result;
        try
        {
            result = new NelderMeadSimplex(1e-12, 20000).FindMinimum(objective,
                Vector<double>.Build.DenseOfArray(new[] { Math.Log(typical), 0.0 }), Vector<double>.Build.DenseOfArray(new[] { 0.5, 0.5 }));
        }
        catch (Exception e) when (e is not Ship.Core.Errors.ShipException)
        {
            throw new FitException("Weibull lifetime", $"the optimizer failed ({e.GetType().Name}: {e.Message})");
        }
        var p = result.MinimizingPoint.ToArray();
        // Observed information: central-difference Hessian of −log L.
        double h = 1e-4;
        var hess = Matrix<double>.Build.Dense(2, 2);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
            {
                double F(double di, double dj)
                {
                    var q = (double[])p.Clone();
                    q[i] += di;
                    q[j] += dj;
                    return Nll(q[0], q[1]);
                }
                hess[i, j] = (F(h, h) - F(h, -h) - F(-h, h) + F(-h, -h)) / (4 * h * h);
            }
        var cov = hess.Inverse();
        double z = Normal.InvCDF(0, 1, 0.5 + level / 2);
        FittedParameter Of(string name, string unit, int i)
        {
            double se = Math.Sqrt(Math.Max(0, cov[i, i]));
            if (!double.IsFinite(se)) throw new FitException("Weibull lifetime", "the likelihood is flat at its maximum (too few failures to fix both parameters)");
            return new FittedParameter(name, unit, Math.Exp(p[i]), Math.Exp(p[i] - z * se), Math.Exp(p[i] + z * se));
        }
        return (Of("lifetime_cycles", "cycles", 0), Of("weibull_shape", "", 1));
    }
}
