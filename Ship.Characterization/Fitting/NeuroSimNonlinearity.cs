using MathNet.Numerics.RootFinding;
using Ship.Core.Errors;

namespace Ship.Characterization.Fitting;

/// <summary>
/// NeuroSim's nonlinearity label NL and its curve parameter A. On the normalized curve g(x) = (1 − e^(−x/a))/(1 − e^(−1/a)),
/// x = P/P_max, a = A/P_max, the label is the largest rise of g above the straight line x, divided by 0.07·√2 (the
/// perpendicular distance to the diagonal is 0.07·NL): NL = max_x (g(x) − x)/(0.07·√2). This reproduces NeuroSim's
/// published table of normalized A for NL = 0.01 … 9 to its six printed digits (e.g. NL = 1 → a = 1.251653,
/// NL = 4.22 → a = 0.249748). Depression uses the same mapping on its own curve.
/// </summary>
public static class NeuroSimNonlinearity
{
    /// <summary>Rise of the curve per unit label: max(g(x) − x) = <see cref="DeviationPerLabel"/>·NL.</summary>
    public static readonly double DeviationPerLabel = 0.07 * Math.Sqrt(2);

    /// <summary>Largest label the curve family reaches (a → 0: the rise tends to 1).</summary>
    public static double MaxLabel => 1 / DeviationPerLabel;

    /// <summary>Largest rise max_x (g(x) − x) of the normalized curve with normalized parameter <paramref name="a"/> &gt; 0; the maximum is at x* = −a·ln(a·(1 − e^(−1/a))).</summary>
    public static double MaxDeviation(double a)
    {
        if (!(a > 0) || !double.IsFinite(a)) throw new ParameterException(nameof(NeuroSimNonlinearity), "a", $"must be finite and > 0, got {a}.");
        double norm = -double.ExpM1(-1 / a);
        double x = Math.Clamp(-a * Math.Log(a * norm), 0, 1);
        return -double.ExpM1(-x / a) / norm - x;
    }

    /// <summary>The label NL of a curve with normalized parameter a = A/P_max.</summary>
    public static double Label(double a) => MaxDeviation(a) / DeviationPerLabel;

    /// <summary>Normalized parameter a = A/P_max for label <paramref name="nl"/> (0 &lt; NL &lt; <see cref="MaxLabel"/>), by Brent's method on ln a.</summary>
    public static double NormalizedA(double nl)
    {
        if (!(nl > 0 && nl < MaxLabel))
            throw new ParameterException(nameof(NeuroSimNonlinearity), "nl", $"must lie in (0, {MaxLabel:F3}), got {nl}.");
        double lnA = Brent.FindRoot(u => Label(Math.Exp(u)) - nl, Math.Log(1e-4), Math.Log(1e7), 1e-13, 200);
        return Math.Exp(lnA);
    }

    /// <summary>A in pulses for label <paramref name="nl"/> and <paramref name="levels"/> pulses from G_min to G_max (NeuroSim's maxNumLevel).</summary>
    public static double A(double nl, int levels) =>
        levels >= 1 ? NormalizedA(nl) * levels : throw new ParameterException(nameof(NeuroSimNonlinearity), "levels", $"must be >= 1, got {levels}.");
}
