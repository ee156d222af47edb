using System.Diagnostics;
using NUnit.Framework;
using Ship.Core.Scheduling;

namespace Ship.Tests.Scheduling;

/// Checks the call order against its definition (topological outside cycles, fewest zero-delay back edges inside them).
/// Expected values come from the definitions, recomputed here independently (reachability, brute force), never from the code.
public class CallOrderTests
{
    private static readonly string[] Chain = ["I", "IH", "H", "HO", "O"];

    /// Builds edges by name for a given assignment of names to indices, so a test can renumber the same network.
    private static List<GraphEdge> EdgesByName(IReadOnlyList<string> namesByIndex, params (string From, string To, int Delay)[] edges)
    {
        var index = namesByIndex.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i);
        return edges.Select(e => new GraphEdge(index[e.From], index[e.To], e.Delay)).ToList();
    }

    private static string[] OrderedNames(CallOrderResult result, IReadOnlyList<string> namesByIndex) =>
        result.Order.Select(i => namesByIndex[i]).ToArray();

    private static List<GraphEdge> ChainEdges(IReadOnlyList<string> namesByIndex) =>
        EdgesByName(namesByIndex, ("I", "IH", 0), ("IH", "H", 0), ("H", "HO", 0), ("HO", "O", 0));

    [TestCase("I,IH,H,HO,O")]
    [TestCase("O,HO,H,IH,I")] // reversed numbering
    [TestCase("H,O,I,HO,IH")]
    [TestCase("IH,I,HO,O,H")]
    [TestCase("HO,H,O,I,IH")]
    [TestCase("O,I,H,IH,HO")]
    public void FeedforwardChainIsCalledInDataFlowOrder(string namesByIndexCsv)
    {
        string[] names = namesByIndexCsv.Split(',');
        var result = CallOrder.Compute(names.Length, ChainEdges(names));
        Assert.That(OrderedNames(result, names), Is.EqualTo(Chain));
        Assert.That(result.BackEdges, Is.Empty);
    }

    [Test]
    public void FeedforwardChainIsCalledInDataFlowOrderForEveryNumbering()
    {
        int count = 0;
        foreach (var names in Permutations(Chain))
        {
            var result = CallOrder.Compute(names.Length, ChainEdges(names));
            Assert.That(OrderedNames(result, names), Is.EqualTo(Chain), string.Join(",", names));
            count++;
        }
        Assert.That(count, Is.EqualTo(120)); // 5!
    }

    [Test]
    public void GroupsWithoutConnectionsGoLast()
    {
        // Lonely (0) and Alone (4) have no edge; Looper (3) has only a self-loop, which counts as a connection.
        string[] names = ["Lonely", "A", "B", "Looper", "Alone"];
        var edges = EdgesByName(names, ("A", "B", 0), ("Looper", "Looper", 1));
        var result = CallOrder.Compute(names.Length, edges);
        Assert.That(OrderedNames(result, names), Is.EqualTo(new[] { "A", "B", "Looper", "Lonely", "Alone" }));
    }

    [Test]
    public void TiesGoToTheSmallerIndex()
    {
        // Ready at start: 1 and 2 -> 1; then 2 and 3 -> 2; then 0 and 3 -> 0; then 3.
        var result = CallOrder.Compute(4, [new(2, 0, 0), new(1, 3, 0)]);
        Assert.That(result.Order, Is.EqualTo(new[] { 1, 2, 0, 3 }));
    }

    [TestCase("A,S,B,S2")]
    [TestCase("S2,B,S,A")]
    [TestCase("B,S2,A,S")]
    public void ZeroDelayLoopNeedsExactlyOneLaggingBackEdge(string namesByIndexCsv)
    {
        string[] names = namesByIndexCsv.Split(',');
        var edges = EdgesByName(names, ("A", "S", 0), ("S", "B", 0), ("B", "S2", 0), ("S2", "A", 0));
        var result = CallOrder.Compute(names.Length, edges);

        // Any order of a cycle runs at least one edge backwards, and a rotation runs exactly one.
        Assert.That(result.ZeroDelayBackEdgeCount, Is.EqualTo(1));
        Assert.That(result.BackEdges, Has.Count.EqualTo(1));
        Assert.That(result.BackEdges[0].LagSteps, Is.EqualTo(1));
        Assert.That(result.BackEdges[0].DelaySteps, Is.EqualTo(0));
    }

    [TestCase("A,S,B,S2")]
    [TestCase("S2,B,S,A")]
    [TestCase("B,S2,A,S")]
    public void LoopWithADelayedEdgeIsBrokenThereForFree(string namesByIndexCsv)
    {
        string[] names = namesByIndexCsv.Split(',');
        var edges = EdgesByName(names, ("A", "S", 0), ("S", "B", 0), ("B", "S2", 0), ("S2", "A", 2));
        var result = CallOrder.Compute(names.Length, edges);
        var position = Positions(result.Order);

        Assert.That(result.ZeroDelayBackEdgeCount, Is.EqualTo(0));
        foreach (var e in edges.Where(e => e.DelaySteps == 0))
            Assert.That(position[e.Source], Is.LessThan(position[e.Target]), $"zero-delay edge {e} runs backwards");
        // The cycle forces one back edge; since no zero-delay edge is backward it must be S2 -> A, without lag.
        Assert.That(result.BackEdges, Is.EqualTo(new[] { new BackEdge(edges[3].Source, edges[3].Target, 2, 0) }));
        Assert.That(OrderedNames(result, names), Is.EqualTo(new[] { "A", "S", "B", "S2" }));
    }

    [Test]
    public void AmongOptimalOrdersDelayedEdgesStayForward()
    {
        // Zero-delay ring 0->1->2->0 plus delayed 1->0. Rotations [0,1,2] and [2,0,1] also run 1->0 backwards;
        // [1,2,0] runs only 0->1 backwards, so the optimum has one back edge in total.
        var result = CallOrder.Compute(3, [new(0, 1, 0), new(1, 2, 0), new(2, 0, 0), new(1, 0, 1)]);
        Assert.That(result.ZeroDelayBackEdgeCount, Is.EqualTo(1));
        Assert.That(result.BackEdges, Has.Count.EqualTo(1));
    }

    [Test]
    public void SelfLoopsAreAlwaysBackEdges()
    {
        var result = CallOrder.Compute(2, [new(0, 0, 0), new(0, 1, 0), new(1, 1, 3)]);
        Assert.That(result.Order, Is.EqualTo(new[] { 0, 1 }));
        Assert.That(result.BackEdges, Is.EqualTo(new[] { new BackEdge(0, 0, 0, 1), new BackEdge(1, 1, 3, 0) }));
        Assert.That(result.ZeroDelayBackEdgeCount, Is.EqualTo(1));
    }

    [Test]
    public void DescribeNamesGroupsAndBackEdges()
    {
        var result = CallOrder.Compute(3, [new(0, 0, 0), new(0, 1, 0), new(1, 1, 3)]);
        string text = result.Describe(["Input", "Syn", "Spare"]);
        TestContext.Out.WriteLine(text);
        Assert.That(text, Does.Contain("Input, Syn, Spare"));
        Assert.That(text, Does.Contain("Input -> Input (delay 0 steps, adds lag 1 step(s))"));
        Assert.That(text, Does.Contain("Syn -> Syn (delay 3 steps, adds lag 0 step(s))"));
        Assert.That(text, Does.Not.Contain("no back edges"));
    }

    [Test]
    public void DescribeSaysWhenThereAreNoBackEdges()
    {
        var result = CallOrder.Compute(Chain.Length, ChainEdges(Chain));
        string text = result.Describe(Chain);
        Assert.That(text, Does.Contain("I, IH, H, HO, O"));
        Assert.That(text, Does.Contain("no back edges"));
        Assert.Throws<ArgumentException>(() => result.Describe(["I"]));
    }

    [Test]
    public void EmptyNetworkHasAnEmptyOrder()
    {
        var result = CallOrder.Compute(0, []);
        Assert.That(result.Order, Is.Empty);
        Assert.That(result.BackEdges, Is.Empty);
    }

    [Test]
    public void LargeZeroDelayRingNeedsOneBackEdge()
    {
        // 40 nodes exceed the exact solver, so this exercises the heuristic; a single cycle needs exactly one back edge.
        const int n = 40;
        int[] label = Shuffled(new Random(7), n);
        var edges = Enumerable.Range(0, n).Select(i => new GraphEdge(label[i], label[(i + 1) % n], 0)).ToList();
        var result = CallOrder.Compute(n, edges);
        Assert.That(result.ZeroDelayBackEdgeCount, Is.EqualTo(1));
        AssertInvariants(n, edges, result, bruteForce: false, "ring");
    }

    [Test]
    public void LargeFigureEightNeedsTwoBackEdges()
    {
        // Two zero-delay rings of 20 sharing node label[0]: edge-disjoint cycles, so at least two back edges, and two suffice.
        const int n = 39;
        int[] label = Shuffled(new Random(11), n);
        var edges = new List<GraphEdge>();
        for (int i = 0; i < 20; i++)
            edges.Add(new(label[i], label[(i + 1) % 20], 0));
        int[] second = [0, .. Enumerable.Range(20, 19)];
        for (int i = 0; i < 20; i++)
            edges.Add(new(label[second[i]], label[second[(i + 1) % 20]], 0));
        var result = CallOrder.Compute(n, edges);
        Assert.That(result.ZeroDelayBackEdgeCount, Is.EqualTo(2));
        AssertInvariants(n, edges, result, bruteForce: false, "figure eight");
    }

    [Test]
    public void RandomSmallGraphsMeetEveryGuarantee()
    {
        var rng = new Random(20240611);
        int bruteForced = 0, withZeroBackEdges = 0;
        for (int g = 0; g < 1500; g++)
        {
            int n = rng.Next(1, 13);
            var edges = RandomEdges(rng, n, rng.Next(0, 3 * n + 1));
            var result = CallOrder.Compute(n, edges);
            bool brute = n <= 7;
            AssertInvariants(n, edges, result, brute, $"graph {g}: n={n}, edges={string.Join(" ", edges)}");
            bruteForced += brute ? 1 : 0;
            withZeroBackEdges += result.ZeroDelayBackEdgeCount > 0 ? 1 : 0;
        }
        // Guard against a generator that never produces the interesting cases.
        Assert.That(bruteForced, Is.GreaterThan(500));
        Assert.That(withZeroBackEdges, Is.GreaterThan(200));
    }

    [Test]
    public void RandomLargerGraphsMeetEveryGuaranteeButOptimality()
    {
        // Sizes above 12 reach the exact solver with bigger components and the heuristic above 16 nodes.
        var rng = new Random(99);
        for (int g = 0; g < 200; g++)
        {
            int n = rng.Next(13, 61);
            var edges = RandomEdges(rng, n, rng.Next(n, 3 * n + 1));
            var result = CallOrder.Compute(n, edges);
            AssertInvariants(n, edges, result, bruteForce: false, $"graph {g}: n={n}");
        }
    }

    [Test]
    public void TwoHundredNodesAndAThousandEdgesComplete()
    {
        var rng = new Random(5);
        const int n = 200;
        var edges = Enumerable.Range(0, 1000).Select(_ => new GraphEdge(rng.Next(n), rng.Next(n), rng.Next(3))).ToList();
        CallOrder.Compute(n, edges); // warm-up, so the timing below excludes JIT compilation
        var watch = Stopwatch.StartNew();
        var result = CallOrder.Compute(n, edges);
        watch.Stop();
        TestContext.Out.WriteLine($"200 nodes, 1000 edges: {watch.Elapsed.TotalMilliseconds:F1} ms, " +
                                  $"{result.ZeroDelayBackEdgeCount} zero-delay back edges of {result.BackEdges.Count}");
        AssertInvariants(n, edges, result, bruteForce: false, "performance graph");
    }

    [Test]
    public void RejectsBadInput()
    {
        var outOfRange = Assert.Throws<ArgumentOutOfRangeException>(() => CallOrder.Compute(3, [new(0, 1, 0), new(1, 3, 0)]));
        Assert.That(outOfRange!.Message, Does.Contain("Edge 1").And.Contain("3"));
        var negativeNode = Assert.Throws<ArgumentOutOfRangeException>(() => CallOrder.Compute(3, [new(-1, 1, 0)]));
        Assert.That(negativeNode!.Message, Does.Contain("Edge 0").And.Contain("-1"));
        var negativeDelay = Assert.Throws<ArgumentOutOfRangeException>(() => CallOrder.Compute(3, [new(0, 1, 0), new(1, 2, 0), new(2, 0, -2)]));
        Assert.That(negativeDelay!.Message, Does.Contain("Edge 2").And.Contain("-2"));
        Assert.Throws<ArgumentOutOfRangeException>(() => CallOrder.Compute(-1, []));
    }

    // ---- independent reference computations ----

    /// Checks guarantees (1)-(4) and, when asked, (5) optimality by exhaustive search.
    private static void AssertInvariants(int n, List<GraphEdge> edges, CallOrderResult result, bool bruteForce, string context)
    {
        // (1) a permutation of all nodes
        Assert.That(result.Order.OrderBy(v => v), Is.EqualTo(Enumerable.Range(0, n)), context);
        int[] position = Positions(result.Order);

        bool[,] reach = Reachability(n, edges, _ => true);
        bool[,] zeroReach = Reachability(n, edges, e => e.DelaySteps == 0);

        // (2) edges between different SCCs (not mutually reachable) run forward
        foreach (var e in edges)
            if (!(reach[e.Source, e.Target] && reach[e.Target, e.Source]) && position[e.Source] >= position[e.Target])
                Assert.Fail($"{context}: edge {e} between SCCs runs backwards");

        // (3) a zero-delay back edge u -> v must close a cycle of zero-delay edges (v reaches u without delays)
        foreach (var b in result.BackEdges)
            if (b.DelaySteps == 0 && !zeroReach[b.Target, b.Source])
                Assert.Fail($"{context}: zero-delay back edge {b} could have been avoided by a delayed edge");

        // (4) back edges are exactly the edges with pos[source] >= pos[target], lag 1 iff zero delay
        var expected = edges.Where(e => position[e.Source] >= position[e.Target])
                            .Select(e => new BackEdge(e.Source, e.Target, e.DelaySteps, e.DelaySteps == 0 ? 1 : 0))
                            .ToList();
        Assert.That(result.BackEdges, Is.EquivalentTo(expected), context);
        Assert.That(result.ZeroDelayBackEdgeCount, Is.EqualTo(expected.Count(b => b.DelaySteps == 0)), context);

        // (5) optimality among all orders satisfying (2)
        if (bruteForce)
            Assert.That(result.ZeroDelayBackEdgeCount, Is.EqualTo(MinimumZeroDelayBackEdges(n, edges, reach)), context);
    }

    /// Reflexive transitive closure (Floyd–Warshall) over the edges that pass the filter.
    private static bool[,] Reachability(int n, List<GraphEdge> edges, Func<GraphEdge, bool> use)
    {
        var reach = new bool[n, n];
        for (int v = 0; v < n; v++)
            reach[v, v] = true;
        foreach (var e in edges.Where(use))
            reach[e.Source, e.Target] = true;
        for (int k = 0; k < n; k++)
            for (int i = 0; i < n; i++)
                if (reach[i, k])
                    for (int j = 0; j < n; j++)
                        if (reach[k, j])
                            reach[i, j] = true;
        return reach;
    }

    /// Exhaustive search over every order that keeps inter-SCC edges forward, counting zero-delay edges with pos[s] >= pos[t].
    private static int MinimumZeroDelayBackEdges(int n, List<GraphEdge> edges, bool[,] reach)
    {
        var placed = new bool[n];
        int best = int.MaxValue;
        Extend(0, 0);
        return best;

        void Extend(int count, int cost)
        {
            if (cost >= best)
                return;
            if (count == n)
            {
                best = cost;
                return;
            }
            for (int v = 0; v < n; v++)
            {
                if (placed[v])
                    continue;
                bool allowed = true;
                int added = 0;
                foreach (var e in edges)
                {
                    // An inter-SCC edge from a node not yet placed into v would end up backwards.
                    if (e.Target == v && e.Source != v && !placed[e.Source] && !(reach[e.Source, v] && reach[v, e.Source]))
                        allowed = false;
                    // Placing v after the placed nodes runs its edges into them (and its self-loop) backwards.
                    if (e.Source == v && e.DelaySteps == 0 && (placed[e.Target] || e.Target == v))
                        added++;
                }
                if (!allowed)
                    continue;
                placed[v] = true;
                Extend(count + 1, cost + added);
                placed[v] = false;
            }
        }
    }

    /// Random multigraph with self-loops, parallel edges and a per-graph share of zero-delay edges, delays in 0..2.
    private static List<GraphEdge> RandomEdges(Random rng, int n, int m)
    {
        double zeroShare = rng.NextDouble();
        var edges = new List<GraphEdge>(m);
        for (int i = 0; i < m; i++)
        {
            int delay = rng.NextDouble() < zeroShare ? 0 : rng.Next(1, 3);
            if (edges.Count > 0 && rng.NextDouble() < 0.1)
            {
                edges.Add(edges[rng.Next(edges.Count)] with { DelaySteps = delay }); // parallel edge
                continue;
            }
            int source = rng.Next(n);
            int target = rng.NextDouble() < 0.08 ? source : rng.Next(n);
            edges.Add(new GraphEdge(source, target, delay));
        }
        return edges;
    }

    private static int[] Positions(IReadOnlyList<int> order)
    {
        var position = new int[order.Count];
        for (int p = 0; p < order.Count; p++)
            position[order[p]] = p;
        return position;
    }

    private static int[] Shuffled(Random rng, int n)
    {
        int[] a = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(a);
        return a;
    }

    private static IEnumerable<string[]> Permutations(string[] items)
    {
        if (items.Length <= 1)
        {
            yield return items;
            yield break;
        }
        for (int i = 0; i < items.Length; i++)
            foreach (var rest in Permutations([.. items[..i], .. items[(i + 1)..]]))
                yield return [items[i], .. rest];
    }
}
