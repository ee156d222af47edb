using System.IO.Compression;
using System.Text.Json.Nodes;
using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Monitors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using Ship.Datasets;
using Ship.Datasets.Encoders;
using Ship.Datasets.Readers;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Persistence;
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
/// The catalogue of docs/errors.md: every bad input gives its typed error with a message that says what is wrong,
/// and the network it was given to still runs correctly right after (bit-identical to an untouched network in the
/// same generator state). Rows are numbered as in the document.
/// </summary>
public class BadInputCatalogTests
{
    public sealed record Case(int Row, string Input, Type Error, string Gist, Action<Network> Bad, Action<Network>? Fix = null, bool RunFirst = true)
    {
        public override string ToString() => $"{Row:D2} {Input}";
    }

    private static Tensor With(float value)
    {
        var x = Good();
        x[1, 4, 2] = torch.tensor(value);
        return x;
    }

    private static string Dir(string name) => TempFolder("catalog-" + name);

    private static string SavedCheckpoint(string name) => BadInputKit.SavedCheckpoint(Dir(name));

    public static IEnumerable<Case> Cases()
    {
        // Inputs given to a run.
        yield return new(1, "input with the wrong number of channels", typeof(InputException), "expected shape [2, >= 20, 3]", n => n.Run(torch.ones(2, 20, 4)));
        yield return new(2, "input with the wrong batch size", typeof(InputException), "expected shape [2, >= 20, 3]", n => n.Run(torch.ones(3, 20, 3)));
        yield return new(3, "input shorter than the run", typeof(InputException), "got [2, 10, 3]", n => n.Run(torch.ones(2, 10, 3), Schedule.Fixed(1e-3, 20)));
        yield return new(4, "input of the wrong rank ([steps, N])", typeof(InputException), "(batch, steps, N)", n => n.Run(torch.ones(20, 3)));
        yield return new(5, "NaN in the input", typeof(InputException), "NaN or infinite", n => n.Run(With(float.NaN)));
        yield return new(6, "infinity in the input", typeof(InputException), "NaN or infinite", n => n.Run(With(float.PositiveInfinity)));
        yield return new(7, "input on another device", typeof(InputException), "the input is on meta, the network runs on cpu",
            n => n.Run(torch.empty(new long[] { 2, 20, 3 }, device: torch.META)));
        yield return new(8, "no data for an input group", typeof(InputException), "got no data for this run", n => n.Run(new Dictionary<string, Tensor>()));
        yield return new(9, "data for a group that is not an input", typeof(InputException), "not an input group",
            n => n.Run(new Dictionary<string, Tensor> { ["I"] = Good(), ["L"] = Good() }));
        yield return new(10, "data for an unknown tag", typeof(NetworkConfigurationException), "no group has that tag",
            n => n.Run(new Dictionary<string, Tensor> { ["I"] = Good(), ["X"] = Good() }));
        yield return new(11, "Continue with too little data left", typeof(InputException), "has 0 steps of data left", n => n.Continue());
        yield return new(12, "Continue before any Run", typeof(ShipException), "nothing to continue; call Run first", n => n.Continue(Good()), RunFirst: false);
        yield return new(13, "spike trains of the wrong width", typeof(InputException), "expected shape [steps, 3]",
            _ => new SpikeTrainInput(3).Feed(new[] { torch.ones(5, 4) }));

        // Run settings and schedules.
        yield return new(14, "dt = 0", typeof(NetworkConfigurationException), "dt must be a finite value > 0", n => { n.Dt = 0; n.Run(Good()); }, n => n.Dt = 1e-3);
        yield return new(15, "dt < 0", typeof(NetworkConfigurationException), "dt must be a finite value > 0", n => { n.Dt = -1e-3; n.Run(Good()); }, n => n.Dt = 1e-3);
        yield return new(16, "dt = NaN", typeof(NetworkConfigurationException), "dt must be a finite value > 0", n => { n.Dt = double.NaN; n.Run(Good()); }, n => n.Dt = 1e-3);
        yield return new(17, "zero steps", typeof(NetworkConfigurationException), "steps must be >= 1", n => { n.Steps = 0; n.Run(Good()); }, n => n.Steps = 20);
        yield return new(18, "batch size 0", typeof(NetworkConfigurationException), "batch size must be >= 1", n => { n.BatchSize = 0; n.Run(Good()); }, n => n.BatchSize = 2);
        yield return new(19, "schedule with an empty segment", typeof(NetworkConfigurationException), "an empty segment does nothing",
            n => n.Run(Good(), new Schedule((1e-3, 10), (1e-3, 0))));
        yield return new(20, "schedule without segments", typeof(NetworkConfigurationException), "no segment", n => n.Run(Good(), new Schedule(Array.Empty<Segment>())));

        // Topology.
        yield return new(21, "duplicate tag", typeof(NetworkConfigurationException), "the tag 'L' is already used", n => n.Add("L", new Lif(2)));
        yield return new(22, "connection to an unknown tag", typeof(NetworkConfigurationException), "unknown target 'Nowhere'",
            n => { n.Connect("L", "Nowhere"); n.Run(Good()); }, n => n.Add("Nowhere", new Lif(2)));
        yield return new(23, "output tag that names no group", typeof(NetworkConfigurationException), "output 'Out' is not a group tag",
            n => { n.MarkOutput("Out"); n.Run(Good()); }, n => n.Add("Out", new Lif(1)));
        yield return new(24, "synapse with a missing side", typeof(NetworkConfigurationException), "must have exactly one source and one target",
            n => { n.Add("D", new Dense(0.5)); n.Connect("I", "D"); n.Run(Good()); }, n => n.Remove("D"));
        yield return new(25, "groups whose sizes do not match", typeof(NetworkConfigurationException), "source output has 2 components, target expects an input of 3",
            n => { n.Add("X", new Lif(3)); n.Connect("L", "X"); n.Run(Good()); }, n => n.Remove("X"));
        yield return new(26, "identity link between groups of different sizes", typeof(NetworkConfigurationException), "one-to-one needs equal sizes",
            n => { n.Add("X", new Lif(3)); n.Add("ID", new Identity(), "L", "X"); n.Run(Good()); }, n => { n.Remove("ID"); n.Remove("X"); });
        yield return new(27, "refractory wrapper around a model without an integration gate", typeof(NetworkConfigurationException), "no group implementing IIntegrationGate",
            n => { n.Add("R", new Refractory(new LeakyIntegrator(2), 1e-3)); n.Run(Good()); }, n => n.Remove("R"));
        yield return new(28, "neuron group of size 0", typeof(ParameterException), "needs N >= 1", _ => new Lif(0));
        yield return new(29, "monitor of an unknown variable", typeof(ParameterException), "no such parameter or state", n => n.Monitor("L", "v"));

        // Parameters.
        yield return new(30, "negative time constant", typeof(ParameterException), "outside the allowed range (> 0 s", n => n.Set("L", "tau", -5e-3));
        yield return new(31, "zero time constant", typeof(ParameterException), "outside the allowed range (> 0)", n => n.Set("S", "tau", 0.0));
        yield return new(32, "time-constant tensor with a zero", typeof(ParameterException), "values must be > 0", n => n.Set("L", "tau", torch.tensor(new[] { 5e-3f, 0f })));
        yield return new(33, "parameter tensor of the wrong shape", typeof(ParameterException), "expected a shape broadcastable to [3, 2]", n => n.Set("S", "w", torch.ones(4, 4)));
        yield return new(34, "parameter tensor on another device", typeof(ParameterException), "the given tensor is on meta, the network runs on cpu",
            n => n.Set("L", "tau", torch.ones(2, device: torch.META)));
        yield return new(35, "NaN in a weight tensor", typeof(ParameterException), "contains NaN", n => n.Set("S", "w", torch.full(3, 2, double.NaN)));
        yield return new(36, "unknown parameter name", typeof(ParameterException), "no such parameter or state", n => n.Set("L", "tua", 1.0));
        yield return new(37, "Poisson rate with rate·dt > 1", typeof(ParameterException), "rate·dt must be <= 1", n => n.Set("P", "rate", 5000.0));
        yield return new(38, "negative refractory period", typeof(ParameterException), "outside the allowed range (>= 0)", n => n.Set("L", "t_ref", -1e-3));
        yield return new(39, "negative axonal delay", typeof(ParameterException), "finite number of seconds >= 0", _ => new Delay(new Lif(2), -1e-3));
        yield return new(40, "delays in steps that are not whole numbers", typeof(ParameterException), "must be whole numbers",
            n => { n.Add("HD", new HeterogeneousDelay(1.5), "L", "Y"); n.Add("Y", new Lif(2)); n.Run(Good()); }, n => { n.Remove("HD"); n.Remove("Y"); });
        yield return new(41, "Izhikevich with no Euler sub-step", typeof(ParameterException), "at least one Euler sub-step", _ => new Izhikevich(2, substeps: 0));

        // Device models.
        yield return new(42, "quantization with fewer than 2 levels", typeof(ParameterException), "needs at least 2 conductance levels", _ => new QuantizedLevels(1));
        yield return new(43, "fault probability above 1", typeof(ParameterException), "must lie in [0, 1]", _ => new StuckAtFaults(1.5, 0));
        yield return new(44, "fault probability below 0", typeof(ParameterException), "must lie in [0, 1]", _ => new StuckAtFaults(0, -0.1));
        yield return new(45, "conductance window with Gmin >= Gmax", typeof(ParameterException), "needs finite Gmin < Gmax", _ => new DifferentialReferenceMapping(120e-6, 50e-6));

        // Data.
        yield return new(46, "truncated IDX file", typeof(DataFormatException), "truncated", _ =>
        {
            var path = Path.Combine(Dir("idx"), "t10k-images-idx3-ubyte");
            var bytes = new byte[] { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5 }; // 2 images of 2×2 need 8 bytes, 5 given
            File.WriteAllBytes(path, bytes);
            Idx.ReadImages(path);
        });
        yield return new(47, "CSV without a requested column", typeof(DataFormatException), "'spo2'", _ =>
        {
            var path = Path.Combine(Dir("csv"), "series.csv");
            File.WriteAllText(path, "time,ecg\n0,1.5\n1,2.5\n");
            CsvTimeSeries.Read(path, new CsvTimeSeriesOptions { Columns = new[] { "ecg", "spo2" } });
        });
        yield return new(48, "rate coding with a spike probability above 1", typeof(ParameterException), "reaches 2.5 > 1",
            _ => RateEncoder.Encode(torch.full(2, 3, 5.0f), 10, 1e-3, 500, new torch.Generator(1)));

        // Checkpoints.
        yield return new(49, "checkpoint whose tensor file was truncated", typeof(CheckpointException), "the file is truncated", _ =>
        {
            var dir = SavedCheckpoint("truncated");
            var path = Path.Combine(dir, NetworkCheckpoint.TensorFile);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
            Checkpoint.Load(dir);
        });
        yield return new(50, "checkpoint whose tensor file was altered", typeof(CheckpointException), "does not match the SHA-256", _ =>
        {
            var dir = SavedCheckpoint("altered");
            var path = Path.Combine(dir, NetworkCheckpoint.TensorFile);
            var bytes = File.ReadAllBytes(path);
            bytes[^3] ^= 0x40;
            File.WriteAllBytes(path, bytes);
            Checkpoint.Load(dir);
        });
        yield return new(51, "checkpoint whose manifest was truncated", typeof(CheckpointException), "truncated", _ =>
        {
            var dir = SavedCheckpoint("manifest");
            var path = Path.Combine(dir, NetworkCheckpoint.ManifestFile);
            var text = File.ReadAllText(path);
            File.WriteAllText(path, text[..(text.Length / 2)]);
            Checkpoint.Load(dir);
        });
        yield return new(52, "checkpoint of a newer format version", typeof(CheckpointException), "written by a newer Ship.NET", _ =>
        {
            var dir = SavedCheckpoint("newer");
            EditManifest(dir, r => r["version"] = NetworkCheckpoint.FormatVersion + 1);
            Checkpoint.Load(dir);
        });
        yield return new(53, "checkpoint whose tensors disagree with its topology", typeof(CheckpointException), "do not fit", _ =>
        {
            var dir = SavedCheckpoint("topology");
            EditManifest(dir, r => GroupNode(r, "L")["model"]!["settings"]!["inner"]!["settings"]!["n"] = 3); // 3 neurons, but weights and states for 2
            Checkpoint.Load(dir);
        });
        yield return new(54, "checkpoint naming a model the registry does not know", typeof(CheckpointException), "which the registry does not know", _ =>
        {
            var dir = SavedCheckpoint("unknown");
            EditManifest(dir, r => GroupNode(r, "L")["model"]!["settings"]!["inner"]!["type"] = "MyNeuron");
            Checkpoint.Load(dir);
        });
        yield return new(55, "checkpoint folder that does not exist", typeof(CheckpointException), "does not exist", _ => Checkpoint.Load(Path.Combine(Dir("none"), "missing")));

        // Training and run-time guards.
        yield return new(56, "trainer with nothing to train", typeof(ShipException), "nothing to train",
            n => new Trainer(n, new MaxOverTime("L"), new MseLoss(), ps => torch.optim.SGD(ps, 0.1), trainable: Array.Empty<Parameter>()));
        yield return new(57, "a value overflowing to infinity during a guarded run", typeof(NonFiniteValueException), "infinite",
            n =>
            {
                var w = n["S"].Get("w").clone();
                n.CheckFinite = true;
                n.Set("S", "w", 1e37); // times w_scale = 100 overflows float32
                try { n.Run(Good()); }
                finally { n.Set("S", "w", w); }
            });
        yield return new(58, "streamed monitor with chunks of 0 steps", typeof(ArgumentOutOfRangeException), "a chunk holds at least one step",
            n => n.Monitor("L").StreamTo(Dir("chunk"), 0));
        yield return new(59, "a later schedule segment whose dt gives rate·dt > 1", typeof(ParameterException), "rate·dt must be <= 1",
            n => n.Continue(Scenarios.Raster(2, 10, 3, 0.4, seed: 9), new Ship.Core.Clocks.Schedule((1e-3, 5), (20e-3, 5))));
        yield return new(60, "monitor of a delay queue", typeof(ParameterException), "cannot be monitored",
            n => { n.Add("DQ", new Delay(new Lif(2), 2e-3)); n.Monitor("DQ", "delay_queue"); }, n => n.Remove("DQ"));
    }

    [TestCaseSource(nameof(Cases))]
    public void ABadInputGivesItsTypedErrorAndTheNetworkStillRunsCorrectly(Case c)
    {
        var net = Base();
        if (c.RunFirst) net.Run(Good());
        var e = Assert.Throws(c.Error, () => c.Bad(net))!;
        Assert.That(e.Message, Does.Contain(c.Gist), "the message says what is wrong");
        c.Fix?.Invoke(net);

        // A correct run right after, compared with an untouched network in the same generator state.
        net.CheckFinite = false;
        var reference = Base();
        reference.Initialize();
        if (!net.IsInitialized) net.Initialize();
        reference.Context.Rng.set_state(net.Context.Rng.get_state());
        foreach (var (owner, purpose, generator) in net.Context.Streams.All) // draws come from per-group streams
            reference.Context.Streams.Get(owner, purpose).set_state(generator.get_state());
        foreach (var g in reference.Groups)
            foreach (var p in g.AllVariables.OfType<Parameter>())
                AssertBitIdentical(p.Value, net[g.Tag].Variable(p.Name).Value, $"{g.Tag}.{p.Name} unchanged");
        AssertBitIdentical(reference.Run(Good())["L"], net.Run(Good())["L"], "a correct run right after");
    }

    [Test]
    public void TheCatalogueHasAtLeast25RowsAndDocsErrorsListsThemAll()
    {
        var cases = Cases().ToList();
        Assert.That(cases.Count, Is.GreaterThanOrEqualTo(25));
        Assert.That(cases.Select(c => c.Row), Is.EqualTo(Enumerable.Range(1, cases.Count)), "rows numbered 1..n");
        var root = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Ship.sln"))) root = root.Parent;
        var doc = File.ReadAllText(Path.Combine(root!.FullName, "docs", "errors.md"));
        foreach (var c in cases)
            Assert.That(doc, Does.Contain($"| {c.Row} | {c.Input} | `{c.Error.Name}` |"), $"docs/errors.md row {c.Row}");
    }
}
