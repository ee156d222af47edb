using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Monitors;
using Ship.Core.Parameters;
using Ship.Core.Scheduling;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// A network of groups wired by connections. It owns every run setting (dt, steps, batch size, device, dtype, seed)
/// and its own random generator, computes the call order at initialization, and steps all groups clock by clock.
/// Nothing is static: any number of networks can live in one process without affecting each other.
/// </summary>
public sealed partial class Network
{
    private readonly List<Group> _groups = new();
    private readonly Dictionary<string, Group> _byTag = new(StringComparer.Ordinal);
    private readonly List<(string Source, string Target)> _connections = new();
    private readonly List<string> _outputs = new();
    private readonly List<StateMonitor> _monitors = new();
    private readonly Timeline _timeline = new();

    private bool _dirty = true;
    private bool _hasRun;
    private SimulationContext? _ctx;
    private CallOrderResult? _callOrder;
    private int[] _order = Array.Empty<int>();
    private int[][] _sources = Array.Empty<int[]>();
    private int[] _outputSlot = Array.Empty<int>();
    private int[] _prefetch = Array.Empty<int>();
    private int[] _delays = Array.Empty<int>();
    private Tensor?[] _latest = Array.Empty<Tensor?>();
    private bool[] _latestOwned = Array.Empty<bool>(); // latest outputs that only the stepper holds (copies), freed when replaced
    private double _dt = 1e-3;
    private int _steps = 100, _batch = 1;
    private Device _device = Ship.Core.Native.TorchSharpLoad.Cpu; // the first touch of TorchSharp: a load failure gets a one-line cause
    private ScalarType _dtype = ScalarType.Float32;
    private long _seed;

    /// <summary>Creates an empty network; the name only appears in messages and summaries.</summary>
    public Network(string name = "network") => Name = name;

    /// <summary>Name used in messages.</summary>
    public string Name { get; }
    /// <summary>Default time step in seconds for runs without an explicit schedule; checked at initialization.</summary>
    public double Dt { get => _dt; set => _dt = value; }
    /// <summary>Default number of steps for runs without an explicit schedule.</summary>
    public int Steps { get => _steps; set => _steps = value; }
    /// <summary>Samples simulated side by side; changing it re-initializes at the next run.</summary>
    public int BatchSize { get => _batch; set { _batch = value; _dirty = true; } }
    /// <summary>Device for every tensor of this network; changing it re-initializes at the next run.</summary>
    public Device Device { get => _device; set { _device = value ?? CPU; _dirty = true; } }
    /// <summary>Floating dtype of states and outputs; changing it re-initializes at the next run.</summary>
    public ScalarType DType { get => _dtype; set { _dtype = value; _dirty = true; } }
    /// <summary>Seed of this network's own generator, used for every random draw; changing it re-initializes at the next run.</summary>
    public long Seed { get => _seed; set { _seed = value; _dirty = true; } }
    /// <summary>Whether runs record the autograd graph (training); off by default so inference runs under no_grad.</summary>
    public bool TrackGradients { get; set; }
    /// <summary>How neurons fire; a surrogate-gradient function for training keeps the same forward convention (v ≥ thr).</summary>
    public Spikes.ISpikeFunction SpikeFunction
    {
        get => _spikes;
        set { _spikes = value ?? throw new ArgumentNullException(nameof(value)); if (_ctx is not null) _ctx.Spikes = value; }
    }
    private Spikes.ISpikeFunction _spikes = Ship.Core.Spikes.HeavisideSpikes.Instance;

    /// <summary>
    /// Whether groups whose inputs are all known before the run (fed only by inputs or other such groups, no path back)
    /// compute each schedule segment in one call (<see cref="ISequenceGroup"/>). Results are identical; on by default.
    /// </summary>
    public bool TimeBatching { get; set; } = true;

    /// <summary>
    /// Opt-in numerical guard: after every step, checks each group's output and states and stops the run at the first
    /// NaN or infinity with a <see cref="NonFiniteValueException"/> naming the group, the variable and the step. States
    /// declared without a range (e.g. a last-spike time that starts at −∞) are checked for NaN only. Groups computed a
    /// whole segment at once (<see cref="TimeBatching"/>) have their outputs checked per step and their states at the
    /// end of the segment. Off by default: it costs a few reductions and one host read per step (see docs/errors.md).
    /// </summary>
    public bool CheckFinite { get; set; }

    /// <summary>Tags of the groups that the last run computed in sequence form (for inspection and benchmarks).</summary>
    public IReadOnlyList<string> SequenceGroups { get; private set; } = Array.Empty<string>();

    /// <summary>
    /// Most steps a whole-segment group (<see cref="TimeBatching"/>) computes ahead; longer segments are computed in
    /// blocks of this many steps, so memory does not grow with the length of a run. Results do not depend on it
    /// beyond floating-point rounding of the sequence forms (spike draws are identical).
    /// </summary>
    public int SequenceBlockSteps { get; set; } = 2048;

    /// <summary>Most steps computed under one dispose scope before intermediates are freed: bounds memory without per-op scopes.</summary>
    public int StepsPerDisposeScope { get; set; } = 256;

    /// <summary>
    /// About how many bytes of intermediates a dispose scope may gather before they are freed: each call measures its
    /// first step and computes up to min(<see cref="StepsPerDisposeScope"/>, this / bytes per step) steps per scope, so a
    /// network with megabytes of intermediates per step (per-connection currents) frees them often. 64 MiB by default.
    /// </summary>
    public long DisposeScopeBytes { get; set; } = 64L << 20;

    /// <summary>The groups in the order they were added.</summary>
    public IReadOnlyList<Group> Groups => _groups;
    /// <summary>The connections as (source tag, target tag), in the order they were made.</summary>
    public IReadOnlyList<(string Source, string Target)> Connections => _connections;
    /// <summary>Tags of the output groups.</summary>
    public IReadOnlyList<string> Outputs => _outputs;
    /// <summary>The monitors attached to this network.</summary>
    public IReadOnlyList<StateMonitor> Monitors => _monitors;
    /// <summary>Absolute time of every step since the last reset.</summary>
    public Timeline Timeline => _timeline;
    /// <summary>Whether the network is initialized and unchanged since.</summary>
    public bool IsInitialized => !_dirty;
    /// <summary>The run context (valid after initialization).</summary>
    public SimulationContext Context => _ctx ?? throw new ShipException($"Network '{Name}' is not initialized.");
    /// <summary>The computed call order with its back edges (valid after initialization).</summary>
    public CallOrderResult CallOrder => _callOrder ?? throw new ShipException($"Network '{Name}' is not initialized: no call order yet.");
    /// <summary>The groups in call order (valid after initialization).</summary>
    public IReadOnlyList<Group> CallSequence => _order.Select(i => _groups[i]).ToArray();

    /// <summary>The group with this tag; the error lists the known tags.</summary>
    public Group this[string tag] => Find(tag, "look up");

    private Group Find(string tag, string action) =>
        _byTag.TryGetValue(tag, out var g)
            ? g
            : throw new NetworkConfigurationException(
                $"Network '{Name}': cannot {action} '{tag}': no group has that tag (known: {(_byTag.Count == 0 ? "none" : string.Join(", ", _byTag.Keys))}).");

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
        Connect(source, tag);
        Connect(tag, target);
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
        _monitors.RemoveAll(m => m.Group == g);
        g.Tag = "";
        g.OnTagged("");
        _dirty = true;
    }

    /// <summary>Connects a source's output to a target's input by tag; either may be added later, unknown tags fail at initialization.</summary>
    public void Connect(string source, string target)
    {
        if (string.IsNullOrWhiteSpace(source) || string.IsNullOrWhiteSpace(target))
            throw new NetworkConfigurationException($"Network '{Name}': a connection needs a source and a target tag.");
        _connections.Add((source, target));
        _dirty = true;
    }

    /// <summary>Connects two added groups.</summary>
    public void Connect(Group source, Group target) => Connect(TagOf(source), TagOf(target));

    /// <summary>Wires a synapse group between a source and a target, by tag.</summary>
    public void Connect(string synapse, string source, string target)
    {
        Connect(source, synapse);
        Connect(synapse, target);
    }

    /// <summary>Wires a synapse group between a source and a target, by object.</summary>
    public void Connect(SynapseGroup synapse, Group source, Group target) => Connect(TagOf(synapse), TagOf(source), TagOf(target));

    private string TagOf(Group g) =>
        g.Tag.Length > 0 && _byTag.TryGetValue(g.Tag, out var h) && ReferenceEquals(h, g)
            ? g.Tag
            : throw new NetworkConfigurationException($"Network '{Name}': the {g.GetType().Name} is not part of this network; add it first.");

    /// <summary>Sets a parameter or initial state of a group; a parameter of an initialized network changes at once (validated first).</summary>
    public Network Set(string tag, string name, Value value)
    {
        Find(tag, "set a parameter of").Set(name, value);
        return this;
    }

    /// <summary>Marks groups whose output every run returns as [batch, steps, N].</summary>
    public void MarkOutput(params string[] tags)
    {
        foreach (var t in tags)
        {
            if (string.IsNullOrWhiteSpace(t)) throw new NetworkConfigurationException($"Network '{Name}': an output tag must not be empty.");
            if (!_outputs.Contains(t)) _outputs.Add(t);
        }
        _dirty = true;
    }

    /// <summary>Records a variable (or "output") of a group at every step of the following runs.</summary>
    public StateMonitor Monitor(string tag, string variable = StateMonitor.Output)
    {
        var g = Find(tag, "monitor");
        if (variable != StateMonitor.Output) g.Variable(variable); // validates the name now, with the list of names
        var m = new StateMonitor(g, variable) { Siblings = _monitors };
        _monitors.Add(m);
        return m;
    }

    /// <summary>Stops and forgets a monitor.</summary>
    public void RemoveMonitor(StateMonitor monitor)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        if (!_monitors.Contains(monitor))
            throw new NetworkConfigurationException(
                $"Network '{Name}': monitor {monitor.Group.DisplayName}.{monitor.Variable} is not one of its monitors (another network's, or removed already); its records were left as they are.");
        monitor.Clear();
        _monitors.Remove(monitor);
    }

    /// <summary>What kind of group without inputs <paramref name="g"/> (or a group it wraps) is, or null if it takes input.</summary>
    private static string? TakesNoInput(Group g)
    {
        for (Group? x = g; x is not null; x = (x as GroupWrapper)?.Inner)
            if (x is IInputGroup) return "an input group";
            else if (x is ISourceGroup) return "a source";
        return null;
    }

    /// <summary>
    /// Validates the network, computes the call order, creates the run context (with a freshly seeded generator) and
    /// materializes every parameter (generators are drawn now). Nothing is kept if validation fails.
    /// </summary>
    public void Initialize()
    {
        if (!(_dt > 0) || double.IsInfinity(_dt)) throw new NetworkConfigurationException($"Network '{Name}': dt must be a finite value > 0 seconds, got {_dt}.");
        if (_steps < 1) throw new NetworkConfigurationException($"Network '{Name}': steps must be >= 1, got {_steps}.");
        if (_batch < 1) throw new NetworkConfigurationException($"Network '{Name}': batch size must be >= 1, got {_batch}.");
        if (_groups.Count == 0) throw new NetworkConfigurationException($"Network '{Name}' has no group.");

        var index = new Dictionary<Group, int>();
        for (int i = 0; i < _groups.Count; i++) index[_groups[i]] = i;
        var edges = new List<(int S, int T)>();
        foreach (var (s, t) in _connections)
        {
            if (!_byTag.TryGetValue(s, out var gs))
                throw new NetworkConfigurationException($"Network '{Name}': connection {s} -> {t} names an unknown source '{s}' (known: {string.Join(", ", _byTag.Keys)}).");
            if (!_byTag.TryGetValue(t, out var gt))
                throw new NetworkConfigurationException($"Network '{Name}': connection {s} -> {t} names an unknown target '{t}' (known: {string.Join(", ", _byTag.Keys)}).");
            if (TakesNoInput(gt) is { } kind)
                throw new NetworkConfigurationException(
                    $"Network '{Name}': connection {s} -> {t}: '{t}' is {kind} ({gt.GetType().Name}), which takes no input; its current would be dropped. Remove the connection or target another group.");
            edges.Add((index[gs], index[gt]));
        }
        foreach (var o in _outputs)
            if (!_byTag.ContainsKey(o)) throw new NetworkConfigurationException($"Network '{Name}': output '{o}' is not a group tag (known: {string.Join(", ", _byTag.Keys)}).");

        var sources = new List<int>[_groups.Count];
        var targets = new List<int>[_groups.Count];
        for (int i = 0; i < _groups.Count; i++) { sources[i] = new(); targets[i] = new(); }
        foreach (var (s, t) in edges) { sources[t].Add(s); targets[s].Add(t); }

        // Synapse sizes come from their one source and one target.
        for (int i = 0; i < _groups.Count; i++)
        {
            var g = _groups[i];
            if (g.Kind != GroupKind.Synapse) continue;
            if (sources[i].Count != 1 || targets[i].Count != 1)
                throw new NetworkConfigurationException(
                    $"Network '{Name}': synapse '{g.Tag}' must have exactly one source and one target, has {sources[i].Count} source(s) " +
                    $"[{string.Join(", ", sources[i].Select(k => _groups[k].Tag))}] and {targets[i].Count} target(s) [{string.Join(", ", targets[i].Select(k => _groups[k].Tag))}].");
        }
        // Sizes: resolve synapses in an order where their source's size is known (a synapse fed by a synapse resolves after it).
        var resolved = new bool[_groups.Count];
        for (int i = 0; i < _groups.Count; i++) resolved[i] = _groups[i].Kind == GroupKind.Neuron;
        for (bool progress = true; progress;)
        {
            progress = false;
            for (int i = 0; i < _groups.Count; i++)
            {
                if (resolved[i]) continue;
                int s = sources[i][0], t = targets[i][0];
                if (!resolved[s] || (_groups[t].Kind == GroupKind.Synapse && !resolved[t] && t != i)) continue;
                int nt = _groups[t].Kind == GroupKind.Synapse ? _groups[t].InputSize : _groups[t].InputSize;
                _groups[i].SetSynapseSizes(_groups[s].OutputSize, nt);
                resolved[i] = true;
                progress = true;
            }
        }
        for (int i = 0; i < _groups.Count; i++)
            if (!resolved[i]) throw new NetworkConfigurationException($"Network '{Name}': the sizes of synapse '{_groups[i].Tag}' cannot be resolved (a chain of synapses with no neuron group).");
        foreach (var g in _groups) g.ValidateSizes();
        foreach (var (s, t) in edges)
            if (_groups[s].OutputSize != _groups[t].InputSize)
                throw new NetworkConfigurationException(
                    $"Network '{Name}': connection {_groups[s].Tag} -> {_groups[t].Tag}: source output has {_groups[s].OutputSize} components, target expects an input of {_groups[t].InputSize}.");

        var ctx = new SimulationContext(_batch, _device, _dtype, _dt, _seed) { Spikes = _spikes };
        foreach (var g in _groups) g.Bind(ctx);

        _ctx = ctx;
        _sources = sources.Select(l => l.ToArray()).ToArray();
        _outputSlot = Enumerable.Repeat(-1, _groups.Count).ToArray();
        for (int k = 0; k < _outputs.Count; k++) _outputSlot[index[_byTag[_outputs[k]]]] = k;
        _edges = edges.ToArray();
        ComputeOrder();
        _latest = new Tensor?[_groups.Count];
        _latestOwned = new bool[_groups.Count];
        _timeline.Reset();
        foreach (var m in _monitors) m.Clear();
        _hasRun = false;
        _dirty = false;
    }

    private (int S, int T)[] _edges = Array.Empty<(int, int)>();
    private readonly HashSet<Tensor> _listed = new(ReferenceEqualityComparer.Instance); // per-step outputs of the current call

    private void ComputeOrder()
    {
        _delays = _groups.Select(g => Math.Max(0, g.OutputDelaySteps)).ToArray();
        var graph = _edges.Select(e => new GraphEdge(e.S, e.T, _delays[e.S])).ToArray();
        _callOrder = Scheduling.CallOrder.Compute(_groups.Count, graph);
        _order = _callOrder.Order.ToArray();
        _prefetch = _callOrder.BackEdges.Where(b => b.DelaySteps >= 1).Select(b => b.Source).Distinct().ToArray();
    }

    /// <summary>The call order, the back edges chosen and the lag each adds, as text for people.</summary>
    public string DescribeCallOrder()
    {
        if (_dirty) Initialize();
        return CallOrder.Describe(_groups.Select(g => g.Tag).ToArray());
    }

    /// <summary>
    /// Resets every state and runs with the given inputs, keyed by input-group tag (input groups holding staged data may
    /// be left out). Without a schedule it runs at Dt for the steps the data asks for (the longest request of any input
    /// group, e.g. the longest spike train), else for Steps; Steps itself is never changed.
    /// </summary>
    public RunResult Run(IReadOnlyDictionary<string, Tensor>? inputs = null, Schedule? schedule = null) =>
        Execute(schedule, inputs, reset: true);

    /// <summary>Resets and runs with one input tensor [batch, steps, N] for the network's only input group.</summary>
    public RunResult Run(Tensor input, Schedule? schedule = null) => Run(SingleInput(input), schedule);

    /// <summary>Runs a network without external data (sources only) on <paramref name="schedule"/>; <c>Run(null, schedule)</c> is ambiguous.</summary>
    public RunResult Run(Schedule schedule) => Run((IReadOnlyDictionary<string, Tensor>?)null, schedule ?? throw new ArgumentNullException(nameof(schedule)));

    /// <summary>Steps on from the current state (no reset); new inputs, if given, are consumed from their first step (and may set the step count as in Run).</summary>
    public RunResult Continue(IReadOnlyDictionary<string, Tensor>? inputs = null, Schedule? schedule = null) =>
        Execute(schedule, inputs, reset: false);

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

    private RunResult Execute(Schedule? schedule, IReadOnlyDictionary<string, Tensor>? inputs, bool reset)
    {
        if (_dirty) Initialize();
        if (!reset && !_hasRun) throw new ShipException($"Network '{Name}': nothing to continue; call Run first.");
        // Settings changed after initialization are checked here too, even when the data sets the run's length.
        if (_steps < 1) throw new NetworkConfigurationException($"Network '{Name}': steps must be >= 1, got {_steps}.");
        if (!(_dt > 0) || double.IsInfinity(_dt)) throw new NetworkConfigurationException($"Network '{Name}': dt must be a finite value > 0 seconds, got {_dt}.");
        var ctx = _ctx!;

        // Validate every input before touching any state, so a bad call leaves the network as it was.
        var feeds = new List<(IInputGroup Group, Tensor Data)>();
        if (inputs is not null)
            foreach (var (tag, data) in inputs)
            {
                var g = Find(tag, "feed input to");
                if (g is not IInputGroup ig) throw new InputException(tag, $"is a {g.GetType().Name}, not an input group.");
                feeds.Add((ig, data));
            }
        if (reset)
            foreach (var g in _groups)
                if (g is IInputGroup ig && !feeds.Any(f => ReferenceEquals(f.Group, ig)) && ig.StagedData is { } staged)
                    feeds.Add((ig, staged));
        // The step count the data asks for belongs to this call only: Steps is left as it was (SHIP changes a global).
        int? preferred = feeds.Select(f => f.Group.PreferredSteps(f.Data)).Where(p => p is > 0).Max();
        schedule ??= Schedule.Fixed(_dt, preferred ?? _steps);
        int total = schedule.TotalSteps;
        foreach (var (ig, data) in feeds) ig.CheckFeed(data, total);
        foreach (var g in _groups)
            if (g is IInputGroup ig && !feeds.Any(f => ReferenceEquals(f.Group, ig)))
            {
                if (reset) throw new InputException(g.Tag, "got no data for this run: pass a [batch, steps, N] tensor keyed by its tag.");
                if (ig.RemainingSteps < total) throw new InputException(g.Tag, $"has {ig.RemainingSteps} steps of data left, the continued run needs {total}; pass new data.");
            }

        foreach (var (g, d) in feeds) g.Feed(d, total);
        var monitorsOf = new StateMonitor[_groups.Count][];
        for (int i = 0; i < _groups.Count; i++) monitorsOf[i] = _monitors.Where(m => ReferenceEquals(m.Group, _groups[i]) && m.Enabled).ToArray();

        using var gradGuard = TrackGradients ? null : torch.no_grad();
        if (reset) ResetAll(ctx);
        int firstStep = _timeline.Count;
        var seq = PlanSequence(monitorsOf);
        SequenceGroups = Enumerable.Range(0, _groups.Count).Where(i => seq[i]).Select(i => _groups[i].Tag).ToArray();
        var guard = CheckFinite ? new FiniteGuard(this, seq) : null;
        // Per-step slices of a whole-segment output are only made where something reads them step by step: a group
        // stepped one step at a time, a monitor, the finite guard. Outputs are taken from the whole-segment tensors.
        var needSlices = new bool[_groups.Count];
        for (int i = 0; i < _groups.Count; i++)
        {
            if (!seq[i]) foreach (var s in _sources[i]) needSlices[s] |= seq[s];
            needSlices[i] |= seq[i] && (monitorsOf[i].Length > 0 || guard is not null);
        }
        ObserversStart(reset, firstStep, total, seq, needSlices); // observer hook (interim, see Network.Observers.cs)
        var stepped = _order.Where(i => !seq[i] || needSlices[i]).ToArray();
        // A fully time-batched run has nothing to do per step but advance the clock.
        bool perStepWork = stepped.Length > 0 || _prefetch.Length > 0;
        var lists = _outputs.Select(_ => new List<Tensor>(total)).ToArray();
        var seqSegments = _outputs.Select(_ => new List<Tensor>()).ToArray();
        var seqOut = new Tensor?[_groups.Count];
        var slices = new Tensor[_groups.Count][];
        var temporaries = new List<Tensor>();
        int? stepsPerScope = null;
        var survivors = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        _listed.Clear();
        bool first = true;
        // A failure mid-run (a model error, the finite guard) leaves states part-way through a dispose scope: the
        // network then needs a fresh Run, and Continue says so instead of reading freed tensors.
        _hasRun = false;
        try
        {
            foreach (var seg in schedule.Segments)
            {
                if (first || seg.Dt != ctx.Dt) Prepare(ctx, seg.Dt);
                // Whole-segment groups compute at most SequenceBlockSteps steps ahead, so a long segment needs memory
                // for one block, not for the whole run.
                int chunk = seq.Any(b => b) ? Math.Max(1, SequenceBlockSteps) : seg.Steps;
                for (int start = 0; start < seg.Steps; start += chunk)
                {
                    int length = Math.Min(chunk, seg.Steps - start);
                    if (seq.Any(b => b)) ComputeSequences(length, seq, needSlices, seqOut, slices, temporaries, seqSegments);
                    if (!perStepWork)
                    {
                        for (int k = 0; k < length; k++)
                        {
                            ctx.Time = _timeline.Now;
                            _timeline.Advance(seg.Dt);
                            ObserversStep(ctx.StepIndex, ctx.Time, seg.Dt); // observer hook (interim)
                            ctx.StepIndex++;
                        }
                        first = false;
                    }
                    for (int done = 0; perStepWork && done < length;)
                    {
                        // The first block of a call is one step, measured: blocks then hold about DisposeScopeBytes of
                        // intermediates (large per-connection states make a step's intermediates megabytes).
                        int block = Math.Min(stepsPerScope ?? 1, length - done);
                        using (var scope = torch.NewDisposeScope())
                        {
                            // What the last block kept is freed with this one unless it is still current: a replaced
                            // state would otherwise wait for the garbage collector, megabytes at a time.
                            foreach (var t in survivors) if (!t.IsInvalid) scope.Attach(t);
                            for (int k = 0; k < block; k++)
                                StepOnce(ctx, seg.Dt, lists, monitorsOf, first && k == 0 && done == 0, seq, stepped, slices, done + k, guard);
                            stepsPerScope ??= StepsPerScope(scope, block);
                            KeepSurvivors(scope, lists, block, seq, survivors);
                        }
                        done += block;
                        first = false;
                    }
                    ObserversBlock(ctx.StepIndex - length, length, seg.Dt, seq, seqOut); // observer hook (interim)
                    if (!seq.Any(b => b)) continue;
                    // The last step of a whole-segment output, as a small copy of its own: a view would keep the whole
                    // [batch, steps, N] block (and, when training, its autograd graph) alive until the garbage collector
                    // runs. Nothing computes from it (readers of a whole-segment group run after it in the same step);
                    // it is what a checkpoint saves.
                    for (int i = 0; i < _groups.Count; i++)
                        if (seq[i])
                        {
                            using var last = seqOut[i]!.select(1, length - 1);
                            using var plain = last.detach();
                            var copy = plain.clone().DetachFromDisposeScope();
                            if (_latestOwned[i]) _latest[i]?.Dispose();
                            _latest[i] = copy;
                            _latestOwned[i] = true;
                        }
                    guard?.CheckSequenceStates(ctx.StepIndex - 1);
                    // A downstream group may pass a slice on as its own output (an identity link): those stay.
                    var listed = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
                    foreach (var l in lists) for (int k = Math.Max(0, l.Count - length); k < l.Count; k++) listed.Add(l[k]);
                    foreach (var l in seqSegments) foreach (var t in l) listed.Add(t);
                    FreeTemporaries(temporaries, listed);
                }
            }
        }
        catch
        {
            _listed.Clear();
            foreach (var l in lists) FreeUnlessLive(l);
            foreach (var l in seqSegments) { foreach (var t in l) t.Dispose(); l.Clear(); }
            foreach (var m in _monitors) m.EndOfCall();
            ObserversEnd(completed: false); // observer hook (interim)
            throw;
        }
        _hasRun = true;
        foreach (var m in _monitors) m.EndOfCall();
        ObserversEnd(completed: true); // observer hook (interim)

        var outputs = new Dictionary<string, Tensor>();
        var handed = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        for (int k = 0; k < _outputs.Count; k++)
        {
            var segs = seqSegments[k];
            if (segs.Count == 0) outputs[_outputs[k]] = torch.stack(lists[k], 1).DetachFromDisposeScope();
            // The whole-segment tensor itself, no copy; an input group's is a view of the data fed in, so it is copied
            // (as is one already handed out under another tag, so each output is a tensor of its own).
            else if (segs.Count == 1 && _byTag[_outputs[k]] is not IInputGroup && handed.Add(segs[0])) outputs[_outputs[k]] = segs[0];
            else outputs[_outputs[k]] = (segs.Count == 1 ? segs[0].clone() : torch.cat(segs, 1)).DetachFromDisposeScope();
            FreeUnlessLive(lists[k]);
        }
        foreach (var l in seqSegments) temporaries.AddRange(l);
        FreeTemporaries(temporaries, handed);
        _listed.Clear();
        var times = _timeline.TimesFrom(firstStep);
        return new RunResult(outputs, times, firstStep);
    }

    /// <summary>
    /// Marks the groups that can run a whole segment at once: in call order, a group qualifies when it implements
    /// <see cref="ISequenceGroup"/>, says it can, has no output delay, is only monitored for its output, and all its
    /// sources qualify. A group on a cycle never qualifies (its earliest member reads a later group).
    /// </summary>
    private bool[] PlanSequence(StateMonitor[][] monitorsOf)
    {
        var seq = new bool[_groups.Count];
        if (!TimeBatching) return seq;
        foreach (var i in _order)
        {
            var g = _groups[i];
            seq[i] = g is ISequenceGroup sg && sg.CanRunSequence && g.OutputDelaySteps == 0
                     && !_prefetch.Contains(i)
                     && monitorsOf[i].All(m => m.Variable == StateMonitor.Output)
                     && _sources[i].All(s => seq[s]);
        }
        return seq;
    }

    private void ComputeSequences(int steps, bool[] seq, bool[] needSlices, Tensor?[] seqOut, Tensor[][] slices, List<Tensor> temporaries, List<Tensor>[] seqSegments)
    {
        // One dispose scope for the whole block: what the sequence forms create in between is freed here instead of
        // waiting for the garbage collector (the handles of a [batch, steps, N] intermediate would otherwise keep it
        // alive for several runs); outputs, slices and the groups' new states are kept. While recording gradients the
        // autograd graph holds its own references to what the backward needs; a custom autograd function detaches
        // the managed tensors it keeps for its backward from the scope.
        using var scope = torch.NewDisposeScope();
        foreach (var i in _order)
        {
            if (!seq[i]) continue;
            var src = _sources[i];
            Tensor? x = src.Length switch
            {
                0 => null,
                1 => seqOut[src[0]],
                _ => src.Skip(1).Aggregate(seqOut[src[0]]!.clone(), (acc, s) => acc.add_(seqOut[s]!)),
            };
            var g = _groups[i];
            var y = ((ISequenceGroup)g).StepSequence(x, steps);
            int batch = Context.BatchSize;
            if (y.dim() != 3 || y.shape[0] != batch || y.shape[1] != steps || y.shape[2] != g.OutputSize)
                throw new ShipException($"Group '{g.DisplayName}' ({g.GetType().Name}) returned {Shapes.Format(y.shape)} from StepSequence, expected [{batch}, {steps}, {g.OutputSize}].");
            seqOut[i] = y.DetachFromDisposeScope();
            // An output's segments become the run's output; everything else is freed after the block.
            if (_outputSlot[i] >= 0) seqSegments[_outputSlot[i]].Add(seqOut[i]!);
            else temporaries.Add(seqOut[i]!);
            if (needSlices[i])
            {
                slices[i] = y.unbind(1).Select(t => t.DetachFromDisposeScope()).ToArray();
                temporaries.AddRange(slices[i]);
            }
            foreach (var v in g.AllVariables) v.Tensor?.DetachFromDisposeScope();
        }
    }

    private void Prepare(SimulationContext ctx, double dt)
    {
        ctx.Dt = dt;
        foreach (var g in _groups) g.PrepareTimeStep(dt);
        // Output delays in steps may change with dt; the call order depends on them.
        if (_groups.Select(g => Math.Max(0, g.OutputDelaySteps)).SequenceEqual(_delays) == false) ComputeOrder();
    }

    private void ResetAll(SimulationContext ctx)
    {
        foreach (var g in _groups) g.ResetState();
        for (int i = 0; i < _groups.Count; i++)
        {
            if (_latestOwned[i]) _latest[i]?.Dispose();
            _latestOwned[i] = false;
            _latest[i] = torch.zeros(new long[] { ctx.BatchSize, _groups[i].OutputSize }, dtype: ctx.DType, device: ctx.Device).DetachFromDisposeScope();
        }
        _timeline.Reset();
        ctx.StepIndex = 0;
        ctx.Time = 0;
        foreach (var m in _monitors) m.Clear();
    }

    private void StepOnce(SimulationContext ctx, double dt, List<Tensor>[] lists, StateMonitor[][] monitorsOf, bool checkShapes,
        bool[] seq, int[] stepped, Tensor[][] slices, int stepInSegment, FiniteGuard? guard)
    {
        ctx.Time = _timeline.Now;
        _timeline.Advance(dt);
        double end = _timeline.Now;
        // A delayed output is known before its group runs, so a back edge from it reads this step's value (no artefact).
        foreach (var i in _prefetch) { _latest[i] = _groups[i].PeekDelayedOutput(); _latestOwned[i] = false; }
        foreach (var i in stepped)
        {
            var src = _sources[i];
            Tensor? x = seq[i] ? null : src.Length switch
            {
                0 => null,
                1 => _latest[src[0]],
                _ => SumOf(src),
            };
            var g = _groups[i];
            Tensor y;
            if (seq[i]) y = slices[i][stepInSegment];
            else
            {
                y = g.Step(x);
                if (checkShapes) CheckOutput(g, y, ctx);
            }
            _latest[i] = y;
            _latestOwned[i] = false;
            if (_outputSlot[i] >= 0 && !seq[i])
            {
                lists[_outputSlot[i]].Add(y);
                _listed.Add(y);
            }
            foreach (var m in monitorsOf[i]) m.Record(m.Variable == StateMonitor.Output ? y : g.Variable(m.Variable).Value, end);
            guard?.Add(i, y);
        }
        guard?.Check(ctx.StepIndex, end);
        ObserversStep(ctx.StepIndex, ctx.Time, dt); // observer hook (interim)
        ctx.StepIndex++;
    }

    private Tensor SumOf(int[] src)
    {
        var acc = _latest[src[0]]!.add(_latest[src[1]]!);
        for (int k = 2; k < src.Length; k++) acc.add_(_latest[src[k]]!);
        return acc;
    }

    private static void CheckOutput(Group g, Tensor y, SimulationContext ctx)
    {
        if (y is null || y.dim() != 2 || y.shape[0] != ctx.BatchSize || y.shape[1] != g.OutputSize)
            throw new ShipException(
                $"Group '{g.DisplayName}' ({g.GetType().Name}) returned {(y is null ? "null" : Shapes.Format(y.shape))} from Step, expected [{ctx.BatchSize}, {g.OutputSize}].");
    }

    /// <summary>
    /// Detaches what must outlive the block (states, latest outputs, recorded outputs) and collects in
    /// <paramref name="survivors"/> the states and latest outputs that this block computed (not tensors a model keeps
    /// itself, not recorded outputs, not sequence slices): the next block frees them once they are replaced.
    /// </summary>
    private void KeepSurvivors(DisposeScope scope, List<Tensor>[] lists, int block, bool[] seq, HashSet<Tensor> survivors)
    {
        survivors.Clear();
        foreach (var g in _groups)
            foreach (var v in g.AllVariables)
                if (v.Tensor is { } t)
                {
                    if (v is StateVariable && scope.Contains(t) && !_listed.Contains(t)) survivors.Add(t);
                    t.DetachFromDisposeScope();
                }
        for (int i = 0; i < _latest.Length; i++)
            if (_latest[i] is { } y)
            {
                if (!seq[i] && scope.Contains(y) && !_listed.Contains(y)) survivors.Add(y);
                y.DetachFromDisposeScope();
            }
        foreach (var l in lists)
            for (int k = Math.Max(0, l.Count - block); k < l.Count; k++) l[k].DetachFromDisposeScope();
    }

    private int StepsPerScope(DisposeScope scope, int steps)
    {
        long bytes = 0;
        foreach (var d in scope.DisposablesView)
            if (d is Tensor { IsInvalid: false } t) bytes += t.NumberOfElements * t.ElementSize;
        long perStep = Math.Max(1, bytes / Math.Max(1, steps));
        return (int)Math.Clamp(DisposeScopeBytes / perStep, 1, Math.Max(1, StepsPerDisposeScope));
    }

    private void FreeTemporaries(List<Tensor> temporaries, HashSet<Tensor>? keep = null)
    {
        var live = LiveTensors();
        foreach (var t in temporaries) if (!live.Contains(t) && keep?.Contains(t) != true) t.Dispose();
        temporaries.Clear();
    }

    private HashSet<Tensor> LiveTensors()
    {
        var live = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var t in _latest) if (t is not null) live.Add(t);
        foreach (var g in _groups) foreach (var v in g.AllVariables) if (v.Tensor is not null) live.Add(v.Tensor);
        return live;
    }

    private void FreeUnlessLive(List<Tensor> list)
    {
        // Per-step outputs are no longer needed once stacked, except those still held as state or latest output.
        var live = LiveTensors();
        foreach (var t in list) if (!live.Contains(t)) t.Dispose();
        list.Clear();
    }
}
