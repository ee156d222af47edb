using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Nir;

/// <summary>Maps a Ship.NET network onto a NIR graph (group by group, see docs/nir.md).</summary>
internal sealed class NirExport
{
    private readonly Network _net;
    private readonly NirNode _graph = new("NIRGraph");
    private readonly Dictionary<string, string> _exit = new(StringComparer.Ordinal); // group tag → node its outgoing edges leave from
    private readonly Dictionary<string, int[]> _mapShape = new(StringComparer.Ordinal);

    private NirExport(Network net) => _net = net;

    /// <summary>The NIR graph of an initialized network (no Ship.NET checkpoint in its metadata).</summary>
    public static NirNode Build(Network net)
    {
        var e = new NirExport(net);
        e.Run();
        return e._graph;
    }

    private void Run()
    {
        foreach (var g in _net.Groups) Export(g.Tag, g);
        foreach (var (s, t) in _net.Connections) _graph.Edges.Add((_exit[s], t));
        foreach (var o in _net.Outputs)
        {
            var g = _net[o];
            bool isPort = g is Relay && !_net.Connections.Any(c => c.Source == o);
            if (isPort) continue; // already an Output node
            string name = UniqueName(o + ".output");
            _graph.Nodes.Add(new(name, new NirNode("Output").With("shape", NirArray.Ints(MapShape(o).Select(x => (long)x).ToArray()))));
            _graph.Edges.Add((_exit[o], name));
        }
        _graph.Metadata["dt"] = new NirArray(new[] { _net.Dt }, Array.Empty<long>(), NirDType.Float64);
        _graph.Metadata["ship_dtype"] = new NirText(_net.DType.ToString());
    }

    private string UniqueName(string name)
    {
        string n = name;
        for (int k = 2; _graph.Node(n) is not null || _net.Groups.Any(g => g.Tag == n); k++) n = $"{name}{k}";
        return n;
    }

    private void Add(string name, NirNode node, Group g)
    {
        node.Metadata["ship_model"] = new NirText(g.GetType().Name);
        _graph.Nodes.Add(new(name, node));
    }

    private void Export(string tag, Group g)
    {
        _exit[tag] = tag;
        switch (g)
        {
            case IInputGroup:
                Add(tag, new NirNode("Input").With("shape", Shape(MapShape(tag))), g);
                return;
            case Relay r:
                bool isOutput = _net.Outputs.Contains(tag) && !_net.Connections.Any(c => c.Source == tag);
                Add(tag, isOutput ? new NirNode("Output").With("shape", Shape(MapShape(tag))) : Scale(Ones(r.ComponentCount), MapShape(tag)), g);
                return;
            case CubaLif c:
                Add(tag, Neuron(tag, c), g);
                return;
            case ThresholdUnit th:
                Add(tag, new NirNode("Threshold").With("threshold", Values(tag, th, th.Threshold, MapShape(tag))), g);
                return;
            case Lif lif:
            {
                // SHIP's lifN adds its input as is (u ← β·u + x): the NIR LIF with r = 1/(1 − β) at this dt integrates the same
                // charge; its floor at 0 and the held step after a spike have no NIR counterpart (docs/nir.md).
                var tau = Values(tag, lif, lif.Tau, MapShape(tag));
                Add(tag, new NirNode("LIF").With("tau", tau).With("r", InputGain(tau)).With("v_leak", Zeros(tau))
                    .With("v_threshold", Values(tag, lif, lif.Threshold, MapShape(tag))).With("v_reset", Zeros(tau)), g);
                return;
            }
            case LeakyIntegrator li:
            {
                var tau = Values(tag, li, li.Tau, MapShape(tag));
                Add(tag, new NirNode("LI").With("tau", tau).With("r", InputGain(tau)).With("v_leak", Zeros(tau)), g);
                return;
            }
            case Dense d:
            {
                var w = Matrix(tag, d, d.W.Value);
                Add(tag, new NirNode("Affine").With("weight", w).With("bias", Values(tag, d, d.Bias, new[] { (int)w.Shape[0] })), g);
                return;
            }
            case FirstOrder f:
                ExportFirstOrder(tag, f);
                return;
            case Ship.Devices.Synapses.Scale s:
                Add(tag, new NirNode("Scale").With("scale", Values(tag, s, s.Factor, MapShape(tag))), g);
                return;
            case Identity:
                Add(tag, Scale(Ones(g.TargetCount), MapShape(tag)), g);
                return;
            case Conv c:
                Add(tag, ConvNode(tag, c), g);
                return;
            case Pool2d p:
                Add(tag, new NirNode(p.Mode == PoolKind.Sum ? "SumPool2d" : "AvgPool2d").With("kernel_size", Ints(p.Kernel)).With("stride", Ints(p.Stride))
                    .With("padding", Ints(p.Padding)), g);
                return;
            case Ship.Devices.Synapses.Flatten fl:
                Add(tag, new NirNode("Flatten").With("input_type", Ints(fl.InputShape)).With("start_dim", NirArray.Int(fl.StartDim))
                    .With("end_dim", NirArray.Int(fl.EndDim)), g);
                return;
            case Delay dl:
            {
                Export(tag, dl.Inner);
                string name = UniqueName(tag + ".delay");
                var shape = MapShape(tag);
                Add(name, new NirNode("Delay").With("delay", NirArray.Of(Enumerable.Repeat(dl.Seconds, (int)Count(shape)).ToArray(), shape.Select(x => (long)x).ToArray())), dl);
                _graph.Edges.Add((_exit[tag], name));
                _exit[tag] = name;
                return;
            }
        }
        throw new NirExportException(tag, g.GetType().Name,
            "NIR has no counterpart for this model (exported: inputs, CubaLif, Lif, LeakyIntegrator, ThresholdUnit, Relay, Dense, FirstOrder, Scale, Identity, Conv, Pool2d, Flatten, Delay).");
    }

    private void ExportFirstOrder(string tag, FirstOrder f)
    {
        // y_t = A·y_{t−1} + B·(x_t·W·w_scale) with A = e^(−dt/τ), B = τ(1 − A): by linearity this is a Linear node followed
        // by an LI node with r = τ, exact under zero-order hold when τ does not vary along sources.
        var tau = f.Tau.Value;
        if (tau.dim() == 2 && tau.shape[0] != 1)
            throw new NirExportException(tag, nameof(FirstOrder), $"τ varies per source ({Shapes.Format(tau.shape)}); NIR's Linear + LI pair needs τ scalar or per target.");
        using var w = f.W.Value.detach().mul(f.WeightScale.Value.detach());
        Add(tag, new NirNode("Linear").With("weight", Matrix(tag, f, w)), f);
        string filter = UniqueName(tag + ".filter");
        var shape = new[] { f.TargetCount };
        var t = Flat(tag, f, tau.dim() == 2 ? tau.squeeze(0) : tau, shape, "tau");
        var node = new NirNode("LI").With("tau", t).With("r", t with { Data = t.Data.ToArray() }).With("v_leak", Zeros(t));
        Add(filter, node, f);
        _graph.Edges.Add((tag, filter));
        _exit[tag] = filter;
    }

    private NirNode Neuron(string tag, CubaLif c)
    {
        var shape = MapShape(tag);
        var tauM = Values(tag, c, c.TauMem, shape);
        bool inf = tauM.Data.All(double.IsPositiveInfinity);
        if (!inf && tauM.Data.Any(double.IsInfinity))
            throw new NirExportException(tag, nameof(CubaLif), "τ_mem is +∞ for some neurons only; NIR's I/IF (τ = ∞) and LIF/LI nodes cannot be mixed in one node.");
        if (inf && c.HasSynapse)
            throw new NirExportException(tag, nameof(CubaLif), "a synaptic stage with τ_mem = +∞ has no NIR node (CubaLIF and CubaLI need a finite τ_mem).");
        string type = (c.Spiking, c.HasSynapse, inf) switch
        {
            (true, true, _) => "CubaLIF",
            (false, true, _) => "CubaLI",
            (true, false, true) => "IF",
            (true, false, false) => "LIF",
            (false, false, true) => "I",
            (false, false, false) => "LI",
        };
        var n = new NirNode(type);
        if (!inf) n.With(c.HasSynapse ? "tau_mem" : "tau", tauM);
        n.With("r", Values(tag, c, c.R, shape));
        if (!inf) n.With("v_leak", Values(tag, c, c.VLeak, shape)); // with τ = ∞ the leak never acts (β = 1): I/IF have none
        if (c.Spiking) n.With("v_threshold", Values(tag, c, c.Threshold!, shape)).With("v_reset", Values(tag, c, c.Reset!, shape));
        if (c.HasSynapse) n.With("tau_syn", Values(tag, c, c.TauSyn!, shape)).With("w_in", Values(tag, c, c.WeightIn!, shape));
        return n;
    }

    private NirNode ConvNode(string tag, Conv c)
    {
        using var kernel = c.KernelTensor(c.W.Value.detach());
        var k = ToArray(tag, c, kernel, kernel.shape);
        // Ship.NET's bias is per target; NIR's is per output channel, so it must not vary along positions.
        long positions = c.OutputShape.Skip(1).Aggregate(1L, (a, b) => a * b);
        using var bias = c.Bias.Value.detach().to_type(ScalarType.Float64).expand(c.TargetCount).reshape(c.OutChannels, positions);
        using (var varies = bias.sub(bias[.., ..1]).abs().max())
            if (varies.item<double>() != 0)
                throw new NirExportException(tag, nameof(Conv), "the bias differs between positions of one channel; NIR's convolution bias is one value per output channel.");
        using var channelBias = bias[.., 0].contiguous();
        return new NirNode(c.InputShape.Length == 2 ? "Conv1d" : "Conv2d")
            .With("weight", k)
            .With("bias", NirArray.Vector(channelBias.data<double>().ToArray()))
            .With("input_shape", Ints(c.InputShape.Skip(1).ToArray()))
            .With("stride", Ints(c.Stride)).With("padding", Ints(c.Padding)).With("dilation", Ints(c.Dilation))
            .With("groups", NirArray.Int(c.Groups));
    }

    // The shape a group's output has as a map: a convolution's or pooling's output map, and neurons inherit it from their source.
    private int[] MapShape(string tag)
    {
        if (_mapShape.TryGetValue(tag, out var s)) return s;
        _mapShape[tag] = new[] { _net[tag].OutputSize }; // guards cycles
        var g = _net[tag] is GroupWrapper w ? w.Core : _net[tag];
        s = g switch
        {
            Conv c => c.OutputShape,
            Pool2d p => p.OutputShape,
            _ => null!,
        };
        if (s is null && g.Kind == GroupKind.Neuron)
        {
            var sources = _net.Connections.Where(c => c.Target == tag).Select(c => c.Source).ToArray();
            var targets = _net.Connections.Where(c => c.Source == tag).Select(c => c.Target).ToArray();
            if (sources.Length == 1) s = MapShape(sources[0]);
            else if (sources.Length == 0 && targets.Length >= 1 && (_net[targets[0]] is Conv or Pool2d))
                s = _net[targets[0]] is Conv c2 ? c2.InputShape : ((Pool2d)_net[targets[0]]).InputShape;
        }
        if (s is null || Count(s) != _net[tag].OutputSize) s = new[] { _net[tag].OutputSize };
        _mapShape[tag] = s;
        return s;
    }

    private static long Count(int[] s) => s.Aggregate(1L, (a, b) => a * b);

    private static NirArray Shape(int[] s) => NirArray.Ints(s.Select(x => (long)x).ToArray());
    private static NirArray Ints(int[] s) => NirArray.Ints(s.Select(x => (long)x).ToArray());
    private static double[] Ones(int n) => Enumerable.Repeat(1.0, n).ToArray();
    private static NirArray Zeros(NirArray like) => like with { Data = new double[like.Data.Length], DType = NirDType.Float64 };

    private static NirNode Scale(double[] s, int[] shape) => new NirNode("Scale").With("scale", NirArray.Of(s, shape.Select(x => (long)x).ToArray()));

    // r = 1/(1 − e^(−dt/τ)): the NIR LIF/LI gain that adds a step's input as a whole to the membrane, as SHIP's models do.
    private NirArray InputGain(NirArray tau) =>
        tau with { Data = tau.Data.Select(t => 1.0 / -Expm1(-_net.Dt / t)).ToArray(), DType = NirDType.Float64 };

    // e^x − 1 without cancellation: 2·tanh(x/2)/(1 − tanh(x/2)).
    private static double Expm1(double x)
    {
        double h = Math.Tanh(x / 2);
        return 2 * h / (1 - h);
    }

    private NirArray Values(string tag, Group g, Parameter p, int[] shape) => Flat(tag, g, p.Value, shape, p.Name);

    // A per-component parameter as a float64 array of the node's shape; a value varying along the batch has no NIR form.
    private static NirArray Flat(string tag, Group g, Tensor value, int[] shape, string name)
    {
        using var v = value.detach().to_type(ScalarType.Float64).cpu();
        var t = v;
        if (v.dim() == 2)
        {
            if (v.shape[0] != 1)
            {
                using var spread = v.sub(v[..1]).abs().max();
                if (spread.item<double>() != 0)
                    throw new NirExportException(tag, g.GetType().Name, $"parameter '{name}' differs between batch rows; NIR holds one value per neuron.");
            }
            t = v[0];
        }
        long n = Count(shape);
        using var full = t.expand(n).contiguous();
        return NirArray.Of(full.data<double>().ToArray(), shape.Select(x => (long)x).ToArray());
    }

    // Ship.NET's W is [Ns, Nt]; NIR's weight is [out, in].
    private static NirArray Matrix(string tag, Group g, Tensor w)
    {
        if (w.dim() != 2) throw new NirExportException(tag, g.GetType().Name, $"the weights have shape {Shapes.Format(w.shape)}; NIR needs one [out, in] matrix.");
        using var wt = w.detach().to_type(ScalarType.Float64).cpu().t().contiguous();
        return NirArray.Of(wt.data<double>().ToArray(), wt.shape);
    }

    private static NirArray ToArray(string tag, Group g, Tensor t, long[] shape)
    {
        using var c = t.detach().to_type(ScalarType.Float64).cpu().contiguous();
        return NirArray.Of(c.data<double>().ToArray(), shape);
    }
}
