using Ship.Core.Persistence;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Devices.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Neurons;

/// <summary>
/// Leaky integrator without firing (SHIP's liN), e.g. a read-out layer whose membrane is the network's answer.
/// Each step: u ← max(0, u·β + x), β = exp(−dt/τ); output: u itself (analog, in the network dtype).
/// With a constant input x ≥ 0 the membrane converges to x / (1 − β). The floor at 0 is the original model's
/// (a membrane referenced to ground cannot go negative).
/// </summary>
[ShipModel("LeakyIntegrator")]
public sealed class LeakyIntegrator : NeuronGroup, IChainGroup, IShipModel<LeakyIntegrator, LeakyIntegrator.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int N);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount);

    /// <inheritdoc />
    public static LeakyIntegrator FromSettings(Settings settings) => new(settings.N);

    private readonly Derived<Tensor> _beta;

    /// <summary>Creates N leaky integrators with τ = 1 ms (SHIP's default) unless set otherwise.</summary>
    public LeakyIntegrator(int n, double tau = 1e-3) : base(n)
    {
        Tau = Param("tau", Extent.Component | Extent.Batch, tau, Constraint.TimeConstant);
        U = State("u", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        _beta = Derive("beta", dt => LifFunctional.Decay(Tau.Value, dt));
    }

    /// <summary>Membrane time constant τ in seconds.</summary>
    public Parameter Tau { get; }
    /// <summary>Membrane potential, also the output.</summary>
    public StateVariable U { get; }

    /// <inheritdoc />
    /// <summary>Why the maths of the fused recurrence (<see cref="LeakyIntegratorSequence"/>) does not cover the coming run, or null when it does (the backend is the kernel policy's: <see cref="KernelRefusal"/>).</summary>
    public string? SequenceRefusal
    {
        get
        {
            var ctx = Context;
            if (ctx.DType is not (ScalarType.Float32 or ScalarType.Float64)) return $"the fused leaky integrator supports float32 and float64, not {ctx.DType}";
            if (Tau.Value.requires_grad) return "tau is trained: the fused node has no gradient for it";
            return null;
        }
    }

    /// <inheritdoc />
    public string? KernelRefusal => LeakyIntegratorSequence.Choose(Context, (long)Context.BatchSize * ComponentCount) is { Fused: false } c ? c.Reason : null;

    /// <inheritdoc />
    public Tensor StepSequence(Tensor? input, int steps)
    {
        var (y, u) = LeakyIntegratorSequence.Run(input, U.Value, _beta.Value, steps);
        U.Tensor = u;
        return y;
    }

    /// <inheritdoc />
    public string? LinkRefusal => ChainLinks.Refusal(Context);

    /// <inheritdoc />
    public ChainLink OpenLink() => new LeakyLink(this, U.Value, LeakyIntegratorSequence.KernelBeta(_beta.Value, Context.BatchSize, ComponentCount));

    /// <summary>The leaky-integrator recurrence as a link of a fused chain: its final membrane (the block's last step) a gradient-carrying state.</summary>
    private sealed class LeakyLink(LeakyIntegrator group, Tensor u0, Tensor beta) : ChainLink
    {
        private readonly Tensor[] _inputs = [u0];
        private Tensor? _u;

        /// <inheritdoc />
        public override IReadOnlyList<Tensor> Inputs => _inputs;

        /// <inheritdoc />
        public override int GradStates => 1;

        /// <inheritdoc />
        public override IReadOnlyList<Tensor> FinalGradStates => [_u!];

        /// <inheritdoc />
        public override Tensor Forward(Tensor x, List<Tensor>? saved, bool inputNeedsGrad)
        {
            var (y, mask) = LeakyIntegratorSequence.Forward(x, u0, beta, save: saved is not null);
            if (saved is not null) saved.AddRange([mask!, beta]);
            using var last = y.select(1, y.size(1) - 1);
            _u = last.clone();
            return y;
        }

        /// <inheritdoc />
        public override void Commit(IReadOnlyList<Tensor> gradStates) => group.U.Tensor = gradStates[0];

        /// <inheritdoc />
        public override Tensor? Backward(Tensor dy, IReadOnlyList<Tensor> dStates, IReadOnlyList<Tensor> saved, bool needDx, Tensor?[] dInputs)
        {
            var (dx, du0) = LeakyIntegratorSequence.Backward(dy, saved[0], saved[1], dStates[0]);
            dInputs[0] = du0;
            if (needDx) return dx;
            dx.Dispose();
            return null;
        }
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        // The new membrane is a fresh tensor that is never modified in place later, so it can be both state and output.
        var u = LeakyIntegratorFunctional.Step(U.Value, input, _beta.Value);
        U.Tensor = u;
        return u;
    }
}

/// <summary>The leaky-integrator update as a pure function, testable and reusable without a group.</summary>
public static class LeakyIntegratorFunctional
{
    /// <summary>One step: max(0, u·β + x), as a new tensor (u is not modified).</summary>
    public static Tensor Step(Tensor u, Tensor? x, Tensor beta)
    {
        var v = u.mul(beta);
        if (x is not null) v.Plus_(x);
        return v.ClampMinZero_();
    }
}
