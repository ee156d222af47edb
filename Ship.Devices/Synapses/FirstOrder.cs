using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using Ship.Devices.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Synapses;

/// <summary>
/// First-order leaky synapse with a current per connection (SHIP's lS_1o): a source spike makes the current jump by
/// w·w_scale, then it decays exponentially with τ. The output is the charge each target receives during the step.
/// Each step: I ← A·I + x ⊗ (W·w_scale), A = exp(−dt/τ), I of shape [batch, Ns, Nt];
/// output_t = Σ_sources B·I, B = τ·(1 − A), i.e. the exact integral over the step of a current decaying from I.
/// One spike therefore delivers w·w_scale·τ in total, whatever dt (charge is conserved).
/// </summary>
[ShipModel("FirstOrder")]
public sealed class FirstOrder : WeightedSynapse, ISequenceGroup, IShipModel<FirstOrder, WeightedSynapse.WeightedSettings>
{
    /// <inheritdoc />
    public WeightedSynapse.WeightedSettings GetSettings() => SynapseSettings();

    /// <inheritdoc />
    public static FirstOrder FromSettings(WeightedSynapse.WeightedSettings settings) => Restore(new FirstOrder(), settings);

    private readonly Derived<(Tensor A, Tensor B)> _decay;

    /// <summary>Creates the synapse with τ = 8 ms and w_scale = 1 (SHIP's defaults); W defaults to uniform [0, 1).</summary>
    public FirstOrder(Value? weights = null, Value? tau = null, Value? weightScale = null) : base(weights)
    {
        Tau = Param("tau", Extent.Connection, tau ?? 8e-3, Constraint.Positive);
        WeightScale = Param("w_scale", Extent.Component, weightScale ?? 1.0, Constraint.Finite);
        I = State("I", Extent.Batch | Extent.Connection, 0.0, Constraint.Finite);
        _decay = Derive("decay", dt => FirstOrderFunctional.Decay(Tau.Value, dt));
    }

    /// <summary>Time constant τ in seconds, scalar, per source [Ns, 1], per target [Nt] or per connection [Ns, Nt].</summary>
    public Parameter Tau { get; }
    /// <summary>Factor on every weight, scalar or per target (a gain that is not part of the trainable W).</summary>
    public Parameter WeightScale { get; }
    /// <summary>Synaptic current per connection, [batch, Ns, Nt].</summary>
    public StateVariable I { get; }

    /// <summary>
    /// The whole-segment form applies when the decay does not vary along targets (τ scalar or per source) and the
    /// weights are fixed during the run: then, by linearity, Σ_i B_i·I_ij(t) = Σ_i B_i·F_i(t)·W_ij·w_scale_j with F the
    /// filtered presynaptic train (<see cref="LeakyFilter"/>), one matrix product instead of a per-connection state.
    /// </summary>
    public string? SequenceRefusal =>
        ChangesDuringRun ? "the weights change within the run (plasticity or per-step device reads)"
        : Weights.dim() != 2 ? "the weights differ per batch row"
        : !(Tau.Value.dim() == 0 || Tau.Value.Sizes()[^1] == 1) ? "tau varies along targets: the filter-then-product form needs one decay per source"
        : Context.DType is not (ScalarType.Float32 or ScalarType.Float64) ? $"the leaky filter supports float32 and float64, not {Context.DType}"
        : null;

    /// <inheritdoc />
    public string? KernelRefusal => LeakyFilter.Choose(Context, (long)Context.BatchSize * SourceCount) is { Fused: false } c ? c.Reason : null;

    /// <inheritdoc />
    public Tensor StepSequence(Tensor? input, int steps)
    {
        var ctx = Context;
        int ns = SourceCount;
        var (decay, integral) = _decay.Value;
        var a = decay.expand(ns, 1).reshape(ns).contiguous();         // decay per source
        var b = integral.expand(ns, 1).reshape(ns);                   // per-step integral factor per source
        var w = Weights.mul(WeightScale.Value);                       // [Ns, Nt]
        var f = LeakyFilter.Apply(input!, a);                         // [B, T, Ns]
        var y = f.mul(b).matmul(w);                                   // [B, T, Nt]
        // What the per-connection state held before this segment keeps decaying: Σ_i B_i·A_i^(t+1)·I0_ij.
        var i0 = I.Value;
        var powers = a.unsqueeze(0).pow(torch.arange(1, steps + 1, dtype: a.dtype, device: a.device).unsqueeze(1)); // [T, Ns]
        if (!_freshState) y = y.Plus(powers.mul(b).unsqueeze(0).matmul(i0));
        // Final per-connection state, so a step-by-step continuation (or a monitor) sees exactly the state it would have.
        var last = f.select(1, steps - 1);                            // [B, Ns]
        var iT = last.unsqueeze(-1).mul(w);
        if (!_freshState) iT = iT.Plus(i0.mul(powers[steps - 1].unsqueeze(-1)));
        I.Tensor = iT;
        _freshState = false;
        return y;
    }

    private bool _freshState;

    /// <inheritdoc />
    protected override void SaveCheckpoint(CheckpointWriter writer)
    {
        base.SaveCheckpoint(writer);
        writer.Set("fresh_state", _freshState); // lets the whole-segment form skip the decay of a state known to be zero
    }

    /// <inheritdoc />
    protected override void LoadCheckpoint(CheckpointReader reader)
    {
        base.LoadCheckpoint(reader);
        _freshState = reader.GetBool("fresh_state");
    }

    /// <inheritdoc />
    protected override void OnReset()
    {
        base.OnReset();
        _freshState = I.Spec is ConstantValue { Scalar: 0 };
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var (a, b) = _decay.Value;
        var (y, i) = FirstOrderFunctional.Step(I.Value, input!, Weights.mul(WeightScale.Value), a, b);
        I.Tensor = i;
        _freshState = false;
        return y;
    }
}

/// <summary>The first-order synapse update as pure functions, shared by the second-order model.</summary>
public static class FirstOrderFunctional
{
    /// <summary>
    /// A = exp(−dt/τ) and B = τ·(1 − A). B uses the rounded A, so Σ_k B·A^k = τ exactly up to one rounding:
    /// the total charge of a spike does not drift with dt or precision.
    /// </summary>
    public static (Tensor A, Tensor B) Decay(Tensor tau, double dt)
    {
        var a = tau.reciprocal().MulNumber_(-dt).exp_();
        var b = a.OneMinus().mul_(tau);
        return (a, b);
    }

    /// <summary>x [batch, Ns] ⊗ w [Ns, Nt] or [batch, Ns, Nt] → [batch, Ns, Nt], the per-connection drive of one step.</summary>
    public static Tensor Drive(Tensor x, Tensor w) => x.unsqueeze(-1).mul(w);

    /// <summary>One step: I ← A·I + x ⊗ w; returns (Σ_sources B·I, new I). <paramref name="w"/> already includes w_scale.</summary>
    public static (Tensor Output, Tensor I) Step(Tensor i, Tensor x, Tensor w, Tensor a, Tensor b)
    {
        var next = torch.addcmul(i.mul(a), x.unsqueeze(-1), w, HeldScalars.One);
        return (next.mul(b).sum(1), next);
    }
}
