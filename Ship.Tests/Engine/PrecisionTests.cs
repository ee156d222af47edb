using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Networks.Observers;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.Conformance;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// The network-level precision setting (docs/precision.md): bfloat16/float16 storage rounds parameters and every group
/// output to the storage type while states accumulate in the network's dtype; TF32 is set for a call and restored.
/// </summary>
public class PrecisionTests
{
    private static Network Build(Precision precision, bool batching, ScalarType dtype = ScalarType.Float32)
    {
        var net = new Network("precision") { Dt = 1e-3, BatchSize = 2, Seed = 3, DType = dtype, TimeBatching = batching, Precision = precision };
        net.Add("I", new TensorInput(6));
        net.Add("IH", new Dense(Init.Uniform(0, 0.6)), "I", "H");
        net.Add("H", new Lif(5, tau: 7e-3, threshold: 0.8));
        net.Add("HO", new FirstOrder(Init.Uniform(0, 1), tau: 3e-3, weightScale: 3.0), "H", "O");
        net.Add("O", new LeakyIntegrator(3, tau: 4e-3));
        net.MarkOutput("IH", "H", "HO", "O");
        return net;
    }

    private static Tensor Input(int steps) => torch.rand(new long[] { 2, steps, 6 }, generator: new torch.Generator(8)).mul(1.5);

    private static bool Representable(Tensor t, ScalarType storage)
    {
        using var back = t.to_type(storage).to_type(t.dtype);
        return back.eq(t).all().item<bool>();
    }

    [TestCase(true, ScalarType.BFloat16)]
    [TestCase(false, ScalarType.BFloat16)]
    [TestCase(true, ScalarType.Float16)]
    public void StorageRoundsParametersAndOutputsButNotStates(bool batching, ScalarType storage)
    {
        var net = Build(new Precision(storage), batching);
        net.Initialize();
        var u = net.Monitor("H", "u");
        var i = net.Monitor("HO", "I");
        var r = net.Run(Input(40));
        foreach (var tag in new[] { "IH", "H", "HO", "O" })
            Assert.That(Representable(r[tag], storage), $"output {tag} holds {storage} values");
        Assert.That(Representable(net["IH"].Variable("w").Value, storage), "weights are stored as " + storage);
        Assert.That(Representable(net["H"].Variable("tau").Value, storage), "time constants too");
        Assert.That(r["H"].sum().item<float>(), Is.GreaterThan(0), "the LIF fires");
        // States accumulate in float32: the membrane and the synaptic current take values no 8- or 11-bit mantissa holds.
        Assert.That(Representable(u.Values, storage), Is.False, "the membrane is not rounded");
        Assert.That(Representable(i.Values, storage), Is.False, "the synaptic current is not rounded");
    }

    [Test]
    public void BothModesAreIdenticalWithReducedStorage()
    {
        var a = Build(Precision.BFloat16Storage, batching: true, ScalarType.Float64).Run(Input(37).to_type(ScalarType.Float64));
        var b = Build(Precision.BFloat16Storage, batching: false, ScalarType.Float64).Run(Input(37).to_type(ScalarType.Float64));
        foreach (var (tag, y) in b.Outputs) Identical.Assert(a[tag], y, tag);
    }

    [Test]
    public void RunThenContinueIsOneRunWithReducedStorage()
    {
        // Rounding happens where values are stored, never at a call boundary: a split run rounds exactly what one run does.
        var x = Input(37).to_type(ScalarType.Float64);
        var whole = Build(Precision.BFloat16Storage, batching: true, ScalarType.Float64).Run(x);
        var split = Build(Precision.BFloat16Storage, batching: true, ScalarType.Float64);
        var r1 = split.Run(x.narrow(1, 0, 15));
        var r2 = split.Continue(x.narrow(1, 15, 22));
        foreach (var (tag, y) in whole.Outputs)
            Identical.Assert(torch.cat(new[] { r1[tag], r2[tag] }, 1), y, tag);
    }

    [Test]
    public void FullPrecisionIsTheDefaultAndChangesNothing()
    {
        var plain = new Network("p") { Dt = 1e-3, BatchSize = 2, Seed = 3 };
        Assert.That(plain.Precision, Is.SameAs(Precision.Full));
        var a = Build(Precision.Full, batching: true).Run(Input(30));
        var b = Build(new Precision(), batching: true).Run(Input(30));
        foreach (var (tag, y) in b.Outputs) Assert.That(a[tag].eq(y).all().item<bool>(), tag);
        // Not rounded: the first layer's currents are float32 values that bfloat16 does not hold.
        Assert.That(Representable(a["IH"], ScalarType.BFloat16), Is.False);
    }

    [TestCase(ScalarType.Float32, ScalarType.Float32)]
    [TestCase(ScalarType.Int32, ScalarType.Float32)]
    [TestCase(ScalarType.BFloat16, ScalarType.BFloat16)]
    public void AStorageTypeThatCannotServeIsRefusedNamingTheNetwork(ScalarType storage, ScalarType dtype)
    {
        var net = Build(new Precision(storage), batching: true, dtype);
        var e = Assert.Throws<NetworkConfigurationException>(() => net.Initialize());
        Assert.That(e!.Message, Does.Contain("'precision'").And.Contain(storage.ToString()));
    }

    private sealed class FlagProbe : IRunObserver
    {
        public List<bool> Seen { get; } = new();
        public bool NeedsStepOutput(Ship.Core.Groups.Group group) => false;
        public bool NeedsStepState(Ship.Core.Groups.Group group) => false;
        public void OnRunStart(RunStartView run) { }
        public void OnStep(StepView step) => Seen.Add(torch.backends.cuda.matmul.allow_tf32);
        public void OnBlockEnd(BlockView block) { }
        public void OnRunEnd(bool completed) { }
    }

    [Test]
    public void Tf32IsAllowedDuringACallAndRestoredAfter()
    {
        bool before = torch.backends.cuda.matmul.allow_tf32;
        var net = Build(new Precision(Tf32: true), batching: false);
        var probe = new FlagProbe();
        net.AddObserver(probe);
        net.Run(Input(5));
        Assert.That(probe.Seen, Has.Count.EqualTo(5).And.All.True, "TF32 allowed while the call steps");
        Assert.That(torch.backends.cuda.matmul.allow_tf32, Is.EqualTo(before), "the process-wide flag is put back");
        var other = Build(Precision.Full, batching: false);
        var probe2 = new FlagProbe();
        other.AddObserver(probe2);
        other.Run(Input(5));
        Assert.That(probe2.Seen, Has.All.EqualTo(before), "a network without TF32 runs with the flag as it was");
    }

    [Test]
    public void ACheckpointKeepsThePrecision()
    {
        using var dir = new Ship.Tests.Datasets.TempDir();
        var net = Build(new Precision(ScalarType.Float16, Tf32: true), batching: true);
        var x = Input(20);
        net.Run(x.narrow(1, 0, 10));
        new Ship.Core.Persistence.NetworkCheckpoint().Save(net, dir.File("p.ship"));
        var back = new Ship.Core.Persistence.NetworkCheckpoint().Load(dir.File("p.ship"));
        Assert.That(back.Precision, Is.EqualTo(net.Precision));
        var a = net.Continue(new Dictionary<string, Tensor> { ["I"] = x.narrow(1, 10, 10) });
        var b = back.Continue(new Dictionary<string, Tensor> { ["I"] = x.narrow(1, 10, 10) });
        foreach (var (tag, y) in a.Outputs) Assert.That(b[tag].eq(y).all().item<bool>(), $"{tag} continues the same after loading");
    }
}
