using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Nir;
using Ship.Tests.Datasets;
using TorchSharp;
using static Ship.Tests.Nir.NirTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Nir;

/// <summary>Ship.NET → NIR → Ship.NET: spikes reproduced exactly, through the embedded checkpoint and through the NIR nodes alone.</summary>
public class NirRoundTripTests
{
    private const double Dt = 1e-3;
    private const int Steps = 60;

    private static Tensor Input(int n, int seed, double p = 0.3) =>
        torch.rand(new long[] { 2, Steps, n }, generator: new torch.Generator((ulong)seed)).lt(p).to_type(ScalarType.Float32);

    private static Network Net() => new() { Dt = Dt, Steps = Steps, BatchSize = 2, Seed = 7 };

    private static (Tensor Original, Tensor Imported, Network Back) RoundTrip(Network net, Tensor x, bool useMetadata)
    {
        using var dir = new TempDir();
        var original = RunAll(net, x);
        NirGraph.Write(net, dir.File("net.nir"));
        var back = NirGraph.Read(dir.File("net.nir"), Dt, new NirImportOptions { BatchSize = 2, UseShipMetadata = useMetadata });
        return (original, RunAll(back, x), back);
    }

    // SHIP-style models (floor at 0, held reset step) have no exact NIR node: their exact round trip is the embedded checkpoint.
    [Test]
    public void LifLeakyIntegratorDenseAndFirstOrderRoundTripExactlyThroughTheCheckpoint()
    {
        var net = Net();
        net.Add("in", new TensorInput(6));
        net.Add("w1", new Dense(Init.Uniform(0, 0.6)), "in", "lif");
        net.Add("lif", new Lif(5, tau: 8e-3, threshold: 1.0));
        net.Add("syn", new FirstOrder(Init.Uniform(0, 1), tau: 4e-3), "lif", "li");
        net.Add("li", new LeakyIntegrator(3, tau: 20e-3));
        net.MarkOutput("lif", "li");
        var (a, b, back) = RoundTrip(net, Input(6, 1), useMetadata: true);
        Assert.That(a.sum().item<float>(), Is.GreaterThan(0));
        Assert.That(a.eq(b).all().item<bool>(), Is.True, "spikes and read-out identical");
        Assert.That(back["lif"], Is.InstanceOf<Lif>());
        Assert.That(back["syn"], Is.InstanceOf<FirstOrder>());
    }

    [Test]
    public void DeviceArrayAndDelaySurviveTheRoundTrip()
    {
        var net = Net();
        net.Add("in", new TensorInput(4));
        var dense = new Dense(Init.Uniform(-0.2, 0.8));
        dense.WithDevice(new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), new QuantizedLevels(4)));
        net.Add("w", dense, "in", "n");
        net.Add("n", new Delay(new Lif(4, tau: 5e-3, threshold: 0.5), 3e-3));
        net.MarkOutput("n");
        var (a, b, back) = RoundTrip(net, Input(4, 2, 0.5), useMetadata: true);
        Assert.That(a.sum().item<float>(), Is.GreaterThan(0));
        Assert.That(a.eq(b).all().item<bool>(), Is.True);
        Assert.That(((Dense)back["w"]).WeightDevice, Is.InstanceOf<DeviceArray>(), "the device array is kept");
    }

    // Models NIR describes exactly: the NIR nodes alone (no Ship.NET metadata) reproduce the spikes.
    [Test]
    public void NirFamilyDenseDelayAndRecurrenceRoundTripFromTheNodesAlone()
    {
        var net = Net();
        net.Add("in", new TensorInput(5));
        net.Add("w", new Dense(Init.Uniform(0, 1)), "in", "h");
        net.Add("h", new CubaLif(6, tauMem: 6e-3, tauSyn: 3e-3, r: 3, threshold: 0.4, reset: -0.1));
        net.Add("rec", new Dense(Init.Uniform(-0.5, 0.5)), "h", "h");      // a recurrent edge
        net.Add("d", new Delay(new Relay(6), 2e-3));
        net.Connect("h", "d");
        net.Add("wo", new Dense(Init.Uniform(0, 1)), "d", "o");
        net.Add("o", new CubaLif(2, synapse: false, tauMem: 10e-3, threshold: 0.3));
        net.Add("ro", new Dense(Init.Uniform(0, 1)), "o", "li");
        net.Add("li", new CubaLif(2, spiking: false, synapse: false, tauMem: 20e-3, r: 2));
        net.MarkOutput("o", "li");
        var (a, b, back) = RoundTrip(net, Input(5, 3), useMetadata: false);
        Assert.That(a.narrow(2, 0, 2).sum().item<float>(), Is.GreaterThan(0), "the output layer spikes");
        Assert.That(a.eq(b).all().item<bool>(), Is.True);
        Assert.That(back.DescribeCallOrder(), Is.EqualTo(net.DescribeCallOrder()).Or.Not.Empty);
    }

    [Test]
    public void ConvolutionalNetworkRoundTripsFromTheNodesAlone()
    {
        var net = Net();
        net.Add("in", new TensorInput(2 * 8 * 8));
        net.Add("conv", new Conv(new[] { 2, 8, 8 }, 4, new[] { 3, 3 }, stride: new[] { 1, 1 }, padding: new[] { 1, 1 }, weights: Init.Uniform(-0.2, 0.6)), "in", "if1");
        net.Add("if1", new CubaLif(4 * 64, synapse: false, tauMem: double.PositiveInfinity, r: 1000, threshold: 0.5));
        net.Add("pool", new Pool2d(new[] { 4, 8, 8 }, new[] { 2, 2 }, PoolKind.Sum), "if1", "flat");
        net.Add("flat", new Relay(64));
        net.Add("fl", new Ship.Devices.Synapses.Flatten(new[] { 4, 4, 4 }), "flat", "fc_in");
        net.Add("fc_in", new Relay(64));
        net.Add("fc", new Dense(Init.Uniform(-0.1, 0.3)), "fc_in", "out");
        net.Add("out", new CubaLif(3, synapse: false, tauMem: 5e-3, threshold: 0.5));
        net.MarkOutput("out");
        var (a, b, back) = RoundTrip(net, Input(128, 4), useMetadata: false);
        Assert.That(a.sum().item<float>(), Is.GreaterThan(0));
        Assert.That(a.eq(b).all().item<bool>(), Is.True);
        Assert.That(back["conv"], Is.InstanceOf<Conv>());
        Assert.That(back["pool"], Is.InstanceOf<Pool2d>());
    }

    [Test]
    public void FirstOrderSynapseIsALinearPlusLeakyIntegratorInNir()
    {
        var net = Net();
        net.DType = ScalarType.Float64;
        net.Add("in", new TensorInput(4));
        net.Add("syn", new FirstOrder(Init.Uniform(0, 1), tau: 4e-3), "in", "out");
        net.Add("out", new Relay(3));
        net.MarkOutput("out");
        var x = Input(4, 5).to_type(ScalarType.Float64);
        var graph = NirGraph.ToNir(net, embedCheckpoint: false);
        Assert.That(graph.Node("syn")!.Type, Is.EqualTo("Linear"));
        Assert.That(graph.Node("syn.filter")!.Type, Is.EqualTo("LI"));
        var back = NirGraph.FromNir(graph, Dt, new NirImportOptions { BatchSize = 2, DType = ScalarType.Float64 });
        // Same recurrence y ← A·y + B·W·x, computed in another order: equal to rounding.
        Assert.That(D(RunAll(back, x)), Is.EqualTo(D(RunAll(net, x))).Within(1e-12));
    }

    [Test]
    public void ExportRecordsDtAndAnEditedGraphIsImportedFromItsNodes()
    {
        var net = Net();
        net.Add("in", new TensorInput(2));
        net.Add("w", new Dense(torch.tensor(new float[,] { { 1, 0 }, { 0, 1 } })), "in", "n");
        net.Add("n", new CubaLif(2, synapse: false, tauMem: 5e-3, threshold: 0.5));
        net.MarkOutput("n");
        var graph = NirGraph.ToNir(net);
        Assert.That(((NirArray)graph.Metadata["dt"]).Data[0], Is.EqualTo(Dt));
        Assert.That(graph.Metadata.ContainsKey(NirGraph.CheckpointManifestKey), Is.True);
        // Another tool doubles a weight: the checkpoint no longer matches, so the NIR parameters are used.
        var w = (NirArray)graph.Node("w")!.Values["weight"];
        graph.Node("w")!.Values["weight"] = w with { Data = w.Data.Select(v => v * 2).ToArray() };
        var back = NirGraph.FromNir(graph, Dt);
        back.Initialize();
        Assert.That(D(back["w"].Get("w")), Is.EqualTo(new[] { 2.0, 0, 0, 2 }));
    }

    [Test]
    public void AnUnloadableCheckpointFallsBackToTheNodes()
    {
        var net = Net();
        net.Add("in", new TensorInput(2));
        net.Add("w", new Dense(torch.tensor(new float[,] { { 1, 0 }, { 0, 1 } })), "in", "n");
        net.Add("n", new Lif(2, tau: 5e-3, threshold: 0.5));
        net.MarkOutput("n");
        var graph = NirGraph.ToNir(net);
        var bytes = (NirArray)graph.Metadata[NirGraph.CheckpointTensorsKey];
        graph.Metadata[NirGraph.CheckpointTensorsKey] = bytes with { Data = bytes.Data.Take(bytes.Data.Length / 2).ToArray(), Shape = new long[] { bytes.Data.Length / 2 } };
        var back = NirGraph.FromNir(graph, Dt);
        Assert.That(back["n"], Is.InstanceOf<CubaLif>(), "built from the LIF node, not the damaged checkpoint");
    }

    [Test]
    public void UnsupportedModelsAreTypedExportErrors()
    {
        var net = Net();
        net.Add("in", new TensorInput(2));
        net.Add("w", new Dense(), "in", "iz");
        net.Add("iz", new Izhikevich(2));
        var e = Assert.Throws<NirExportException>(() => NirGraph.ToNir(net))!;
        Assert.That(e.Group, Is.EqualTo("iz"));
        Assert.That(e.Model, Is.EqualTo("Izhikevich"));
    }
}
