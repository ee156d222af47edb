using Ship.Core.Persistence;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Neurons;

/// <summary>
/// Leaky integrate-and-fire neuron with separate rest u0 and reset ur potentials (SHIP's lifN_c, with ur honoured).
/// Integrating step (integrate = 1): u ← u0 + max((u − u0)·β + x, −u0), β = exp(−dt/τ).
/// Gated step (integrate = 0: the step after a spike, or held by a refractory wrapper): u ← ur and the input is dropped.
/// Then spike = (u ≥ thr); integrate ← not spike. After a spike the membrane therefore sits at ur, then relaxes toward
/// u0 while integrating again. SHIP declares ur but never uses it (it resets to u0); with ur = u0 both agree.
/// u never goes below 0 (the original model's floor), so u0 and ur must be ≥ 0 and below thr. The membrane starts at
/// rest (u = u0) unless "u" is set.
/// </summary>
[ShipModel("LifRestReset")]
public sealed class LifRestReset : NeuronGroup, IIntegrationGate, IShipModel<LifRestReset, LifRestReset.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int N);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount);

    /// <inheritdoc />
    public static LifRestReset FromSettings(Settings settings) => new(settings.N);

    private readonly Derived<Tensor> _beta, _floor, _restMinusReset;

    /// <summary>Creates N neurons with τ = 1 ms, thr = 1, u0 = 0 and ur = 0 (SHIP's defaults) unless set otherwise.</summary>
    public LifRestReset(int n, double tau = 1e-3, double threshold = 1.0, double rest = 0.0, double reset = 0.0) : base(n)
    {
        Tau = Param("tau", Extent.Component | Extent.Batch, tau, Constraint.TimeConstant);
        Threshold = Param("thr", Extent.Component | Extent.Batch, threshold, Constraint.Finite);
        Rest = Param("u0", Extent.Component | Extent.Batch, rest, Constraint.NonNegative);
        Reset = Param("ur", Extent.Component | Extent.Batch, reset, Constraint.NonNegative);
        U = State("u", Extent.Batch | Extent.Component, LifLevels.AtParameter(Rest), Constraint.Finite);
        Integrate = State("integrate", Extent.Batch | Extent.Component, 1.0);
        _beta = Derive("beta", dt => LifFunctional.Decay(Tau.Value, dt));
        _floor = Derive("floor", _ =>
        {
            LifLevels.CheckBelowThreshold(this, Rest, Threshold);
            LifLevels.CheckBelowThreshold(this, Reset, Threshold);
            return Rest.Value.neg();
        });
        _restMinusReset = Derive("rest_minus_reset", _ => Rest.Value.sub(Reset.Value));
    }

    /// <summary>Membrane time constant τ in seconds.</summary>
    public Parameter Tau { get; }
    /// <summary>Firing threshold (same units as u).</summary>
    public Parameter Threshold { get; }
    /// <summary>Rest potential u0, the level the membrane relaxes to (≥ 0, below thr).</summary>
    public Parameter Rest { get; }
    /// <summary>Reset potential ur, the level after a spike (≥ 0, below thr).</summary>
    public Parameter Reset { get; }
    /// <summary>Membrane potential.</summary>
    public StateVariable U { get; }
    /// <summary>1 while integrating, 0 on the step after a spike.</summary>
    public StateVariable Integrate { get; }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var (spikes, u, integrate) = LifRestResetFunctional.Step(U.Value, Integrate.Value, input, _beta.Value, Rest.Value, Reset.Value,
            _floor.Value, _restMinusReset.Value, Threshold.Value, Context.Spikes);
        U.Tensor = u;
        Integrate.Tensor = integrate;
        return spikes;
    }
}

/// <summary>The lifN_c update (reset level honoured) as a pure function of state, input and parameters.</summary>
public static class LifRestResetFunctional
{
    /// <summary>One step: returns (spikes, new u, new integrate flag); <paramref name="floor"/> = −u0 and <paramref name="restMinusReset"/> = u0 − ur are precomputed.</summary>
    public static (Tensor Spikes, Tensor U, Tensor Integrate) Step(Tensor u, Tensor integrate, Tensor? x, Tensor beta, Tensor u0, Tensor ur,
        Tensor floor, Tensor restMinusReset, Tensor thr, ISpikeFunction? fire = null)
    {
        var v = u.sub(u0).mul_(beta);
        if (x is not null) v.Plus_(x);
        // ur + integrate·(u0 + max(·, −u0) − ur): the integrated value where the gate is open, ur where it is closed.
        v = torch.maximum(v, floor).Plus_(restMinusReset).mul_(integrate).Plus_(ur);
        var spikes = (fire ?? HeavisideSpikes.Instance).Fire(v, thr);
        var next = spikes.detach().OneMinus();
        return (spikes, v, next);
    }
}
