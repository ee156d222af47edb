using Ship.Core.Persistence;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Synapses;

/// <summary>
/// First-order leaky synapse with one current per target (SHIP's lS_FZenke, after F. Zenke's SpyTorch tutorial):
/// inputs are weighted and summed first, then filtered, so the state is [batch, Nt] instead of [batch, Ns, Nt]
/// (faster, but τ can only differ per target). Each step: I ← α·I + w_scale·(x·W), α = exp(−dt/τ); output: I itself
/// (the current, not its integral over the step as in <see cref="FirstOrder"/>). One spike gives w·w_scale·α^k k steps later.
/// </summary>
[ShipModel("FirstOrderPerTarget")]
public sealed class FirstOrderPerTarget : WeightedSynapse, IShipModel<FirstOrderPerTarget, WeightedSynapse.WeightedSettings>
{
    /// <inheritdoc />
    public WeightedSynapse.WeightedSettings GetSettings() => SynapseSettings();

    /// <inheritdoc />
    public static FirstOrderPerTarget FromSettings(WeightedSynapse.WeightedSettings settings) => Restore(new FirstOrderPerTarget(), settings);

    private readonly Derived<Tensor> _alpha;

    /// <summary>Creates the synapse with τ = 8 ms and w_scale = 1 (SHIP's defaults); W defaults to uniform [0, 1).</summary>
    public FirstOrderPerTarget(Value? weights = null, Value? tau = null, Value? weightScale = null) : base(weights)
    {
        Tau = Param("tau", Extent.Component, tau ?? 8e-3, Constraint.Positive);
        WeightScale = Param("w_scale", Extent.Component, weightScale ?? 1.0, Constraint.Finite);
        I = State("I", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        _alpha = Derive("alpha", dt => Neurons.LifFunctional.Decay(Tau.Value, dt));
    }

    /// <summary>Time constant τ in seconds, scalar or per target.</summary>
    public Parameter Tau { get; }
    /// <summary>Factor on every weight, scalar or per target.</summary>
    public Parameter WeightScale { get; }
    /// <summary>Synaptic current per target, [batch, Nt]; also the output.</summary>
    public StateVariable I { get; }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        // The new current is a fresh tensor never modified in place later, so it can be both state and output.
        var i = FirstOrderPerTargetFunctional.Step(I.Value, input!, Weights, WeightScale.Value, _alpha.Value);
        I.Tensor = i;
        return i;
    }
}

/// <summary>The per-target first-order synapse update as a pure function.</summary>
public static class FirstOrderPerTargetFunctional
{
    /// <summary>One step: α·I + w_scale·(x·W), with W [Ns, Nt] or [batch, Ns, Nt]; returns a new tensor.</summary>
    public static Tensor Step(Tensor i, Tensor x, Tensor w, Tensor weightScale, Tensor alpha)
    {
        var drive = w.dim() == 2 ? x.mm(w) : torch.bmm(x.unsqueeze(1), w).squeeze(1);
        return drive.mul_(weightScale).Plus_(i.mul(alpha));
    }
}
