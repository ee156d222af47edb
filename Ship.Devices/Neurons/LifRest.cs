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
/// Leaky integrate-and-fire neuron with one rest-and-reset potential u0 (SHIP's lifN_b).
/// Each step: u ← u0 + integrate · max((u − u0)·β + x, −u0), β = exp(−dt/τ); spike = (u ≥ thr); integrate ← not spike.
/// The spiking step keeps u; the following step holds u at u0 and drops that step's input. The max keeps u ≥ 0, the
/// floor of the original model, so u0 must be ≥ 0 and below thr. The membrane starts at rest (u = u0) unless "u" is
/// set; SHIP starts it at 0 whatever u0 is (set "u" to 0 to reproduce that).
/// </summary>
[ShipModel("LifRest")]
public sealed class LifRest : NeuronGroup, IIntegrationGate, IShipModel<LifRest, LifRest.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int N);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount);

    /// <inheritdoc />
    public static LifRest FromSettings(Settings settings) => new(settings.N);

    private readonly Derived<Tensor> _beta, _floor;

    /// <summary>Creates N neurons with τ = 1 ms, thr = 1 and u0 = 0 (SHIP's defaults) unless set otherwise.</summary>
    public LifRest(int n, double tau = 1e-3, double threshold = 1.0, double rest = 0.0) : base(n)
    {
        Tau = Param("tau", Extent.Component | Extent.Batch, tau, Constraint.TimeConstant);
        Threshold = Param("thr", Extent.Component | Extent.Batch, threshold, Constraint.Finite);
        Rest = Param("u0", Extent.Component | Extent.Batch, rest, Constraint.NonNegative);
        U = State("u", Extent.Batch | Extent.Component, LifLevels.AtParameter(Rest), Constraint.Finite);
        Integrate = State("integrate", Extent.Batch | Extent.Component, 1.0);
        _beta = Derive("beta", dt => LifFunctional.Decay(Tau.Value, dt));
        _floor = Derive("floor", _ =>
        {
            LifLevels.CheckBelowThreshold(this, Rest, Threshold);
            return Rest.Value.neg();
        });
    }

    /// <summary>Membrane time constant τ in seconds.</summary>
    public Parameter Tau { get; }
    /// <summary>Firing threshold (same units as u).</summary>
    public Parameter Threshold { get; }
    /// <summary>Rest and reset potential u0 (≥ 0, below thr).</summary>
    public Parameter Rest { get; }
    /// <summary>Membrane potential.</summary>
    public StateVariable U { get; }
    /// <summary>1 while integrating, 0 on the step after a spike.</summary>
    public StateVariable Integrate { get; }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var (spikes, u, integrate) = LifRestFunctional.Step(U.Value, Integrate.Value, input, _beta.Value, Rest.Value, _floor.Value, Threshold.Value, Context.Spikes);
        U.Tensor = u;
        Integrate.Tensor = integrate;
        return spikes;
    }
}

/// <summary>The lifN_b update as a pure function of state, input and parameters.</summary>
public static class LifRestFunctional
{
    /// <summary>One step: returns (spikes, new u, new integrate flag); <paramref name="floor"/> is −u0, precomputed.</summary>
    public static (Tensor Spikes, Tensor U, Tensor Integrate) Step(Tensor u, Tensor integrate, Tensor? x, Tensor beta, Tensor u0, Tensor floor, Tensor thr, ISpikeFunction? fire = null)
    {
        var v = u.sub(u0).mul_(beta);
        if (x is not null) v.Plus_(x);
        v = torch.maximum(v, floor).mul_(integrate).Plus_(u0);
        var spikes = (fire ?? HeavisideSpikes.Instance).Fire(v, thr);
        // The gate is a plain flag: gradients flow through the spikes, not through the reset decision.
        var next = spikes.detach().OneMinus();
        return (spikes, v, next);
    }
}

/// <summary>Helpers shared by the LIF variants with rest and reset levels.</summary>
internal static class LifLevels
{
    /// <summary>An initial value equal to a parameter's current value, so a membrane can start at its rest level.</summary>
    public static Value AtParameter(Parameter p) =>
        Value.Generated(_ => p.Value.clone(), $"the value of '{p.Name}'");

    /// <summary>Rejects levels at or above threshold: the neuron would fire on its reset step, every step.</summary>
    public static void CheckBelowThreshold(Group g, Parameter level, Parameter thr)
    {
        using var bad = level.Value.ge(thr.Value).any();
        if (bad.item<bool>())
            throw new ParameterException(g.DisplayName, level.Name, "must be below the threshold 'thr' everywhere; a level at or above it fires on every reset step.");
    }
}
