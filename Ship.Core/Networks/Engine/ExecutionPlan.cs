using System.Text;
using Ship.Core.Groups;
using Ship.Core.Networks.Observers;
using Ship.Core.Scheduling;

namespace Ship.Core.Networks;

/// <summary>
/// How a network runs at one dt, decided before any state changes and never altered during a segment: the delays in
/// steps, the call order with its back edges, the whole-segment stage (groups computed a block at once, and which of
/// their outputs are sliced per step), the step stage in call order, the delayed outputs published before a step, and
/// which observers read which groups. Order, delays and stages are computed together, so no segment runs a stale plan.
/// </summary>
public sealed class ExecutionPlan
{
    private readonly CompiledGraph _graph;

    private ExecutionPlan(CompiledGraph graph, double dt, int[] delays, CallOrderResult order, bool[] sequence, bool[] slices, string[][] observers, string?[] refusals)
    {
        (ChainOf, Chains) = FusedChain.Find(graph, sequence, slices, observers);
        Refusals = refusals;
        _graph = graph;
        Dt = dt;
        DelaySteps = delays;
        CallOrder = order;
        Order = order.Order.ToArray();
        Prefetch = order.BackEdges.Where(b => b.DelaySteps >= 1).Select(b => b.Source).Distinct().OrderBy(i => i).ToArray();
        Sequence = sequence;
        Slices = slices;
        Stepped = Order.Where(i => !sequence[i] || slices[i]).ToArray();
        Observers = observers;
        HasSequence = sequence.Any(b => b);
    }

    /// <summary>The time step this plan serves (s).</summary>
    public double Dt { get; }
    /// <summary>Output delay of each group in steps at <see cref="Dt"/> (graph numbering).</summary>
    public IReadOnlyList<int> DelaySteps { get; }
    /// <summary>The call order and its back edges at <see cref="Dt"/>.</summary>
    public CallOrderResult CallOrder { get; }
    /// <summary>Graph numbers in call order.</summary>
    public int[] Order { get; }
    /// <summary>Groups whose delayed output is published before each step (sources of delayed back edges).</summary>
    public int[] Prefetch { get; }
    /// <summary>Per group: computed a block of steps at once (the whole-segment stage).</summary>
    public bool[] Sequence { get; }
    /// <summary>Per whole-segment group: its block output is sliced per step (a stepped group or an observer reads it).</summary>
    public bool[] Slices { get; }
    /// <summary>Groups visited every step, in call order: stepped groups, and sliced whole-segment groups.</summary>
    public int[] Stepped { get; }
    /// <summary>Per group, the observers bound to it (their descriptions).</summary>
    public string[][] Observers { get; }
    /// <summary>Whether any group is computed a block at once.</summary>
    public bool HasSequence { get; }
    /// <summary>Whether anything happens per step beyond advancing the clock.</summary>
    public bool PerStepWork => Stepped.Length > 0 || Prefetch.Length > 0;
    /// <summary>
    /// Fused chains of the whole-block stage, each in data order: groups computed inside one autograd node, each after
    /// the first the only reader of the one before (<see cref="IChainGroup"/>; found by the plan, allowed by
    /// <see cref="KernelPolicy.FusedChains"/> through each group's <see cref="IChainGroup.LinkRefusal"/>).
    /// </summary>
    public int[][] Chains { get; }
    /// <summary>Per group, the index of its chain in <see cref="Chains"/>, or −1.</summary>
    public int[] ChainOf { get; }
    /// <summary>The graph this plan runs.</summary>
    public CompiledGraph Graph => _graph;

    /// <summary>Whether <paramref name="group"/> is computed a block at once under this plan.</summary>
    public bool IsSequence(Group group) => _graph.Contains(group) && Sequence[_graph.IndexOf(group)];

    /// <summary>Per group with a sequence form, in a time-batched plan: why it is stepped (the maths, the kernel policy: <see cref="SequenceForm.Refusal"/>; then a delay, an early publication, a stepped source or an observer), or null.</summary>
    public IReadOnlyList<string?> Refusals { get; }

    /// <summary>Groups computed a block at once, in call order.</summary>
    public IEnumerable<Group> SequenceGroups => Order.Where(i => Sequence[i]).Select(i => _graph.Groups[i]);

    /// <summary>The delays in steps every group will have at <paramref name="dt"/> (asked without changing anything).</summary>
    public static int[] DelaysAt(CompiledGraph graph, double dt) => graph.Groups.Select(g => Math.Max(0, g.OutputDelayStepsAt(dt))).ToArray();

    /// <summary>
    /// Builds the plan for <paramref name="dt"/>. A group joins the whole-segment stage when time batching is on, it
    /// implements <see cref="ISequenceGroup"/> and says it can, it has no output delay and is not published early, no
    /// observer reads its state per step, and all its sources are in the stage (so a group on a cycle never is).
    /// </summary>
    public static ExecutionPlan Build(CompiledGraph graph, double dt, int[] delays, CallOrderResult order, bool timeBatching, IReadOnlyList<IRunObserver> observers)
    {
        int n = graph.Count;
        var prefetch = order.BackEdges.Where(b => b.DelaySteps >= 1).Select(b => b.Source).ToHashSet();
        var seq = new bool[n];
        var refusals = new string?[n];
        foreach (var i in order.Order)
        {
            var g = graph.Groups[i];
            // Asked once per plan: the model's maths, then the kernel policy (the plan itself fuses nothing yet; a fused
            // pair, e.g. a dense synapse and the LIF it feeds, would be chosen here: docs/architecture.md, "Kernels").
            // Then the plan's own reasons, so DescribePlan says why every group with a sequence form is stepped.
            if (timeBatching && g is ISequenceGroup form)
                refusals[i] = SequenceForm.Refusal(form)
                    ?? (delays[i] != 0 ? $"its output is delayed by {delays[i]} step(s)"
                        : prefetch.Contains(i) ? "it is published before the step (a delayed back edge)"
                        : graph.Sources[i].Where(s => !seq[s]).Select(s => graph.Groups[s].Tag).FirstOrDefault() is { } stepped ? $"its source '{stepped}' is stepped"
                        : observers.FirstOrDefault(o => o.NeedsStepState(g)) is { } reader ? $"{reader} reads its state every step"
                        : null);
            seq[i] = timeBatching && g is ISequenceGroup && refusals[i] is null;
        }
        var slices = new bool[n];
        for (int i = 0; i < n; i++)
        {
            if (!seq[i]) foreach (var s in graph.Sources[i]) slices[s] |= seq[s];
            slices[i] |= seq[i] && observers.Any(o => o.NeedsStepOutput(graph.Groups[i]));
        }
        var bound = graph.Groups.Select(g => observers.Where(o => o.NeedsStepOutput(g) || o.NeedsStepState(g) || o.Watches(g))
            .Select(o => o.ToString() ?? o.GetType().Name).ToArray()).ToArray();
        return new ExecutionPlan(graph, dt, delays, order, seq, slices, bound, refusals);
    }

    /// <summary>The call order with back edges, delays and CallOrder lags (the part of the plan that depends only on delays).</summary>
    public static CallOrderResult OrderFor(CompiledGraph graph, int[] delays)
    {
        var edges = graph.Edges.Select(e => new GraphEdge(e.S, e.T, delays[e.S]))
            .Concat(graph.OrderingEdges.Select(e => new GraphEdge(e.S, e.T, 0))).ToArray();
        return Scheduling.CallOrder.Compute(graph.Count, edges);
    }

    /// <summary>The plan as text for people: one line per group in call order with its stage, delay and observers, then the back edges.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        var tags = _graph.Groups.Select(g => g.Tag).ToArray();
        sb.AppendLine($"dt = {Dt:g6} s");
        int k = 0;
        foreach (var i in Order)
        {
            string stage = Sequence[i] ? (Slices[i] ? "whole block, sliced per step" : "whole block") : "step";
            var extras = new List<string>();
            if (DelaySteps[i] > 0) extras.Add($"delay {DelaySteps[i]} step(s)");
            if (Prefetch.Contains(i)) extras.Add("published before the step");
            if (ChainOf[i] >= 0)
            {
                var chain = Chains[ChainOf[i]];
                extras.Add($"fused chain {ChainOf[i] + 1}, link {Array.IndexOf(chain, i) + 1} of {chain.Length}");
            }
            if (_graph.OutputSlot[i] >= 0) extras.Add("output");
            if (Observers[i].Length > 0) extras.Add("observed by " + string.Join(", ", Observers[i]));
            if (Refusals[i] is { } why) extras.Add("no whole block: " + why);
            sb.AppendLine($"  {++k,3}. {tags[i]} [{stage}]{(extras.Count > 0 ? " — " + string.Join("; ", extras) : "")}");
        }
        sb.Append(CallOrder.Describe(tags));
        return sb.ToString();
    }
}
