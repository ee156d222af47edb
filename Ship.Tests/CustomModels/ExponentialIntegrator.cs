using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.CustomModels;

/// <summary>
/// Worked example of a user-written model (docs/custom-models.md): a leaky integrator without rectification,
/// u ← β·u + x with β = exp(−dt/τ), output u. One file: parameters, state, dt-dependent term, step.
/// </summary>
[ShipModel("Tests.ExponentialIntegrator")]
public sealed class ExponentialIntegrator : NeuronGroup, IShipModel<ExponentialIntegrator, ExponentialIntegrator.Settings>
{
    private readonly Derived<Tensor> _beta;

    /// <summary>What the constructor needs beyond parameters (τ is a parameter, saved with the network).</summary>
    public sealed record Settings(int N);

    /// <summary>The settings a checkpoint writes.</summary>
    public Settings GetSettings() => new(ComponentCount);

    /// <summary>Builds the model back from its settings.</summary>
    public static ExponentialIntegrator FromSettings(Settings settings) => new(settings.N);

    /// <summary>N integrators with time constant τ (seconds).</summary>
    public ExponentialIntegrator(int n, double tau = 20e-3) : base(n)
    {
        Tau = Param("tau", Extent.Batch | Extent.Component, tau, Constraint.Positive);
        U = State("u", Extent.Batch | Extent.Component, 0.0);
        // β depends on dt and τ: declared once, recomputed by the framework whenever either changes.
        _beta = Derive("beta", dt => Tau.Value.reciprocal().mul(-dt).exp());
    }

    /// <summary>Time constant τ in seconds.</summary>
    public Parameter Tau { get; }
    /// <summary>The integrated value.</summary>
    public StateVariable U { get; }

    /// <summary>u ← β·u + x; the new u is a new tensor, so returning it as output is safe.</summary>
    public override Tensor Step(Tensor? input)
    {
        var u = U.Value.mul(_beta.Value);
        if (input is not null) u = u.add(input);
        U.Tensor = u;
        return u;
    }
}
