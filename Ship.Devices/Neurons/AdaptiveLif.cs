using Ship.Core.Persistence;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Neurons;

/// <summary>
/// Leaky integrate-and-fire neuron with an adaptive threshold (as in LSNN-style adaptive LIF units). Each step:
/// thr = thr0 + b·a;  u ← integrate · max(0, u·β + x);  spike = (u ≥ thr);  a ← ρ·a + spike;  integrate ← not spike,
/// with β = exp(−dt/τ) and ρ = exp(−dt/τ_a). The threshold of a step uses the adaptation before that step's spike,
/// so a spike raises the threshold from the next step on by b (then decays with τ_a). The membrane, its one-step
/// reset and its integration gate are exactly those of <see cref="Lif"/>.
/// </summary>
[ShipModel("AdaptiveLif")]
public sealed class AdaptiveLif : NeuronGroup, IIntegrationGate, IShipModel<AdaptiveLif, AdaptiveLif.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int N);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount);

    /// <inheritdoc />
    public static AdaptiveLif FromSettings(Settings settings) => new(settings.N);

    private readonly Derived<Tensor> _beta, _rho;

    /// <summary>Creates N adaptive LIF neurons (τ = 10 ms, thr0 = 1, τ_a = 200 ms, b = 0.2 unless set).</summary>
    public AdaptiveLif(int n, double tau = 10e-3, double threshold = 1.0, double tauAdaptation = 200e-3, double adaptation = 0.2) : base(n)
    {
        Tau = Param("tau", Extent.Component | Extent.Batch, tau, Constraint.TimeConstant);
        BaseThreshold = Param("thr0", Extent.Component | Extent.Batch, threshold, Constraint.Finite);
        TauAdaptation = Param("tau_a", Extent.Component | Extent.Batch, tauAdaptation, Constraint.Positive);
        Adaptation = Param("b", Extent.Component | Extent.Batch, adaptation, Constraint.Finite);
        U = State("u", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        A = State("a", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        Threshold = State("thr", Extent.Batch | Extent.Component, 0.0);
        Integrate = State("integrate", Extent.Batch | Extent.Component, 1.0);
        _beta = Derive("beta", dt => LifFunctional.Decay(Tau.Value, dt));
        _rho = Derive("rho", dt => LifFunctional.Decay(TauAdaptation.Value, dt));
    }

    /// <summary>Membrane time constant τ in seconds.</summary>
    public Parameter Tau { get; }
    /// <summary>Threshold at rest, thr0.</summary>
    public Parameter BaseThreshold { get; }
    /// <summary>Adaptation time constant τ_a in seconds.</summary>
    public Parameter TauAdaptation { get; }
    /// <summary>Threshold increase b per unit of adaptation (one spike adds 1 to a).</summary>
    public Parameter Adaptation { get; }
    /// <summary>Membrane potential.</summary>
    public StateVariable U { get; }
    /// <summary>Adaptation variable a (a decaying spike count).</summary>
    public StateVariable A { get; }
    /// <summary>Threshold used in the last step, thr0 + b·a (a state so it can be monitored; thr0 + b·a0 after a reset).</summary>
    public StateVariable Threshold { get; }
    /// <summary>1 while integrating, 0 on the step after a spike.</summary>
    public StateVariable Integrate { get; }

    /// <inheritdoc />
    protected override void OnReset()
    {
        // thr = a·adaptation + base, replacing the value the reset just materialized; intermediates and that value freed
        // here (three tensors per run were left to the finalizer).
        using var scaled = Adaptation.Value.mul(A.Value).Plus_(BaseThreshold.Value);
        using var full = scaled.expand_as(A.Value);
        var fresh = Threshold.Tensor;
        Threshold.Tensor = Keep(full.clone());
        fresh?.Dispose();
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var (spikes, u, a, thr, integrate) = AdaptiveLifFunctional.Step(U.Value, A.Value, Integrate.Value, input, _beta.Value, _rho.Value,
            BaseThreshold.Value, Adaptation.Value, Context.Spikes);
        U.Tensor = u;
        A.Tensor = a;
        Threshold.Tensor = thr;
        Integrate.Tensor = integrate;
        return spikes;
    }
}

/// <summary>The adaptive LIF update as a pure function of state, input and parameters.</summary>
public static class AdaptiveLifFunctional
{
    /// <summary>One step: returns (spikes, new u, new a, threshold used, new integrate flag).</summary>
    public static (Tensor Spikes, Tensor U, Tensor A, Tensor Threshold, Tensor Integrate) Step(Tensor u, Tensor a, Tensor integrate, Tensor? x,
        Tensor beta, Tensor rho, Tensor thr0, Tensor b, ISpikeFunction? fire = null)
    {
        var thr = b.mul(a).Plus_(thr0);
        var (spikes, v, next) = LifFunctional.Step(u, integrate, x, beta, thr, fire);
        // The adaptation keeps the spikes' gradient path (it matters for training adaptive networks).
        var aNext = a.mul(rho).Plus_(spikes);
        return (spikes, v, aNext, thr, next);
    }
}
