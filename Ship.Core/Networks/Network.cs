using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Monitors;
using Ship.Core.Networks.Observers;
using Ship.Core.Parameters;
using Ship.Core.Scheduling;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// A network of groups wired by connections: the façade over compile (<see cref="CompiledGraph"/>) → plan
/// (<see cref="ExecutionPlan"/> per dt) → step; each call validates everything before it changes state. Nothing is
/// static: networks in one process never affect each other.
/// </summary>
public sealed partial class Network : IDisposable
{
    private readonly List<Group> _groups = new();
    private readonly Dictionary<string, Group> _byTag = new(StringComparer.Ordinal);
    private readonly List<(string Source, string Target)> _connections = new();
    private readonly List<string> _outputs = new();
    private readonly List<StateMonitor> _monitors = new();
    private readonly List<IRunObserver> _observers = new();
    private readonly Timeline _timeline = new();
    private readonly PlanCache _plans = new();
    private bool _dirty = true;
    private bool _disposed;
    private RunState? _state;
    private double _dt = 1e-3;
    private int _steps = 100, _batch = 1;
    private Device _device = Ship.Core.Native.TorchSharpLoad.Cpu; // the first touch of TorchSharp: a load failure gets a one-line cause
    private ScalarType _dtype = ScalarType.Float32;
    private long _seed;
    private Spikes.ISpikeFunction _spikes = Ship.Core.Spikes.HeavisideSpikes.Instance;
    private Precision _precision = Precision.Full;

    /// <summary>Creates an empty network; the name only appears in messages and summaries.</summary>
    public Network(string name = "network") => Name = name;

    /// <summary>Name used in messages.</summary>
    public string Name { get; }
    /// <summary>Default time step in seconds for runs without an explicit schedule; validated when a run starts.</summary>
    public double Dt { get => _dt; set => _dt = value; }
    /// <summary>Default number of steps for runs without an explicit schedule.</summary>
    public int Steps { get => _steps; set => _steps = value; }
    /// <summary>Samples simulated side by side; changing it re-initializes at the next run.</summary>
    public int BatchSize { get => _batch; set { _batch = value; _dirty = true; } }
    /// <summary>Device for every tensor of this network; changing it re-initializes at the next run.</summary>
    public Device Device { get => _device; set { _device = value ?? CPU; _dirty = true; } }
    /// <summary>Floating dtype of states and outputs; changing it re-initializes at the next run.</summary>
    public ScalarType DType { get => _dtype; set { _dtype = value; _dirty = true; } }
    /// <summary>Seed every random stream derives from (with the group's tag and the purpose); changing it re-initializes at the next run.</summary>
    public long Seed { get => _seed; set { _seed = value; _dirty = true; } }
    /// <summary>Whether runs record the autograd graph (training); off by default so inference runs under no_grad.</summary>
    public bool TrackGradients { get; set; }
    /// <summary>
    /// Whether a Run frees the state tensors that the previous call made and that its reset replaced, once it completes,
    /// instead of leaving them to the garbage collector (a tensor of such a state read before the Run becomes invalid).
    /// Off except inside <see cref="FreeingReplacedStates"/>.
    /// </summary>
    public bool FreeReplacedStates { get; private set; }

    /// <summary>
    /// Until the returned handle is disposed, runs free the states their reset replaced (<see cref="FreeReplacedStates"/>).
    /// The trainer and the evaluator use it around their own runs: a batch's states are never read after the next batch,
    /// and leaving them to the finalizer makes a training loop's memory grow (docs/benchmarks.md, Training).
    /// </summary>
    public IDisposable FreeingReplacedStates()
    {
        bool before = FreeReplacedStates;
        FreeReplacedStates = true;
        return new FreeingScope(this, before);
    }

    private sealed class FreeingScope(Network net, bool before) : IDisposable
    {
        public void Dispose() => net.FreeReplacedStates = before;
    }
    /// <summary>How neurons fire; a surrogate-gradient function for training keeps the same forward convention (v ≥ thr).</summary>
    public Spikes.ISpikeFunction SpikeFunction { get => _spikes; set { _spikes = value ?? throw new ArgumentNullException(nameof(value)); if (_state is not null) _state.Context.Spikes = value; } }
    /// <summary>Whether groups whose inputs are known before a block (see <see cref="ExecutionPlan"/>) compute the block in one call; results are identical (docs/architecture.md). On by default.</summary>
    public bool TimeBatching { get; set; } = true;
    /// <summary>Opt-in guard: stops a run at the first NaN or infinity in an output or state with a <see cref="NonFiniteValueException"/> (docs/errors.md).</summary>
    public bool CheckFinite { get; set; }
    /// <summary>Tags of the groups the last call computed a block at a time, in the order they were added.</summary>
    public IReadOnlyList<string> SequenceGroups { get; private set; } = Array.Empty<string>();
    /// <summary>Which fused kernels the network's models may use; null: the default with the SHIP_CUDA_KERNELS override, read at initialization.</summary>
    public KernelPolicy? Kernels { get; private set; }
    /// <summary>Chooses the kernel policy (applies at the next initialization). A choice of this machine, not a result: not saved in checkpoints.</summary>
    public Network UseKernels(KernelPolicy? policy) { Kernels = policy; _dirty = true; return this; }
    /// <summary>Reduced precision: TF32 products, bfloat16/float16 storage of weights and signals (docs/precision.md); re-initializes at the next run; not saved in checkpoints.</summary>
    public Precision Precision { get => _precision; set { _precision = value ?? throw new ArgumentNullException(nameof(value)); _dirty = true; } }
    /// <summary>Most steps a whole-block group computes ahead, so memory does not grow with the run; results do not depend on it.</summary>
    public int SequenceBlockSteps { get; set; } = 2048;
    /// <summary>Most steps computed under one dispose scope before intermediates are freed.</summary>
    public int StepsPerDisposeScope { get; set; } = 256;
    /// <summary>About how many bytes of intermediates one dispose scope may gather (the first step is measured); 64 MiB by default.</summary>
    public long DisposeScopeBytes { get; set; } = 64L << 20;

    /// <summary>The groups in the order they were added.</summary>
    public IReadOnlyList<Group> Groups => _groups;
    /// <summary>The connections as (source tag, target tag), in the order they were made.</summary>
    public IReadOnlyList<(string Source, string Target)> Connections => _connections;
    /// <summary>Tags of the output groups.</summary>
    public IReadOnlyList<string> Outputs => _outputs;
    /// <summary>The monitors attached to this network.</summary>
    public IReadOnlyList<StateMonitor> Monitors => _monitors;
    /// <summary>The observers attached with <see cref="AddObserver"/>.</summary>
    public IReadOnlyList<IRunObserver> Observers => _observers;
    /// <summary>Absolute time of every step since the last reset.</summary>
    public Timeline Timeline => _timeline;
    /// <summary>Whether the network is initialized and unchanged since.</summary>
    public bool IsInitialized => !_dirty;
    /// <summary>The run context (valid after initialization).</summary>
    public SimulationContext Context => _state?.Context ?? throw new ShipException($"Network '{Name}' is not initialized.");
    /// <summary>The compiled graph (valid after initialization).</summary>
    public CompiledGraph Graph => _state?.Graph ?? throw new ShipException($"Network '{Name}' is not initialized: no graph yet.");
    /// <summary>The call order at the current dt, in graph numbering (<see cref="CompiledGraph.Groups"/>), with its back edges (valid after initialization).</summary>
    public CallOrderResult CallOrder => _state is null ? throw new ShipException($"Network '{Name}' is not initialized: no call order yet.") : PlanFor(_state.Context.Dt, Array.Empty<IRunObserver>()).CallOrder;
    /// <summary>The groups in call order at the current dt (valid after initialization).</summary>
    public IReadOnlyList<Group> CallSequence => CallOrder.Order.Select(i => Graph.Groups[i]).ToArray();

    /// <summary>The group with this tag; the error lists the known tags.</summary>
    public Group this[string tag] => Find(tag, "look up");

    private Group Find(string tag, string action) => _byTag.TryGetValue(tag, out var g) ? g
        : throw new NetworkConfigurationException($"Network '{Name}': cannot {action} '{tag}': no group has that tag (known: {(_byTag.Count == 0 ? "none" : string.Join(", ", _byTag.Keys))}).");

    /// <summary>Adds a group under a unique tag.</summary>
    public T Add<T>(string tag, T group) where T : Group
    {
        ArgumentNullException.ThrowIfNull(group);
        if (string.IsNullOrWhiteSpace(tag)) throw new NetworkConfigurationException($"Network '{Name}': a group tag must not be empty.");
        if (_byTag.ContainsKey(tag)) throw new NetworkConfigurationException($"Network '{Name}': the tag '{tag}' is already used by a {_byTag[tag].GetType().Name}.");
        if (_groups.Contains(group)) throw new NetworkConfigurationException($"Network '{Name}': this {group.GetType().Name} is already added as '{group.Tag}'.");
        if (group.Tag.Length > 0) throw new NetworkConfigurationException($"Group '{group.Tag}' already belongs to a network; create a new instance for '{tag}'.");
        group.Tag = tag;
        group.OnTagged(tag);
        _groups.Add(group);
        _byTag[tag] = group;
        _dirty = true;
        return group;
    }

    /// <summary>Adds a synapse group (or a wrapped one) and connects it from <paramref name="source"/> to <paramref name="target"/> (tags may name groups added later).</summary>
    public T Add<T>(string tag, T synapse, string source, string target) where T : Group
    {
        ArgumentNullException.ThrowIfNull(synapse);
        if (synapse.Kind != GroupKind.Synapse)
            throw new NetworkConfigurationException($"Network '{Name}': '{tag}' is a {synapse.GetType().Name} (a neuron group); only synapse groups take a source and a target.");
        Add(tag, synapse);
        Connect(tag, source, target);
        return synapse;
    }

    /// <summary>Removes a group, its connections, its monitors and its output mark.</summary>
    public void Remove(string tag)
    {
        var g = Find(tag, "remove");
        _groups.Remove(g);
        _byTag.Remove(tag);
        _connections.RemoveAll(c => c.Source == tag || c.Target == tag);
        _outputs.Remove(tag);
        foreach (var m in _monitors.Where(m => m.Group == g)) m.ReleaseStream();
        _monitors.RemoveAll(m => m.Group == g);
        g.Tag = "";
        g.OnTagged("");
        _dirty = true;
    }

    /// <summary>Connects a source's output to a target's input by tag; either may be added later, unknown tags fail at initialization.</summary>
    public void Connect(string source, string target)
    {
        if (string.IsNullOrWhiteSpace(source) || string.IsNullOrWhiteSpace(target)) throw new NetworkConfigurationException($"Network '{Name}': a connection needs a source and a target tag.");
        _connections.Add((source, target));
        _dirty = true;
    }

    /// <summary>Connects two added groups.</summary>
    public void Connect(Group source, Group target) => Connect(TagOf(source), TagOf(target));
    /// <summary>Wires a synapse group between a source and a target, by tag.</summary>
    public void Connect(string synapse, string source, string target) { Connect(source, synapse); Connect(synapse, target); }
    /// <summary>Wires a synapse group between a source and a target, by object.</summary>
    public void Connect(SynapseGroup synapse, Group source, Group target) => Connect(TagOf(synapse), TagOf(source), TagOf(target));

    private string TagOf(Group g) => g.Tag.Length > 0 && _byTag.TryGetValue(g.Tag, out var h) && ReferenceEquals(h, g) ? g.Tag
        : throw new NetworkConfigurationException($"Network '{Name}': the {g.GetType().Name} is not part of this network; add it first.");

    /// <summary>Sets a parameter or initial state of a group; a parameter of an initialized network changes at once (validated first).</summary>
    public Network Set(string tag, string name, Value value) { Find(tag, "set a parameter of").Set(name, value); return this; }

    /// <summary>Marks groups whose output every run returns as [batch, steps, N].</summary>
    public void MarkOutput(params string[] tags)
    {
        foreach (var t in tags)
            if (string.IsNullOrWhiteSpace(t)) throw new NetworkConfigurationException($"Network '{Name}': an output tag must not be empty.");
            else if (!_outputs.Contains(t)) _outputs.Add(t);
        _dirty = true;
    }

    /// <summary>Records a variable (or "output") of a group at every step of the following runs; refused at once when it cannot be recorded.</summary>
    public StateMonitor Monitor(string tag, string variable = StateMonitor.Output)
    {
        var g = Find(tag, "monitor");
        if (StateMonitor.WhyNotRecordable(g, variable) is { } why) throw new ParameterException(tag, variable, why);
        var m = new StateMonitor(g, variable) { Siblings = _monitors };
        _monitors.Add(m);
        return m;
    }

    /// <summary>Stops and forgets a monitor; a streaming one deletes the chunks it wrote and releases its folder.</summary>
    public void RemoveMonitor(StateMonitor monitor)
    {
        if (!_monitors.Contains(monitor ?? throw new ArgumentNullException(nameof(monitor))))
            throw new NetworkConfigurationException(
                $"Network '{Name}': monitor {monitor.Group.DisplayName}.{monitor.Variable} is not one of its monitors (another network's, or removed already); its records were left as they are.");
        monitor.Clear();
        monitor.ReleaseStream();
        _monitors.Remove(monitor);
    }

    /// <summary>Attaches an observer that every following Run/Continue informs step by step (<see cref="IRunObserver"/>).</summary>
    public void AddObserver(IRunObserver observer) { if (!_observers.Contains(observer ?? throw new ArgumentNullException(nameof(observer)))) _observers.Add(observer); }

    /// <summary>Detaches an observer; false when it was not attached.</summary>
    public bool RemoveObserver(IRunObserver observer) => _observers.Remove(observer);

    /// <summary>Validates and compiles the wiring, creates the run context (fresh random streams) and draws every parameter (each from its own stream); nothing is kept if validation fails.</summary>
    public void Initialize()
    {
        CheckSettings();
        var graph = CompiledGraph.Compile(Name, _groups, _byTag, _connections, _outputs);
        // Every group's sizes before any is bound, so a refused size leaves no group bound to a half-made context.
        foreach (var g in graph.Groups) g.CheckSizes(_batch);
        var ctx = new SimulationContext(_batch, _device, _dtype, _dt, _seed) { Spikes = _spikes, Kernels = Kernels ?? KernelPolicy.FromEnvironment(), Precision = _precision };
        // The previous context's blocks are not reused under new sizes: its free ones go now, the held ones when freed.
        _state?.Context.Blocks.Dispose();
        if (_disposed) ctx.Blocks.Dispose();
        foreach (var g in graph.Groups) g.Bind(ctx.ForGroup(g.Tag));
        _precision.RoundParameters(graph.Groups);
        _state = new RunState(graph, ctx, _timeline);
        _plans.Clear();
        _threadChoice = null;
        _timeline.Reset();
        foreach (var m in _monitors) m.Clear();
        _dirty = false;
    }

    /// <summary>
    /// Frees the host blocks the network keeps for reuse between runs (<see cref="SimulationContext.Blocks"/>) and stops
    /// keeping them; tensors it returned stay valid (their blocks are freed with them). The network stays usable: later
    /// runs allocate their blocks afresh each time.
    /// </summary>
    public void Dispose()
    {
        _disposed = true;
        _state?.Context.Blocks.Dispose();
    }

    private void CheckSettings()
    {
        if (!Clocks.TimeStep.IsValidDt(_dt)) throw new NetworkConfigurationException($"Network '{Name}': {Clocks.TimeStep.InvalidDt(_dt)}");
        if (_steps < 1) throw new NetworkConfigurationException($"Network '{Name}': steps must be >= 1, got {_steps}.");
        if (_batch < 1) throw new NetworkConfigurationException($"Network '{Name}': batch size must be >= 1, got {_batch}.");
        _precision.Validate(Name, _dtype);
    }

    /// <summary>The plan of <paramref name="dt"/> under the current settings and these observers (cached per dt).</summary>
    internal ExecutionPlan PlanFor(double dt, IReadOnlyList<IRunObserver> observers) => _plans.Get(_state!.Graph, dt, TimeBatching, observers);

    /// <summary>The call order, the back edges chosen and the lag each adds, as text for people (at the current dt).</summary>
    public string DescribeCallOrder()
    {
        if (_dirty) Initialize();
        return CallOrder.Describe(Graph.Groups.Select(g => g.Tag).ToArray());
    }

    /// <summary>The whole execution plan for each distinct dt of <paramref name="schedule"/> (default: <see cref="Dt"/>), with the monitors and observers attached now.</summary>
    public string DescribePlan(Schedule? schedule = null)
    {
        if (_dirty) Initialize();
        var observers = RunCall.ObserversOf(this, null);
        var dts = (schedule?.Segments.Select(s => s.Dt) ?? new[] { _dt }).Distinct();
        var threads = ThreadsFor(schedule?.TotalSteps ?? _steps);
        return string.Join(Environment.NewLine, dts.Select(dt => PlanFor(dt, observers).Describe()))
            + Environment.NewLine + $"intra-op threads: {threads.Threads} — {threads.Reason}";
    }

    /// <summary>
    /// The intra-op threads a run of <paramref name="steps"/> steps uses on the calling thread, with the reason: the
    /// kernel policy's <see cref="KernelPolicy.ChooseThreads"/> for this network's work and the caller's
    /// <c>torch.get_num_threads()</c> (never more).
    /// </summary>
    public ThreadChoice ThreadsFor(int steps)
    {
        if (_dirty) Initialize();
        int caller = Native.IntraOpThreads.Current;
        // Asked twice per training batch (the trainer's scope and the run's): the last answer is kept for the same caller
        // setting and steps. Everything else it depends on (policy, device, groups, batch) re-initializes, which drops it.
        if (_threadChoice is { } last && last.Caller == caller && last.Steps == steps) return last.Choice;
        var choice = _state!.Context.Kernels.ChooseThreads(_device, KernelPolicy.RunWork(_groups, _batch, steps), caller);
        // Said, not silently ignored: without the per-thread setters a run cannot change its threads.
        if (choice.Threads != caller && !Native.IntraOpThreads.Available)
            choice = new(caller, $"the caller's {caller}: the policy's {choice.Threads} cannot be applied on this libtorch build (no per-thread OpenMP setter found; {choice.Reason})");
        _threadChoice = (caller, steps, choice);
        return choice;
    }

    private (int Caller, int Steps, ThreadChoice Choice)? _threadChoice;

    /// <summary>
    /// The intra-op threads of a run with these inputs and schedule (the steps as <see cref="Run(IReadOnlyDictionary{string, Tensor}?, Schedule?)"/>
    /// resolves them: the schedule's, else the longest input's, else <see cref="Steps"/>), with the reason.
    /// </summary>
    public ThreadChoice ThreadsFor(IReadOnlyDictionary<string, Tensor>? inputs, Schedule? schedule) => ThreadsFor(StepsOf(inputs, schedule));

    /// <summary>
    /// Applies <see cref="ThreadsFor(IReadOnlyDictionary{string, Tensor}?, Schedule?)"/> to the calling thread only
    /// until the returned scope is disposed, which restores the caller's setting (dispose it on the same thread; a
    /// <c>using</c> does, also on exceptions). Null when the choice is the caller's own. What it changes and what it
    /// leaves alone: <see cref="Native.IntraOpThreads"/>. Each run does this itself; a trainer wraps its backward and
    /// optimizer step in it too.
    /// </summary>
    public IDisposable? EnterThreads(IReadOnlyDictionary<string, Tensor>? inputs = null, Schedule? schedule = null) =>
        Native.IntraOpThreads.Enter(ThreadsFor(inputs, schedule).Threads);

    internal int StepsOf(IReadOnlyDictionary<string, Tensor>? inputs, Schedule? schedule)
    {
        if (schedule is not null) return schedule.TotalSteps;
        int? preferred = null;
        if (inputs is not null)
            foreach (var (tag, data) in inputs)
                if (_byTag.TryGetValue(tag, out var g) && g is IInputGroup ig && ig.PreferredSteps(data) is > 0 and var p)
                    preferred = Math.Max(preferred ?? 0, p);
        return preferred ?? _steps;
    }

    /// <summary>Resets and runs with inputs keyed by input-group tag (staged ones may be left out); without a schedule, at Dt for the steps the data asks for, else Steps. A rejected call changes nothing.</summary>
    public RunResult Run(IReadOnlyDictionary<string, Tensor>? inputs = null, Schedule? schedule = null) => Execute(schedule, inputs, reset: true);
    /// <summary>Resets and runs with one input tensor [batch, steps, N] for the network's only input group.</summary>
    public RunResult Run(Tensor input, Schedule? schedule = null) => Run(SingleInput(input), schedule);
    /// <summary>Runs a network without external data (sources only) on <paramref name="schedule"/>; <c>Run(null, schedule)</c> is ambiguous.</summary>
    public RunResult Run(Schedule schedule) => Run((IReadOnlyDictionary<string, Tensor>?)null, schedule ?? throw new ArgumentNullException(nameof(schedule)));
    /// <summary>Steps on from the current state (no reset); new inputs, if given, are consumed from their first step.</summary>
    public RunResult Continue(IReadOnlyDictionary<string, Tensor>? inputs = null, Schedule? schedule = null) => Execute(schedule, inputs, reset: false);
    /// <summary>Continues with one new input tensor for the network's only input group.</summary>
    public RunResult Continue(Tensor input, Schedule? schedule = null) => Continue(SingleInput(input), schedule);
    /// <summary>Continues a network without external data on <paramref name="schedule"/>; <c>Continue(null, schedule)</c> is ambiguous.</summary>
    public RunResult Continue(Schedule schedule) => Continue((IReadOnlyDictionary<string, Tensor>?)null, schedule ?? throw new ArgumentNullException(nameof(schedule)));

    private Dictionary<string, Tensor> SingleInput(Tensor input)
    {
        if (_dirty) Initialize();
        var ins = _groups.Where(g => g is IInputGroup).ToList();
        if (ins.Count != 1)
            throw new NetworkConfigurationException($"Network '{Name}' has {ins.Count} input groups ({string.Join(", ", ins.Select(g => g.Tag))}): pass inputs keyed by tag.");
        return new() { [ins[0].Tag] = input };
    }

    private ExecutionPlan[] _sequencePlans = [];

    private bool SamePlans(Dictionary<double, ExecutionPlan> plans)
    {
        if (plans.Count != _sequencePlans.Length) return false;
        foreach (var p in plans.Values)
            if (Array.IndexOf(_sequencePlans, p) < 0) return false;
        return true;
    }

    /// <summary>
    /// One training step's forward and backward: resets and runs with gradients (as <see cref="Run(IReadOnlyDictionary{string, Tensor}?, Schedule?)"/>
    /// with <see cref="TrackGradients"/> on for this call), takes the scalar <paramref name="loss"/> of the result and
    /// back-propagates it, so every tensor that records a gradient (the trained parameters) holds ∂loss/∂it in its
    /// <c>grad</c>, accumulated as <c>loss.backward()</c> accumulates. Where <see cref="TapeRefusal"/> allows, the fused
    /// chains write their calls on a tape instead of recording an autograd node each: the same gradients, bit for bit,
    /// with less overhead per call (docs/architecture.md, "Chain tape"). Returns the run's result and the loss; a call the
    /// run rejects changes nothing. Afterwards the states and latest outputs carry no graph (the backward has used it):
    /// a <see cref="Continue(IReadOnlyDictionary{string, Tensor}?, Schedule?)"/> with gradients starts from them as constants.
    /// </summary>
    public (RunResult Result, Tensor Loss) RunAndBackward(IReadOnlyDictionary<string, Tensor>? inputs, Func<RunResult, Tensor> loss, Schedule? schedule = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        bool track = TrackGradients;
        TrackGradients = true;
        ChainTape? tape = null;
        bool ran = false;
        try
        {
            var result = Execute(schedule, inputs, reset: true, tapeWanted: true, out tape);
            ran = true;
            Tensor? computed;
            try
            {
                computed = loss(result);
            }
            catch (System.Runtime.InteropServices.ExternalException e) when (tape is { Count: > 0 } && e.Message.Contains("leaf Variable that requires grad is being used in an in-place operation", StringComparison.Ordinal))
            {
                // The one thing the tape allows less than the nodes: their output is a view of a node's output, which
                // libtorch lets change in place; the tape's last blocks and final states are leaves, which it does not.
                throw new ShipException($"Network '{Name}': the loss changed a run output or a final state in place; on the chain tape a fused chain's last block and final states are leaves that record a gradient, which libtorch does not let change in place: compute the loss out of place, or turn the tape off (KernelPolicy.ChainTape = false). ({e.Message.Split('\n')[0]})", e);
            }
            var value = computed ?? throw new ShipException($"Network '{Name}': the loss function returned null; it must return a scalar tensor.");
            if (value.numel() != 1) throw new ShipException($"Network '{Name}': the loss function returned {value.numel()} values; it must return a scalar.");
            if (!value.requires_grad) throw new ShipException($"Network '{Name}': the loss records no gradient: no tensor that records one (a trained parameter, an input) reaches it.");
            tape?.HoldGradients();
            value.backward();
            tape?.Backward();
            return (result, value);
        }
        finally
        {
            tape?.Dispose();
            // The step's graph is used: states and latest outputs go on as constants on both paths (the tape's are leaves).
            if (ran) _state!.ReleaseGraphs();
            TrackGradients = track;
        }
    }

    /// <summary>
    /// Why <see cref="RunAndBackward"/> with these inputs and schedule would record the fused chains as autograd nodes
    /// rather than on the chain tape, or null when it uses the tape. Validates the call like a run (a bad call throws
    /// as <see cref="Run(IReadOnlyDictionary{string, Tensor}?, Schedule?)"/> would) and changes nothing.
    /// </summary>
    public string? TapeRefusal(IReadOnlyDictionary<string, Tensor>? inputs = null, Schedule? schedule = null)
    {
        if (_dirty) Initialize();
        CheckSettings();
        return RefusalOfTape(RunCall.Prepare(this, _state!, schedule, inputs, reset: true));
    }

    private string? RefusalOfTape(RunCall call)
    {
        if (!_state!.Context.Kernels.ChainTape) return "the chain tape is off (kernel policy)";
        if (call.Plans.Values.All(p => p.Chains.Length == 0)) return "the plan has no fused chain";
        // One block per chain: the tape carries no gradient from a block's final states into the next block.
        if (call.Schedule.Segments.Count > 1) return $"the schedule has {call.Schedule.Segments.Count} segments, and the tape covers runs of one block";
        if (call.Schedule.TotalSteps > SequenceBlockSteps)
            return $"the run's {call.Schedule.TotalSteps} steps take more than one block of {SequenceBlockSteps} (SequenceBlockSteps), and the tape covers runs of one block";
        return null;
    }

    private RunResult Execute(Schedule? schedule, IReadOnlyDictionary<string, Tensor>? inputs, bool reset) =>
        Execute(schedule, inputs, reset, tapeWanted: false, out _);

    private RunResult Execute(Schedule? schedule, IReadOnlyDictionary<string, Tensor>? inputs, bool reset, bool tapeWanted, out ChainTape? tape)
    {
        tape = null;
        if (_dirty) Initialize();
        CheckSettings();
        var call = RunCall.Prepare(this, _state!, schedule, inputs, reset);
        // Derived again only when the call's plans differ from the previous call's (a plan never changes once built).
        if (!SamePlans(call.Plans))
        {
            SequenceGroups = _groups.Where(g => call.Plans.Values.Any(p => p.IsSequence(g))).Select(g => g.Tag).ToArray();
            _sequencePlans = call.Plans.Values.ToArray();
        }
        if (tapeWanted && RefusalOfTape(call) is null) tape = new ChainTape();
        RunResult result;
        try
        {
            result = call.Execute(tape);
        }
        catch
        {
            tape?.Dispose();
            tape = null;
            throw;
        }
        // A network that runs again reuses its blocks from then on; one that runs once allocates as libtorch does, so a
        // network made per call does not keep memory that only the collector would return.
        _state!.Context.Blocks.Engage();
        return result;
    }
}
