using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// The coefficients of SHIP's RRAM drift form, in siemens (L = log10 t, t in s; G0 the programmed conductance, S):
/// mean μ(t) = (a·G0 + b)·L + c·G0 + d below the breakpoint G_b, else G0 − e·L; relative spread
/// σ/μ(t) = (A + B/(G0 − r))·L + C + D/(G0 − r). SHIP's fit (<see cref="Ship"/>) writes the spread as
/// s0 = 0.005127 + 0.85543/(G0 − 38.72) and σ/μ = (1.047·s0 − 0.006294)·L − 0.01677·s0 + 0.005473 (µS); expanded, that
/// is this form, whose five spread coefficients are the identifiable ones (SHIP's seven are not: its s0 offset trades off
/// against the others). <c>DriftFitter.FitRram</c> fits them to retention data.
/// </summary>
/// <param name="Breakpoint">G_b (S): the mean's low branch applies below it.</param>
/// <param name="LowSlopeGain">a (1/decade).</param>
/// <param name="LowSlopeOffset">b (S per decade).</param>
/// <param name="LowGain">c (dimensionless).</param>
/// <param name="LowOffset">d (S).</param>
/// <param name="HighSlope">e (S per decade).</param>
/// <param name="SpreadSlope">A (per decade).</param>
/// <param name="SpreadSlopePole">B (S per decade).</param>
/// <param name="SpreadOffset">C.</param>
/// <param name="SpreadOffsetPole">D (S).</param>
/// <param name="Pole">r (S).</param>
public sealed record RramDriftLaw(double Breakpoint, double LowSlopeGain, double LowSlopeOffset, double LowGain, double LowOffset,
    double HighSlope, double SpreadSlope, double SpreadSlopePole, double SpreadOffset, double SpreadOffsetPole, double Pole)
{
    /// <summary>SHIP's published fit (Gemo et al. 2023, suppl. S4), converted to siemens.</summary>
    public static RramDriftLaw Ship { get; } = new(
        64.41e-6, 0.2302, -15.24e-6, 0.9546, 4.82e-6, 0.4129e-6,
        1.047 * 0.005127 - 0.006294, 1.047 * 0.85543e-6, -0.01677 * 0.005127 + 0.005473, -0.01677 * 0.85543e-6, 38.72e-6);

    /// <summary>μ(t) (S) of a device programmed at <paramref name="g0"/> (S) read at <paramref name="t"/> s (t &gt; 0).</summary>
    public double Mean(double g0, double t)
    {
        double l = Math.Log10(t);
        return g0 < Breakpoint ? (LowSlopeGain * g0 + LowSlopeOffset) * l + LowGain * g0 + LowOffset : g0 - HighSlope * l;
    }

    /// <summary>σ/μ(t) (signed, as fitted) of a device programmed at <paramref name="g0"/> (S) read at <paramref name="t"/> s.</summary>
    public double RelativeSpread(double g0, double t)
    {
        double l = Math.Log10(t), p = 1 / (g0 - Pole);
        return (SpreadSlope + SpreadSlopePole * p) * l + SpreadOffset + SpreadOffsetPole * p;
    }

    /// <summary>μ(t) (S) for programmed conductances <paramref name="g0"/> (S), elementwise.</summary>
    public Tensor Mean(Tensor g0, double t)
    {
        double l = Math.Log10(t);
        var low = (g0 * LowSlopeGain).add_(LowSlopeOffset).mul_(l).add_(g0 * LowGain).add_(LowOffset);
        var high = g0 - HighSlope * l;
        return torch.where(g0.lt(Breakpoint), low, high);
    }

    /// <summary>σ/μ(t) for programmed conductances <paramref name="g0"/> (S), elementwise.</summary>
    public Tensor RelativeSpread(Tensor g0, double t)
    {
        double l = Math.Log10(t);
        var p = (g0 - Pole).reciprocal_();
        return (p * SpreadSlopePole).add_(SpreadSlope).mul_(l).add_(p * SpreadOffsetPole).add_(SpreadOffset);
    }
}
