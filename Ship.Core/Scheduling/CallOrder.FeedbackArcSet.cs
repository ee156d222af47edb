namespace Ship.Core.Scheduling;

// The order of one zero-delay component with the fewest back edges (a minimum feedback arc set): exact by subset DP up
// to ExactLimit nodes, Eades–Lin–Smyth plus single-node moves above it (docs/call-order.md).
public static partial class CallOrder
{
    /// <summary>Minimum feedback arc set by DP over subsets, O(2^z·z): the best order of a set only depends on which nodes it contains.</summary>
    private static int[] ExactOrder(int z, List<Arc> arcs, long scale)
    {
        // best[S] = cheapest way to call exactly the nodes of S first. Appending v after S turns every edge v -> u with
        // u in S backwards, so the cost of that step is the (weighted) number of v's out-edges into S.
        int[][] zeroOut = OutMaskLayers(z, arcs, zeroDelay: true);
        int[][] delayedOut = OutMaskLayers(z, arcs, zeroDelay: false);

        int full = (1 << z) - 1;
        var best = new long[full + 1];
        var last = new byte[full + 1];
        Array.Fill(best, long.MaxValue);
        best[0] = 0;
        for (int set = 0; set < full; set++)
        {
            long baseCost = best[set];
            for (int v = 0; v < z; v++)
            {
                if ((set >> v & 1) != 0)
                    continue;
                long cost = baseCost + scale * CountInto(zeroOut[v], set) + CountInto(delayedOut[v], set);
                int next = set | 1 << v;
                if (cost < best[next])
                {
                    best[next] = cost;
                    last[next] = (byte)v;
                }
            }
        }

        var order = new int[z];
        for (int set = full, p = z - 1; p >= 0; p--)
        {
            order[p] = last[set];
            set &= ~(1 << last[set]);
        }
        return order;
    }

    /// <summary>Out-neighbour bitmasks split into layers so parallel edges count with their multiplicity while the DP stays popcount-cheap.</summary>
    private static int[][] OutMaskLayers(int z, List<Arc> arcs, bool zeroDelay)
    {
        var multiplicity = new int[z, z];
        foreach (var a in arcs)
            if (a.ZeroDelay == zeroDelay)
                multiplicity[a.From, a.To]++;

        var layers = new int[z][];
        for (int v = 0; v < z; v++)
        {
            int depth = 0;
            for (int u = 0; u < z; u++)
                depth = Math.Max(depth, multiplicity[v, u]);
            layers[v] = new int[depth];
            for (int u = 0; u < z; u++)
                for (int j = 0; j < multiplicity[v, u]; j++)
                    layers[v][j] |= 1 << u;
        }
        return layers;
    }

    /// <summary>Weighted number of out-edges that land in <paramref name="set"/>.</summary>
    private static int CountInto(int[] layers, int set)
    {
        int count = 0;
        foreach (int mask in layers)
            count += int.PopCount(mask & set);
        return count;
    }

    /// <summary>Eades–Lin–Smyth greedy then single-node moves: polynomial, not guaranteed optimal, used where the exact DP is too large.</summary>
    private static int[] HeuristicOrder(int z, List<Arc> arcs, long scale)
    {
        var outArcs = new List<Arc>[z];
        var inArcs = new List<Arc>[z];
        for (int v = 0; v < z; v++)
        {
            outArcs[v] = [];
            inArcs[v] = [];
        }
        foreach (var a in arcs)
        {
            outArcs[a.From].Add(a);
            inArcs[a.To].Add(a);
        }

        var order = EadesLinSmyth(z, outArcs, inArcs);
        ImproveBySingleMoves(order, outArcs, inArcs, scale);
        return [.. order];
    }

    /// <summary>Peels sinks to the back and sources to the front (they never need a back edge) and otherwise removes the node with the largest out-minus-in surplus; O(z² + E).</summary>
    private static List<int> EadesLinSmyth(int z, List<Arc>[] outArcs, List<Arc>[] inArcs)
    {
        var removed = new bool[z];
        var outDegree = new int[z];
        var inDegree = new int[z];
        for (int v = 0; v < z; v++)
            foreach (var a in outArcs[v])
                if (a.ZeroDelay)
                {
                    outDegree[a.From]++;
                    inDegree[a.To]++;
                }

        var front = new List<int>(z);
        var back = new List<int>(z);
        for (int remaining = z; remaining > 0; remaining--)
        {
            int sink = -1, source = -1, surplus = -1;
            for (int v = 0; v < z; v++)
            {
                if (removed[v])
                    continue;
                if (outDegree[v] == 0) { sink = v; break; }
                if (source < 0 && inDegree[v] == 0)
                    source = v;
                if (surplus < 0 || outDegree[v] - inDegree[v] > outDegree[surplus] - inDegree[surplus])
                    surplus = v;
            }

            int pick;
            if (sink >= 0)
                back.Add(pick = sink);
            else
                front.Add(pick = source >= 0 ? source : surplus);

            removed[pick] = true;
            foreach (var a in outArcs[pick])
                if (a.ZeroDelay && !removed[a.To])
                    inDegree[a.To]--;
            foreach (var a in inArcs[pick])
                if (a.ZeroDelay && !removed[a.From])
                    outDegree[a.From]--;
        }

        back.Reverse();
        front.AddRange(back);
        return front;
    }

    /// <summary>Moves single nodes to their cheapest position while that strictly lowers the cost; each sweep is O(z² + E) and sweeps are capped.</summary>
    private static void ImproveBySingleMoves(List<int> order, List<Arc>[] outArcs, List<Arc>[] inArcs, long scale)
    {
        int z = order.Count;
        var position = new int[z];
        var delta = new long[z + 1];
        for (int pass = 0; pass < MaxImprovementPasses; pass++)
        {
            bool improved = false;
            for (int v = 0; v < z; v++)
            {
                for (int p = 0; p < z; p++)
                    position[order[p]] = p;

                // cost[p] = weighted back edges at v if v is reinserted at index p of the order without v.
                // Range updates on a difference array keep this O(z + deg(v)).
                Array.Clear(delta);
                int home = position[v];
                foreach (var a in outArcs[v])
                {
                    if (a.To == v) continue;
                    int q = position[a.To] - (position[a.To] > home ? 1 : 0);
                    long w = a.ZeroDelay ? scale : 1;
                    delta[q + 1] += w; // v after a.To: back edge for p > q
                }
                foreach (var a in inArcs[v])
                {
                    if (a.From == v) continue;
                    int q = position[a.From] - (position[a.From] > home ? 1 : 0);
                    long w = a.ZeroDelay ? scale : 1;
                    delta[0] += w; // a.From after v: back edge for p <= q
                    delta[q + 1] -= w;
                }

                long running = 0, homeCost = 0, bestCost = long.MaxValue;
                int bestAt = home;
                for (int p = 0; p < z; p++)
                {
                    running += delta[p];
                    if (p == home) homeCost = running;
                    if (running < bestCost) { bestCost = running; bestAt = p; }
                }

                if (bestCost < homeCost)
                {
                    order.RemoveAt(home);
                    order.Insert(bestAt, v);
                    improved = true;
                }
            }
            if (!improved)
                break;
        }
    }
}
