using System.Reflection;
using System.Text.Json.Nodes;
using NUnit.Framework;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Persistence;
using Ship.Core.Spikes;
using Ship.Devices.Memristive;
using Ship.Devices.Persistence;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Conformance;

/// <summary>
/// Settings as data, checked by reflection: every concrete model of Ship.Devices and Ship.Training is discovered as a
/// saveable model, and every catalogue entry (non-default settings) is saved, loaded, compared member by member and
/// continued bit-identically. A model added without [ShipModel] and its settings record fails here.
/// </summary>
[TestFixture]
public sealed class ModelSettingsConformanceTests
{
    private const int T1 = 9, T2 = 7;
    private static readonly string Root = Path.Combine(Path.GetTempPath(), $"ship-settings-conformance-{Environment.ProcessId}");

    /// <summary>The kinds of model the issue lists: groups, weight devices, non-idealities, noise laws, mappings, pulse responses, spike functions.</summary>
    private static readonly Type[] ModelKinds =
    [
        typeof(Group), typeof(IWeightDevice), typeof(INonIdeality), typeof(INoiseSigma), typeof(ConductanceMapping), typeof(PulseResponse),
        typeof(ISpikeFunction), typeof(ISurrogate),
    ];

    [OneTimeTearDown]
    public void CleanUp()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }

    private static IEnumerable<Type> LibraryModels() =>
        ModelCatalog.Libraries.SelectMany(a => a.GetTypes())
            .Where(t => t.IsPublic && t.IsClass && !t.IsAbstract && ModelKinds.Any(k => k.IsAssignableFrom(t)))
            .OrderBy(t => t.FullName, StringComparer.Ordinal);

    [Test]
    public void EveryConcreteModelOfTheLibrariesIsADiscoveredSaveableModel()
    {
        var registry = new ModelRegistry();
        var models = LibraryModels().ToList();
        Assert.That(models, Has.Count.GreaterThan(40), "the reflection finds the libraries' models");
        var missing = models.Where(t => !registry.Contains(t)).Select(t => t.FullName).ToList();
        Assert.That(missing, Is.Empty, "models without [ShipModel] and IShipModel<,> cannot be saved");
        foreach (var t in models)
            Assert.That(t.GetCustomAttribute<ShipModelAttribute>()!.Name, Is.EqualTo(t.Name), $"{t.Name}: built-in models are saved under their class name");
    }

    [Test]
    public void TheCatalogueReachesEveryDiscoveredModelOfTheLibraries()
    {
        var registry = new ModelRegistry();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in ModelCatalog.All)
        {
            var c = entry.Build(3);
            c.Network.Initialize();
            var dir = Path.Combine(Root, "reach", entry.Name.Replace('+', '_'));
            Checkpoint.Save(c.Network, dir);
            Collect(JsonNode.Parse(File.ReadAllText(Path.Combine(dir, NetworkCheckpoint.ManifestFile)))!, seen);
        }
        var unreached = LibraryModels().Select(t => registry.NameOf(t)!).Where(n => !seen.Contains(n)).ToList();
        Assert.That(unreached, Is.Empty, $"every model is saved, loaded and continued by at least one catalogue entry; not reached: {string.Join(", ", unreached)}");
    }

    private static void Collect(JsonNode node, HashSet<string> types)
    {
        if (node is JsonObject o)
        {
            if (o["type"] is JsonValue v && v.TryGetValue(out string? s) && o.ContainsKey("settings")) types.Add(s);
            foreach (var (_, child) in o) if (child is not null) Collect(child, types);
        }
        else if (node is JsonArray a)
            foreach (var child in a) if (child is not null) Collect(child, types);
    }

    [TestCaseSource(typeof(ModelCatalog), nameof(ModelCatalog.Names))]
    public void ACatalogueModelRoundTripsItsSettingsAndContinuesBitIdentically(string name)
    {
        var entry = ModelCatalog.Get(name);
        var c = entry.Build(17);
        var net = c.Network;
        var data = c.Inputs(T1 + T2);
        net.Steps = T1;
        net.Run(Slice(data, 0, T1));

        var dir = Path.Combine(Root, "trip", name.Replace('+', '_'));
        Checkpoint.Save(net, dir);
        var loaded = Checkpoint.Load(dir);
        Assert.That(loaded[c.ModelTag].GetType(), Is.EqualTo(c.Model.GetType()));

        // Settings member by member: the reloaded network writes exactly what the original wrote.
        var again = Path.Combine(Root, "again", name.Replace('+', '_'));
        Checkpoint.Save(loaded, again);
        var a = Manifest(dir);
        var b = Manifest(again);
        var diffs = new List<string>();
        Diff(a["network"]!["settings"], b["network"]!["settings"], "network.settings", diffs);
        var ga = (JsonArray)a["network"]!["groups"]!;
        var gb = (JsonArray)b["network"]!["groups"]!;
        Assert.That(gb, Has.Count.EqualTo(ga.Count));
        for (int k = 0; k < ga.Count; k++) Diff(ga[k]!["model"], gb[k]!["model"], $"groups[{ga[k]!["tag"]}].model", diffs);
        Assert.That(diffs, Is.Empty, "settings that did not survive the round trip");
        var registry = new ModelRegistry();
        foreach (var g in net.Groups)
            for (Group? x = g, y = loaded[g.Tag]; x is not null; x = (x as GroupWrapper)?.Inner, y = (y as GroupWrapper)?.Inner)
                AssertSameScalars(registry.SettingsOf(x), registry.SettingsOf(y!), $"{g.Tag}:{x.GetType().Name}");

        // The run goes on exactly as it would have.
        net.Steps = T2;
        loaded.Steps = T2;
        var ra = net.Continue(Slice(data, T1, T2));
        var rb = loaded.Continue(Slice(data, T1, T2));
        foreach (var tag in net.Outputs) AssertBitIdentical(ra[tag], rb[tag], $"continued output of {tag}");
        foreach (var g in net.Groups)
            foreach (var v in g.AllVariables)
                AssertBitIdentical(v.Value, loaded[g.Tag].Variable(v.Name).Value, $"{g.Tag}.{v.Name} after continuing");
        AssertBitIdentical(net.Context.Rng.get_state(), loaded.Context.Rng.get_state(), "generator state");
    }

    /// <summary>Record members that are plain values (numbers, flags, enums, strings) are equal in both records.</summary>
    private static void AssertSameScalars(object a, object b, string what)
    {
        Assert.That(b.GetType(), Is.EqualTo(a.GetType()), what);
        foreach (var p in a.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var t = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            if (!(t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal))) continue;
            Assert.That(p.GetValue(b), Is.EqualTo(p.GetValue(a)), $"{what}.{p.Name}");
        }
    }

    [Test]
    public void NetworkSettingsListEverySettableNetworkProperty()
    {
        var settable = typeof(Network).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true }).Select(p => p.Name).ToList();
        var recorded = typeof(NetworkSettings).GetProperties().Select(p => p.Name).ToHashSet();
        Assert.That(settable, Has.Count.GreaterThanOrEqualTo(12));
        Assert.That(settable.Where(n => !recorded.Contains(n)), Is.Empty, "a network setting the checkpoint would lose");

        var net = new Network("n") { Dt = 2e-4, Steps = 7, BatchSize = 3, Seed = 99, TrackGradients = true, TimeBatching = false, CheckFinite = true,
            StepsPerDisposeScope = 13, SequenceBlockSteps = 17, DisposeScopeBytes = 12345, DType = ScalarType.Float64, SpikeFunction = new SurrogateSpikes(new ArcTan(3)),
            Precision = new Precision(ScalarType.BFloat16, Tf32: true) };
        var back = NetworkSettings.Of(net).Create();
        foreach (var p in typeof(NetworkSettings).GetProperties().Where(p => p.Name is not ("Device" or "SpikeFunction")))
            Assert.That(typeof(Network).GetProperty(p.Name)!.GetValue(back), Is.EqualTo(typeof(Network).GetProperty(p.Name)!.GetValue(net)), p.Name);
        Assert.That(((ArcTan)((SurrogateSpikes)back.SpikeFunction).Surrogate).Alpha, Is.EqualTo(3));
    }

    [Test]
    public void AVersionOneCheckpointIsRefusedNamingBothVersions()
    {
        var c = ModelCatalog.Get("Lif").Build(5);
        c.Network.Initialize();
        var dir = Path.Combine(Root, "v1");
        Checkpoint.Save(c.Network, dir);
        var path = Path.Combine(dir, NetworkCheckpoint.ManifestFile);
        var root = JsonNode.Parse(File.ReadAllText(path))!;
        root["version"] = 1;
        File.WriteAllText(path, root.ToJsonString());
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(dir));
        Assert.That(e!.Problem, Is.EqualTo(CheckpointProblem.UnsupportedVersion));
        Assert.That(e.Message, Does.Contain("format version 1").And.Contain($"reads version {NetworkCheckpoint.FormatVersion} only").And.Contain(path));
    }

    private static JsonNode Manifest(string dir) => JsonNode.Parse(File.ReadAllText(Path.Combine(dir, NetworkCheckpoint.ManifestFile)))!;

    private static void Diff(JsonNode? a, JsonNode? b, string path, List<string> diffs)
    {
        switch (a, b)
        {
            case (null, null): return;
            case (JsonObject oa, JsonObject ob):
                foreach (var key in oa.Select(kv => kv.Key).Union(ob.Select(kv => kv.Key)))
                {
                    if (!oa.ContainsKey(key) || !ob.ContainsKey(key)) { diffs.Add($"{path}.{key}: present on one side only"); continue; }
                    Diff(oa[key], ob[key], $"{path}.{key}", diffs);
                }
                return;
            case (JsonArray xa, JsonArray xb):
                if (xa.Count != xb.Count) { diffs.Add($"{path}: {xa.Count} vs {xb.Count} items"); return; }
                for (int k = 0; k < xa.Count; k++) Diff(xa[k], xb[k], $"{path}[{k}]", diffs);
                return;
            default:
                if (a?.ToJsonString() != b?.ToJsonString()) diffs.Add($"{path}: {a?.ToJsonString() ?? "null"} vs {b?.ToJsonString() ?? "null"}");
                return;
        }
    }

    private static Dictionary<string, Tensor>? Slice(IReadOnlyDictionary<string, Tensor> data, int start, int length) =>
        data.Count == 0 ? null : data.ToDictionary(kv => kv.Key, kv => kv.Value.narrow(1, start, length));

    private static void AssertBitIdentical(Tensor a, Tensor b, string what) => Reliability.ReliabilityKit.AssertBitIdentical(a, b, what);
}
