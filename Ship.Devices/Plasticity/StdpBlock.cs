using Ship.Core.Persistence;
using Ship.Core.Parameters;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Plasticity;

/// <summary>
/// Pair-based STDP as a learning-rule circuit block (SHIP lists such blocks as possible groups but has none): two
/// leaky trace circuits and an online update of one synapse group's weights during the run, without autograd.
/// Per step k, with pre[k] [batch, Ns] the synapse's input and post[k] [batch, Nt] this block's input:
/// x̃_pre = α·x_pre, x̃_post = β·x_post (α = exp(−dt/τ+), β = exp(−dt/τ−));
/// ΔW = (A+·x̃_preᵀ·post − A−·preᵀ·x̃_post) / batch (an average over the batch rows);
/// then x_pre = x̃_pre + pre, x_post = x̃_post + post (all-to-all; with <see cref="TraceInteraction.Nearest"/> a spike
/// sets its trace to 1 instead). The update uses the traces before this step's spikes, so a pre spike at step m and a
/// post spike at step n change w by A+·exp(−(n−m)·dt/τ+) if n &gt; m, by −A−·exp(−(m−n)·dt/τ−) if n &lt; m, and not at
/// all if n = m. Bounds: see <see cref="StdpBounds"/>; soft (weight-dependent) bounds use
/// ΔW = (A+·x̃_preᵀ·post)⊙(w_max − W) − (A−·preᵀ·x̃_post)⊙(W − w_min), then clip.
/// Wiring: add <see cref="PlasticityBlock.Tap"/> (the synapse, wrapped so the block can read its input) to the network
/// in place of the synapse, add this block and connect the postsynaptic group to it; the block's output is x_post
/// [batch, Nt]. Weights change in place under no_grad and persist across runs until the network is initialized again;
/// do not train the same weights by gradient in the same run. On a synapse backed by a device array with a pulse response
/// the update becomes programming pulses (see <see cref="PlasticityBlock"/>).
/// </summary>
[ShipModel("StdpBlock")]
public sealed class StdpBlock : PlasticityBlock, IShipModel<StdpBlock, StdpBlock.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(WeightedSynapse Synapse, int PostCount, StdpBounds Bounds, double WMin, double WMax, TraceInteraction Interaction);

    /// <inheritdoc />
    public Settings GetSettings() => new(Synapse, ComponentCount, Bounds, WMin, WMax, Interaction);

    /// <inheritdoc />
    public static StdpBlock FromSettings(Settings settings) => new(settings.Synapse, settings.PostCount, bounds: settings.Bounds, wMin: settings.WMin, wMax: settings.WMax, interaction: settings.Interaction);

    // Scalars read once per preparation, so the per-step update makes no .item() call.
    private readonly Derived<double> _alpha, _beta, _plus, _minus;

    /// <summary>Creates the block for <paramref name="synapse"/>, whose target has <paramref name="postCount"/> neurons (defaults: Song et al. 2000).</summary>
    public StdpBlock(WeightedSynapse synapse, int postCount, double aPlus = 0.01, double aMinus = 0.0105, double tauPlus = 20e-3,
        double tauMinus = 20e-3, StdpBounds bounds = StdpBounds.None, double wMin = double.NegativeInfinity, double wMax = double.PositiveInfinity,
        TraceInteraction interaction = TraceInteraction.AllToAll)
        : base(synapse, postCount, bounds, wMin, wMax)
    {
        Interaction = interaction;
        APlus = Param("a_plus", Extent.Scalar, aPlus, Constraint.NonNegative);
        AMinus = Param("a_minus", Extent.Scalar, aMinus, Constraint.NonNegative);
        TauPlus = Param("tau_plus", Extent.Scalar, tauPlus, Constraint.Positive);
        TauMinus = Param("tau_minus", Extent.Scalar, tauMinus, Constraint.Positive);
        // x_pre is [batch, Ns]; Ns is the synapse's source size, so the state is declared per batch and widened at reset.
        XPre = State("x_pre", Extent.Batch, 0.0, Constraint.Finite);
        XPost = State("x_post", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        _alpha = Derive("alpha", dt => Math.Exp(-dt / TauPlus.Value.ToDouble()));
        _beta = Derive("beta", dt => Math.Exp(-dt / TauMinus.Value.ToDouble()));
        _plus = Derive("plus", _ => APlus.Value.ToDouble() / Context.BatchSize);
        _minus = Derive("minus", _ => AMinus.Value.ToDouble() / Context.BatchSize);
    }

    /// <summary>How spikes enter the traces.</summary>
    public TraceInteraction Interaction { get; }
    /// <summary>Potentiation amplitude A+ (weight units per pair).</summary>
    public Parameter APlus { get; }
    /// <summary>Depression amplitude A− (weight units per pair).</summary>
    public Parameter AMinus { get; }
    /// <summary>Presynaptic trace time constant τ+ in seconds.</summary>
    public Parameter TauPlus { get; }
    /// <summary>Postsynaptic trace time constant τ− in seconds.</summary>
    public Parameter TauMinus { get; }
    /// <summary>Presynaptic trace x_pre [batch, Ns].</summary>
    public StateVariable XPre { get; }
    /// <summary>Postsynaptic trace x_post [batch, Nt].</summary>
    public StateVariable XPost { get; }

    /// <inheritdoc />
    protected override void ResetTraces(long ns, long nt) => XPre.Tensor = PerSource(XPre.Value, ns);

    /// <inheritdoc />
    protected override Tensor Learn(Tensor w, Tensor pre, Tensor post)
    {
        var (_, xPre, xPost) = StdpFunctional.Step(w, XPre.Value, XPost.Value, pre, post,
            _alpha.Value, _beta.Value, _plus.Value, _minus.Value, Bounds, WMin, WMax, Interaction);
        XPre.Tensor = xPre;
        XPost.Tensor = xPost;
        return xPost;
    }
}

/// <summary>The pair-based STDP update as a pure function (no autograd: call it under no_grad).</summary>
public static class StdpFunctional
{
    /// <summary>
    /// Updates <paramref name="w"/> [Ns, Nt] IN PLACE from the decayed traces and this step's spikes and returns
    /// (w, new x_pre, new x_post). <paramref name="aPlus"/> and <paramref name="aMinus"/> are already divided by the batch size.
    /// </summary>
    public static (Tensor W, Tensor XPre, Tensor XPost) Step(Tensor w, Tensor xPre, Tensor xPost, Tensor pre, Tensor post,
        double alpha, double beta, double aPlus, double aMinus, StdpBounds bounds, double wMin, double wMax,
        TraceInteraction interaction = TraceInteraction.AllToAll)
    {
        var dPre = xPre.mul(alpha);
        var dPost = xPost.mul(beta);
        var up = torch.mm(dPre.t(), post).mul_(aPlus);
        var down = torch.mm(pre.t(), dPost).mul_(aMinus);
        PlasticityBounds.Apply(w, up, down, bounds, wMin, wMax);
        return (w, PlasticityBounds.AddSpikes(dPre, pre, interaction), PlasticityBounds.AddSpikes(dPost, post, interaction));
    }
}
