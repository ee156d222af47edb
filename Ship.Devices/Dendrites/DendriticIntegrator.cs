using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Dendrites;

/// <summary>The branch nonlinearity f of a <see cref="DendriticIntegrator"/> (g = gain, θ = threshold, p = power).</summary>
public enum DendriteNonlinearity
{
    /// <summary>f(d) = g·(d − θ): a passive, linear branch.</summary>
    Linear,
    /// <summary>f(d) = g·max(0, d − θ): a rectifying branch.</summary>
    Relu,
    /// <summary>f(d) = 1 / (1 + exp(−g·(d − θ))): a saturating branch (Poirazi-style sigmoidal subunit).</summary>
    Sigmoid,
    /// <summary>f(d) = tanh(g·(d − θ)): a saturating branch that can also be negative.</summary>
    Tanh,
    /// <summary>f(d) = g·max(0, d − θ)^p with p ≥ 1: a supralinear threshold-power branch (NMDA-like boosting).</summary>
    Power,
}

/// <summary>
/// Dendritic integrator: N output neurons with K branches each. The input has N·K columns, neuron-major (column
/// n·K + k feeds branch k of neuron n), usually from a synapse whose target is this group. Each branch is a leaky
/// compartment, d ← β_d·d + x with β_d = exp(−dt/τ_d) (τ_d = 0 gives a memoryless branch, d = x), and each neuron's
/// output is Σ_k f(d_k) with the chosen <see cref="DendriteNonlinearity"/>. The output [batch, N] is analog: feed
/// it to a soma (e.g. a Lif of N neurons) through an Identity link. Parameters are per branch (N·K components).
/// </summary>
[ShipModel("DendriticIntegrator")]
public sealed class DendriticIntegrator : NeuronGroup, IShipModel<DendriticIntegrator, DendriticIntegrator.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int Neurons, int Branches, DendriteNonlinearity Nonlinearity);

    /// <inheritdoc />
    public Settings GetSettings() => new(Neurons, Branches, Nonlinearity);

    /// <inheritdoc />
    public static DendriticIntegrator FromSettings(Settings settings) => new(settings.Neurons, settings.Branches, settings.Nonlinearity);

    private readonly Derived<Tensor> _beta;

    /// <summary>Creates N neurons of K branches with the given branch nonlinearity (τ_d = 10 ms, g = 1, θ = 0, p = 2 unless set).</summary>
    public DendriticIntegrator(int neurons, int branches, DendriteNonlinearity nonlinearity = DendriteNonlinearity.Sigmoid,
        double tau = 10e-3, double gain = 1, double threshold = 0, double power = 2)
        : base(CheckedProduct(neurons, branches))
    {
        Neurons = neurons;
        Branches = branches;
        Nonlinearity = nonlinearity;
        Tau = Param("tau", Extent.Component | Extent.Batch, tau, Constraint.NonNegative);
        Gain = Param("gain", Extent.Component | Extent.Batch, gain, Constraint.Finite);
        Theta = Param("theta", Extent.Component | Extent.Batch, threshold, Constraint.Finite);
        Power = Param("power", Extent.Component | Extent.Batch, power, new Constraint(">= 1", 1, double.PositiveInfinity, true, false));
        D = State("d", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        _beta = Derive("beta", dt => DendriteFunctional.Decay(Tau.Value, dt));
    }

    private static int CheckedProduct(int neurons, int branches)
    {
        if (neurons < 1) throw new ParameterException(nameof(DendriticIntegrator), "neurons", $"needs at least one neuron, got {neurons}.");
        if (branches < 1) throw new ParameterException(nameof(DendriticIntegrator), "branches", $"needs at least one branch per neuron, got {branches}.");
        long product = (long)neurons * branches;
        if (product > int.MaxValue)
            throw new ParameterException(nameof(DendriticIntegrator), "neurons × branches", $"{neurons} × {branches} = {product} branch units overflow a group size (at most {int.MaxValue}).");
        return (int)product;
    }

    /// <summary>Number of output neurons N.</summary>
    public int Neurons { get; }
    /// <summary>Branches per neuron K.</summary>
    public int Branches { get; }
    /// <summary>The branch nonlinearity f.</summary>
    public DendriteNonlinearity Nonlinearity { get; }
    /// <summary>Branch time constant τ_d in seconds, per branch.</summary>
    public Parameter Tau { get; }
    /// <summary>Gain g of f, per branch.</summary>
    public Parameter Gain { get; }
    /// <summary>Threshold θ of f, per branch (same units as d).</summary>
    public Parameter Theta { get; }
    /// <summary>Exponent p of the power nonlinearity, per branch (unused by the others).</summary>
    public Parameter Power { get; }
    /// <summary>Branch state d [batch, N·K].</summary>
    public StateVariable D { get; }

    /// <inheritdoc />
    public override int OutputSize => Neurons;

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var (y, d) = DendriteFunctional.Step(D.Value, input, _beta.Value, Gain.Value, Theta.Value, Power.Value, Nonlinearity, Branches);
        D.Tensor = d;
        return y;
    }
}

/// <summary>The dendritic integrator's update as pure functions.</summary>
public static class DendriteFunctional
{
    /// <summary>β_d = exp(−dt/τ_d), 0 where τ_d = 0 (memoryless branch).</summary>
    public static Tensor Decay(Tensor tau, double dt) => tau.reciprocal().MulNumber_(-dt).exp_();

    /// <summary>The branch nonlinearity applied elementwise.</summary>
    public static Tensor Apply(Tensor d, DendriteNonlinearity f, Tensor gain, Tensor theta, Tensor power) => f switch
    {
        DendriteNonlinearity.Linear => d.sub(theta).mul(gain),
        DendriteNonlinearity.Relu => d.sub(theta).relu_().mul(gain),
        DendriteNonlinearity.Sigmoid => d.sub(theta).mul(gain).sigmoid_(),
        DendriteNonlinearity.Tanh => d.sub(theta).mul(gain).tanh_(),
        DendriteNonlinearity.Power => d.sub(theta).relu_().pow(power).mul(gain),
        _ => throw new ArgumentOutOfRangeException(nameof(f), f, "unknown dendrite nonlinearity"),
    };

    /// <summary>One step: branches d ← β_d·d + x, output [batch, N] = Σ_k f(d_k); returns (output, new d).</summary>
    public static (Tensor Output, Tensor D) Step(Tensor d, Tensor? x, Tensor beta, Tensor gain, Tensor theta, Tensor power,
        DendriteNonlinearity f, int branches)
    {
        var next = d.mul(beta);
        if (x is not null) next.Plus_(x);
        var y = Apply(next, f, gain, theta, power);
        return (y.reshape(y.Sizes()[0], -1, branches).sum(2), next);
    }
}
