using System.Text.Json.Nodes;
using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using Ship.Devices.Dendrites;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Persistence;
using Ship.Devices.Plasticity;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Tests.CustomModels;
using Ship.Training;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;
using static Ship.Tests.Reliability.ReliabilityKit;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

public class CheckpointTests
{
    private static IEnumerable<string> ScenarioNames => Scenarios.Names;

    private static double SpikeCount(RunResult r, params string[] tags) => tags.Sum(t => r[t].sum().item<float>());

    [TestCaseSource(nameof(ScenarioNames))]
    public void ARunContinuedAfterLoadingIsBitIdenticalToTheUninterruptedRun(string scenario)
    {
        var dir = TempFolder("inproc-" + scenario);
        var a = Scenarios.Build(scenario);
        Scenarios.Part1(a, scenario);
        Checkpoint.Save(a, dir, Scenarios.Registry());
        var ra = Scenarios.Part2(a, scenario);
        var expected = Scenarios.Record(a, ra);

        var b = Checkpoint.Load(dir, Scenarios.Registry());
        var actual = Scenarios.Record(b, Scenarios.Part2(b, scenario));
        AssertSameRecord(expected, actual);
        Assert.That(ra.Outputs.Values.Sum(t => t.abs().sum().item<float>()), Is.GreaterThan(0), "the continuation is not trivially zero");
    }

    [Test]
    public void TheMixedScenarioExercisesItsModels()
    {
        // Guards the bit-identity tests against a vacuous scenario: spikes flow through every spiking stage.
        var net = Scenarios.Build("mixed");
        var r1 = Scenarios.Part1(net, "mixed");
        var r2 = Scenarios.Part2(net, "mixed");
        foreach (var tag in new[] { "L1", "A1", "Z", "SL", "LL" })
            Assert.That(SpikeCount(r1, tag) + SpikeCount(r2, tag), Is.GreaterThan(0), $"{tag} fires");
        Assert.That(net["PA"].Get("w").numel(), Is.EqualTo(30));
        Assert.That(((WeightedSynapse)((GroupWrapper)net["IT"]).Inner).Plastic, Is.True);
    }

    [TestCaseSource(nameof(ScenarioNames))]
    public void ACheckpointSavedHereContinuesBitIdenticallyInAnotherProcess(string scenario)
    {
        var dir = TempFolder("xproc-" + scenario);
        var ckpt = Path.Combine(dir, "ckpt");
        var a = Scenarios.Build(scenario);
        Scenarios.Part1(a, scenario);
        Checkpoint.Save(a, ckpt, Scenarios.Registry());
        var expected = Scenarios.Record(a, Scenarios.Part2(a, scenario));

        var output = Path.Combine(dir, "continued.safetensors");
        RunHelper("continue", scenario, ckpt, output);
        AssertSameRecord(expected, ReadRecord(output));
    }

    [Test]
    public void ACheckpointSavedInAnotherProcessContinuesBitIdenticallyHere()
    {
        var dir = TempFolder("xproc-reverse");
        var ckpt = Path.Combine(dir, "ckpt");
        RunHelper("save", "mixed", ckpt);
        var loaded = Checkpoint.Load(ckpt, Scenarios.Registry());
        var actual = Scenarios.Record(loaded, Scenarios.Part2(loaded, "mixed"));

        var a = Scenarios.Build("mixed");
        Scenarios.Part1(a, "mixed");
        AssertSameRecord(Scenarios.Record(a, Scenarios.Part2(a, "mixed")), actual);
    }

    [Test]
    public void SavingChangesNothingInTheSavedNetwork()
    {
        var dir = TempFolder("nochange");
        var a = Scenarios.Build("mixed");
        Scenarios.Part1(a, "mixed");
        Checkpoint.Save(a, dir, Scenarios.Registry());
        Checkpoint.Save(a, dir, Scenarios.Registry()); // replacing an existing checkpoint
        var withSave = Scenarios.Record(a, Scenarios.Part2(a, "mixed"));
        var b = Scenarios.Build("mixed");
        Scenarios.Part1(b, "mixed");
        AssertSameRecord(Scenarios.Record(b, Scenarios.Part2(b, "mixed")), withSave);
    }

    [Test]
    public void ALoadedNetworkRestartsLikeTheOriginal()
    {
        // Run() after loading resets and redraws initial states from the restored generator, as the original does.
        var dir = TempFolder("restart");
        var a = Scenarios.Build("mixed");
        Scenarios.Part1(a, "mixed");
        Checkpoint.Save(a, dir, Scenarios.Registry());
        var b = Checkpoint.Load(dir, Scenarios.Registry());
        var ra = Scenarios.Part1(a, "mixed");
        var rb = Scenarios.Part1(b, "mixed");
        AssertSameRecord(Scenarios.Record(a, ra), Scenarios.Record(b, rb));
    }

    [Test]
    public void AnInitializedNetworkThatNeverRanRoundTrips()
    {
        var dir = TempFolder("neverrun");
        var a = Scenarios.Build("mixed");
        a.Initialize();
        Checkpoint.Save(a, dir, Scenarios.Registry());
        var b = Checkpoint.Load(dir, Scenarios.Registry());
        Assert.That(() => b.Continue(), Throws.TypeOf<ShipException>().With.Message.Contains("call Run first"));
        AssertSameRecord(Scenarios.Record(a, Scenarios.Part1(a, "mixed")), Scenarios.Record(b, Scenarios.Part1(b, "mixed")));
    }

    [Test]
    public void ModelsComeBackWithTheirSettingsAndState()
    {
        var dir = TempFolder("settings");
        var a = Scenarios.Build("mixed");
        Scenarios.Part1(a, "mixed");
        Checkpoint.Save(a, dir, Scenarios.Registry());
        var b = Checkpoint.Load(dir, Scenarios.Registry());

        Assert.That(b.Groups.Select(g => g.Tag), Is.EqualTo(a.Groups.Select(g => g.Tag)));
        Assert.That(b.Groups.Select(g => WrapperStack.Describe(g)), Is.EqualTo(a.Groups.Select(g => WrapperStack.Describe(g))));
        Assert.That(b.Connections, Is.EqualTo(a.Connections));
        Assert.That(b.Outputs, Is.EqualTo(a.Outputs));
        Assert.That(b.Monitors.Select(m => (m.Group.Tag, m.Variable)), Is.EqualTo(a.Monitors.Select(m => (m.Group.Tag, m.Variable))));
        Assert.That((b.Dt, b.Steps, b.BatchSize, b.Seed, b.DType), Is.EqualTo((a.Dt, a.Steps, a.BatchSize, a.Seed, a.DType)));
        Assert.That(((Delay)b["Z"]).Seconds, Is.EqualTo(2e-3));
        Assert.That(((Izhikevich)b["IZ"]).Substeps, Is.EqualTo(2));
        var di = (DendriticIntegrator)b["DI"];
        Assert.That((di.Neurons, di.Branches, di.Nonlinearity), Is.EqualTo((2, 2, DendriteNonlinearity.Relu)));
        var stdp = (StdpBlock)b["STDP"];
        Assert.That((stdp.Bounds, stdp.WMin, stdp.WMax), Is.EqualTo((StdpBounds.Clip, 0.0, 1.0)));
        Assert.That(b["IT"], Is.SameAs(stdp.Tap), "the tap in the network is the block's own");
        var array = (DeviceArray)((WeightedSynapse)b["AS"]).WeightDevice!;
        Assert.That(array.Mapping, Is.TypeOf<DifferentialReferenceMapping>());
        Assert.That(array.NonIdealities.Select(e => e.GetType()), Is.EqualTo(new[] { typeof(RramDrift), typeof(StuckAtFaults) }));
        Assert.That(array.ElapsedTime, Is.EqualTo(10.0));
        var original = (DeviceArray)((WeightedSynapse)a["AS"]).WeightDevice!;
        AssertBitIdentical(original.State.Programmed, array.State.Programmed, "programmed conductances");
        AssertBitIdentical(original.State.PinnedMask!, array.State.PinnedMask!, "stuck devices");
        Assert.That(array.State.PinnedMask!.any().item<bool>(), Is.True, "some devices are stuck (p = 0.2)");
        foreach (var g in a.Groups)
            foreach (var v in g.AllVariables)
                AssertBitIdentical(v.Value, b[g.Tag].Variable(v.Name).Value, $"{g.Tag}.{v.Name}");
        AssertBitIdentical(a.Context.Rng.get_state(), b.Context.Rng.get_state(), "generator state");
        Assert.That(b.Timeline.Times, Is.EqualTo(a.Timeline.Times));
        Assert.That(b.Context.StepIndex, Is.EqualTo(a.Context.StepIndex));
    }

    [Test]
    public void TensorsKeepTheirFileNamesForPythonReaders()
    {
        var dir = TempFolder("names");
        var a = Scenarios.Build("batched");
        Scenarios.Part1(a, "batched");
        Checkpoint.Save(a, dir, Scenarios.Registry());
        using var content = SafeTensors.Read(Path.Combine(dir, NetworkCheckpoint.TensorFile));
        Assert.That(content.Names, Does.Contain("groups/IF/w").And.Contain("groups/L/u").And.Contain("rng/state").And.Contain("run/latest/L"));
        AssertBitIdentical(a["IF"].Get("w"), content.Tensors["groups/IF/w"], "weights");
        Assert.That(content.Metadata["format"], Is.EqualTo(NetworkCheckpoint.FormatName));
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, NetworkCheckpoint.ManifestFile)))!;
        Assert.That((int)manifest["version"]!, Is.EqualTo(NetworkCheckpoint.FormatVersion));
        Assert.That((string)manifest["network"]!["groups"]![1]!["model"]!["type"]!, Is.EqualTo("FirstOrder"));
    }

    [Test]
    public void TrainedWeightsComeBackTrainablePinnedAndExact()
    {
        var dir = TempFolder("trained");
        var net = new Network { Dt = 1e-3, Steps = 15, BatchSize = 4, Seed = 3 };
        net.Add("I", new TensorInput(5));
        net.Add("IH", new Dense(Init.Uniform(0, 0.6)), "I", "H");
        net.Add("H", new Lif(6));
        net.Add("HO", new Dense(Init.Normal(0, 0.3)), "H", "O");
        net.Add("O", new LeakyIntegrator(2, tau: 20e-3));
        net.MarkOutput("O");
        var trainer = new Trainer(net, new MaxOverTime("O"), new CrossEntropyLoss(), ps => torch.optim.Adam(ps, 1e-2));
        var x = Scenarios.Raster(4, 15, 5, 0.4, seed: 9);
        var y = torch.tensor(new long[] { 0, 1, 0, 1 });
        for (int k = 0; k < 3; k++) trainer.TrainBatch(x, y);
        Checkpoint.Save(net, dir);
        var loaded = Checkpoint.Load(dir);
        foreach (var tag in new[] { "IH", "HO" })
        {
            var p = (Parameter)loaded[tag].Variable("w");
            Assert.That(p.Pinned, Is.True, $"{tag}.w stays pinned");
            Assert.That(p.Value.requires_grad, Is.True, $"{tag}.w stays trainable");
            AssertBitIdentical(net[tag].Get("w"), p.Value, $"{tag}.w");
        }
        Assert.That(loaded.SpikeFunction, Is.TypeOf<Ship.Core.Spikes.SurrogateSpikes>());
        var again = new Trainer(loaded, new MaxOverTime("O"), new CrossEntropyLoss(), ps => torch.optim.Adam(ps, 1e-2));
        AssertBitIdentical(trainer.Predict(x), again.Predict(x), "predictions");
        Assert.That(again.Parameters[0], Is.SameAs(loaded["IH"].Get("w")), "a new trainer trains the loaded tensors");
    }

    [Test]
    public void ACustomModelRoundTripsByItsRegisteredName()
    {
        var dir = TempFolder("custom");
        var net = new Network { Dt = 1e-3, Steps = 10, BatchSize = 1, Seed = 2 };
        net.Add("I", new TensorInput(2));
        net.Add("S", new Dense(torch.tensor(new float[,] { { 1, 0 }, { 0, 2 } })), "I", "E");
        net.Add("E", new ExponentialIntegrator(2, tau: 7e-3));
        net.MarkOutput("E");
        var x = torch.ones(1, 10, 2);
        net.Run(x);
        var err = Assert.Throws<CheckpointException>(() => Checkpoint.Save(net, Path.Combine(dir, "default")));
        Assert.That(err!.Problem, Is.EqualTo(CheckpointProblem.UnknownModel));
        Assert.That(err.Message, Does.Contain("ExponentialIntegrator").And.Contain("[ShipModel"));
        Assert.That(Directory.Exists(Path.Combine(dir, "default")), Is.False, "a failed save writes nothing");

        Checkpoint.Save(net, Path.Combine(dir, "custom"), Scenarios.Registry());
        var unknown = Assert.Throws<CheckpointException>(() => Checkpoint.Load(Path.Combine(dir, "custom")));
        Assert.That(unknown!.Problem, Is.EqualTo(CheckpointProblem.UnknownModel));
        Assert.That(unknown.Message, Does.Contain("Tests.ExponentialIntegrator"));

        var loaded = Checkpoint.Load(Path.Combine(dir, "custom"), Scenarios.Registry());
        Assert.That(loaded["E"], Is.TypeOf<ExponentialIntegrator>());
        Assert.That(loaded["E"].Get("tau").item<float>(), Is.EqualTo(7e-3f));
        AssertBitIdentical(net.Continue(x)["E"], loaded.Continue(x)["E"], "continued output");
    }

    [Test]
    public void RegistriesDiscoverTheirAssembliesAndShareNothing()
    {
        var withTests = new ModelRegistry(typeof(ExponentialIntegrator).Assembly);
        var plain = new ModelRegistry(typeof(Network).Assembly);
        Assert.That(withTests.NameOf(typeof(ExponentialIntegrator)), Is.EqualTo("Tests.ExponentialIntegrator"));
        Assert.That(plain.Contains(typeof(ExponentialIntegrator)), Is.False, "a registry knows only the assemblies it is given");
        foreach (var r in new[] { withTests, plain })
            Assert.That(r.Contains(typeof(Lif)) && r.Contains(typeof(StdpBlock)) && r.Contains(typeof(Ship.Core.Spikes.FastSigmoid)), Is.True, "the Ship.NET libraries are always scanned");
        withTests.RegisterGenerator("x", _ => null);
        Assert.That(new ModelRegistry(typeof(ExponentialIntegrator).Assembly).Types, Is.EquivalentTo(withTests.Types), "registries are independent values");
    }

    [Test]
    public void AGeneratorTheRegistryCannotRebuildFailsOnlyWhenRedrawn()
    {
        var dir = TempFolder("generator");
        var net = new Network { Dt = 1e-3, Steps = 5, BatchSize = 2, Seed = 4 };
        net.Add("I", new TensorInput(3));
        net.Add("S", new Dense(), "I", "L");
        net.Add("L", new Lif(2));
        net.Set("L", "u", Value.Generated(c => torch.full(c.Shape, 0.25, dtype: c.DType), "quarter"));
        net.Set("S", "w", Value.Generated(c => torch.full(c.Shape, 0.5, dtype: c.DType), "half"));
        net.MarkOutput("L");
        var x = torch.ones(2, 5, 3);
        net.Run(x);
        Checkpoint.Save(net, dir);
        var loaded = Checkpoint.Load(dir);
        AssertBitIdentical(net.Continue(x)["L"], loaded.Continue(x)["L"], "continuation uses the saved tensors");
        var e = Assert.Throws<ShipException>(() => loaded.Run(x));
        Assert.That(e!.Message, Does.Contain("'quarter'").And.Contain("RegisterGenerator"));

        var registry = new ModelRegistry()
            .RegisterGenerator("quarter", _ => Value.Generated(c => torch.full(c.Shape, 0.25, dtype: c.DType), "quarter"));
        var rebuilt = Checkpoint.Load(dir, registry);
        AssertBitIdentical(net.Run(x)["L"], rebuilt.Run(x)["L"], "a registered generator redraws as the original");
    }

    [Test]
    public void InitGeneratorsAreRebuiltFromTheirDescription()
    {
        var dir = TempFolder("init");
        var net = new Network { Dt = 1e-3, Steps = 4, BatchSize = 2, Seed = 4 };
        net.Add("I", new TensorInput(3));
        net.Add("S", new Dense(Init.Normal(0.125, 0.3)), "I", "L");
        net.Add("L", new Lif(2));
        net.Set("L", "u", Init.Uniform(0.1, 0.7));
        net.MarkOutput("L");
        net.Initialize();
        Checkpoint.Save(net, dir);
        var loaded = Checkpoint.Load(dir);
        Assert.That(loaded["L"].Variable("u").Spec.Describe(), Is.EqualTo("uniform(0.1, 0.7)"));
        Assert.That(loaded["S"].Variable("w").Spec.Describe(), Is.EqualTo("normal(0.125, 0.3)"));
        loaded.BatchSize = 3; // re-initialization redraws the weights from the rebuilt generator, as the original does
        net.BatchSize = 3;
        var x = torch.ones(3, 4, 3);
        AssertBitIdentical(net.Run(x)["L"], loaded.Run(x)["L"], "redrawn after re-initialization");
        AssertBitIdentical(net["S"].Get("w"), loaded["S"].Get("w"), "redrawn weights");
    }

    [Test]
    public void SavingRefusesAnUninitializedNetworkAndAForeignFolder()
    {
        var dir = TempFolder("refuse");
        var net = new Network { BatchSize = 1 };
        net.Add("I", new TensorInput(2));
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Save(net, Path.Combine(dir, "a")));
        Assert.That(e!.Problem, Is.EqualTo(CheckpointProblem.NotSaveable));
        Assert.That(e.Message, Does.Contain("Initialize"));

        net.Initialize();
        var foreign = Path.Combine(dir, "foreign");
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "notes.txt"), "mine");
        var f = Assert.Throws<CheckpointException>(() => Checkpoint.Save(net, foreign));
        Assert.That(f!.Message, Does.Contain("not a checkpoint folder"));
        Assert.That(File.ReadAllText(Path.Combine(foreign, "notes.txt")), Is.EqualTo("mine"));
    }

    [Test]
    public void AFailedSaveKeepsThePreviousCheckpoint()
    {
        var dir = TempFolder("keep");
        var net = new Network { Dt = 1e-3, Steps = 5, BatchSize = 1, Seed = 1 };
        net.Add("I", new TensorInput(2));
        net.Add("S", new Dense(0.5), "I", "E");
        net.Add("E", new ExponentialIntegrator(2));
        net.MarkOutput("E");
        net.Run(torch.ones(1, 5, 2));
        Checkpoint.Save(net, dir, Scenarios.Registry());
        var before = File.ReadAllBytes(Path.Combine(dir, NetworkCheckpoint.TensorFile));
        net.Continue(torch.ones(1, 5, 2));
        Assert.Throws<CheckpointException>(() => Checkpoint.Save(net, dir)); // default registry: unknown custom model
        Assert.That(File.ReadAllBytes(Path.Combine(dir, NetworkCheckpoint.TensorFile)), Is.EqualTo(before));
        Assert.That(Checkpoint.Load(dir, Scenarios.Registry()).Timeline.Count, Is.EqualTo(5));
        Assert.That(Directory.GetDirectories(Path.GetDirectoryName(dir)!).Where(d => d.EndsWith(".shiptmp")), Is.Empty, "no temporary folder left");
    }

    [Test]
    public void AConsistentFileWhoseWeightsDoNotFitTheTopologyIsRefused()
    {
        // The tensor file and the manifest agree with each other (hash, shapes), but the weights are [3, 3] where the
        // topology (3 inputs → 2 neurons) needs [3, 2]: the load fails and names the group and parameter.
        var dir = TempFolder("mismatch");
        var net = new Network { Dt = 1e-3, Steps = 5, BatchSize = 1, Seed = 1 };
        net.Add("I", new TensorInput(3));
        net.Add("S", new Dense(0.5), "I", "L");
        net.Add("L", new Lif(2));
        net.Initialize();
        Checkpoint.Save(net, dir);
        var tensorPath = Path.Combine(dir, NetworkCheckpoint.TensorFile);
        Dictionary<string, Tensor> tensors;
        using (var c = SafeTensors.Read(tensorPath)) tensors = c.Names.ToDictionary(n => n, n => c.Tensors[n].clone());
        tensors["groups/S/w"] = torch.ones(3, 3);
        SafeTensors.Write(tensorPath, tensors.ToList(), new Dictionary<string, string> { ["format"] = NetworkCheckpoint.FormatName });
        var manifestPath = Path.Combine(dir, NetworkCheckpoint.ManifestFile);
        var root = JsonNode.Parse(File.ReadAllText(manifestPath))!.AsObject();
        var bytes = File.ReadAllBytes(tensorPath);
        root["tensor_file"]!["bytes"] = bytes.Length;
        root["tensor_file"]!["sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        var w = root["network"]!["groups"]![1]!["variables"]!.AsArray().Single(v => (string)v!["name"]! == "w")!;
        w["shape"] = new JsonArray(3, 3);
        File.WriteAllText(manifestPath, root.ToJsonString());

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(dir));
        Assert.That(e!.Problem, Is.EqualTo(CheckpointProblem.TopologyMismatch));
        Assert.That(e.Message, Does.Contain("Group 'S', parameter 'w'").And.Contain("[3, 2]").And.Contain("[3, 3]"));
    }
}
