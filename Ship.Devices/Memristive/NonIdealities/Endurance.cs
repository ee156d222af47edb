using Ship.Core.Errors;
using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Endurance: devices wear out with the write pulses they receive (<see cref="DeviceState.LifetimeWrites"/>: pulse
/// programming, <see cref="DeviceArray.ApplyPulses(int, PulseDirection, torch.Generator, Tensor?)"/>, <see cref="PulsesPerProgramming"/>
/// per programming, and writes added with <see cref="DeviceState.AddDeviceWrites"/>). Two effects, each off by default:
/// <list type="bullet">
/// <item><b>Window narrowing</b>: after n pulses a device's window is f(n) = 1 / (1 + (n / N½)^β) of its fresh window
/// (<see cref="WindowFraction"/>); it closes towards G_c = G_min + c·(G_max − G_min), so a read g becomes
/// G_c + (g − G_c)·f(n).</item>
/// <item><b>Failure</b>: each device has its own lifetime drawn at fabrication from a Weibull distribution (scale η, shape
/// k): P(failed after n pulses) = 1 − e^(−(n/η)^k) (<see cref="FailureProbability"/>). A failed device is stuck: at
/// G_max with probability <see cref="StuckHighFraction"/> (SET-stuck), else at G_min (RESET-stuck).</item>
/// </list>
/// Both act at every read from the counts so far, so pulses applied after programming wear the devices too. A failed
/// device reads its stuck value, on which later non-idealities of the list still act: put Endurance last for exact
/// stuck values. Settings are data and the lifetimes are fabricated draws, so a checkpoint restores the same wear.
/// </summary>
[ShipModel("Endurance")]
public sealed class Endurance : INonIdeality, IShipModel<Endurance, Endurance.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes).</summary>
    /// <param name="HalfWindowPulses">N½: pulses after which the window is half its fresh width (+∞: no narrowing).</param>
    /// <param name="Sharpness">β &gt; 0: how abruptly the window closes around N½.</param>
    /// <param name="CollapsePoint">c in [0, 1]: where in the fresh window the two levels meet (0 = G_min, 1 = G_max).</param>
    /// <param name="LifetimePulses">η: Weibull scale of the per-device lifetime in pulses (+∞: no failures).</param>
    /// <param name="WeibullShape">k &gt; 0: Weibull shape (1 = constant failure rate).</param>
    /// <param name="StuckHighFraction">Probability that a failed device is stuck at G_max rather than G_min.</param>
    /// <param name="PulsesPerProgramming">Write pulses every device receives at each programming that does not count its own (e.g. the mean iterations of a program-and-verify loop); 0 when pulse programming counts them.</param>
    public sealed record Settings(double HalfWindowPulses, double Sharpness, double CollapsePoint, double LifetimePulses,
        double WeibullShape, double StuckHighFraction, double PulsesPerProgramming);

    /// <inheritdoc />
    public Settings GetSettings() => new(HalfWindowPulses, Sharpness, CollapsePoint, LifetimePulses, WeibullShape, StuckHighFraction, PulsesPerProgramming);

    /// <inheritdoc />
    public static Endurance FromSettings(Settings s) =>
        new(s.HalfWindowPulses, s.Sharpness, s.CollapsePoint, s.LifetimePulses, s.WeibullShape, s.StuckHighFraction, s.PulsesPerProgramming);

    /// <summary>Creates the model; see <see cref="Settings"/> for the parameters (defaults: both effects off).</summary>
    public Endurance(double halfWindowPulses = double.PositiveInfinity, double sharpness = 1, double collapsePoint = 0.5,
        double lifetimePulses = double.PositiveInfinity, double weibullShape = 1, double stuckHighFraction = 0.5, double pulsesPerProgramming = 0)
    {
        HalfWindowPulses = halfWindowPulses > 0 ? halfWindowPulses : throw Bad("halfWindowPulses", "> 0 (+∞ for no narrowing)", halfWindowPulses);
        Sharpness = sharpness > 0 && double.IsFinite(sharpness) ? sharpness : throw Bad("sharpness", "finite and > 0", sharpness);
        CollapsePoint = collapsePoint is >= 0 and <= 1 ? collapsePoint : throw Bad("collapsePoint", "in [0, 1]", collapsePoint);
        LifetimePulses = lifetimePulses > 0 ? lifetimePulses : throw Bad("lifetimePulses", "> 0 (+∞ for no failures)", lifetimePulses);
        WeibullShape = weibullShape > 0 && double.IsFinite(weibullShape) ? weibullShape : throw Bad("weibullShape", "finite and > 0", weibullShape);
        StuckHighFraction = DeviceErrors.Probability(nameof(Endurance), "stuckHighFraction", stuckHighFraction);
        PulsesPerProgramming = pulsesPerProgramming >= 0 && double.IsFinite(pulsesPerProgramming) ? pulsesPerProgramming
            : throw Bad("pulsesPerProgramming", "finite and >= 0", pulsesPerProgramming);
    }

    private static ParameterException Bad(string name, string rule, double value) =>
        new(nameof(Endurance), name, $"must be {rule}, got {value}.");

    /// <summary>N½ (pulses).</summary>
    public double HalfWindowPulses { get; }
    /// <summary>β.</summary>
    public double Sharpness { get; }
    /// <summary>c.</summary>
    public double CollapsePoint { get; }
    /// <summary>η (pulses).</summary>
    public double LifetimePulses { get; }
    /// <summary>k.</summary>
    public double WeibullShape { get; }
    /// <summary>Probability of SET-stuck (G_max) for a failed device.</summary>
    public double StuckHighFraction { get; }
    /// <summary>Pulses added to every device at each programming.</summary>
    public double PulsesPerProgramming { get; }

    /// <summary>f(n) = 1 / (1 + (n / N½)^β): the fraction of the fresh window left after <paramref name="pulses"/> pulses.</summary>
    public static double WindowFraction(double pulses, double halfWindowPulses, double sharpness) =>
        double.IsPositiveInfinity(halfWindowPulses) ? 1 : 1 / (1 + Math.Pow(pulses / halfWindowPulses, sharpness));

    /// <summary>P(failed) = 1 − e^(−(n / η)^k) after <paramref name="pulses"/> pulses.</summary>
    public static double FailureProbability(double pulses, double lifetimePulses, double weibullShape) =>
        double.IsPositiveInfinity(lifetimePulses) ? 0 : -double.ExpM1(-Math.Pow(pulses / lifetimePulses, weibullShape));

    /// <inheritdoc />
    public Tensor Program(Tensor conductances, DeviceState state)
    {
        if (PulsesPerProgramming > 0) state.AddDeviceWrites(torch.tensor(PulsesPerProgramming, dtype: ScalarType.Float64));
        if (!double.IsPositiveInfinity(LifetimePulses)) Lifetimes(state); // drawn at fabrication, from the programming stream
        return conductances;
    }

    // A lifetime η·(−ln(1 − u))^(1/k) per device (inverse-CDF Weibull draw) and its stuck side, fixed at fabrication.
    private (Tensor Life, Tensor High) Lifetimes(DeviceState state) => (
        state.Fabricated(this, "lifetime", () => state.Uniform().neg_().log1p_().neg_().pow_(1 / WeibullShape).mul_(LifetimePulses)),
        state.Fabricated(this, "stuck_high", () => state.Uniform().lt(StuckHighFraction)));

    /// <inheritdoc />
    public Tensor Read(Tensor conductances, DeviceState state)
    {
        var n = state.LifetimeWrites;
        var g = conductances;
        double lo = state.Range.Gmin, hi = state.Range.Gmax;
        if (!double.IsPositiveInfinity(HalfWindowPulses))
        {
            double center = lo + CollapsePoint * (hi - lo);
            var f = n.div(HalfWindowPulses).pow(Sharpness).add_(1).reciprocal_();
            g = g.sub(center).mul_(f).add_(center);
        }
        if (!double.IsPositiveInfinity(LifetimePulses))
        {
            var (life, high) = Lifetimes(state);
            var failed = n.ge(life);
            var stuck = torch.where(high, torch.tensor(hi, dtype: ScalarType.Float64, device: g.device), torch.tensor(lo, dtype: ScalarType.Float64, device: g.device));
            g = torch.where(failed, stuck, g);
        }
        return g;
    }
}
