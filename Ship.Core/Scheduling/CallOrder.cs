using System.Text;

namespace Ship.Core.Scheduling;

/// <summary>A connection as the scheduler sees it: the delay decides whether running it backwards in the call order costs a lag.</summary>
/// <param name="Source">Group whose output is read, so that it can be compared with the target's position in the call order.</param>
/// <param name="Target">Group that reads the output, so that a source placed after it can be detected as a back edge.</param>
/// <param name="DelaySteps">Output delay of the source in steps; at least 1 lets the stepper pre-publish the value, so a back edge costs nothing.</param>
public readonly record struct GraphEdge(int Source, int Target, int DelaySteps);

/// <summary>An edge the call order runs backwards, reported so users can see where the schedule introduces a lag artefact.</summary>
/// <param name="Source">Group placed at or after the target, so its output of this step is not yet available to the target.</param>
/// <param name="Target">Group that reads the source before the source has run in this step.</param>
/// <param name="DelaySteps">Output delay of the source, kept so the report explains why the lag is or is not zero.</param>
/// <param name="LagSteps">Extra steps of latency the schedule adds: 1 for a zero-delay edge, 0 when the delay lets the value be pre-published.</param>
public sealed record BackEdge(int Source, int Target, int DelaySteps, int LagSteps);

/// <summary>The call order and its unavoidable back edges, kept together so the stepper and the user report read the same decision.</summary>
public sealed class CallOrderResult
{
    /// <summary>Captures the order and back edges once, so every consumer sees the same immutable schedule.</summary>
    internal CallOrderResult(int[] order, List<BackEdge> backEdges)
    {
        Order = Array.AsReadOnly(order);
        BackEdges = backEdges.AsReadOnly();
        ZeroDelayBackEdgeCount = backEdges.Count(b => b.DelaySteps == 0);
    }

    /// <summary>The sequence in which the stepper calls the groups each step, so that sources run before the targets that read them.</summary>
    public IReadOnlyList<int> Order { get; }

    /// <summary>Edges whose source runs at or after their target, listed so that lag artefacts are visible rather than silent.</summary>
    public IReadOnlyList<BackEdge> BackEdges { get; }

    /// <summary>The number of back edges that really add a one-step lag, the quantity the algorithm minimises.</summary>
    public int ZeroDelayBackEdgeCount { get; }

    /// <summary>Renders the schedule with group names so users can check which connections lag without reading indices.</summary>
    public string Describe(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.Count != Order.Count)
            throw new ArgumentException($"Expected {Order.Count} names, one per group, but got {names.Count}.", nameof(names));

        var text = new StringBuilder();
        text.Append("Call order: ").AppendJoin(", ", Order.Select(i => names[i])).AppendLine();
        if (BackEdges.Count == 0)
        {
            text.AppendLine("There are no back edges: every group reads this step's output of all its sources.");
            return text.ToString();
        }

        text.AppendLine($"Back edges: {BackEdges.Count}, of which {ZeroDelayBackEdgeCount} with zero delay add a lag:");
        foreach (var b in BackEdges)
            text.AppendLine($"  {names[b.Source]} -> {names[b.Target]} (delay {b.DelaySteps} steps, adds lag {b.LagSteps} step(s))");
        return text.ToString();
    }
}

/// <summary>Chooses the order in which groups are called each step so that as few connections as possible see stale (one-step-old) values.</summary>
/// <remarks>
/// Outline (docs/call-order.md has the full argument):
/// 1. Strongly connected components (SCCs) of the whole graph, ordered topologically, so acyclic parts never produce back edges.
/// 2. Inside each SCC only zero-delay edges matter for lag, so the SCCs of its zero-delay subgraph are computed; every cycle
///    that a delayed edge can break is broken there for free.
/// 3. Each zero-delay SCC gets an order with the fewest zero-delay back edges: exact subset DP up to <see cref="ExactLimit"/>
///    nodes, Eades–Lin–Smyth plus single-node moves (a heuristic) above it.
/// 4. The SCC is then linearised by Kahn's algorithm under those constraints, with delayed edges as the tie-break.
/// </remarks>
public static partial class CallOrder
{
    /// <summary>Largest zero-delay component solved exactly; 2^16·16 DP steps is still a few milliseconds.</summary>
    private const int ExactLimit = 16;

    /// <summary>Cap on local-improvement sweeps, so the heuristic stays polynomial even on adversarial inputs.</summary>
    private const int MaxImprovementPasses = 100;

    /// <summary>Computes the call order once per network build, so the stepper can run groups in a fixed, lag-minimising sequence.</summary>
    public static CallOrderResult Compute(int nodeCount, IReadOnlyList<GraphEdge> edges)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nodeCount);
        ArgumentNullException.ThrowIfNull(edges);

        int m = edges.Count;
        var src = new int[m];
        var dst = new int[m];
        var delay = new int[m];
        for (int i = 0; i < m; i++)
        {
            var e = edges[i];
            if (e.Source < 0 || e.Source >= nodeCount)
                throw new ArgumentOutOfRangeException(nameof(edges), e.Source, $"Edge {i} has source {e.Source}, outside [0, {nodeCount}).");
            if (e.Target < 0 || e.Target >= nodeCount)
                throw new ArgumentOutOfRangeException(nameof(edges), e.Target, $"Edge {i} has target {e.Target}, outside [0, {nodeCount}).");
            if (e.DelaySteps < 0)
                throw new ArgumentOutOfRangeException(nameof(edges), e.DelaySteps, $"Edge {i} has negative delay {e.DelaySteps}.");
            (src[i], dst[i], delay[i]) = (e.Source, e.Target, e.DelaySteps);
        }

        // Isolated groups are scheduled last so that they never split up a chain in the printed order.
        var connected = new bool[nodeCount];
        for (int i = 0; i < m; i++)
            connected[src[i]] = connected[dst[i]] = true;

        var arcs = new List<(int From, int To)>(m);
        for (int i = 0; i < m; i++)
            arcs.Add((src[i], dst[i]));
        int[] comp = StronglyConnectedComponents(nodeCount, Adjacency.Build(nodeCount, arcs), out int compCount);

        // Members are collected in ascending node index, which makes every later tie-break deterministic.
        var members = new List<int>[compCount];
        for (int c = 0; c < compCount; c++)
            members[c] = [];
        for (int v = 0; v < nodeCount; v++)
            members[comp[v]].Add(v);

        // Edges inside a component (self-loops excluded: they are back edges in any order) go to that component's solver;
        // edges between components become the condensation DAG.
        var internalEdges = new List<int>?[compCount];
        var condensationArcs = new List<(int From, int To)>();
        for (int i = 0; i < m; i++)
        {
            int cs = comp[src[i]], ct = comp[dst[i]];
            if (cs != ct)
                condensationArcs.Add((cs, ct));
            else if (src[i] != dst[i])
                (internalEdges[cs] ??= []).Add(i);
        }

        var condensation = Adjacency.Build(compCount, condensationArcs);
        var inDegree = new int[compCount];
        foreach (var (_, to) in condensationArcs)
            inDegree[to]++;

        // Kahn over the condensation keyed by the smallest member index: topological, and ties go to the smaller index.
        var ready = new PriorityQueue<int, int>();
        for (int c = 0; c < compCount; c++)
            if (inDegree[c] == 0 && connected[members[c][0]])
                ready.Enqueue(c, members[c][0]);

        var order = new List<int>(nodeCount);
        var edgeData = new EdgeData(src, dst, delay);
        while (ready.TryDequeue(out int c, out _))
        {
            OrderComponent(members[c], internalEdges[c] ?? [], edgeData, order);
            for (int a = condensation.Start[c]; a < condensation.Start[c + 1]; a++)
            {
                int next = condensation.Target[a];
                if (--inDegree[next] == 0)
                    ready.Enqueue(next, members[next][0]);
            }
        }

        for (int v = 0; v < nodeCount; v++)
            if (!connected[v])
                order.Add(v);

        if (order.Count != nodeCount)
            throw new InvalidOperationException("Internal error: the call order does not cover every group.");

        var position = new int[nodeCount];
        for (int p = 0; p < nodeCount; p++)
            position[order[p]] = p;

        // Back edges are derived from the final order rather than from the solver's choices, so the report can never disagree with it.
        var backEdges = new List<BackEdge>();
        for (int i = 0; i < m; i++)
            if (position[src[i]] >= position[dst[i]])
                backEdges.Add(new BackEdge(src[i], dst[i], delay[i], delay[i] == 0 ? 1 : 0));

        return new CallOrderResult([.. order], backEdges);
    }

    /// <summary>Edge columns shared by the per-component solvers, to avoid passing three arrays around.</summary>
    private readonly record struct EdgeData(int[] Source, int[] Target, int[] Delay);

    /// <summary>An edge inside one zero-delay component, in that component's local numbering.</summary>
    private readonly record struct Arc(int From, int To, bool ZeroDelay);

    /// <summary>Appends the members of one SCC of the full graph to <paramref name="order"/>.</summary>
    private static void OrderComponent(List<int> members, List<int> edgeIds, EdgeData e, List<int> order)
    {
        int k = members.Count;
        if (k == 1)
        {
            order.Add(members[0]);
            return;
        }

        var local = new Dictionary<int, int>(k);
        for (int i = 0; i < k; i++)
            local[members[i]] = i;

        // Delayed edges can be run backwards for free, so only cycles made of zero-delay edges force a lag.
        var zeroArcs = new List<(int From, int To)>();
        foreach (int id in edgeIds)
            if (e.Delay[id] == 0)
                zeroArcs.Add((local[e.Source[id]], local[e.Target[id]]));
        int[] zeroComp = StronglyConnectedComponents(k, Adjacency.Build(k, zeroArcs), out int zeroCount);

        var zeroMembers = new List<int>[zeroCount];
        for (int z = 0; z < zeroCount; z++)
            zeroMembers[z] = [];
        for (int v = 0; v < k; v++)
            zeroMembers[zeroComp[v]].Add(v);

        // Constraints for the final linearisation: zero-delay edges between zero-delay components (never back edges),
        // plus the chosen internal order of each zero-delay component as a chain.
        var constraints = new List<(int From, int To)>();
        var delayedArcs = new List<(int From, int To)>();
        var arcsByZeroComp = new List<Arc>?[zeroCount];
        foreach (int id in edgeIds)
        {
            int s = local[e.Source[id]], t = local[e.Target[id]];
            bool zero = e.Delay[id] == 0;
            if (!zero)
                delayedArcs.Add((s, t));
            if (zeroComp[s] == zeroComp[t])
                (arcsByZeroComp[zeroComp[s]] ??= []).Add(new Arc(s, t, zero));
            else if (zero)
                constraints.Add((s, t));
        }

        for (int z = 0; z < zeroCount; z++)
        {
            if (zeroMembers[z].Count < 2)
                continue;
            int[] chain = OrderZeroComponent(zeroMembers[z], arcsByZeroComp[z] ?? []);
            for (int i = 0; i + 1 < chain.Length; i++)
                constraints.Add((chain[i], chain[i + 1]));
        }

        LinearizeWithDelayedTieBreak(k, constraints, delayedArcs, members, order);
    }

    /// <summary>Kahn's algorithm on the constraints; among ready nodes it picks the one that turns the fewest delayed edges backwards, so delayed edges stay forward where that is free.</summary>
    private static void LinearizeWithDelayedTieBreak(
        int k, List<(int From, int To)> constraints, List<(int From, int To)> delayedArcs, List<int> members, List<int> order)
    {
        var constraintGraph = Adjacency.Build(k, constraints);
        var inDegree = new int[k];
        foreach (var (_, to) in constraints)
            inDegree[to]++;

        var delayedOut = Adjacency.Build(k, delayedArcs);
        var delayedIn = Adjacency.Build(k, delayedArcs.ConvertAll(a => (a.To, a.From)));
        // Delayed edges to/from nodes not yet placed: the incoming ones become back edges if the node is placed now.
        var unplacedIn = new int[k];
        var unplacedOut = new int[k];
        foreach (var (from, to) in delayedArcs)
        {
            unplacedOut[from]++;
            unplacedIn[to]++;
        }

        // Ready nodes sorted by (fewest delayed in-edges from unplaced nodes, most delayed out-edges to them, smallest index).
        // A waiting node's key can change, so it is removed and re-added around each update: O((k + E) log k) overall.
        var ready = new SortedSet<(int UnplacedIn, int NegatedUnplacedOut, int Node)>();
        var isReady = new bool[k];
        for (int v = 0; v < k; v++)
            if (inDegree[v] == 0)
                MakeReady(v);

        int placed = 0;
        while (ready.Count > 0)
        {
            int v = ready.Min.Node;
            ready.Remove(ready.Min);
            isReady[v] = false;
            order.Add(members[v]);
            placed++;

            for (int a = delayedOut.Start[v]; a < delayedOut.Start[v + 1]; a++)
                Adjust(delayedOut.Target[a], inChange: -1, outChange: 0);
            for (int a = delayedIn.Start[v]; a < delayedIn.Start[v + 1]; a++)
                Adjust(delayedIn.Target[a], inChange: 0, outChange: -1);
            for (int a = constraintGraph.Start[v]; a < constraintGraph.Start[v + 1]; a++)
                if (--inDegree[constraintGraph.Target[a]] == 0)
                    MakeReady(constraintGraph.Target[a]);
        }

        // The constraints are acyclic by construction (chains inside zero-delay SCCs, condensation DAG between them).
        if (placed != k)
            throw new InvalidOperationException("Internal error: call-order constraints inside a component are cyclic.");

        void MakeReady(int u)
        {
            ready.Add((unplacedIn[u], -unplacedOut[u], u));
            isReady[u] = true;
        }

        void Adjust(int u, int inChange, int outChange)
        {
            if (isReady[u])
                ready.Remove((unplacedIn[u], -unplacedOut[u], u));
            unplacedIn[u] += inChange;
            unplacedOut[u] += outChange;
            if (isReady[u])
                ready.Add((unplacedIn[u], -unplacedOut[u], u));
        }
    }

    /// <summary>Orders one zero-delay SCC (nodes in the SCC-local numbering); returns the nodes in call order.</summary>
    private static int[] OrderZeroComponent(List<int> nodes, List<Arc> arcs)
    {
        int z = nodes.Count;
        var index = new Dictionary<int, int>(z);
        for (int i = 0; i < z; i++)
            index[nodes[i]] = i;
        var compact = arcs.ConvertAll(a => new Arc(index[a.From], index[a.To], a.ZeroDelay));

        // The secondary criterion (delayed back edges) is folded into one integer cost: zero-delay back edges weigh
        // more than all delayed edges together, so it only ever breaks ties between equally good orders.
        long scale = compact.Count(a => !a.ZeroDelay) + 1;
        int[] localOrder = z <= ExactLimit ? ExactOrder(z, compact, scale) : HeuristicOrder(z, compact, scale);
        return Array.ConvertAll(localOrder, i => nodes[i]);
    }
}
