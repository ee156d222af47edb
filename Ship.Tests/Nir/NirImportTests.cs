using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Nir;
using TorchSharp;
using static Ship.Tests.Nir.NirTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Nir;

/// <summary>Node mapping on import: nested graphs, junctions, every node type, and typed errors naming the node.</summary>
public class NirImportTests
{
    private static NirNode Graph(params (string Name, NirNode Node)[] nodes)
    {
        var g = new NirNode("NIRGraph");
        foreach (var (n, node) in nodes) g.Nodes.Add(new(n, node));
        return g;
    }

    private static NirNode Input(long n) => new NirNode("Input").With("shape", NirArray.Ints(n));
    private static NirNode Output(long n) => new NirNode("Output").With("shape", NirArray.Ints(n));

    private static NirNode Lif(int n, double tau, double thr, double r = 1) => new NirNode("LIF")
        .With("tau", NirArray.Vector(Enumerable.Repeat(tau, n).ToArray())).With("r", NirArray.Vector(Enumerable.Repeat(r, n).ToArray()))
        .With("v_leak", NirArray.Vector(new double[n])).With("v_threshold", NirArray.Vector(Enumerable.Repeat(thr, n).ToArray()));

    [Test]
    public void NestedGraphFanInAndScaleMapToGroupsAndRelays()
    {
        // input ─┬─ a (Scale 2) ─┐
        //        └─ sub{in → s (Scale 3) → out} ─┴─ sum (Affine, fed twice) → output
        var sub = Graph(("in", Input(2)), ("s", new NirNode("Scale").With("scale", NirArray.Vector(3, 3))), ("out", Output(2)));
        sub.Edges.AddRange(new[] { ("in", "s"), ("s", "out") });
        var g = Graph(("input", Input(2)), ("a", new NirNode("Scale").With("scale", NirArray.Vector(2, 2))), ("sub", sub),
            ("sum", new NirNode("Affine").With("weight", NirArray.Of(new double[] { 1, 1 }, 1, 2)).With("bias", NirArray.Vector(0.5))),
            ("output", Output(1)));
        g.Edges.AddRange(new[] { ("input", "a"), ("input", "sub"), ("a", "sum"), ("sub", "sum"), ("sum", "output") });
        var net = NirGraph.FromNir(g, 1e-3, new NirImportOptions { DType = ScalarType.Float64 });
        var y = D(net.Run(torch.tensor(new double[] { 1, 10 }, dtype: ScalarType.Float64).reshape(1, 1, 2))["output"]);
        // (2 + 3)·(1 + 10) + 0.5, all in the same step: relays add no lag.
        Assert.That(y, Is.EqualTo(new[] { 55.5 }));
        Assert.That(net["sub.s"], Is.InstanceOf<Scale>());
        Assert.That(net["sum.in"], Is.InstanceOf<Relay>(), "two sources meet in a relay before the synapse");
    }

    [Test]
    public void IntegratorThresholdAndDelayNodesMap()
    {
        var g = Graph(("input", Input(1)),
            ("i", new NirNode("I").With("r", NirArray.Vector(100))),
            ("th", new NirNode("Threshold").With("threshold", NirArray.Vector(0.25))),
            ("d", new NirNode("Delay").With("delay", NirArray.Vector(2e-3))),
            ("output", Output(1)));
        g.Edges.AddRange(new[] { ("input", "i"), ("i", "th"), ("th", "d"), ("d", "output") });
        var net = NirGraph.FromNir(g, 1e-3, new NirImportOptions { DType = ScalarType.Float64 });
        Assert.That(net["d"], Is.InstanceOf<Delay>());
        var y = D(net.Run(torch.ones(new long[] { 1, 6, 1 }, dtype: ScalarType.Float64))["output"]);
        // I: v_k = (k+1)·dt·r·1 = 0.1·(k+1) ≥ 0.25 from k = 2 (the threshold has no reset); the delay shifts by 2 steps.
        Assert.That(y, Is.EqualTo(new double[] { 0, 0, 0, 0, 1, 1 }));
    }

    [Test]
    public void OldFilesWithoutVResetDefaultToZeroAndCubaNodesMap()
    {
        var g = Graph(("input", Input(2)),
            ("c", new NirNode("CubaLIF").With("tau_mem", NirArray.Vector(5e-3, 5e-3)).With("tau_syn", NirArray.Vector(2e-3, 2e-3))
                .With("r", NirArray.Vector(1, 1)).With("v_leak", NirArray.Vector(0, 0)).With("v_threshold", NirArray.Vector(1, 1))),
            ("output", Output(2)));
        g.Edges.AddRange(new[] { ("input", "c"), ("c", "output") });
        var net = NirGraph.FromNir(g, 1e-3);
        net.Initialize();
        var c = (CubaLif)net["c"];
        Assert.That(c.HasSynapse && c.Spiking, Is.True);
        Assert.That(D(c.Reset!.Value), Is.All.EqualTo(0.0));
        Assert.That(D(c.WeightIn!.Value), Is.All.EqualTo(1.0));
    }

    [Test]
    public void UnknownNodeTypeNamesTheNode()
    {
        var g = Graph(("input", Input(1)), ("weird", new NirNode("Spiral")), ("output", Output(1)));
        g.Edges.AddRange(new[] { ("input", "weird"), ("weird", "output") });
        var e = Assert.Throws<NirUnsupportedException>(() => NirGraph.FromNir(g, 1e-3))!;
        Assert.That(e.Node, Is.EqualTo("weird"));
        Assert.That(e.NodeType, Is.EqualTo("Spiral"));
        Assert.That(e, Is.InstanceOf<ShipException>());
    }

    [Test]
    public void MissingParameterNamesTheNodeAndParameter()
    {
        var lif = Lif(1, 1e-3, 1);
        lif.Values.Remove("v_threshold");
        var g = Graph(("input", Input(1)), ("lif", lif), ("output", Output(1)));
        g.Edges.AddRange(new[] { ("input", "lif"), ("lif", "output") });
        var e = Assert.Throws<NirUnsupportedException>(() => NirGraph.FromNir(g, 1e-3))!;
        Assert.That(e.Node, Is.EqualTo("lif"));
        Assert.That(e.Message, Does.Contain("v_threshold"));
    }

    [Test]
    public void PerElementDelaysAndBadSizesAreTypedErrors()
    {
        var g = Graph(("input", Input(2)), ("d", new NirNode("Delay").With("delay", NirArray.Vector(1e-3, 2e-3))), ("output", Output(2)));
        g.Edges.AddRange(new[] { ("input", "d"), ("d", "output") });
        Assert.That(Assert.Throws<NirUnsupportedException>(() => NirGraph.FromNir(g, 1e-3))!.Node, Is.EqualTo("d"));

        var bad = Lif(2, 1e-3, 1);
        bad.Values["r"] = NirArray.Vector(1, 1, 1);
        var g2 = Graph(("input", Input(2)), ("lif", bad), ("output", Output(2)));
        g2.Edges.AddRange(new[] { ("input", "lif"), ("lif", "output") });
        Assert.That(Assert.Throws<NirUnsupportedException>(() => NirGraph.FromNir(g2, 1e-3))!.Message, Does.Contain("'r'"));
    }

    [Test]
    public void EdgeToANestedGraphWithoutOneInputIsRefused()
    {
        var sub = Graph(("a", Input(1)), ("b", Input(1)), ("o", Output(1)));
        sub.Edges.AddRange(new[] { ("a", "o"), ("b", "o") });
        var g = Graph(("input", Input(1)), ("sub", sub), ("output", Output(1)));
        g.Edges.AddRange(new[] { ("input", "sub"), ("sub", "output") });
        var e = Assert.Throws<NirUnsupportedException>(() => NirGraph.FromNir(g, 1e-3))!;
        Assert.That(e.Node, Is.EqualTo("sub"));
    }

    [Test]
    public void DtMustBePositive()
    {
        Assert.Throws<NirException>(() => NirGraph.Read(Data("lif_norse.nir"), 0));
        Assert.Throws<NirException>(() => NirGraph.Read(Data("lif_norse.nir"), double.NaN));
    }
}
