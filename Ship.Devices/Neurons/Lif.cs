using Ship.Core.Persistence;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Neurons;

/// <summary>
/// Leaky integrate-and-fire neuron with rest and reset at 0 (SHIP's lifN).
/// Each step: u ← integrate · max(0, u·β + x), β = exp(−dt/τ); spike = (u ≥ thr); integrate ← not spike.
/// The spiking step keeps u; the following step holds u at 0 and drops that step's input (a one-step reset).
/// Output: spikes as 0/1 in the network dtype, the same convention with or without training.
/// </summary>
[ShipModel("Lif")]
public sealed class Lif : NeuronGroup, IIntegrationGate, IChainGroup, IEventCountingGroup, IShipModel<Lif, Lif.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int N);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount);

    /// <inheritdoc />
    public static Lif FromSettings(Settings settings) => new(settings.N);

    private readonly Derived<Tensor> _beta;

    /// <summary>Creates N LIF neurons with τ = 10 ms and thr = 1 unless set otherwise.</summary>
    public Lif(int n, double tau = 10e-3, double threshold = 1.0) : base(n)
    {
        Tau = Param("tau", Extent.Component | Extent.Batch, tau, Constraint.TimeConstant);
        Threshold = Param("thr", Extent.Component | Extent.Batch, threshold, Constraint.Finite);
        U = State("u", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        Integrate = State("integrate", Extent.Batch | Extent.Component, 1.0);
        _beta = Derive("beta", dt => LifFunctional.Decay(Tau.Value, dt));
    }

    /// <summary>Membrane time constant τ in seconds.</summary>
    public Parameter Tau { get; }
    /// <summary>Firing threshold.</summary>
    public Parameter Threshold { get; }
    /// <summary>Membrane potential.</summary>
    public StateVariable U { get; }
    /// <summary>1 while integrating, 0 on the step after a spike.</summary>
    public StateVariable Integrate { get; }

    /// <summary>Default of <see cref="Ship.Core.Networks.KernelPolicy.HostRecurrenceLimit"/> (the measured crossover on an H100).</summary>
    public const long HostRecurrenceLimit = 16384;

    /// <summary>Why the maths of the fused recurrence does not cover the coming run, or null when it does (which backend runs it is the kernel policy's business: <see cref="KernelRefusal"/>).</summary>
    public string? SequenceRefusal
    {
        get
        {
            var ctx = Context;
            if (ctx.DType is not (ScalarType.Float32 or ScalarType.Float64)) return $"the fused recurrence supports float32 and float64, not {ctx.DType}";
            if (Tau.Value.requires_grad || Threshold.Value.requires_grad) return "tau or thr is trained: the fused node has no gradient for them";
            if (ctx.Spikes is not (HeavisideSpikes or SurrogateSpikes)) return $"spike function {ctx.Spikes.GetType().Name} is not one the fused node implements";
            return null;
        }
    }

    /// <inheritdoc />
    public string? KernelRefusal => LifSequence.Choose(Context, (long)Context.BatchSize * ComponentCount) is { Fused: false } c ? c.Reason : null;

    /// <inheritdoc />
    public Tensor StepSequence(Tensor? input, int steps)
    {
        var ctx = Context;
        var x = input ?? torch.zeros(new long[] { ctx.BatchSize, steps, ComponentCount }, dtype: ctx.DType, device: ctx.Device);
        var (spikes, u, gate) = LifSequence.Run(x, SequenceArgs());
        U.Tensor = u;
        Integrate.Tensor = gate;
        return spikes;
    }

    /// <inheritdoc />
    public string? LinkRefusal => ChainLinks.Refusal(Context) ?? (Context.Spikes is SurrogateSpikes ? null : "its spikes have no surrogate gradient (a link always has one)");

    /// <inheritdoc />
    public ChainLink OpenLink() => new LifLink(this, SequenceArgs(hostRows: true));

    /// <summary>The fused recurrence's arguments for the coming block, from the current state and parameters.</summary>
    /// <param name="hostRows">The host recurrence will run it (a chain link): β and thr of one row [N] are passed as they are.</param>
    private LifSequence.Args SequenceArgs(bool hostRows = false)
    {
        var ctx = Context;
        var shape = new long[] { ctx.BatchSize, ComponentCount };
        // [B, N] contiguous as they are; on the host also one row [N] or one value (the usual τ and thr): no expanded copy per run.
        Tensor Rows(Tensor t) => t.is_contiguous() && (t.numel() == (long)ctx.BatchSize * ComponentCount && t.dim() == 2 || hostRows && (t.dim() == 1 && t.numel() == ComponentCount || t.numel() == 1 && t.dim() <= 1))
            ? t : t.expand(shape).contiguous();
        return new LifSequence.Args
        {
            // A reset's states are contiguous already: passed as they are (contiguous() would make a handle each run).
            U0 = Contiguous(U.Value),
            G0 = Contiguous(Integrate.Value),
            Beta = Rows(_beta.Value),
            Thr = Rows(Threshold.Value),
            Surrogate = (ctx.Spikes as SurrogateSpikes)?.Surrogate,
            Backend = LifSequence.Choose(ctx, (long)ctx.BatchSize * ComponentCount).Backend,
            Blocks = ctx.Blocks,
            Counts = _eventSink,
        };
    }

    /// <summary>The LIF recurrence as a link of a fused chain: <see cref="LifSequence"/>'s forward and backward, the final membrane a gradient-carrying state.</summary>
    private sealed class LifLink(Lif group, LifSequence.Args args) : ChainLink
    {
        private readonly Tensor[] _inputs = [args.U0];
        private Tensor? _u, _g;
        private bool _recompute;

        /// <inheritdoc />
        public override IReadOnlyList<Tensor> Inputs => _inputs;

        /// <inheritdoc />
        public override int GradStates => 1;

        /// <inheritdoc />
        public override IReadOnlyList<Tensor> FinalGradStates => [_u!];

        /// <inheritdoc />
        public override Tensor Forward(Tensor x, List<Tensor>? saved, bool inputNeedsGrad)
        {
            _recompute = saved is not null && LifSequence.Recomputes(x, args);
            var (spikes, u, g, us, mask) = LifSequence.Forward(x, args, save: saved is not null, recompute: _recompute);
            // What the unfused node saves, in its order.
            if (saved is not null) saved.AddRange(LifSequence.SaveList(_recompute, us!, mask, args));
            _u = u;
            _g = g;
            return spikes;
        }

        /// <inheritdoc />
        public override void Commit(IReadOnlyList<Tensor> gradStates)
        {
            group.U.Tensor = gradStates[0];
            group.Integrate.Tensor = _g;
        }

        /// <inheritdoc />
        public override Tensor? Backward(Tensor dy, IReadOnlyList<Tensor> dStates, IReadOnlyList<Tensor> saved, bool needDx, Tensor?[] dInputs)
        {
            var (dx, du0) = LifSequence.BackwardFromSaved(dy, dStates[0], saved, _recompute, args.Surrogate!, args.Blocks);
            dInputs[0] = du0;
            if (needDx) return dx;
            dx.Dispose();
            return null;
        }
    }

    private static Tensor Contiguous(Tensor t) => t.is_contiguous() ? t : t.contiguous();

    private EventCounts? _eventSink;

    /// <inheritdoc />
    EventCounts? IEventCountingGroup.EventSink { get => _eventSink; set => _eventSink = value; }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var (spikes, u, integrate) = LifFunctional.Step(U.Value, Integrate.Value, input, _beta.Value, Threshold.Value, Context.Spikes);
        U.Tensor = u;
        Integrate.Tensor = integrate;
        return spikes;
    }
}

/// <summary>The LIF update as a pure function of state, input and parameters, so it can be tested and reused without a group.</summary>
public static class LifFunctional
{
    /// <summary>β = exp(−dt/τ), the per-step decay of a leaky integrator.</summary>
    public static Tensor Decay(Tensor tau, double dt) => tau.reciprocal().MulNumber_(-dt).exp_();

    /// <summary>One LIF step: returns (spikes, new u, new integrate flag).</summary>
    public static (Tensor Spikes, Tensor U, Tensor Integrate) Step(Tensor u, Tensor integrate, Tensor? x, Tensor beta, Tensor thr, ISpikeFunction? fire = null)
    {
        var v = u.mul(beta);
        if (x is not null) v.Plus_(x);
        v.ClampMinZero_().mul_(integrate);
        var spikes = (fire ?? HeavisideSpikes.Instance).Fire(v, thr);
        // The gate is a plain flag: gradients flow through the spikes, not through the reset decision.
        var next = spikes.detach().OneMinus();
        return (spikes, v, next);
    }
}
