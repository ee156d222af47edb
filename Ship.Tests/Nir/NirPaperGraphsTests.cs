using NUnit.Framework;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Nir;
using TorchSharp;
using static Ship.Tests.Nir.NirTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Nir;

/// <summary>The NIR paper's convolutional and recurrent graphs import and run, also on emulated devices.</summary>
public class NirPaperGraphsTests
{
    private static Tensor SpikeInput(int steps, int n, int seed) =>
        torch.rand(new long[] { 1, steps, n }, generator: new torch.Generator((ulong)seed)).lt(0.2).to_type(ScalarType.Float32);

    [Test]
    public void PaperCnnImportsAndRunsOnEmulatedDevices()
    {
        var doc = NirFile.Read(Data("cnn_sinabs.nir"));
        var w0 = (NirArray)doc.Root.Node("0")!.Values["weight"];
        var net = NirGraph.FromNir(doc.Root, 1e-3);
        var conv0 = (Conv)net["0"];
        // From the file: input [2, 34, 34], kernel [C_out, 2, k, k], stride 2, padding 1 → ⌊(34 + 2 − k)/2⌋ + 1.
        Assert.That(conv0.InputShape, Is.EqualTo(new[] { 2, 34, 34 }));
        int k = (int)w0.Shape[2];
        Assert.That(conv0.OutputShape, Is.EqualTo(new[] { (int)w0.Shape[0], (34 + 2 - k) / 2 + 1, (34 + 2 - k) / 2 + 1 }));
        Assert.That(net["1"], Is.InstanceOf<CubaLif>());
        Assert.That(net["4"], Is.InstanceOf<Pool2d>());
        var x = SpikeInput(8, 2 * 34 * 34, 1);
        var ideal = net.Run(x)["output"];
        Assert.That(ideal.shape, Is.EqualTo(new long[] { 1, 8, 10 }));

        // The same graph with every convolution and dense layer on ideal devices gives the same spikes; on 4-level devices it still runs.
        var onDevices = NirGraph.FromNir(doc.Root, 1e-3);
        foreach (var g in onDevices.Groups.OfType<WeightedSynapse>())
            g.WithDevice(new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6)));
        Assert.That(onDevices.Run(x)["output"].eq(ideal).all().item<bool>(), Is.True);
        var quantized = NirGraph.FromNir(doc.Root, 1e-3);
        var arrays = quantized.Groups.OfType<WeightedSynapse>()
            .Select(g => { var d = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), new QuantizedLevels(4)); g.WithDevice(d); return (g, d); }).ToArray();
        var y = quantized.Run(x)["output"];
        Assert.That(y.isfinite().all().item<bool>(), Is.True);
        var (c0, dev0) = arrays.First(a => a.g.Tag == "0");
        using var read = dev0.Read(c0.Context);
        Assert.That(read.sub(c0.W.Value).abs().max().item<float>(), Is.GreaterThan(0), "4 levels change the kernel");
    }

    [Test]
    public void PaperBrailleRecurrentNetworkImportsAndRuns()
    {
        var net = NirGraph.Read(Data("braille_noDelay_bias_zero.nir"), 1e-3);
        net.Initialize();
        Assert.That(net.CallOrder.BackEdges, Is.Not.Empty, "the recurrent weight makes a cycle, broken with one step of lag");
        var y = net.Run(SpikeInput(50, ((Ship.Devices.Inputs.TensorInput)net["input"]).ComponentCount, 2))["output"];
        Assert.That(y.shape[2], Is.EqualTo(7));
        Assert.That(y.isfinite().all().item<bool>(), Is.True);
    }

    [Test]
    public void MalformedNestedGraphFromTheWildNamesItsEdges()
    {
        var e = Assert.Throws<NirFormatException>(() => NirFile.Read(Data("braille_noDelay_bias_zero_subgraph.nir")))!;
        Assert.That(e.Path, Is.EqualTo("/node/nodes/lif1/edges"));
        Assert.That(e.Message, Does.Contain("'lif'"));
    }
}
