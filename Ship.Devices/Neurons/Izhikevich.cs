using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Neurons;

/// <summary>
/// Izhikevich (2003) two-variable neuron: v membrane potential in mV, u recovery variable, time in MILLISECONDS as in
/// the published equations:
/// dv/dt = 0.04·v² + 5·v + 140 − u + I,  du/dt = a·(b·v − u);  if v ≥ v_peak (30 mV): v ← c, u ← u + d.
/// The network's dt is in seconds and is converted once (dt_ms = 1000·dt). Integration: explicit (forward) Euler on
/// both variables from the values at the start of the sub-step, with <c>substeps</c> equal sub-steps h = dt_ms/substeps:
/// v' = v + h·(0.04v² + 5v + 140 − u + I), u' = u + h·a·(b·v − u); s = (v' ≥ v_peak); v ← v' − s·(v' − c), u ← u' + d·s.
/// The reset happens in the sub-step that crossed (the monitored v never shows the peak); the step's output is 1 if any
/// sub-step fired. Forward Euler has a first-order error (a spike is detected at the end of the sub-step that crosses),
/// so rates converge as h → 0. Input I is in the model's own current units (the classic papers drive RS with I = 10).
/// Initial state: v = −65 mV, u = b·v unless set.
/// </summary>
[ShipModel("Izhikevich")]
public sealed class Izhikevich : NeuronGroup, IShipModel<Izhikevich, Izhikevich.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int N, int Substeps);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount, Substeps);

    /// <inheritdoc />
    public static Izhikevich FromSettings(Settings settings) => new(settings.N, substeps: settings.Substeps);

    private static readonly ConstantValue RecoveryFromB = new(double.NaN);
    private readonly Derived<double> _h;
    private readonly Derived<Tensor> _ah;

    /// <summary>Creates N Izhikevich neurons; the defaults are the regular-spiking preset.</summary>
    public Izhikevich(int n, double a = 0.02, double b = 0.2, double c = -65, double d = 8, int substeps = 1, double vPeak = 30)
        : this(n, new IzhikevichPreset(a, b, c, d), substeps, vPeak) { }

    /// <summary>Creates N Izhikevich neurons of a published firing class (see <see cref="IzhikevichPreset"/>).</summary>
    public Izhikevich(int n, IzhikevichPreset preset, int substeps = 1, double vPeak = 30) : base(n)
    {
        ArgumentNullException.ThrowIfNull(preset);
        if (substeps < 1) throw new ParameterException(GetType().Name, "substeps", $"needs at least one Euler sub-step per step, got {substeps}.");
        Substeps = substeps;
        A = Param("a", Extent.Component | Extent.Batch, preset.A, Constraint.Positive);
        B = Param("b", Extent.Component | Extent.Batch, preset.B, Constraint.Finite);
        C = Param("c", Extent.Component | Extent.Batch, preset.C, Constraint.Finite);
        D = Param("d", Extent.Component | Extent.Batch, preset.D, Constraint.Finite);
        VPeak = Param("vpeak", Extent.Component | Extent.Batch, vPeak, Constraint.Finite);
        V = State("v", Extent.Batch | Extent.Component, -65.0, Constraint.Finite);
        // NaN marks "not set by the user": the reset then starts u on the nullcline, u = b·v.
        U = State("u", Extent.Batch | Extent.Component, RecoveryFromB);
        _h = Derive("h", dt => dt * 1000.0 / Substeps); // the Euler sub-step in ms
        _ah = Derive("ah", _ => A.Value.mul(_h.Value));
    }

    /// <summary>Euler sub-steps per network step; more sub-steps lower the integration error at a proportional cost.</summary>
    public int Substeps { get; }
    /// <summary>Recovery rate a in 1/ms.</summary>
    public Parameter A { get; }
    /// <summary>Sensitivity b of u to v (dimensionless).</summary>
    public Parameter B { get; }
    /// <summary>After-spike reset value c of v in mV.</summary>
    public Parameter C { get; }
    /// <summary>After-spike increment d of u.</summary>
    public Parameter D { get; }
    /// <summary>Spike cut-off v_peak in mV (30 in the published model).</summary>
    public Parameter VPeak { get; }
    /// <summary>Membrane potential v in mV.</summary>
    public StateVariable V { get; }
    /// <summary>Recovery variable u, in the units of I (it enters dv/dt, mV/ms, with I).</summary>
    public StateVariable U { get; }

    /// <inheritdoc />
    protected override void OnReset()
    {
        if (!ReferenceEquals(U.Spec, RecoveryFromB)) return;
        // u = b·v, replacing the value the reset just materialized; intermediates and that value freed here (three tensors
        // per run were left to the finalizer).
        using var bv = B.Value.mul(V.Value);
        using var full = bv.expand_as(V.Value);
        var fresh = U.Tensor;
        U.Tensor = Keep(full.clone());
        fresh?.Dispose();
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var v = V.Value;
        var u = U.Value;
        Tensor? fired = null;
        var (ah, h) = (_ah.Value, _h.Value);
        for (int k = 0; k < Substeps; k++)
        {
            var (s, vn, un) = IzhikevichFunctional.Step(v, u, input, ah, B.Value, C.Value, D.Value, VPeak.Value, h, Context.Spikes);
            v = vn;
            u = un;
            // Any firing sub-step makes the step fire: s1 OR s2 = s1 + s2 − s1·s2 keeps the output 0/1 and differentiable.
            fired = fired is null ? s : fired.Plus(s).sub_(fired.mul(s));
        }
        V.Tensor = v;
        U.Tensor = u;
        return fired!;
    }
}

/// <summary>Published (a, b, c, d) of a firing class of the Izhikevich model (Izhikevich 2003, Fig. 2).</summary>
/// <param name="A">Recovery rate in 1/ms.</param>
/// <param name="B">Sensitivity of u to v.</param>
/// <param name="C">Reset potential in mV.</param>
/// <param name="D">Recovery increment after a spike.</param>
public sealed record IzhikevichPreset(double A, double B, double C, double D)
{
    /// <summary>Regular spiking (RS) excitatory cortical cell: tonic firing with adaptation.</summary>
    public static readonly IzhikevichPreset RegularSpiking = new(0.02, 0.2, -65, 8);
    /// <summary>Intrinsically bursting (IB) cell: an initial burst, then tonic spikes.</summary>
    public static readonly IzhikevichPreset IntrinsicallyBursting = new(0.02, 0.2, -55, 4);
    /// <summary>Chattering (CH) cell: repetitive high-frequency bursts.</summary>
    public static readonly IzhikevichPreset Chattering = new(0.02, 0.2, -50, 2);
    /// <summary>Fast spiking (FS) inhibitory interneuron: high-rate firing with little adaptation.</summary>
    public static readonly IzhikevichPreset FastSpiking = new(0.1, 0.2, -65, 2);
    /// <summary>Low-threshold spiking (LTS) inhibitory interneuron.</summary>
    public static readonly IzhikevichPreset LowThresholdSpiking = new(0.02, 0.25, -65, 2);
}

/// <summary>The Izhikevich Euler sub-step as a pure function, so it can be tested and reused without a group.</summary>
public static class IzhikevichFunctional
{
    /// <summary>
    /// One forward-Euler sub-step of h milliseconds; <paramref name="ah"/> is a·h. Returns (spikes, new v, new u).
    /// The reset uses detached spikes, so gradients flow through the spike output, not through the reset decision.
    /// </summary>
    public static (Tensor Spikes, Tensor V, Tensor U) Step(Tensor v, Tensor u, Tensor? input, Tensor ah, Tensor b, Tensor c, Tensor d,
        Tensor vPeak, double h, ISpikeFunction? fire = null)
    {
        // Out-of-place products wherever both factors may carry gradients; in-place only on fresh tensors with constants.
        var dv = v.mul(0.04).add_(5).mul(v).add_(140).sub_(u);
        if (input is not null) dv.Plus_(input);
        var vn = dv.mul_(h).Plus_(v);
        var un = b.mul(v).sub_(u).mul(ah).Plus_(u);
        var spikes = (fire ?? HeavisideSpikes.Instance).Fire(vn, vPeak);
        var s = spikes.detach();
        var vNext = vn.sub(vn.sub(c).mul_(s));
        var uNext = un.Plus(d.mul(s));
        return (spikes, vNext, uNext);
    }
}
