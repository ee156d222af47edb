using Ship.Core.Persistence;
using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>Which clock a power-law drift uses.</summary>
public enum PowerLawClock
{
    /// <summary>aihwkit: G(t) = G0·((t + t0)/t0)^(−ν), drift for t &gt; 0.</summary>
    OffsetByT0,
    /// <summary>MemTorch: G(t) = G0·(t/t0)^(−ν), drift for t &gt; t0 (none before).</summary>
    FromZero,
}

/// <summary>
/// Power-law conductance drift of PCM-like devices. The exponent ν is either fixed (MemTorch: ν = 0.1, t0 = 1e-12 s,
/// G0·(t/t0)^(−ν)) or drawn per device at programming as aihwkit does (t0 = 20 s, G0·((t + t0)/t0)^(−ν)):
/// ν = |N(μν, σν)| with x = |G|/Gmax (clamped ≥ 1e-7), μν = clip(−0.0155·ln x + 0.0244, 0.049, 0.1),
/// σν = clip(−0.0125·ln x − 0.0059, 0.008, 0.045), G being the conductance this model receives while programming
/// (list it before programming noise to draw from targets, as aihwkit).
/// </summary>
[ShipModel("PowerLawDrift")]
public sealed class PowerLawDrift : INonIdeality, IShipModel<PowerLawDrift, PowerLawDrift.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(double T0, PowerLawClock Clock, double? Nu);

    /// <inheritdoc />
    public Settings GetSettings() => new(T0, Clock, Nu);

    /// <inheritdoc />
    public static PowerLawDrift FromSettings(Settings settings) => new(settings.T0, settings.Clock, settings.Nu);

    /// <summary>
    /// The drift exponent ν of every device of <paramref name="array"/> drawn at its last programming, [devices, Ns, Nt]
    /// (a copy). This drift must be in the array's list and the array programmed.
    /// </summary>
    public Tensor Exponents(DeviceArray array)
    {
        ArgumentNullException.ThrowIfNull(array);
        return array.State.Recall(this, "nu").clone();
    }

    /// <summary>Creates the drift; <paramref name="nu"/> null draws ν per device (aihwkit law).</summary>
    public PowerLawDrift(double t0, PowerLawClock clock, double? nu = null)
    {
        T0 = DeviceErrors.Positive(nameof(PowerLawDrift), "t0", t0, " s");
        if (nu is { } n) DeviceErrors.NonNegative(nameof(PowerLawDrift), "nu", n);
        Clock = clock;
        Nu = nu;
    }

    /// <summary>aihwkit's PCM drift: t0 = 20 s, ν drawn per device.</summary>
    public static PowerLawDrift Aihwkit(double t0 = 20) => new(t0, PowerLawClock.OffsetByT0);

    /// <summary>MemTorch's drift: fixed ν (0.1), t0 = 1e-12 s.</summary>
    public static PowerLawDrift MemTorch(double nu = 0.1, double t0 = 1e-12) => new(t0, PowerLawClock.FromZero, nu);

    /// <summary>t0 (s).</summary>
    public double T0 { get; }
    /// <summary>Clock convention.</summary>
    public PowerLawClock Clock { get; }
    /// <summary>Fixed ν, or null for aihwkit's per-device draw.</summary>
    public double? Nu { get; }

    /// <summary>μν for relative conductances x (aihwkit fit).</summary>
    public static Tensor ExponentMean(Tensor x) => x.clamp(min: 1e-7).log_().mul_(-0.0155).add_(0.0244).clamp_(0.049, 0.1);

    /// <summary>σν for relative conductances x (aihwkit fit).</summary>
    public static Tensor ExponentSpread(Tensor x) => x.clamp(min: 1e-7).log_().mul_(-0.0125).sub_(0.0059).clamp_(0.008, 0.045);

    /// <summary>Factor G(t)/G0 for exponents ν at elapsed time t.</summary>
    public Tensor Factor(Tensor nu, double t)
    {
        double ratio = Clock == PowerLawClock.OffsetByT0 ? (t + T0) / T0 : t / T0;
        bool drifts = Clock == PowerLawClock.OffsetByT0 ? t > 0 : t > T0;
        return drifts ? (nu * -Math.Log(ratio)).exp_() : torch.ones_like(nu);
    }

    /// <inheritdoc />
    public Tensor Program(Tensor conductances, DeviceState state)
    {
        Tensor nu;
        if (Nu is { } fixedNu) nu = torch.full(state.Shape, fixedNu, dtype: ScalarType.Float64, device: state.Device);
        else
        {
            var x = conductances.abs().div_(state.Range.Gmax);
            nu = ExponentSpread(x).mul_(state.Normal()).add_(ExponentMean(x)).abs_();
        }
        state.Remember(this, "nu", nu);
        return conductances;
    }

    /// <inheritdoc />
    public Tensor Read(Tensor conductances, DeviceState state) =>
        conductances * Factor(state.Recall(this, "nu"), state.ElapsedTime);
}
