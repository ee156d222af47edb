using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Monitors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using Ship.Datasets;
using Ship.Datasets.Readers;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Persistence;
using Ship.Devices.Plasticity;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Training;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;
using static Ship.Tests.Reliability.BadInputKit;
using static Ship.Tests.Reliability.ReliabilityKit;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

/// <summary>
/// The seven classes of bad input of issue #12 (docs/errors.md, rows 101 on): native aborts, complex dtypes, wiring
/// into sources, physical ranges, ownership, overflow, raw framework exceptions. Each gives its typed error naming the
/// object, and the network it was given to still runs bit-identically to an untouched one right after.
/// </summary>
public class BadInputClassTests
{
    public sealed record Case(int Row, string Input, Type Error, string Gist, Action<Network> Bad, Action<Network>? Fix = null, bool RunFirst = true, int RunsInside = 0)
    {
        public override string ToString() => $"{Row:D3} {Input}";
    }

    private static string Dir(string name) => TempFolder("classes-" + name);

    private static string SavedCheckpoint(string name) => BadInputKit.SavedCheckpoint(Dir(name));

    /// <summary>Replaces tensors of a saved checkpoint and fixes the manifest's size and SHA-256, so only the replaced tensor is wrong.</summary>
    private static void RewriteTensor(string dir, string name, Func<Tensor, Tensor> replace)
    {
        var path = Path.Combine(dir, NetworkCheckpoint.TensorFile);
        var list = new List<KeyValuePair<string, Tensor>>();
        using (var content = SafeTensors.Read(path))
            foreach (var n in content.Names) list.Add(new(n, n == name ? replace(content.Tensors[n]) : content.Tensors[n].clone()));
        SafeTensors.Write(path, list, new Dictionary<string, string> { ["format"] = NetworkCheckpoint.FormatName, ["version"] = NetworkCheckpoint.FormatVersion.ToString() });
        var bytes = File.ReadAllBytes(path);
        var manifest = Path.Combine(dir, NetworkCheckpoint.ManifestFile);
        var root = JsonNode.Parse(File.ReadAllText(manifest))!.AsObject();
        root["tensor_file"]!["bytes"] = bytes.LongLength;
        root["tensor_file"]!["sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        File.WriteAllText(manifest, root.ToJsonString());
    }

    private static Trainer NewTrainer(Network n, ILoss loss) =>
        new(n, new SpikeCount("L"), loss, ps => torch.optim.SGD(ps, 0.0), trainable: Trainables.Of(n, "S", "w"));

    public static IEnumerable<Case> Cases()
    {
        // 1. Native aborts: everything from a checkpoint is checked before libtorch sees it.
        yield return new(101, "checkpoint whose generator state has the wrong size", typeof(CheckpointException), "random generator state", _ =>
        {
            var dir = SavedCheckpoint("rng");
            RewriteTensor(dir, "rng/state", t => t.narrow(0, 0, t.shape[0] - 7).clone());
            Checkpoint.Load(dir);
        });
        yield return new(102, "checkpoint whose latest output has the wrong dtype", typeof(CheckpointException), "latest output of 'L'", _ =>
        {
            var dir = SavedCheckpoint("latest");
            RewriteTensor(dir, "run/latest/L", t => t.to_type(ScalarType.Int64));
            Checkpoint.Load(dir);
        });
        yield return new(127, "checkpoint whose device conductances have the wrong dtype", typeof(CheckpointException), "programmed conductances is Int64", _ =>
        {
            var dir = Path.Combine(Dir("device-dtype"), "ckpt");
            var net = new Network("dev") { Dt = 1e-3, Steps = 5, BatchSize = 2, Seed = 3 };
            net.Add("I", new TensorInput(3));
            net.Add("S", new Dense(Init.Uniform(0, 1)).WithDevice(MemristivePresets.ShipRram()), "I", "L");
            net.Add("L", new Lif(2));
            net.Run(torch.ones(2, 5, 3));
            Checkpoint.Save(net, dir);
            RewriteTensor(dir, "groups/S/state0/device/state/programmed", t => t.to_type(ScalarType.Int64));
            Checkpoint.Load(dir);
        });
        yield return new(103, "safetensors header whose shape overflows 64 bits", typeof(CheckpointException), "overflows 64 bits", _ =>
        {
            var header = Encoding.UTF8.GetBytes("{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,8],\"data_offsets\":[0,4]}}");
            var bytes = new byte[8 + header.Length + 4];
            BitConverter.GetBytes((ulong)header.Length).CopyTo(bytes, 0);
            header.CopyTo(bytes, 8);
            SafeTensors.Read(bytes, "overflow.safetensors");
        });

        // 2. Complex dtypes: refused where real values are expected, never silently truncated.
        yield return new(104, "complex input tensor", typeof(InputException), "complex", n => n.Run(Good().to_type(ScalarType.ComplexFloat32)));
        yield return new(105, "complex tensor as a parameter value", typeof(ParameterException), "complex", _ =>
        {
            var g = new Lif(2);
            g.Bind(new SimulationContext(2));
            g.Set("tau", torch.full(new long[] { 2 }, 5e-3, ScalarType.ComplexFloat64));
            g.PrepareTimeStep(1e-3);
        });
        yield return new(106, "complex reward for reward-modulated STDP", typeof(InputException), "complex",
            _ => new RewardStdpBlock(new Dense(), 2).SetReward(torch.ones(2, ScalarType.ComplexFloat32)));
        yield return new(107, "complex training target", typeof(LossInputException), "complex",
            n => NewTrainer(n, new MseLoss()).TrainBatch(Good(), torch.ones(new long[] { 2, 2 }, ScalarType.ComplexFloat32)));

        // 3. Wiring into sources: refused at Initialize, naming the connection.
        yield return new(108, "synapse into an input group", typeof(NetworkConfigurationException), "connection X -> I", n =>
        {
            n.Add("X", new Dense(0.5), "L", "I");
            n.Initialize();
        }, n => n.Remove("X"));
        yield return new(109, "synapse into a Poisson source", typeof(NetworkConfigurationException), "connection Y -> P", n =>
        {
            n.Add("Y", new Dense(0.5), "L", "P");
            n.Initialize();
        }, n => n.Remove("Y"));

        // 4. Physical ranges.
        yield return new(110, "negative conductance window of a differential mapping", typeof(ParameterException), "is a conductance",
            _ => new DifferentialReferenceMapping(-10, 120));
        yield return new(111, "negative conductance window of a symmetric mapping", typeof(ParameterException), "is a conductance",
            _ => new SymmetricDifferentialMapping(-5, 10));
        yield return new(112, "negative stuck-at conductance", typeof(ParameterException), "lowConductance",
            _ => new StuckAtFaults(0.1, 0.1, lowConductance: -1));
        yield return new(113, "NaN clip bound", typeof(ParameterException), "NaN", _ => new ConductanceClip(double.NaN, 100));

        // 5. Ownership.
        yield return new(114, "one device array attached to two synapses", typeof(NetworkConfigurationException), "already attached to synapse", _ =>
        {
            var array = MemristivePresets.ShipRram();
            new Dense().WithDevice(array);
            new Dense().WithDevice(array);
        });
        yield return new(115, "removing a monitor through another network", typeof(NetworkConfigurationException), "is not one of its monitors", n =>
        {
            var m = n.Monitor("L", "u");
            n.Run(Good());
            try { Base().RemoveMonitor(m); }
            finally { Assert.That(m.Count, Is.EqualTo(20), "the records are kept"); }
        }, n => n.RemoveMonitor(n.Monitors[^1]), RunsInside: 1);
        yield return new(116, "two monitors streaming into one folder", typeof(ShipException), "already receives the stream", n =>
        {
            var folder = Dir("one-folder");
            n.Monitor("L", "u").StreamTo(folder);
            n.Monitor("S", "I").StreamTo(folder);
        }, n => n.RemoveMonitor(n.Monitors[^1]));
        yield return new(131, "monitors of two networks streaming into one folder", typeof(ShipException), "is locked by another stream", n =>
        {
            var folder = Dir("two-networks");
            var other = Base();
            var first = other.Monitor("L", "u").StreamTo(folder, chunkSteps: 5);
            other.Run(Good());
            try { n.Monitor("L", "u").StreamTo(folder); }
            finally
            {
                // The refused monitor deleted nothing: the first stream's 4 chunks are intact and it keeps streaming.
                Assert.That(MonitorStream.ChunkFiles(folder), Has.Count.EqualTo(4), "the other network's chunks are kept");
                Assert.That(first.IsStreaming && first.StreamFolder == Path.GetFullPath(folder), Is.True, "the other stream goes on");
                first.CloseStream();
            }
        }, n => n.RemoveMonitor(n.Monitors[^1]));

        // 6. Overflow.
        yield return new(117, "schedule whose step count overflows 32 bits", typeof(NetworkConfigurationException), "at most 2147483647",
            n => n.Run(Good(), new Schedule((1e-3, int.MaxValue), (1e-3, 10))));
        yield return new(118, "dendritic group whose neurons × branches overflows a size", typeof(ParameterException), "overflow a group size",
            _ => new Ship.Devices.Dendrites.DendriticIntegrator(int.MaxValue, 2));
        yield return new(132, "dense synapse between two 100000-neuron groups", typeof(ParameterException), "100000 × 100000 = 10000000000 elements", n =>
        {
            n.Add("A", new Lif(100_000));
            n.Add("B", new Lif(100_000));
            n.Add("D", new Dense(0.5), "A", "B");
            n.Initialize();
        }, n => { n.Remove("D"); n.Remove("A"); n.Remove("B"); });
        yield return new(133, "neuron group of 2147483647 neurons with batch 2", typeof(ParameterException), "2 × 2147483647 = 4294967294 elements", n =>
        {
            n.Add("H", new Lif(int.MaxValue));
            n.Initialize();
        }, n => n.Remove("H"));

        // 7. Raw framework exceptions become typed ones naming the file or object.
        yield return new(119, "corrupt gzip stream in a CSV", typeof(DataFormatException), "gzip", _ =>
        {
            var path = Path.Combine(Dir("gzip"), "series.csv.gz");
            using (var f = File.Create(path))
            using (var gz = new GZipStream(f, CompressionLevel.Optimal))
                gz.Write(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(k => $"{k},{k * 0.5}\n"))));
            var bytes = File.ReadAllBytes(path);
            for (int k = 40; k < bytes.Length - 20; k += 7) bytes[k] ^= 0x5A;
            File.WriteAllBytes(path, bytes);
            CsvTimeSeries.Read(path, new CsvTimeSeriesOptions { HasHeader = false });
        });
        yield return new(120, "checkpoint manifest with a duplicated key", typeof(CheckpointException), "not valid JSON", _ =>
        {
            var dir = SavedCheckpoint("duplicate");
            var path = Path.Combine(dir, NetworkCheckpoint.ManifestFile);
            File.WriteAllText(path, File.ReadAllText(path).Replace("\"version\": 2,", "\"version\": 2, \"version\": 2,"));
            Checkpoint.Load(dir);
        });
        yield return new(128, "checkpoint whose model settings hold an unknown member", typeof(CheckpointException), "do not fit Settings", _ =>
        {
            var dir = SavedCheckpoint("unknown-member");
            EditManifest(dir, r => ((JsonObject)GroupNode(r, "L")["model"]!["settings"]!["inner"]!["settings"]!)["n_typo"] = 2);
            Checkpoint.Load(dir);
        });
        yield return new(129, "checkpoint whose network dtype is complex", typeof(CheckpointException), "not a floating dtype", _ =>
        {
            var dir = SavedCheckpoint("complex-dtype");
            EditManifest(dir, r => r["network"]!["settings"]!["dtype"] = "ComplexFloat32");
            Checkpoint.Load(dir);
        });
        yield return new(121, "saving a checkpoint onto a path that is a file", typeof(CheckpointException), "is a file", n =>
        {
            var file = Path.Combine(Dir("onto-file"), "ckpt");
            File.WriteAllText(file, "not a folder");
            Checkpoint.Save(n, file);
        });
        yield return new(122, "streaming a monitor onto a path that is a file", typeof(ShipException), "which is a file", n =>
        {
            var file = Path.Combine(Dir("stream-file"), "records");
            File.WriteAllText(file, "not a folder");
            n.Monitor("L", "u").StreamTo(file);
        }, n => n.RemoveMonitor(n.Monitors[^1]));
        yield return new(123, "training target of the wrong shape", typeof(LossInputException), "the scores' shape [2, 2]",
            n => NewTrainer(n, new MseLoss()).TrainBatch(Good(), torch.ones(2, 3)));
        yield return new(124, "training labels of the wrong count", typeof(LossInputException), "[2] class indices",
            n => NewTrainer(n, new NllLoss()).TrainBatch(Good(), torch.tensor(new long[] { 0, 1, 1 })));
        yield return new(125, "training label out of range", typeof(LossInputException), "class indices in [0, 1]",
            n => NewTrainer(n, new CrossEntropyLoss()).TrainBatch(Good(), torch.tensor(new long[] { 0, 2 })));
        yield return new(130, "custom loss that libtorch refuses for the target's shape", typeof(LossInputException), "Loss 'my-mse'",
            n => NewTrainer(n, new CustomLoss("my-mse", (a, b) => torch.nn.functional.mse_loss(a, b))).TrainBatch(Good(), torch.ones(5)));
        yield return new(126, "accuracy with the wrong number of labels", typeof(LossInputException), "[2] class indices",
            n => NewTrainer(n, new NllLoss()).Accuracy(Good(), torch.tensor(new long[] { 0, 1, 0, 1 })));
    }

    [TestCaseSource(nameof(Cases))]
    public void ABadInputOfEachClassGivesItsTypedErrorAndTheNetworkStillRunsCorrectly(Case c)
    {
        var net = Base();
        if (c.RunFirst) net.Run(Good());
        var e = Assert.Throws(Is.InstanceOf(c.Error), () => c.Bad(net))!;
        Assert.That(e.Message, Does.Contain(c.Gist), "the message says what is wrong");
        c.Fix?.Invoke(net);

        net.CheckFinite = false;
        var reference = Base();
        reference.Initialize();
        // A fix that changed the wiring re-initializes the network (fresh parameters and streams): its reference is new.
        bool fresh = !net.IsInitialized;
        if (fresh) net.Initialize();
        // The reference lives the same history minus the bad call: its generators must then match bit for bit (a
        // rejected call draws nothing), so they are compared, never copied over.
        if (!fresh)
            for (int k = (c.RunFirst ? 1 : 0) + c.RunsInside; k > 0; k--) reference.Run(Good());
        AssertBitIdentical(reference.Context.Rng.get_state(), net.Context.Rng.get_state(), "network generator unchanged");
        foreach (var (owner, purpose, generator) in net.Context.Streams.All)
            AssertBitIdentical(reference.Context.Streams.Get(owner, purpose).get_state(), generator.get_state(), $"stream {owner}/{purpose} unchanged");
        foreach (var g in reference.Groups)
            foreach (var p in g.AllVariables.OfType<Parameter>())
                AssertBitIdentical(p.Value, net[g.Tag].Variable(p.Name).Value, $"{g.Tag}.{p.Name} unchanged");
        AssertBitIdentical(reference.Run(Good())["L"], net.Run(Good())["L"], "a correct run right after");
    }

    [Test]
    public void EveryRowIsListedInErrorsMd()
    {
        var doc = File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "..", "..", "..", "..", "docs", "errors.md"));
        foreach (var c in Cases()) Assert.That(doc, Does.Contain($"| {c.Row} | {c.Input} |"), $"row {c.Row}");
    }
}
