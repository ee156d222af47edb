using System.Globalization;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Nir;

/// <summary>Maps a NIR graph onto a Ship.NET network (node by node, see docs/nir.md).</summary>
internal sealed class NirImport
{
    private sealed record Leaf(string Name, NirNode Node, bool TopLevel);

    private readonly List<Leaf> _leaves = new();
    private readonly Dictionary<string, Leaf> _byName = new(StringComparer.Ordinal);
    private readonly List<(string Source, string Target)> _edges = new();
    private readonly Dictionary<string, int[]> _outShape = new(StringComparer.Ordinal);
    private readonly HashSet<string> _visiting = new(StringComparer.Ordinal);

    private static readonly HashSet<string> NeuronTypes = new(StringComparer.Ordinal)
        { "Input", "Output", "LIF", "LI", "IF", "I", "CubaLIF", "CubaLI", "Threshold", "Delay" };
    private static readonly HashSet<string> SynapseTypes = new(StringComparer.Ordinal)
        { "Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten" };

    /// <summary>Builds the network for <paramref name="root"/> at step <paramref name="dt"/> (s).</summary>
    public static Network Build(NirNode root, double dt, NirImportOptions options, string name)
    {
        if (!(dt > 0) || double.IsInfinity(dt))
            throw new NirException("import", $"dt must be a finite number of seconds > 0, got {dt.ToString("R", CultureInfo.InvariantCulture)}.");
        var graph = root.IsGraph ? root : Wrap(root);
        var import = new NirImport();
        import.Flatten(graph, "", top: true);
        return import.Assemble(dt, options, name);
    }

    // A file whose root is a single node: give it an input and an output so it can run.
    private static NirNode Wrap(NirNode node)
    {
        var g = new NirNode("NIRGraph");
        g.Nodes.Add(new("node", node));
        return g;
    }

    // ------------------------------------------------------------ nested graphs → one flat list of leaves

    private void Flatten(NirNode graph, string prefix, bool top)
    {
        foreach (var (name, node) in graph.Nodes)
        {
            string full = prefix + name;
            if (node.IsGraph) Flatten(node, full + ".", top: false);
            else
            {
                if (!NeuronTypes.Contains(node.Type) && !SynapseTypes.Contains(node.Type))
                    throw new NirUnsupportedException(full, node.Type,
                        $"Ship.NET maps no node of this type (supported: {string.Join(", ", NeuronTypes.Concat(SynapseTypes).Append("NIRGraph"))}).");
                var leaf = new Leaf(full, node, top);
                _leaves.Add(leaf);
                _byName[full] = leaf;
            }
        }
        foreach (var (s, t) in graph.Edges)
            _edges.Add((Resolve(graph, prefix, s, asSource: true), Resolve(graph, prefix, t, asSource: false)));
    }

    // An edge end naming a nested graph means its Output (as a source) or its Input (as a target); "g.x" names a node inside.
    private static string Resolve(NirNode graph, string prefix, string end, bool asSource)
    {
        var node = graph.Node(end);
        if (node is null)
        {
            int dot = end.IndexOf('.');
            var sub = dot > 0 ? graph.Node(end[..dot]) : null;
            if (sub is { IsGraph: true }) return Resolve(sub, prefix + end[..dot] + ".", end[(dot + 1)..], asSource);
            throw new NirUnsupportedException(prefix + end, "edge", $"the edge end '{end}' is not a node of graph '{prefix.TrimEnd('.')}'.");
        }
        if (!node.IsGraph) return prefix + end;
        string want = asSource ? "Output" : "Input";
        var ports = node.Nodes.Where(n => n.Value.Type == want).ToArray();
        if (ports.Length != 1)
            throw new NirUnsupportedException(prefix + end, "NIRGraph",
                $"an edge names the nested graph as a whole, which needs exactly one {want} node inside; it has {ports.Length}. Name the node ('{end}.<node>') instead.");
        return Resolve(node, prefix + end + ".", ports[0].Key, asSource);
    }

    // ------------------------------------------------------------ shapes

    private int[] OutShape(string name)
    {
        if (_outShape.TryGetValue(name, out var s)) return s;
        if (!_visiting.Add(name))
            throw new NirUnsupportedException(name, _byName[name].Node.Type, "its shape depends on itself through a cycle of shape-less nodes; give an explicit input shape.");
        var leaf = _byName[name];
        var n = leaf.Node;
        s = n.Type switch
        {
            "Input" => ShapeValue(leaf, "shape", "input_type", "input_type/input"),
            "Output" => n.Values.ContainsKey("shape") || n.Values.ContainsKey("output_type") || n.Values.ContainsKey("output_type/output")
                ? ShapeValue(leaf, "shape", "output_type", "output_type/output") : InShape(leaf),
            "LIF" or "IF" or "CubaLIF" => Param(leaf, "v_threshold").Shape.Select(x => (int)x).ToArray(),
            "LI" or "CubaLI" => Param(leaf, "v_leak").Shape.Select(x => (int)x).ToArray(),
            "I" => Param(leaf, "r").Shape.Select(x => (int)x).ToArray(),
            "Threshold" => Param(leaf, "threshold").Shape.Select(x => (int)x).ToArray(),
            "Delay" => Param(leaf, "delay").Shape.Select(x => (int)x).ToArray(),
            "Scale" => Param(leaf, "scale").Shape.Select(x => (int)x).ToArray(),
            "Affine" or "Linear" => new[] { (int)Weight2d(leaf).Shape[0] },
            "Conv1d" or "Conv2d" => ConvSpec(leaf).Output,
            "SumPool2d" or "AvgPool2d" => PoolSpec(leaf).Output,
            "Flatten" => FlattenShape(leaf),
            _ => throw new NirUnsupportedException(name, n.Type, "no shape rule."),
        };
        if (s.Length == 0) s = new[] { 1 };
        if (s.Any(d => d < 1)) throw new NirUnsupportedException(name, n.Type, $"the output shape [{string.Join(", ", s)}] has an empty axis.");
        _visiting.Remove(name);
        _outShape[name] = s;
        return s;
    }

    private int[] InShape(Leaf leaf)
    {
        var sources = _edges.Where(e => e.Target == leaf.Name).Select(e => e.Source).Distinct().ToArray();
        if (sources.Length == 0) throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, "no edge feeds this node, so its input shape is unknown.");
        var shapes = sources.Select(OutShape).ToArray();
        long size = Count(shapes[0]);
        foreach (var (src, sh) in sources.Zip(shapes))
            if (Count(sh) != size)
                throw new NirUnsupportedException(leaf.Name, leaf.Node.Type,
                    $"its sources disagree on the input size: {string.Join(", ", sources.Zip(shapes).Select(p => $"{p.First} [{string.Join(", ", p.Second)}]"))}.");
        return shapes[0];
    }

    private static long Count(int[] s) => s.Aggregate(1L, (a, b) => a * b);

    private static int[] ShapeValue(Leaf leaf, params string[] keys)
    {
        foreach (var k in keys)
            if (leaf.Node.Values.TryGetValue(k, out var v))
                return v is NirArray a && a.Shape.Length <= 1
                    ? a.Data.Select(x => (int)x).ToArray()
                    : throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"'{k}' must be a vector of sizes, got {v}.");
        throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"missing its shape ('{keys[0]}').");
    }

    private static NirArray Param(Leaf leaf, string key, bool optional = false) =>
        leaf.Node.Values.TryGetValue(key, out var v)
            ? v as NirArray ?? throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"parameter '{key}' must be numeric, got '{v}'.")
            : optional ? null! : throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"missing parameter '{key}'.");

    private static NirArray Weight2d(Leaf leaf)
    {
        var w = Param(leaf, "weight");
        if (w.Shape.Length != 2) throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"'weight' must be a matrix [out, in], got shape [{string.Join(", ", w.Shape)}].");
        return w;
    }

    private static int[] Ints(Leaf leaf, string key, int dims, int? fallback = null)
    {
        if (!leaf.Node.Values.TryGetValue(key, out var v))
            return fallback is { } f ? Enumerable.Repeat(f, dims).ToArray() : throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"missing '{key}'.");
        if (v is not NirArray a) throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"'{key}' must be integers, got '{v}'.");
        if (a.Count == 1) return Enumerable.Repeat((int)a.Data[0], dims).ToArray();
        if (a.Count == dims) return a.Data.Select(x => (int)x).ToArray();
        throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"'{key}' must hold 1 or {dims} values, got {a.Count}.");
    }

    private sealed record Conv(int[] Input, int[] Output, int Out, int[] Kernel, int[] Stride, int[] Padding, int[] Dilation, int Groups, NirArray Weight);

    private Conv ConvSpec(Leaf leaf)
    {
        int dims = leaf.Node.Type == "Conv1d" ? 1 : 2;
        var w = Param(leaf, "weight");
        if (w.Shape.Length != dims + 2) throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"'weight' must be [C_out, C_in/groups, k…] ({dims + 2} axes), got [{string.Join(", ", w.Shape)}].");
        int groups = Ints(leaf, "groups", 1, 1)[0];
        var kernel = w.Shape.Skip(2).Select(x => (int)x).ToArray();
        int cin = (int)w.Shape[1] * groups;
        int[] spatial;
        if (leaf.Node.Values.TryGetValue("input_shape", out var isv) && isv is NirArray ia && ia.Count == dims)
            spatial = ia.Data.Select(x => (int)x).ToArray();
        else
        {
            var inShape = InShape(leaf);
            if (inShape.Length != dims + 1 || inShape[0] != cin)
                throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"its input has shape [{string.Join(", ", inShape)}], expected [{cin}, …] with {dims} spatial axes; give 'input_shape'.");
            spatial = inShape.Skip(1).ToArray();
        }
        var stride = Ints(leaf, "stride", dims, 1);
        var dilation = Ints(leaf, "dilation", dims, 1);
        int[] padding;
        if (leaf.Node.Values.TryGetValue("padding", out var pv) && pv is NirText pt)
        {
            if (pt.Text == "valid") padding = new int[dims];
            else if (pt.Text == "same")
            {
                padding = new int[dims];
                for (int a = 0; a < dims; a++)
                {
                    int total = dilation[a] * (kernel[a] - 1);
                    if (stride[a] != 1 || total % 2 != 0)
                        throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, "padding 'same' needs stride 1 and an odd effective kernel (symmetric padding); give the padding as integers.");
                    padding[a] = total / 2;
                }
            }
            else throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"padding '{pt.Text}' is not 'same', 'valid' or integers.");
        }
        else padding = Ints(leaf, "padding", dims, 0);
        var input = new[] { cin }.Concat(spatial).ToArray();
        var output = ConvFunctional.OutputShape(input, (int)w.Shape[0], kernel, stride, padding, dilation);
        return new Conv(input, output, (int)w.Shape[0], kernel, stride, padding, dilation, groups, w);
    }

    private sealed record Pool(int[] Input, int[] Output, int[] Kernel, int[] Stride, int[] Padding);

    private Pool PoolSpec(Leaf leaf)
    {
        var input = InShape(leaf);
        if (input.Length != 3) throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"pooling needs a [C, H, W] input, got [{string.Join(", ", input)}].");
        var kernel = Ints(leaf, "kernel_size", 2);
        var stride = Ints(leaf, "stride", 2, null);
        var padding = Ints(leaf, "padding", 2, 0);
        return new Pool(input, ConvFunctional.OutputShape(input, input[0], kernel, stride, padding, new[] { 1, 1 }), kernel, stride, padding);
    }

    private int[] FlattenInput(Leaf leaf) =>
        leaf.Node.Values.TryGetValue("input_type", out var v) && v is NirArray a && a.Count > 0 ? a.Data.Select(x => (int)x).ToArray()
        : leaf.Node.Values.TryGetValue("input_type/input", out var v2) && v2 is NirArray a2 && a2.Count > 0 ? a2.Data.Select(x => (int)x).ToArray()
        : InShape(leaf);

    private int[] FlattenShape(Leaf leaf)
    {
        var input = FlattenInput(leaf);
        var (start, end) = FlattenAxes(leaf, input.Length);
        return input.Take(start).Append(input[start..(end + 1)].Aggregate(1, (a, b) => a * b)).Concat(input.Skip(end + 1)).ToArray();
    }

    private static (int Start, int End) FlattenAxes(Leaf leaf, int rank)
    {
        int start = Ints(leaf, "start_dim", 1, 0)[0], end = Ints(leaf, "end_dim", 1, -1)[0];
        if (start < 0) start += rank;
        if (end < 0) end += rank;
        if (start < 0 || end >= rank || start > end)
            throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"start_dim/end_dim do not fit an input of {rank} axes.");
        return (start, end);
    }

    // ------------------------------------------------------------ network

    private Network Assemble(double dt, NirImportOptions options, string name)
    {
        var net = new Network(name) { Dt = dt, Steps = 1, BatchSize = options.BatchSize, DType = options.DType ?? ScalarType.Float32 };
        foreach (var (s, t) in _edges)
            foreach (var end in new[] { s, t })
                if (!_byName.ContainsKey(end)) throw new NirUnsupportedException(end, "edge", "the edge names a node that does not exist.");
        foreach (var leaf in _leaves) OutShape(leaf.Name);

        foreach (var leaf in _leaves)
        {
            if (NeuronTypes.Contains(leaf.Node.Type)) net.Add(leaf.Name, MakeNeuron(leaf));
            else net.Add(leaf.Name, MakeSynapse(leaf));
        }
        foreach (var leaf in _leaves.Where(l => SynapseTypes.Contains(l.Node.Type)))
        {
            var sources = _edges.Where(e => e.Target == leaf.Name).Select(e => e.Source).ToArray();
            var targets = _edges.Where(e => e.Source == leaf.Name).Select(e => e.Target).ToArray();
            if (sources.Length == 0) throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, "no edge feeds this node.");
            // A Ship.NET synapse has one source and one target: a fan-in or fan-out meets in a relay (no lag, no state).
            if (sources.Length > 1)
            {
                net.Add(leaf.Name + ".in", new Relay((int)Count(InShape(leaf))));
                net.Connect(leaf.Name + ".in", leaf.Name);
            }
            if (NeedsOutRelay(leaf.Name))
            {
                net.Add(leaf.Name + ".out", new Relay((int)Count(OutShape(leaf.Name))));
                net.Connect(leaf.Name, leaf.Name + ".out");
            }
        }
        foreach (var (s, t) in _edges)
        {
            bool fanOut = SynapseTypes.Contains(_byName[s].Node.Type) && NeedsOutRelay(s);
            bool fanIn = SynapseTypes.Contains(_byName[t].Node.Type) && _edges.Count(e => e.Target == t) > 1;
            net.Connect(fanOut ? s + ".out" : s, fanIn ? t + ".in" : t);
        }
        // A dangling synapse needs a target: its output relay stays unconnected.
        foreach (var leaf in _leaves.Where(l => l.TopLevel && l.Node.Type == "Output")) net.MarkOutput(leaf.Name);
        return net;
    }

    // Ship.NET sizes a synapse from one source and one neuron target: a fan-out, a dangling output or a synapse feeding a
    // synapse goes through a relay.
    private bool NeedsOutRelay(string synapse)
    {
        var targets = _edges.Where(e => e.Source == synapse).Select(e => e.Target).ToArray();
        return targets.Length != 1 || SynapseTypes.Contains(_byName[targets[0]].Node.Type);
    }

    private Group MakeNeuron(Leaf leaf)
    {
        var n = leaf.Node;
        int size = (int)Count(OutShape(leaf.Name));
        switch (n.Type)
        {
            case "Input":
                return leaf.TopLevel ? new TensorInput(size) : new Relay(size);
            case "Output":
                return new Relay(size);
            case "Threshold":
            {
                var g = new ThresholdUnit(size);
                g.Set("threshold", Tensor(leaf, "threshold", size));
                return g;
            }
            case "Delay":
            {
                var d = Param(leaf, "delay");
                if (d.Data.Any(x => !(x >= 0) || double.IsInfinity(x)))
                    throw new NirUnsupportedException(leaf.Name, n.Type, "delays must be finite seconds >= 0.");
                if (d.Data.Distinct().Count() > 1)
                    throw new NirUnsupportedException(leaf.Name, n.Type, $"delays differ per element ({d}); Ship.NET maps a Delay node with one delay for all elements.");
                return new Delay(new Relay(size), d.Data.Length == 0 ? 0 : d.Data[0]);
            }
        }
        bool spiking = n.Type is "LIF" or "IF" or "CubaLIF";
        bool synapse = n.Type is "CubaLIF" or "CubaLI";
        var cell = new CubaLif(size, spiking, synapse);
        bool integrator = n.Type is "I" or "IF";
        cell.Set("tau_mem", integrator ? double.PositiveInfinity : Tensor(leaf, synapse ? "tau_mem" : "tau", size));
        cell.Set("r", Tensor(leaf, "r", size));
        cell.Set("v_leak", integrator ? 0.0 : Tensor(leaf, "v_leak", size));
        if (spiking)
        {
            cell.Set("v_threshold", Tensor(leaf, "v_threshold", size));
            cell.Set("v_reset", n.Values.ContainsKey("v_reset") ? Tensor(leaf, "v_reset", size) : 0.0); // 0.1.x files have no v_reset: NIR's default 0
        }
        if (synapse)
        {
            cell.Set("tau_syn", Tensor(leaf, "tau_syn", size));
            cell.Set("w_in", n.Values.ContainsKey("w_in") ? Tensor(leaf, "w_in", size) : 1.0);
        }
        return cell;
    }

    private static Tensor Tensor(Leaf leaf, string key, int size)
    {
        var a = Param(leaf, key);
        if (a.Count != size && a.Count != 1)
            throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"parameter '{key}' has {a.Count} values, the node has {size} elements.");
        if (a.Data.Any(double.IsNaN)) throw new NirUnsupportedException(leaf.Name, leaf.Node.Type, $"parameter '{key}' holds NaN.");
        return a.Count == 1 ? torch.full(size, a.Data[0], dtype: ScalarType.Float64) : torch.tensor(a.Data, dtype: ScalarType.Float64);
    }

    private Group MakeSynapse(Leaf leaf)
    {
        var n = leaf.Node;
        switch (n.Type)
        {
            case "Affine":
            case "Linear":
            {
                var w = Weight2d(leaf);
                var wt = torch.tensor(w.Data, dtype: ScalarType.Float64).reshape(w.Shape).t().contiguous(); // NIR [out, in] → Ship [Ns, Nt]
                var bias = n.Type == "Affine" ? Tensor(leaf, "bias", (int)w.Shape[0]) : null;
                return new Dense(wt, bias is null ? 0.0 : bias);
            }
            case "Scale":
                return new Scale(Tensor(leaf, "scale", (int)Count(OutShape(leaf.Name))));
            case "Conv1d":
            case "Conv2d":
            {
                var c = ConvSpec(leaf);
                var kernel = torch.tensor(c.Weight.Data, dtype: ScalarType.Float64).reshape(c.Weight.Shape);
                int positions = (int)(Count(c.Output) / c.Out);
                Tensor bias = n.Values.ContainsKey("bias") ? Tensor(leaf, "bias", c.Out).repeat_interleave(positions) : torch.zeros(Count(c.Output), dtype: ScalarType.Float64);
                if (bias.shape[0] != Count(c.Output))
                    throw new NirUnsupportedException(leaf.Name, n.Type, $"'bias' must hold one value per output channel ({c.Out}).");
                return new Ship.Devices.Synapses.Conv(c.Input, c.Out, c.Kernel, c.Stride, c.Padding, c.Dilation, c.Groups, ConvFunctional.FromKernel(kernel), bias);
            }
            case "SumPool2d":
            case "AvgPool2d":
            {
                var p = PoolSpec(leaf);
                return new Pool2d(p.Input, p.Kernel, n.Type == "SumPool2d" ? PoolKind.Sum : PoolKind.Average, p.Stride, p.Padding);
            }
            case "Flatten":
            {
                var input = FlattenInput(leaf);
                var (start, end) = FlattenAxes(leaf, input.Length);
                return new Ship.Devices.Synapses.Flatten(input, start, end);
            }
        }
        throw new NirUnsupportedException(leaf.Name, n.Type, "no synapse mapping.");
    }
}
