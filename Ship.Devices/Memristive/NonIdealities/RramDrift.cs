using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Conductance drift of HfO2 RRAM as fitted in SHIP's paper (Gemo, Spiga, Brivio, Front. Neurosci. 2023, suppl. S4, on
/// data of doi 10.1002/aisy.202200145, Fig. 4). The fit is written in µS: for a device programmed at G0 (in µS) read
/// t seconds later (L = log10 t):
/// mean μ(t) = (0.2302·G0 − 15.24)·L + 0.9546·G0 + 4.82 if G0 &lt; 64.41 µS, else G0 − 0.4129·L;
/// spread s0 = 0.005127 + 0.85543/(G0 − 38.72), σ/μ(t) = (1.047·s0 − 0.006294)·L − 0.01677·s0 + 0.005473;
/// read G(t) = μ(t)·(1 + |σ/μ(t)|·ξ), ξ ~ N(0, 1) drawn per device at programming (a device keeps its place in the
/// distribution at every t, as SHIP's fixed seed did). No change for t ≤ 0.83 s (the fit's validity limit); fitted on
/// 10 s … 10^4 s, extrapolated beyond. Conductances in and out are in siemens, like everywhere else: the model converts to
/// µS for the fit and back (use a 50e-6–120e-6 S mapping, as SHIP).
/// </summary>
[ShipModel("RramDrift")]
public sealed class RramDrift : INonIdeality, IShipModel<RramDrift, RramDrift.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    /// <param name="ValidFrom">Earliest time (s) at which the fit applies.</param>
    /// <param name="Law">Fitted coefficients of SHIP's form (S), or null for SHIP's published fit.</param>
    public sealed record Settings(double ValidFrom, RramDriftLaw? Law = null);

    /// <inheritdoc />
    public Settings GetSettings() => new(ValidFrom, Law);

    /// <inheritdoc />
    public static RramDrift FromSettings(Settings settings) => new(settings.ValidFrom, settings.Law);

    /// <summary>
    /// The standard-normal deviation z of every device of <paramref name="array"/> drawn at its last programming (each
    /// device keeps its place in the drift distribution at every time), [devices, Ns, Nt] (a copy). This drift must be
    /// in the array's list and the array programmed.
    /// </summary>
    public Tensor Deviations(DeviceArray array)
    {
        ArgumentNullException.ThrowIfNull(array);
        return array.State.Recall(this, "z").clone();
    }

    /// <summary>Siemens per µS: the fit's unit, used only at this model's boundary.</summary>
    private const double MicroSiemens = 1e-6;

    /// <summary>Creates the drift; reads at t ≤ <paramref name="validFrom"/> seconds see no change.</summary>
    public RramDrift(double validFrom = 0.83) : this(validFrom, null) { }

    /// <summary>
    /// Creates the drift with SHIP's form and the coefficients of <paramref name="law"/> (S; e.g. fitted to your retention
    /// data by <c>DriftFitter.FitRram</c>), or SHIP's published ones when null.
    /// </summary>
    public RramDrift(double validFrom, RramDriftLaw? law)
    {
        ValidFrom = DeviceErrors.Time(nameof(RramDrift), "validFrom", validFrom);
        Law = law;
    }

    /// <summary>The coefficients in use, or null for SHIP's published fit (computed in µS exactly as published).</summary>
    public RramDriftLaw? Law { get; }

    /// <summary>Earliest time (s) at which the fit applies (0.83 s).</summary>
    public double ValidFrom { get; }

    /// <summary>μ(t) (S) for programmed conductances g0 (S) at t &gt; 0 s.</summary>
    public static Tensor Mean(Tensor g0, double t)
    {
        using var scope = torch.NewDisposeScope();
        return MeanMicro(g0 / MicroSiemens, t).mul_(MicroSiemens).MoveToOuterDisposeScope();
    }

    /// <summary>σ/μ(t) (dimensionless) for programmed conductances g0 (S) at t &gt; 0 s (signed, as fitted).</summary>
    public static Tensor RelativeSpread(Tensor g0, double t)
    {
        using var scope = torch.NewDisposeScope();
        return RelativeSpreadMicro(g0 / MicroSiemens, t).MoveToOuterDisposeScope();
    }

    private static Tensor MeanMicro(Tensor g0, double t)
    {
        double l = Math.Log10(t);
        var low = (g0 * 0.2302).sub_(15.24).mul_(l).add_(g0 * 0.9546).add_(4.82);
        var high = g0 - 0.4129 * l;
        return torch.where(g0.lt(64.41), low, high);
    }

    private static Tensor RelativeSpreadMicro(Tensor g0, double t)
    {
        double l = Math.Log10(t);
        var s0 = (g0 - 38.72).reciprocal_().mul_(0.85543).add_(0.005127);
        return (s0 * 1.047).sub_(0.006294).mul_(l).add_(s0 * -0.01677).add_(0.005473);
    }

    /// <inheritdoc />
    public Tensor Program(Tensor conductances, DeviceState state)
    {
        // The fit is only meaningful on tens of µS; a window given in µS numbers (50–120 instead of 50e-6–120e-6) would
        // be read as megasiemens and drift into nonsense without a word, so such conductances are refused.
        if (state.Range.Gmax > MaxConductance)
            throw new Ship.Core.Errors.ParameterException(state.Owner, "conductances",
                $"RramDrift takes conductances in siemens (SHIP's window is 50e-6 to 120e-6 S); the window reaches {state.Range.Gmax:g4} S, above {MaxConductance:g2} S. Was it given in µS?");
        state.Remember(this, "z", state.Normal());
        return conductances;
    }

    /// <summary>Largest window top (S) accepted: 0.01 S, far above the fitted 37–117 µS and far below a window mistakenly given in µS.</summary>
    public const double MaxConductance = 1e-2;

    /// <inheritdoc />
    public Tensor Read(Tensor conductances, DeviceState state)
    {
        double t = state.ElapsedTime;
        if (t <= ValidFrom) return conductances;
        if (Law is { } law)
            return law.RelativeSpread(conductances, t).abs_().mul_(state.Recall(this, "z")).add_(1).mul_(law.Mean(conductances, t));
        var micro = conductances / MicroSiemens;
        var mu = MeanMicro(micro, t);
        return RelativeSpreadMicro(micro, t).abs_().mul_(state.Recall(this, "z")).add_(1).mul_(mu).mul_(MicroSiemens);
    }
}
