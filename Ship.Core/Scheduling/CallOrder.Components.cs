namespace Ship.Core.Scheduling;

// Strongly connected components and the compact adjacency they run on.
public static partial class CallOrder
{
    /// <summary>Iterative Tarjan, so deep graphs cannot overflow the call stack; returns the component id of every node.</summary>
    private static int[] StronglyConnectedComponents(int n, Adjacency graph, out int componentCount)
    {
        var index = new int[n];
        var low = new int[n];
        var next = new int[n]; // next out-arc to explore, per node on the DFS path
        var onStack = new bool[n];
        var component = new int[n];
        var stack = new int[n];
        var path = new int[n];
        Array.Fill(index, -1);
        int counter = 0, stackTop = 0, count = 0;

        for (int root = 0; root < n; root++)
        {
            if (index[root] >= 0)
                continue;
            int depth = 0;
            Visit(root);
            while (depth > 0)
            {
                int v = path[depth - 1];
                if (next[v] < graph.Start[v + 1])
                {
                    int w = graph.Target[next[v]++];
                    if (index[w] < 0)
                        Visit(w);
                    else if (onStack[w])
                        low[v] = Math.Min(low[v], index[w]);
                    continue;
                }

                depth--;
                if (low[v] == index[v])
                {
                    int w;
                    do
                    {
                        w = stack[--stackTop];
                        onStack[w] = false;
                        component[w] = count;
                    } while (w != v);
                    count++;
                }
                if (depth > 0)
                    low[path[depth - 1]] = Math.Min(low[path[depth - 1]], low[v]);
            }

            void Visit(int v)
            {
                index[v] = low[v] = counter++;
                next[v] = graph.Start[v];
                stack[stackTop++] = v;
                onStack[v] = true;
                path[depth++] = v;
            }
        }

        componentCount = count;
        return component;
    }

    /// <summary>Compressed adjacency lists: out-arcs of node v are Target[Start[v]..Start[v+1]), in input order.</summary>
    private sealed class Adjacency
    {
        public required int[] Start { get; init; }
        public required int[] Target { get; init; }

        /// <summary>Counting sort by source keeps the build O(n + arcs) and the arc order stable.</summary>
        public static Adjacency Build(int n, List<(int From, int To)> arcs)
        {
            var start = new int[n + 1];
            foreach (var (from, _) in arcs)
                start[from + 1]++;
            for (int v = 0; v < n; v++)
                start[v + 1] += start[v];
            var fill = (int[])start.Clone();
            var target = new int[arcs.Count];
            foreach (var (from, to) in arcs)
                target[fill[from]++] = to;
            return new Adjacency { Start = start, Target = target };
        }
    }
}
