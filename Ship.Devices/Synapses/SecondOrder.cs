using Ship.Core.Persistence;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Synapses;

/// <summary>
/// Second-order leaky synapse (SHIP's lS_2o): the difference of two first-order currents, so the response to a spike
/// rises then decays (a double exponential) instead of jumping. Per connection, each step:
/// I1 ← A1·I1 + x ⊗ (W·w_scale), I2 ← A2·I2 − x ⊗ (W·w_scale), Ak = exp(−dt/τk);
/// output = Σ_sources (B1·I1 + B2·I2), Bk = τk·(1 − Ak): the charge delivered during the step.
/// One spike delivers w·w_scale·(τ1 − τ2) in total; τ1 &gt; τ2 gives a positive response for a positive weight.
/// </summary>
[ShipModel("SecondOrder")]
public sealed class SecondOrder : WeightedSynapse, IShipModel<SecondOrder, WeightedSynapse.WeightedSettings>
{
    /// <inheritdoc />
    public WeightedSynapse.WeightedSettings GetSettings() => SynapseSettings();

    /// <inheritdoc />
    public static SecondOrder FromSettings(WeightedSynapse.WeightedSettings settings) => Restore(new SecondOrder(), settings);

    private readonly Derived<(Tensor A, Tensor B)> _decay1, _decay2;

    /// <summary>Creates the synapse with τ1 = 8 ms, τ2 = 4 ms and w_scale = 1 (SHIP's defaults); W defaults to uniform [0, 1).</summary>
    public SecondOrder(Value? weights = null, Value? tau1 = null, Value? tau2 = null, Value? weightScale = null) : base(weights)
    {
        Tau1 = Param("tau1", Extent.Connection, tau1 ?? 8e-3, Constraint.Positive);
        Tau2 = Param("tau2", Extent.Connection, tau2 ?? 4e-3, Constraint.Positive);
        WeightScale = Param("w_scale", Extent.Component, weightScale ?? 1.0, Constraint.Finite);
        I1 = State("I1", Extent.Batch | Extent.Connection, 0.0, Constraint.Finite);
        I2 = State("I2", Extent.Batch | Extent.Connection, 0.0, Constraint.Finite);
        _decay1 = Derive("decay1", dt => FirstOrderFunctional.Decay(Tau1.Value, dt));
        _decay2 = Derive("decay2", dt => FirstOrderFunctional.Decay(Tau2.Value, dt));
    }

    /// <summary>Decay time constant τ1 of the positive current, in seconds (scalar, per source, per target or per connection).</summary>
    public Parameter Tau1 { get; }
    /// <summary>Decay time constant τ2 of the negative current, in seconds (the rise time of the response).</summary>
    public Parameter Tau2 { get; }
    /// <summary>Factor on every weight, scalar or per target.</summary>
    public Parameter WeightScale { get; }
    /// <summary>Positive current per connection, [batch, Ns, Nt].</summary>
    public StateVariable I1 { get; }
    /// <summary>Negative current per connection, [batch, Ns, Nt].</summary>
    public StateVariable I2 { get; }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var ((a1, b1), (a2, b2)) = (_decay1.Value, _decay2.Value);
        var (y, i1, i2) = SecondOrderFunctional.Step(I1.Value, I2.Value, input!, Weights.mul(WeightScale.Value), a1, b1, a2, b2);
        I1.Tensor = i1;
        I2.Tensor = i2;
        return y;
    }
}

/// <summary>The second-order synapse update as a pure function.</summary>
public static class SecondOrderFunctional
{
    /// <summary>One step; returns (Σ_sources B1·I1 + B2·I2, new I1, new I2). <paramref name="w"/> already includes w_scale.</summary>
    public static (Tensor Output, Tensor I1, Tensor I2) Step(Tensor i1, Tensor i2, Tensor x, Tensor w, Tensor a1, Tensor b1, Tensor a2, Tensor b2)
    {
        var drive = FirstOrderFunctional.Drive(x, w);
        var n1 = i1.mul(a1).Plus_(drive);
        var n2 = i2.mul(a2).sub_(drive);
        var y = n1.mul(b1).Plus_(n2.mul(b2)).sum(1);
        return (y, n1, n2);
    }
}
