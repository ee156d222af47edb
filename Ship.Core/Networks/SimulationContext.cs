using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// Everything a group needs from its network at run time: batch size, device, dtype, the current dt and random
/// streams. One per network (each group sees a view of it that knows the group's tag), so two networks never share
/// mutable state.
/// </summary>
public sealed class SimulationContext
{
    private readonly SimulationContext? _root;
    private readonly torch.Generator? _rng;
    private double _dt;
    private long _step;
    private double _time;
    private Spikes.ISpikeFunction _spikes = Ship.Core.Spikes.HeavisideSpikes.Instance;
    private KernelPolicy _kernels = KernelPolicy.FromEnvironment();
    private Precision _precision = Precision.Full;
    private readonly Memory.BlockPool? _blocks;

    /// <summary>Creates a context; groups can also be bound to one directly to test a model without a network.</summary>
    public SimulationContext(int batchSize, Device? device = null, ScalarType dtype = ScalarType.Float32, double dt = 1e-3, long seed = 0)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be >= 1");
        if (!Clocks.TimeStep.IsValidDt(dt)) throw new ArgumentOutOfRangeException(nameof(dt), dt, Clocks.TimeStep.InvalidDt(dt));
        BatchSize = batchSize;
        Device = device ?? CPU;
        DType = dtype;
        _dt = dt;
        Seed = seed;
        Owner = "";
        _rng = new torch.Generator((ulong)seed, CPU); // host generator for every device: see Draw
        Streams = new RandomStreams(seed);
        _blocks = new Memory.BlockPool(engaged: false);
    }

    private SimulationContext(SimulationContext root, string owner)
    {
        _root = root;
        BatchSize = root.BatchSize;
        Device = root.Device;
        DType = root.DType;
        Seed = root.Seed;
        Streams = root.Streams;
        Owner = owner;
    }

    /// <summary>The view of this context that a group with tag <paramref name="owner"/> is bound to: same settings and clock, its own streams.</summary>
    public SimulationContext ForGroup(string owner) => new(_root ?? this, owner);

    /// <summary>Tag of the group this view belongs to ("" for the network's own context).</summary>
    public string Owner { get; }
    /// <summary>Number of independent samples simulated side by side.</summary>
    public int BatchSize { get; }
    /// <summary>Device every tensor of the network lives on.</summary>
    public Device Device { get; }
    /// <summary>Floating dtype of states, parameters and outputs.</summary>
    public ScalarType DType { get; }
    /// <summary>Current time step in seconds; changes between the segments of a variable-dt run.</summary>
    public double Dt { get => _root?.Dt ?? _dt; internal set { if (_root is null) _dt = value; else _root.Dt = value; } }
    /// <summary>Seed the streams derive from.</summary>
    public long Seed { get; }
    /// <summary>The random streams of the network, keyed by (tag, purpose).</summary>
    public RandomStreams Streams { get; }
    /// <summary>
    /// A host generator (draw through <see cref="Draw"/>): the network's own one on the network context, and the
    /// group's "rng" stream on a group's view. Models draw from a named <see cref="Stream"/> instead.
    /// </summary>
    public torch.Generator Rng => _rng ?? Stream("rng");
    /// <summary>The random stream of this view's group for <paramref name="purpose"/>, seeded from (seed, tag, purpose).</summary>
    public torch.Generator Stream(string purpose) => Streams.Get(Owner, purpose);
    /// <summary>How neurons turn membranes into spikes; a trainer swaps in a surrogate-gradient version (same forward).</summary>
    public Spikes.ISpikeFunction Spikes { get => _root?.Spikes ?? _spikes; set { if (_root is null) _spikes = value; else _root.Spikes = value; } }
    /// <summary>Which fused kernels models may use (read from the environment when the context is made; a network sets its own).</summary>
    public KernelPolicy Kernels { get => _root?.Kernels ?? _kernels; set { if (_root is null) _kernels = value ?? throw new ArgumentNullException(nameof(value)); else _root.Kernels = value; } }
    /// <summary>The network's reduced-precision setting (the stepper rounds group outputs to its storage type).</summary>
    public Precision Precision { get => _root?.Precision ?? _precision; internal set { if (_root is null) _precision = value ?? throw new ArgumentNullException(nameof(value)); else _root.Precision = value; } }
    /// <summary>The network's own pool of host blocks for time-batched tensors, reused from run to run (one per network; <see cref="Memory.BlockPool"/>).</summary>
    public Memory.BlockPool Blocks => _root?.Blocks ?? _blocks!;
    /// <summary>Index of the step being computed, counted from the last reset.</summary>
    public long StepIndex { get => _root?.StepIndex ?? _step; internal set { if (_root is null) _step = value; else _root.StepIndex = value; } }
    /// <summary>Time at the start of the step being computed, in seconds from the last reset.</summary>
    public double Time { get => _root?.Time ?? _time; internal set { if (_root is null) _time = value; else _root.Time = value; } }
    /// <summary>
    /// Frees a state tensor that a group replaced outside a step (a queue remapped to a new dt, grown for longer delays),
    /// unless the call's rollback snapshot holds it: a Run keeps the states from before its reset, and a failure puts
    /// them back, so those are freed only once the call has completed.
    /// </summary>
    public void ReleaseReplaced(Tensor? replaced)
    {
        if (replaced is null) return;
        var held = (_root ?? this)._held;
        if (held is null || !held.Any(p => ReferenceEquals(p.Value, replaced))) replaced.Dispose();
    }

    /// <summary>The tensors the running call's snapshot holds (null between calls).</summary>
    internal List<(Parameters.Variable Variable, Tensor? Value)>? HeldForRollback { get => (_root ?? this)._held; set => (_root ?? this)._held = value; }
    private List<(Parameters.Variable Variable, Tensor? Value)>? _held;

    /// <summary>The step being computed as one value (index, start time, dt): what a group reads for time information.</summary>
    public Clocks.TimeStep Now => new(StepIndex, Time, Dt);
}
