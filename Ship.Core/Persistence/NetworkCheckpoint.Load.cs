using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Persistence;
/// <summary>Loading: manifest, tensor file, topology and parameters.</summary>
public sealed partial class NetworkCheckpoint
{
    // ------------------------------------------------------------------ load

    /// <summary>
    /// Loads a network saved by <see cref="Save"/>. Every file, tensor and model is validated first; on any problem a
    /// <see cref="CheckpointException"/> says what and where, and no network is returned. The result is ready to
    /// <c>Continue</c> (if the saved one had run) or <c>Run</c>.
    /// </summary>
    public Network Load(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        string manifestPath = Path.Combine(folder, ManifestFile);
        if (!Directory.Exists(folder))
            throw new CheckpointException(CheckpointProblem.NotFound, $"checkpoint folder '{folder}' does not exist: expected a checkpoint folder ({ManifestFile} + {TensorFile}), found {Errors.UserFiles.WhatIsAt(folder, file: false)}.");
        if (!File.Exists(manifestPath))
            throw new CheckpointException(CheckpointProblem.NotFound, $"'{folder}' holds no {ManifestFile}: not a checkpoint folder (expected {ManifestFile} + {TensorFile}, found {Errors.UserFiles.WhatIsAt(manifestPath, file: true)}).");
        var root = ReadManifest(manifestPath);
        var bytes = ReadTensorFile(folder, root, manifestPath);
        using var content = SafeTensors.Read(bytes, Path.Combine(folder, TensorFile));
        var net = Need<JsonObject>(root, "network", manifestPath);
        var session = new LoadSession(Registry, content, CPU, ScalarType.Float32, manifestPath);
        var settings = ReadSettings(net, session, manifestPath);
        var temporaries = new List<Tensor>();
        try
        {
            var (network, specs) = Build(net, settings, session, manifestPath, temporaries);
            RestoreRest(network, root, net, session, manifestPath);
            // Specifications last: resetting states above drew from the models' own defaults, never from a saved
            // generator that may not be rebuildable.
            foreach (var (v, node, fresh, path) in specs) v.Spec = RestoreSpec(node, fresh, session, path) ?? fresh;
            var unused = session.Available.Except(session.Used).ToList();
            if (unused.Count > 0)
                throw new CheckpointException(CheckpointProblem.TopologyMismatch,
                    $"{manifestPath}: the tensor file holds tensors the topology does not use: {string.Join(", ", unused.Take(5))}{(unused.Count > 5 ? ", …" : "")}.");
            return network;
        }
        catch (Exception e) when (e is ShipException and not CheckpointException)
        {
            throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{manifestPath}: the saved values do not fit the network they describe: {e.Message}", e);
        }
        finally
        {
            foreach (var t in temporaries) t.Dispose();
        }
    }

    /// <summary>The network's settings record; the session learns the device and dtype tensors are loaded to.</summary>
    private static NetworkSettings ReadSettings(JsonObject net, LoadSession session, string src)
    {
        var node = Need<JsonObject>(net, "settings", src);
        NetworkSettings settings;
        try { settings = node.Deserialize<NetworkSettings>(session.Options) ?? throw Corrupt(src, "network.settings is null"); }
        catch (JsonException e) { throw Corrupt(src, $"network.settings do not fit NetworkSettings: {e.Message}"); }
        if (settings.DType is not (ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64))
            throw Corrupt(src, $"network.settings.dtype is {settings.DType}, not a floating dtype");
        session.Device = ParseDevice(settings.Device, src);
        session.DType = settings.DType;
        return settings;
    }

    private static JsonObject ReadManifest(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CheckpointException(CheckpointProblem.Corrupted, $"cannot read '{path}': {e.Message}", e); }
        JsonObject root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject ?? throw Corrupt(path, "the manifest is not a JSON object");
        }
        catch (JsonException e)
        {
            bool truncated = !text.TrimEnd().EndsWith('}');
            throw new CheckpointException(truncated ? CheckpointProblem.Truncated : CheckpointProblem.Corrupted,
                $"'{path}' is not valid JSON{(truncated ? " (it ends early: truncated)" : "")}: {e.Message}", e);
        }
        if (root["format"] is not JsonValue f || !f.TryGetValue(out string? format) || format != FormatName)
            throw new CheckpointException(CheckpointProblem.UnsupportedVersion, $"'{path}' is not a {FormatName} (its \"format\" is {root["format"]?.ToJsonString() ?? "missing"}).");
        if (root["version"] is not JsonValue v || !v.TryGetValue(out int version) || version < 1)
            throw new CheckpointException(CheckpointProblem.UnsupportedVersion, $"'{path}' has no valid format version ({root["version"]?.ToJsonString() ?? "missing"}).");
        if (version > FormatVersion)
            throw new CheckpointException(CheckpointProblem.UnsupportedVersion,
                $"'{path}' has format version {version}, written by a newer Ship.NET; this version reads version {FormatVersion} only.");
        if (version < FormatVersion)
            throw new CheckpointException(CheckpointProblem.UnsupportedVersion,
                $"'{path}' has format version {version}; this version of Ship.NET reads version {FormatVersion} only (version 1 wrote hand-made model codecs, " +
                $"version 2 writes each model's settings record). Load it with the Ship.NET that wrote it, run it there, or rebuild the network and save it again (see docs/persistence.md).");
        return root;
    }

    private static byte[] ReadTensorFile(string folder, JsonObject root, string manifestPath)
    {
        var info = Need<JsonObject>(root, "tensor_file", manifestPath);
        var name = Str(info, "name", manifestPath);
        if (name.Contains('/') || name.Contains('\\') || name.Contains("..")) throw Corrupt(manifestPath, $"tensor_file.name '{name}' is not a plain file name");
        string path = Path.Combine(folder, name);
        if (!File.Exists(path)) throw new CheckpointException(CheckpointProblem.NotFound, $"'{path}' (the tensor file of {manifestPath}) does not exist.");
        long expected = info["bytes"] is JsonValue b && b.TryGetValue(out long x) ? x : throw Corrupt(manifestPath, "tensor_file.bytes is missing");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CheckpointException(CheckpointProblem.NotFound, $"cannot read '{path}' (the tensor file of {manifestPath}): {e.Message}", e); }
        if (bytes.Length < expected)
            throw new CheckpointException(CheckpointProblem.Truncated, $"'{path}' has {bytes.Length} bytes, the manifest says {expected}: the file is truncated.");
        if (bytes.Length != expected)
            throw new CheckpointException(CheckpointProblem.Corrupted, $"'{path}' has {bytes.Length} bytes, the manifest says {expected}.");
        var sha = Str(info, "sha256", manifestPath);
        if (!string.Equals(Convert.ToHexStringLower(SHA256.HashData(bytes)), sha, StringComparison.OrdinalIgnoreCase))
            throw new CheckpointException(CheckpointProblem.Corrupted, $"'{path}' does not match the SHA-256 in the manifest: its content changed after saving.");
        return bytes;
    }

    private (Network, List<(Variable, JsonNode?, Value, string)>) Build(JsonObject net, NetworkSettings settings, LoadSession session, string src, List<Tensor> temporaries)
    {
        var groupNodes = Need<JsonArray>(net, "groups", src).Select((n, k) => n as JsonObject ?? throw Corrupt(src, $"network.groups[{k}] is not an object")).ToList();
        var nodeByTag = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var n in groupNodes)
        {
            var tag = Str(n, "tag", src);
            if (!nodeByTag.TryAdd(tag, n)) throw Corrupt(src, $"two groups have the tag '{tag}'");
        }
        var built = new Dictionary<string, Group>(StringComparer.Ordinal);
        var building = new HashSet<string>(StringComparer.Ordinal);
        Group BuildGroup(string tag, string path)
        {
            if (built.TryGetValue(tag, out var done)) return done;
            if (!nodeByTag.TryGetValue(tag, out var node)) throw Corrupt(src, $"'{path}' refers to group '{tag}', which the checkpoint does not define");
            if (!building.Add(tag)) throw Corrupt(src, $"groups refer to each other in a cycle through '{tag}'");
            var g = session.ReadObject<Group>(Need<JsonObject>(node, "model", src), $"groups[{tag}].model");
            building.Remove(tag);
            built[tag] = g;
            return g;
        }
        session.ResolveGroup = BuildGroup;
        foreach (var tag in nodeByTag.Keys) BuildGroup(tag, "network.groups");
        session.ResolveGroup = null;

        var network = settings.Create();
        foreach (var n in groupNodes) network.Add(Str(n, "tag", src), built[Str(n, "tag", src)]);
        foreach (var c in Need<JsonArray>(net, "connections", src))
        {
            var co = c as JsonObject ?? throw Corrupt(src, "a connection is not an object");
            network.Connect(Str(co, "source", src), Str(co, "target", src));
        }
        foreach (var o in Need<JsonArray>(net, "outputs", src))
            network.MarkOutput(o is JsonValue ov && ov.TryGetValue(out string? s) ? s : throw Corrupt(src, "an output is not a tag"));
        session.Network = network;

        // Parameters: the saved tensors become the values drawn at initialization (so models derive their caches and
        // devices program from them); the saved specifications are put back afterwards.
        var fresh = new Dictionary<Variable, Value>();
        foreach (var n in groupNodes)
        {
            var g = built[Str(n, "tag", src)];
            var vars = Need<JsonArray>(n, "variables", src).Select(v => v as JsonObject ?? throw Corrupt(src, $"a variable of '{g.Tag}' is not an object")).ToList();
            var have = g.AllVariables.Select(v => $"{v.Name} ({(v is Parameter ? "parameter" : "state")})").OrderBy(x => x, StringComparer.Ordinal).ToList();
            var saved = vars.Select(v => $"{Str(v, "name", src)} ({Str(v, "kind", src)})").OrderBy(x => x, StringComparer.Ordinal).ToList();
            if (!have.SequenceEqual(saved))
                throw new CheckpointException(CheckpointProblem.TopologyMismatch,
                    $"{src}: group '{g.Tag}' ({g.GetType().Name}) declares [{string.Join(", ", have)}], the checkpoint lists [{string.Join(", ", saved)}].");
            foreach (var vn in vars)
            {
                var v = g.Variable(Str(vn, "name", src));
                fresh[v] = v.Spec;
                if (v is not Parameter p) continue;
                var name = TensorName(vn, $"groups[{g.Tag}].{v.Name}", src, required: true)!;
                CheckAgainstJson(session.Peek(name, $"groups[{g.Tag}].{v.Name}"), vn, $"{g.Tag}.{v.Name}", src);
                var expected = p.FixedType ?? session.DType;
                var t = session.Tensor(name, $"groups[{g.Tag}].{v.Name}");
                temporaries.Add(t);
                if (t.dtype != expected)
                    throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: parameter '{g.Tag}.{v.Name}' is stored as {t.dtype}, the network expects {expected}.");
                p.Spec = new TensorValue(t);
            }
        }
        foreach (var m in Need<JsonArray>(net, "monitors", src))
        {
            var mo = m as JsonObject ?? throw Corrupt(src, "a monitor is not an object");
            network.Monitor(Str(mo, "group", src), Str(mo, "variable", src)).Enabled = Bool(mo, "enabled", src);
        }

        network.Initialize();

        var specs = new List<(Variable, JsonNode?, Value, string)>();
        foreach (var n in groupNodes)
        {
            var g = built[Str(n, "tag", src)];
            foreach (var vn in Need<JsonArray>(n, "variables", src).Cast<JsonObject>())
            {
                var v = g.Variable(Str(vn, "name", src));
                specs.Add((v, vn["spec"], fresh[v], $"groups[{g.Tag}].{v.Name}.spec"));
                if (v is not Parameter p) continue;
                p.Pinned = Bool(vn, "pinned", src);
                if (Bool(vn, "requires_grad", src))
                {
                    var old = p.Value;
                    var trained = new TorchSharp.Modules.Parameter(old.detach().clone(), requires_grad: true);
                    trained.DetachFromDisposeScope();
                    p.Tensor = trained;
                    old.Dispose();
                }
            }
        }
        return (network, specs);
    }

    /// <summary>A saved spec equal to the fresh model's own default keeps the model's object (models may test it by reference).</summary>
    private static Value? RestoreSpec(JsonNode? node, Value freshSpec, LoadSession session, string path)
    {
        if (node is JsonObject o && o["kind"] is JsonValue k && k.TryGetValue(out string? kind))
        {
            if (kind == "generated" && freshSpec is GeneratedValue g && o["description"] is JsonValue d && d.TryGetValue(out string? desc) && desc == g.Description)
                return freshSpec;
            if (kind == "constant" && freshSpec is ConstantValue c && Json.TryDouble(o["value"], out var x) && c.Equals(new ConstantValue(x)))
                return freshSpec;
        }
        return session.ReadSpec(node, path);
    }
}
