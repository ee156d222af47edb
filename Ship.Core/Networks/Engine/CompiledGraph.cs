using Ship.Core.Errors;
using Ship.Core.Groups;

namespace Ship.Core.Networks;

/// <summary>
/// The immutable wiring of an initialized network: groups numbered in ordinal order of their tags (so nothing depends
/// on the order they were added), each group's sources, the edges the scheduler sees and the output groups. Made once
/// per initialization by <see cref="Compile"/>, which validates the wiring and sets synapse sizes.
/// </summary>
public sealed class CompiledGraph
{
    private readonly Dictionary<Group, int> _index;

    private CompiledGraph(Group[] groups, int[][] sources, (int S, int T)[] edges, (int S, int T)[] orderOnly, int[] outputs)
    {
        Groups = groups;
        Sources = sources;
        Edges = edges;
        OrderingEdges = orderOnly;
        Outputs = outputs;
        _index = new Dictionary<Group, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < groups.Length; i++) _index[groups[i]] = i;
        OutputSlot = Enumerable.Repeat(-1, groups.Length).ToArray();
        for (int k = 0; k < outputs.Length; k++) OutputSlot[outputs[k]] = k;
    }

    /// <summary>The groups, ordered by tag (ordinal): the graph's numbering.</summary>
    public IReadOnlyList<Group> Groups { get; }
    /// <summary>Sources of each group (graph numbers), ordered by tag; a group's input is their sum in this order.</summary>
    public int[][] Sources { get; }
    /// <summary>Data edges (source, target), one per connection.</summary>
    public (int S, int T)[] Edges { get; }
    /// <summary>Order-only edges: a group that reads another's state directly (e.g. a plasticity block and its synapse's tap).</summary>
    public (int S, int T)[] OrderingEdges { get; }
    /// <summary>Graph numbers of the output groups, in the order they were marked.</summary>
    public int[] Outputs { get; }
    /// <summary>Per group, its position in <see cref="Outputs"/>, or −1.</summary>
    public int[] OutputSlot { get; }
    /// <summary>Number of groups.</summary>
    public int Count => Groups.Count;

    /// <summary>The graph number of a group of this network.</summary>
    public int IndexOf(Group g) => _index[g];

    /// <summary>Whether the group belongs to this graph.</summary>
    public bool Contains(Group g) => _index.ContainsKey(g);

    /// <summary>Validates the wiring (tags, one source and one target per synapse, sizes) and builds the graph; sets synapse sizes.</summary>
    public static CompiledGraph Compile(string name, IReadOnlyList<Group> added, IReadOnlyDictionary<string, Group> byTag,
        IReadOnlyList<(string Source, string Target)> connections, IReadOnlyList<string> outputs)
    {
        if (added.Count == 0) throw new NetworkConfigurationException($"Network '{name}' has no group.");
        var groups = added.OrderBy(g => g.Tag, StringComparer.Ordinal).ToArray();
        var index = new Dictionary<Group, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < groups.Length; i++) index[groups[i]] = i;
        string Known() => string.Join(", ", byTag.Keys);
        var edges = new List<(int S, int T)>();
        foreach (var (s, t) in connections)
        {
            if (!byTag.TryGetValue(s, out var gs))
                throw new NetworkConfigurationException($"Network '{name}': connection {s} -> {t} names an unknown source '{s}' (known: {Known()}).");
            if (!byTag.TryGetValue(t, out var gt))
                throw new NetworkConfigurationException($"Network '{name}': connection {s} -> {t} names an unknown target '{t}' (known: {Known()}).");
            if (TakesNoInput(gt) is { } kind)
                throw new NetworkConfigurationException(
                    $"Network '{name}': connection {s} -> {t}: '{t}' is {kind} ({gt.GetType().Name}), which takes no input; its current would be dropped. Remove the connection or target another group.");
            edges.Add((index[gs], index[gt]));
        }
        edges.Sort();
        foreach (var o in outputs)
            if (!byTag.ContainsKey(o)) throw new NetworkConfigurationException($"Network '{name}': output '{o}' is not a group tag (known: {Known()}).");

        var sources = new List<int>[groups.Length];
        var targets = new List<int>[groups.Length];
        for (int i = 0; i < groups.Length; i++) { sources[i] = new(); targets[i] = new(); }
        foreach (var (s, t) in edges) { sources[t].Add(s); targets[s].Add(t); }
        for (int i = 0; i < groups.Length; i++)
        {
            var g = groups[i];
            if (g.Kind == GroupKind.Synapse && (sources[i].Count != 1 || targets[i].Count != 1))
                throw new NetworkConfigurationException(
                    $"Network '{name}': synapse '{g.Tag}' must have exactly one source and one target, has {sources[i].Count} source(s) " +
                    $"[{string.Join(", ", sources[i].Select(k => groups[k].Tag))}] and {targets[i].Count} target(s) [{string.Join(", ", targets[i].Select(k => groups[k].Tag))}].");
        }
        ResolveSizes(name, groups, sources, targets);
        foreach (var g in groups) g.ValidateSizes();
        foreach (var (s, t) in edges)
            if (groups[s].OutputSize != groups[t].InputSize)
                throw new NetworkConfigurationException(
                    $"Network '{name}': connection {groups[s].Tag} -> {groups[t].Tag}: source output has {groups[s].OutputSize} components, target expects an input of {groups[t].InputSize}.");
        var orderOnly = new List<(int, int)>();
        for (int i = 0; i < groups.Length; i++)
            foreach (var r in groups[i].ReadsDirectly)
                if (index.TryGetValue(r, out int j) && j != i) orderOnly.Add((j, i));
        return new CompiledGraph(groups, sources.Select(l => l.ToArray()).ToArray(), edges.ToArray(), orderOnly.ToArray(),
            outputs.Select(o => index[byTag[o]]).ToArray());
    }

    // What kind of group without inputs g (or a group it wraps) is, or null if it takes input.
    private static string? TakesNoInput(Group g)
    {
        for (Group? x = g; x is not null; x = (x as GroupWrapper)?.Inner)
            if (x is IInputGroup) return "an input group";
            else if (x is ISourceGroup) return "a source";
        return null;
    }

    // A synapse's sizes come from its source and target; one fed by a synapse resolves after it.
    private static void ResolveSizes(string name, Group[] groups, List<int>[] sources, List<int>[] targets)
    {
        var resolved = groups.Select(g => g.Kind == GroupKind.Neuron).ToArray();
        for (bool progress = true; progress;)
        {
            progress = false;
            for (int i = 0; i < groups.Length; i++)
            {
                if (resolved[i]) continue;
                int s = sources[i][0], t = targets[i][0];
                if (!resolved[s] || (groups[t].Kind == GroupKind.Synapse && !resolved[t] && t != i)) continue;
                groups[i].SetSynapseSizes(groups[s].OutputSize, groups[t].InputSize);
                resolved[i] = true;
                progress = true;
            }
        }
        for (int i = 0; i < groups.Length; i++)
            if (!resolved[i]) throw new NetworkConfigurationException($"Network '{name}': the sizes of synapse '{groups[i].Tag}' cannot be resolved (a chain of synapses with no neuron group).");
    }
}
