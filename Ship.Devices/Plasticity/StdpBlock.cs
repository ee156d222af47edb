using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Plasticity;

/// <summary>How a <see cref="StdpBlock"/> keeps weights inside [w_min, w_max].</summary>
public enum StdpBounds
{
    /// <summary>No bounds: purely additive updates.</summary>
    None,
    /// <summary>Additive updates, then a hard clip to [w_min, w_max] (either bound may be infinite).</summary>
    Clip,
    /// <summary>Multiplicative soft bounds: potentiation scales with (w_max − w), depression with (w − w_min); needs finite bounds.</summary>
    Soft,
}

/// <summary>
/// Pair-based STDP as a learning-rule circuit block (SHIP lists such blocks as possible groups but has none): two
/// leaky trace circuits and an online update of one synapse group's weights during the run, without autograd.
/// Per step k, with pre[k] [batch, Ns] the synapse's input and post[k] [batch, Nt] this block's input:
/// x̃_pre = α·x_pre, x̃_post = β·x_post (α = exp(−dt/τ+), β = exp(−dt/τ−));
/// ΔW = (A+·x̃_preᵀ·post − A−·preᵀ·x̃_post) / batch (an average over the batch rows);
/// then x_pre = x̃_pre + pre, x_post = x̃_post + post. The update uses the traces before this step's spikes, so a pre
/// spike at step m and a post spike at step n change w by A+·exp(−(n−m)·dt/τ+) if n &gt; m, by −A−·exp(−(m−n)·dt/τ−)
/// if n &lt; m, and not at all if n = m. Bounds: see <see cref="StdpBounds"/>; soft bounds use
/// ΔW = (A+·x̃_preᵀ·post)⊙(w_max − W) − (A−·preᵀ·x̃_post)⊙(W − w_min), then clip.
/// Wiring: add <see cref="Tap"/> (the synapse, wrapped so the block can read its input) to the network in place of
/// the synapse, add this block and connect the postsynaptic group to it; the block's output is x_post [batch, Nt].
/// Weights change in place under no_grad and persist across runs until the network is initialized again; do not train
/// the same weights by gradient in the same run. Synapses with an attached weight device are not supported.
/// </summary>
public sealed class StdpBlock : NeuronGroup
{
    private readonly WeightedSynapse _synapse;
    private long _seen;
    private double _alpha, _beta, _plus, _minus;

    /// <summary>Creates the block for <paramref name="synapse"/>, whose target has <paramref name="postCount"/> neurons (defaults: Song et al. 2000).</summary>
    public StdpBlock(WeightedSynapse synapse, int postCount, double aPlus = 0.01, double aMinus = 0.0105, double tauPlus = 20e-3,
        double tauMinus = 20e-3, StdpBounds bounds = StdpBounds.None, double wMin = double.NegativeInfinity, double wMax = double.PositiveInfinity)
        : base(postCount)
    {
        _synapse = synapse ?? throw new ArgumentNullException(nameof(synapse));
        _synapse.Plastic = true; // its weights change within a run: never computed a segment ahead
        if (double.IsNaN(wMin) || double.IsNaN(wMax) || !(wMin < wMax))
            throw new ParameterException(GetType().Name, "w_min/w_max", $"needs w_min < w_max, got [{wMin}, {wMax}].");
        if (bounds == StdpBounds.Soft && !(double.IsFinite(wMin) && double.IsFinite(wMax)))
            throw new ParameterException(GetType().Name, "w_min/w_max", $"soft bounds need finite w_min and w_max, got [{wMin}, {wMax}].");
        Bounds = bounds;
        WMin = wMin;
        WMax = wMax;
        Tap = new InputTap(synapse);
        APlus = Param("a_plus", Extent.Scalar, aPlus, Constraint.NonNegative);
        AMinus = Param("a_minus", Extent.Scalar, aMinus, Constraint.NonNegative);
        TauPlus = Param("tau_plus", Extent.Scalar, tauPlus, Constraint.Positive);
        TauMinus = Param("tau_minus", Extent.Scalar, tauMinus, Constraint.Positive);
        // x_pre is [batch, Ns]; Ns is the synapse's source size, so the state is declared per batch and widened at reset.
        XPre = State("x_pre", Extent.Batch, 0.0, Constraint.Finite);
        XPost = State("x_post", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
    }

    /// <summary>The synapse whose weights learn, wrapped so that the block sees its presynaptic input: add this to the network.</summary>
    public InputTap Tap { get; }
    /// <summary>The synapse whose weights learn.</summary>
    public WeightedSynapse Synapse => _synapse;
    /// <summary>How weights are bounded.</summary>
    public StdpBounds Bounds { get; }
    /// <summary>Lower weight bound (used by Clip and Soft).</summary>
    public double WMin { get; }
    /// <summary>Upper weight bound (used by Clip and Soft).</summary>
    public double WMax { get; }
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
    public override void PrepareTimeStep(double dt)
    {
        // Scalars read once per dt change, so the per-step update makes no .item() call.
        _alpha = Math.Exp(-dt / TauPlus.Value.ToDouble());
        _beta = Math.Exp(-dt / TauMinus.Value.ToDouble());
        _plus = APlus.Value.ToDouble() / Context.BatchSize;
        _minus = AMinus.Value.ToDouble() / Context.BatchSize;
    }

    /// <inheritdoc />
    protected override void OnReset()
    {
        if (!_synapse.IsBound)
            throw new NetworkConfigurationException($"STDP block '{DisplayName}': its synapse is not bound; add the block's Tap to the network (or bind the synapse first).");
        if (_synapse.WeightDevice is not null)
            throw new NetworkConfigurationException($"STDP block '{DisplayName}': synapse '{_synapse.DisplayName}' reads its weights from a device; online STDP on device weights is not supported.");
        if (_synapse.TargetCount != ComponentCount)
            throw new NetworkConfigurationException(
                $"STDP block '{DisplayName}' has {ComponentCount} postsynaptic neurons, synapse '{_synapse.DisplayName}' has {_synapse.TargetCount} targets.");
        var ctx = Context;
        long ns = _synapse.SourceCount, nt = _synapse.TargetCount;
        // The update is in place, so the weights must be a full [Ns, Nt] tensor of their own (a constant is stored as a scalar).
        var w = _synapse.W.Value;
        if (w.dim() != 2 || w.shape[0] != ns || w.shape[1] != nt)
            _synapse.W.Tensor = w.detach().expand(ns, nt).clone().DetachFromDisposeScope();
        XPre.Tensor = Keep(XPre.Value.unsqueeze(1).expand(ctx.BatchSize, ns).clone());
        _seen = Tap.StepCount;
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        if (input is null)
            throw new NetworkConfigurationException($"STDP block '{DisplayName}' has no source: connect the postsynaptic group to it.");
        if (Tap.StepCount != _seen + 1)
            throw new NetworkConfigurationException(
                $"STDP block '{DisplayName}': synapse '{_synapse.DisplayName}' took {Tap.StepCount - _seen} step(s) since the block's last step, expected 1. " +
                "Add the block's Tap (not the bare synapse) to the network, and let the synapse run before the block (the block reads the postsynaptic group).");
        _seen = Tap.StepCount;
        using var noGrad = torch.no_grad();
        var (w, xPre, xPost) = StdpFunctional.Step(_synapse.W.Value, XPre.Value, XPost.Value, Tap.LastInput!.detach(), input.detach(),
            _alpha, _beta, _plus, _minus, Bounds, WMin, WMax);
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
        double alpha, double beta, double aPlus, double aMinus, StdpBounds bounds, double wMin, double wMax)
    {
        var dPre = xPre.mul(alpha);
        var dPost = xPost.mul(beta);
        if (bounds == StdpBounds.Soft)
        {
            var up = torch.mm(dPre.t(), post).mul_(w.neg().add_(wMax)).mul_(aPlus);
            var down = torch.mm(pre.t(), dPost).mul_(w.sub(wMin)).mul_(aMinus);
            w.add_(up).sub_(down).clamp_(wMin, wMax);
        }
        else
        {
            w.add_(torch.mm(dPre.t(), post), alpha: aPlus).add_(torch.mm(pre.t(), dPost), alpha: -aMinus);
            if (bounds == StdpBounds.Clip) w.clamp_(wMin, wMax);
        }
        return (w, dPre.add_(pre), dPost.add_(post));
    }
}
