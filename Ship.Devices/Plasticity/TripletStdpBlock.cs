using Ship.Core.Persistence;
using Ship.Core.Parameters;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Plasticity;

/// <summary>
/// Triplet STDP (Pfister &amp; Gerstner 2006) as a learning-rule circuit block: pair STDP cannot reproduce the frequency
/// dependence of plasticity, which a second, slower trace on each side captures. Four traces: presynaptic r1 (τ+) and
/// r2 (τx) [batch, Ns], postsynaptic o1 (τ−) and o2 (τy) [batch, Nt]. Per step k, with pre [batch, Ns] the synapse's
/// input and post [batch, Nt] this block's input, every trace first decays (r̃1 = r1·e^(−dt/τ+), r̃2 = r2·e^(−dt/τx),
/// õ1 = o1·e^(−dt/τ−), õ2 = o2·e^(−dt/τy)), then
///   LTP_ij = (1/B)·Σ_b post_bj · r̃1_bi · (A2+ + A3+·õ2_bj),
///   LTD_ij = (1/B)·Σ_b pre_bi · õ1_bj · (A2− + A3−·r̃2_bi),
/// W ← W + LTP − LTD (additive, optionally clipped) or W + LTP⊙(w_max − W) − LTD⊙(W − w_min) (weight-dependent), and the
/// traces take this step's spikes (+1 all-to-all, or set to 1 with <see cref="TraceInteraction.Nearest"/>). Using the
/// traces from before this step's spikes is the discrete form of the paper's "t − ε": a spike's own trace jump never
/// counts for itself, and spikes in the same step do not pair. Defaults: the visual-cortex all-to-all fit of the paper
/// (τ+ = 16.8 ms, τ− = 33.7 ms, τx = 101 ms, τy = 125 ms, A2+ = 5e-10, A3+ = 6.2e-3, A2− = 7e-3, A3− = 2.3e-4).
/// With A3+ = A3− = 0 the rule is the pair rule of <see cref="StdpBlock"/>. Output: o1 [batch, Nt]. Wiring as
/// <see cref="PlasticityBlock"/>.
/// </summary>
[ShipModel("TripletStdpBlock")]
public sealed class TripletStdpBlock : PlasticityBlock, IShipModel<TripletStdpBlock, TripletStdpBlock.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(WeightedSynapse Synapse, int PostCount, StdpBounds Bounds, double WMin, double WMax, TraceInteraction Interaction);

    /// <inheritdoc />
    public Settings GetSettings() => new(Synapse, ComponentCount, Bounds, WMin, WMax, Interaction);

    /// <inheritdoc />
    public static TripletStdpBlock FromSettings(Settings settings) => new(settings.Synapse, settings.PostCount, bounds: settings.Bounds, wMin: settings.WMin, wMax: settings.WMax, interaction: settings.Interaction);

    private readonly Derived<TripletCoefficients> _c;

    /// <summary>Creates the block for <paramref name="synapse"/>, whose target has <paramref name="postCount"/> neurons.</summary>
    public TripletStdpBlock(WeightedSynapse synapse, int postCount,
        double a2Plus = 5e-10, double a3Plus = 6.2e-3, double a2Minus = 7e-3, double a3Minus = 2.3e-4,
        double tauPlus = 16.8e-3, double tauMinus = 33.7e-3, double tauX = 101e-3, double tauY = 125e-3,
        StdpBounds bounds = StdpBounds.None, double wMin = double.NegativeInfinity, double wMax = double.PositiveInfinity,
        TraceInteraction interaction = TraceInteraction.AllToAll)
        : base(synapse, postCount, bounds, wMin, wMax)
    {
        Interaction = interaction;
        A2Plus = Param("a2_plus", Extent.Scalar, a2Plus, Constraint.NonNegative);
        A3Plus = Param("a3_plus", Extent.Scalar, a3Plus, Constraint.NonNegative);
        A2Minus = Param("a2_minus", Extent.Scalar, a2Minus, Constraint.NonNegative);
        A3Minus = Param("a3_minus", Extent.Scalar, a3Minus, Constraint.NonNegative);
        TauPlus = Param("tau_plus", Extent.Scalar, tauPlus, Constraint.Positive);
        TauMinus = Param("tau_minus", Extent.Scalar, tauMinus, Constraint.Positive);
        TauX = Param("tau_x", Extent.Scalar, tauX, Constraint.Positive);
        TauY = Param("tau_y", Extent.Scalar, tauY, Constraint.Positive);
        R1 = State("r1", Extent.Batch, 0.0, Constraint.Finite);
        R2 = State("r2", Extent.Batch, 0.0, Constraint.Finite);
        O1 = State("o1", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        O2 = State("o2", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        _c = Derive("coefficients", Coefficients);
    }

    /// <summary>How spikes enter the traces.</summary>
    public TraceInteraction Interaction { get; }
    /// <summary>Pair potentiation amplitude A2+.</summary>
    public Parameter A2Plus { get; }
    /// <summary>Triplet potentiation amplitude A3+ (post-pre-post).</summary>
    public Parameter A3Plus { get; }
    /// <summary>Pair depression amplitude A2−.</summary>
    public Parameter A2Minus { get; }
    /// <summary>Triplet depression amplitude A3− (pre-post-pre).</summary>
    public Parameter A3Minus { get; }
    /// <summary>Time constant τ+ of the fast presynaptic trace r1, in seconds.</summary>
    public Parameter TauPlus { get; }
    /// <summary>Time constant τ− of the fast postsynaptic trace o1, in seconds.</summary>
    public Parameter TauMinus { get; }
    /// <summary>Time constant τx of the slow presynaptic trace r2, in seconds.</summary>
    public Parameter TauX { get; }
    /// <summary>Time constant τy of the slow postsynaptic trace o2, in seconds.</summary>
    public Parameter TauY { get; }
    /// <summary>Fast presynaptic trace r1 [batch, Ns].</summary>
    public StateVariable R1 { get; }
    /// <summary>Slow presynaptic trace r2 [batch, Ns].</summary>
    public StateVariable R2 { get; }
    /// <summary>Fast postsynaptic trace o1 [batch, Nt].</summary>
    public StateVariable O1 { get; }
    /// <summary>Slow postsynaptic trace o2 [batch, Nt].</summary>
    public StateVariable O2 { get; }

    private TripletCoefficients Coefficients(double dt)
    {
        double b = Context.BatchSize;
        return new TripletCoefficients(
            Math.Exp(-dt / TauPlus.Value.ToDouble()), Math.Exp(-dt / TauX.Value.ToDouble()),
            Math.Exp(-dt / TauMinus.Value.ToDouble()), Math.Exp(-dt / TauY.Value.ToDouble()),
            A2Plus.Value.ToDouble() / b, A3Plus.Value.ToDouble() / b, A2Minus.Value.ToDouble() / b, A3Minus.Value.ToDouble() / b);
    }

    /// <inheritdoc />
    protected override void ResetTraces(long ns, long nt)
    {
        R1.Tensor = PerSource(R1.Value, ns);
        R2.Tensor = PerSource(R2.Value, ns);
    }

    /// <inheritdoc />
    protected override Tensor Learn(Tensor w, Tensor pre, Tensor post)
    {
        var (r1, r2, o1, o2) = TripletStdpFunctional.Step(w, R1.Value, R2.Value, O1.Value, O2.Value, pre, post, _c.Value, Bounds, WMin, WMax, Interaction);
        R1.Tensor = r1;
        R2.Tensor = r2;
        O1.Tensor = o1;
        O2.Tensor = o2;
        return o1;
    }
}

/// <summary>Per-step constants of the triplet rule: trace decays and amplitudes already divided by the batch size.</summary>
/// <param name="DecayR1">e^(−dt/τ+).</param>
/// <param name="DecayR2">e^(−dt/τx).</param>
/// <param name="DecayO1">e^(−dt/τ−).</param>
/// <param name="DecayO2">e^(−dt/τy).</param>
/// <param name="A2Plus">A2+ / batch.</param>
/// <param name="A3Plus">A3+ / batch.</param>
/// <param name="A2Minus">A2− / batch.</param>
/// <param name="A3Minus">A3− / batch.</param>
public readonly record struct TripletCoefficients(double DecayR1, double DecayR2, double DecayO1, double DecayO2,
    double A2Plus, double A3Plus, double A2Minus, double A3Minus);

/// <summary>The triplet STDP update as a pure function (no autograd: call it under no_grad).</summary>
public static class TripletStdpFunctional
{
    /// <summary>Updates <paramref name="w"/> [Ns, Nt] IN PLACE and returns the four traces after this step's spikes.</summary>
    public static (Tensor R1, Tensor R2, Tensor O1, Tensor O2) Step(Tensor w, Tensor r1, Tensor r2, Tensor o1, Tensor o2,
        Tensor pre, Tensor post, TripletCoefficients c, StdpBounds bounds, double wMin, double wMax,
        TraceInteraction interaction = TraceInteraction.AllToAll)
    {
        var dR1 = r1.mul(c.DecayR1);
        var dR2 = r2.mul(c.DecayR2);
        var dO1 = o1.mul(c.DecayO1);
        var dO2 = o2.mul(c.DecayO2);
        // post ⊙ (A2+ + A3+·õ2) [B, Nt] and pre ⊙ (A2− + A3−·r̃2) [B, Ns]: one matrix product per side.
        var postGain = dO2.mul(c.A3Plus).AddNumber_(c.A2Plus).mul_(post);
        var preGain = dR2.mul(c.A3Minus).AddNumber_(c.A2Minus).mul_(pre);
        var up = torch.mm(dR1.t(), postGain);
        var down = torch.mm(preGain.t(), dO1);
        PlasticityBounds.Apply(w, up, down, bounds, wMin, wMax);
        return (PlasticityBounds.AddSpikes(dR1, pre, interaction), PlasticityBounds.AddSpikes(dR2, pre, interaction),
            PlasticityBounds.AddSpikes(dO1, post, interaction), PlasticityBounds.AddSpikes(dO2, post, interaction));
    }
}
