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

/// <summary>
/// Saves a whole network to a folder and loads it back, in this process or another: topology (model types by
/// registered name, tags, construction settings, connections, outputs, monitors), every parameter and state tensor,
/// run state (latest outputs, timeline, step counter, what groups keep beyond their states through
/// <see cref="ICheckpointState"/>: input cursors, delay queues, device conductances) and the random generator's state.
/// A run continued after loading is bit-identical on CPU to the same run never saved. The folder holds
/// <c>network.json</c> (documented JSON with a format version, see docs/persistence.md) and <c>tensors.safetensors</c>
/// (readable with Python's <c>safetensors</c>). Saving writes a temporary folder and renames it, so an interrupted save
/// never leaves a half-written checkpoint under the name; loading validates everything and only returns a complete network.
/// </summary>
public sealed class NetworkCheckpoint
{
    /// <summary>The format name written in every manifest.</summary>
    public const string FormatName = "Ship.NET checkpoint";
    /// <summary>The format version this library writes and the highest it reads.</summary>
    public const int FormatVersion = 1;
    /// <summary>File name of the JSON manifest inside a checkpoint folder.</summary>
    public const string ManifestFile = "network.json";
    /// <summary>File name of the tensor file inside a checkpoint folder.</summary>
    public const string TensorFile = "tensors.safetensors";

    /// <summary>Creates a serializer that knows the models of <paramref name="registry"/> (Ship.Devices: <c>DeviceModels.CreateRegistry()</c>).</summary>
    public NetworkCheckpoint(ModelRegistry registry) => Registry = registry ?? throw new ArgumentNullException(nameof(registry));

    /// <summary>The models this serializer can write and read.</summary>
    public ModelRegistry Registry { get; }

    // ------------------------------------------------------------------ save

    /// <summary>
    /// Saves <paramref name="network"/> (initialized, and unchanged since) to <paramref name="folder"/>, replacing a
    /// previous checkpoint there. The network is not changed. A folder that exists and is not a checkpoint is refused.
    /// </summary>
    public void Save(Network network, string folder)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (!network.IsInitialized)
            throw new CheckpointException(CheckpointProblem.NotSaveable,
                $"Network '{network.Name}' is not initialized, or changed since (batch, device, dtype, seed or wiring): call Initialize() or Run before saving, so the checkpoint holds its materialized values.");
        var session = new SaveSession(Registry, network);
        var temporaries = new List<Tensor>();
        try
        {
            var root = BuildManifest(network, session, temporaries);
            WriteFolder(Path.GetFullPath(folder), root, session);
        }
        finally
        {
            foreach (var t in temporaries) t.Dispose();
            foreach (var (_, t) in session.Tensors) t.Dispose(); // detached handles: the network's own tensors live on
        }
    }

    private static JsonObject BuildManifest(Network network, SaveSession session, List<Tensor> temporaries)
    {
        var ctx = network.Context;
        var groups = new JsonArray();
        foreach (var g in network.Groups) groups.Add(WriteGroup(g, session));
        var net = new JsonObject
        {
            ["name"] = network.Name,
            ["dt"] = Json.Number(network.Dt),
            ["steps"] = network.Steps,
            ["batch_size"] = network.BatchSize,
            ["device"] = network.Device.ToString(),
            ["dtype"] = network.DType.ToString(),
            ["seed"] = network.Seed,
            ["track_gradients"] = network.TrackGradients,
            ["time_batching"] = network.TimeBatching,
            ["check_finite"] = network.CheckFinite,
            ["steps_per_dispose_scope"] = network.StepsPerDisposeScope,
            ["sequence_block_steps"] = network.SequenceBlockSteps,
            ["spike_function"] = session.WriteObject(network.SpikeFunction, "network/spike_function"),
            ["groups"] = groups,
            ["connections"] = new JsonArray(network.Connections.Select(c => (JsonNode)new JsonObject { ["source"] = c.Source, ["target"] = c.Target }).ToArray()),
            ["outputs"] = new JsonArray(network.Outputs.Select(o => (JsonNode)JsonValue.Create(o)!).ToArray()),
            ["monitors"] = new JsonArray(network.Monitors.Select((m, k) => (JsonNode)WriteMonitor(m, k, session, temporaries)).ToArray()),
        };

        JsonNode? run = null;
        if (network.HasRun)
        {
            var latest = new JsonObject();
            for (int i = 0; i < network.Groups.Count; i++)
                if (network.LatestOutput(i) is { } y)
                    latest[network.Groups[i].Tag] = new JsonObject { ["tensor"] = session.AddTensor($"run/latest/{network.Groups[i].Tag}", y) };
            run = new JsonObject
            {
                ["dt"] = Json.Number(ctx.Dt),
                ["step_index"] = ctx.StepIndex,
                ["time"] = Json.Number(ctx.Time),
                ["timeline"] = new JsonArray(network.Timeline.Stretches.Select(s => (JsonNode)new JsonObject
                {
                    ["start"] = Json.Number(s.Start), ["dt"] = Json.Number(s.Dt), ["steps"] = s.Steps,
                }).ToArray()),
                ["latest"] = latest,
            };
        }

        var rng = ctx.Rng.get_state();
        temporaries.Add(rng);
        var rngNode = new JsonObject { ["tensor"] = session.AddTensor("rng/state", rng), ["device"] = ctx.Device.ToString() };
        // The per-group streams (seeded from seed, tag and purpose): saved so that a loaded network draws on exactly as
        // the saved one would.
        var streams = new JsonArray();
        int si = 0;
        foreach (var (owner, purpose, generator) in ctx.Streams.All)
        {
            var st = generator.get_state();
            temporaries.Add(st);
            streams.Add(new JsonObject { ["owner"] = owner, ["purpose"] = purpose, ["tensor"] = session.AddTensor($"rng/streams/{si++}", st) });
        }
        rngNode["streams"] = streams;

        return new JsonObject
        {
            ["format"] = FormatName,
            ["version"] = FormatVersion,
            ["writer"] = $"Ship.Core {typeof(NetworkCheckpoint).Assembly.GetName().Version}",
            ["network"] = net,
            ["run"] = run,
            ["rng"] = rngNode,
        };
    }

    private static JsonObject WriteMonitor(Monitors.StateMonitor m, int k, SaveSession session, List<Tensor> temporaries)
    {
        var o = new JsonObject { ["group"] = m.Group.Tag, ["variable"] = m.Variable, ["enabled"] = m.Enabled };
        var (values, times) = m.Snapshot();
        if (values is not null)
        {
            temporaries.Add(values);
            var t = torch.tensor(times, ScalarType.Float64);
            temporaries.Add(t);
            o["records"] = new JsonObject { ["tensor"] = session.AddTensor($"monitors/{k}/values", values) };
            o["times"] = new JsonObject { ["tensor"] = session.AddTensor($"monitors/{k}/times", t) };
        }
        if (m.StreamState is { } st)
            o["stream"] = new JsonObject
            {
                ["folder"] = st.Folder, ["chunk_steps"] = st.ChunkSteps, ["format"] = st.Format.ToString(), ["chunks"] = st.Chunks, ["count"] = st.Count,
            };
        return o;
    }

    private static JsonObject WriteGroup(Group g, SaveSession session)
    {
        string tag = g.Tag;
        var variables = new JsonArray();
        foreach (var v in g.AllVariables)
        {
            var o = new JsonObject
            {
                ["name"] = v.Name,
                ["kind"] = v is Parameter ? "parameter" : "state",
                ["spec"] = session.WriteSpec(v.Spec, $"groups/{tag}/spec/{v.Name}"),
            };
            if (v.Tensor is { } t)
            {
                o["tensor"] = session.AddTensor($"groups/{tag}/{v.Name}", t);
                o["dtype"] = SafeTensors.DTypeName(t.dtype);
                o["shape"] = new JsonArray(t.shape.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray());
            }
            if (v is Parameter p)
            {
                o["pinned"] = p.Pinned;
                o["requires_grad"] = v.Tensor?.requires_grad ?? false;
            }
            variables.Add(o);
        }
        var extra = new JsonArray();
        int level = 0;
        for (Group? x = g; x is not null; x = (x as GroupWrapper)?.Inner, level++)
        {
            if (x is not ICheckpointState cs) continue;
            var values = new JsonObject();
            cs.SaveState(new CheckpointWriter(session, values, $"groups/{tag}/state{level}"));
            extra.Add(new JsonObject { ["level"] = level, ["type"] = x.GetType().Name, ["values"] = values });
        }
        return new JsonObject
        {
            ["tag"] = tag,
            ["model"] = session.WriteObject(g, $"groups/{tag}/model"),
            ["variables"] = variables,
            ["state"] = extra,
        };
    }

    private static void WriteFolder(string folder, JsonObject root, SaveSession session)
    {
        string tmp = $"{folder}.{Environment.ProcessId}.shiptmp";
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any() && !File.Exists(Path.Combine(folder, ManifestFile)))
            throw new CheckpointException(CheckpointProblem.NotSaveable, $"'{folder}' exists and is not a checkpoint folder; choose another path (nothing was written).");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        try
        {
            string tensorPath = Path.Combine(tmp, TensorFile);
            SafeTensors.Write(tensorPath, session.Tensors, new Dictionary<string, string> { ["format"] = FormatName, ["version"] = FormatVersion.ToString() });
            byte[] hash;
            long length;
            using (var f = File.OpenRead(tensorPath))
            {
                length = f.Length;
                hash = SHA256.HashData(f);
            }
            root["tensor_file"] = new JsonObject { ["name"] = TensorFile, ["bytes"] = length, ["sha256"] = Convert.ToHexStringLower(hash) };
            File.WriteAllText(Path.Combine(tmp, ManifestFile), root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            // Swap in: the old checkpoint is moved aside first, so a failure at any point leaves one complete checkpoint.
            string old = $"{folder}.{Environment.ProcessId}.old.shiptmp";
            if (Directory.Exists(folder))
            {
                if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
                Directory.Move(folder, old);
                Directory.Move(tmp, folder);
                Directory.Delete(old, recursive: true);
            }
            else
            {
                var parent = Path.GetDirectoryName(folder);
                if (!string.IsNullOrEmpty(parent)) Directory.CreateDirectory(parent);
                Directory.Move(tmp, folder);
            }
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            throw;
        }
    }

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
        if (!Directory.Exists(folder)) throw new CheckpointException(CheckpointProblem.NotFound, $"checkpoint folder '{folder}' does not exist.");
        if (!File.Exists(manifestPath)) throw new CheckpointException(CheckpointProblem.NotFound, $"'{folder}' holds no {ManifestFile}: not a checkpoint folder.");
        var root = ReadManifest(manifestPath);
        var bytes = ReadTensorFile(folder, root, manifestPath);
        using var content = SafeTensors.Read(bytes, Path.Combine(folder, TensorFile));
        var net = Need<JsonObject>(root, "network", manifestPath);
        var device = ParseDevice(Str(net, "device", manifestPath), manifestPath);
        var dtype = Enum.TryParse<ScalarType>(Str(net, "dtype", manifestPath), out var dt) && dt is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64
            ? dt : throw Corrupt(manifestPath, "network.dtype is not a floating dtype");
        var session = new LoadSession(Registry, content, device, dtype, manifestPath);
        var temporaries = new List<Tensor>();
        try
        {
            var (network, specs) = Build(net, session, manifestPath, temporaries);
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

    private static JsonObject ReadManifest(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (IOException e) { throw new CheckpointException(CheckpointProblem.Corrupted, $"cannot read '{path}': {e.Message}", e); }
        JsonObject root;
        try
        {
            root = JsonNode.Parse(text) as JsonObject ?? throw Corrupt(path, "the manifest is not a JSON object");
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
                $"'{path}' has format version {version}, written by a newer Ship.NET; this version reads versions 1 to {FormatVersion}.");
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
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < expected)
            throw new CheckpointException(CheckpointProblem.Truncated, $"'{path}' has {bytes.Length} bytes, the manifest says {expected}: the file is truncated.");
        if (bytes.Length != expected)
            throw new CheckpointException(CheckpointProblem.Corrupted, $"'{path}' has {bytes.Length} bytes, the manifest says {expected}.");
        var sha = Str(info, "sha256", manifestPath);
        if (!string.Equals(Convert.ToHexStringLower(SHA256.HashData(bytes)), sha, StringComparison.OrdinalIgnoreCase))
            throw new CheckpointException(CheckpointProblem.Corrupted, $"'{path}' does not match the SHA-256 in the manifest: its content changed after saving.");
        return bytes;
    }

    private (Network, List<(Variable, JsonNode?, Value, string)>) Build(JsonObject net, LoadSession session, string src, List<Tensor> temporaries)
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

        var network = new Network(Str(net, "name", src))
        {
            Dt = Dbl(net, "dt", src),
            Steps = Int(net, "steps", src),
            BatchSize = Int(net, "batch_size", src),
            Device = session.Device,
            DType = session.DType,
            Seed = Lng(net, "seed", src),
            TrackGradients = Bool(net, "track_gradients", src),
            TimeBatching = Bool(net, "time_batching", src),
            CheckFinite = Bool(net, "check_finite", src),
            StepsPerDisposeScope = Int(net, "steps_per_dispose_scope", src),
            SequenceBlockSteps = Int(net, "sequence_block_steps", src),
        };
        network.SpikeFunction = session.ReadObject<ISpikeFunction>(Need<JsonObject>(net, "spike_function", src), "network.spike_function");
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

    private static void RestoreRest(Network network, JsonObject root, JsonObject net, LoadSession session, string src)
    {
        var groupNodes = Need<JsonArray>(net, "groups", src).Cast<JsonObject>().ToList();
        if (root["run"] is JsonObject run)
        {
            double dt = Dbl(run, "dt", src);
            if (!(dt > 0) || !double.IsFinite(dt)) throw Corrupt(src, $"run.dt = {dt} is not a positive time step");
            var stretches = new List<Timeline.Stretch>();
            int first = 0;
            foreach (var s in Need<JsonArray>(run, "timeline", src))
            {
                var so = s as JsonObject ?? throw Corrupt(src, "a timeline stretch is not an object");
                var st = new Timeline.Stretch(Dbl(so, "start", src), Dbl(so, "dt", src), Int(so, "steps", src), first);
                if (st.Steps < 1 || !(st.Dt > 0)) throw Corrupt(src, "a timeline stretch has no steps or a bad dt");
                stretches.Add(st);
                first += st.Steps;
            }
            long stepIndex = Lng(run, "step_index", src);
            if (stepIndex != first) throw Corrupt(src, $"run.step_index = {stepIndex} but the timeline has {first} steps");
            var latestNode = Need<JsonObject>(run, "latest", src);
            var ctx = network.Context;
            var latest = new List<Tensor>();
            foreach (var g in network.Groups)
            {
                var node = latestNode[g.Tag] as JsonObject ?? throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: run.latest has no output for group '{g.Tag}'.");
                var t = session.Tensor(Str(node, "tensor", src), $"run.latest.{g.Tag}");
                if (t.dim() != 2 || t.shape[0] != ctx.BatchSize || t.shape[1] != g.OutputSize)
                    throw new CheckpointException(CheckpointProblem.TopologyMismatch,
                        $"{src}: the latest output of '{g.Tag}' is {Shapes.Format(t.shape)}, the group outputs [{ctx.BatchSize}, {g.OutputSize}].");
                latest.Add(t);
            }
            network.RestoreRun(dt, stepIndex, Dbl(run, "time", src), stretches, latest, () =>
            {
                foreach (var n in groupNodes)
                {
                    var g = network[Str(n, "tag", src)];
                    foreach (var vn in Need<JsonArray>(n, "variables", src).Cast<JsonObject>())
                    {
                        var v = g.Variable(Str(vn, "name", src));
                        if (v is not StateVariable) continue;
                        var path = $"groups[{g.Tag}].{v.Name}";
                        var name = TensorName(vn, path, src, required: true)!;
                        CheckAgainstJson(session.Peek(name, path), vn, $"{g.Tag}.{v.Name}", src);
                        var t = session.Tensor(name, path);
                        var reset = v.Value;
                        if (t.dtype != reset.dtype || !StateShapeFits(t.shape, reset.shape, v.FullShape(ctx)))
                        {
                            var message = $"{src}: state '{g.Tag}.{v.Name}' is stored as {t.dtype} {Shapes.Format(t.shape)}, the network holds it as {reset.dtype} {Shapes.Format(reset.shape)}.";
                            t.Dispose();
                            throw new CheckpointException(CheckpointProblem.TopologyMismatch, message);
                        }
                        v.Tensor = t;
                    }
                }
            });
        }
        foreach (var n in groupNodes) RestoreExtra(network[Str(n, "tag", src)], n, session, src);
        RestoreMonitors(network, net, session, src);

        var rng = Need<JsonObject>(root, "rng", src);
        var state = session.Peek(Str(rng, "tensor", src), "rng");
        try
        {
            network.Context.Rng.set_state(state);
            if (rng["streams"] is JsonArray streams)
                foreach (var node in streams.OfType<JsonObject>())
                    network.Context.Streams.SetState(Str(node, "owner", src), Str(node, "purpose", src), session.Peek(Str(node, "tensor", src), "rng stream"));
        }
        catch (Exception e) when (e is not ShipException)
        {
            throw new CheckpointException(CheckpointProblem.Corrupted, $"{src}: the random generator state does not fit a {network.Device} generator: {e.Message}", e);
        }
    }

    private static void RestoreMonitors(Network network, JsonObject net, LoadSession session, string src)
    {
        var nodes = Need<JsonArray>(net, "monitors", src);
        for (int k = 0; k < nodes.Count; k++)
        {
            var o = (JsonObject)nodes[k]!;
            var m = network.Monitors[k];
            if (o["records"] is JsonObject rec)
            {
                var values = session.Tensor(Str(rec, "tensor", src), $"monitors[{k}].records");
                using var times = session.Tensor(Str(Need<JsonObject>(o, "times", src), "tensor", src), $"monitors[{k}].times");
                if (values.dim() < 2 || values.shape[0] != network.BatchSize || times.dim() != 1 || times.shape[0] != values.shape[1])
                    throw new CheckpointException(CheckpointProblem.TopologyMismatch,
                        $"{src}: the records of monitor {m.Group.Tag}.{m.Variable} are {Shapes.Format(values.shape)} with {times.numel()} times.");
                m.Restore(values, times.to_type(ScalarType.Float64).data<double>().ToArray());
                values.Dispose();
            }
            if (o["stream"] is JsonObject st)
                m.ResumeStream(Str(st, "folder", src), Int(st, "chunk_steps", src),
                    Enum.TryParse<Monitors.MonitorFileFormat>(Str(st, "format", src), out var f) ? f : throw Corrupt(src, $"monitors[{k}].stream.format is unknown"),
                    Int(st, "chunks", src), Int(st, "count", src));
        }
    }

    private static void RestoreExtra(Group g, JsonObject node, LoadSession session, string src)
    {
        var saved = Need<JsonArray>(node, "state", src).Select(x => x as JsonObject ?? throw Corrupt(src, $"a state entry of '{g.Tag}' is not an object"))
            .ToDictionary(x => Int(x, "level", src));
        int level = 0;
        for (Group? x = g; x is not null; x = (x as GroupWrapper)?.Inner, level++)
        {
            if (x is not ICheckpointState cs)
            {
                if (saved.ContainsKey(level))
                    throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: group '{g.Tag}' has saved run state at stack level {level}, where the {x.GetType().Name} keeps none.");
                continue;
            }
            if (!saved.Remove(level, out var entry))
                throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: the {x.GetType().Name} of group '{g.Tag}' (stack level {level}) has no saved run state.");
            var path = $"groups[{g.Tag}].state[{level}]";
            try { cs.LoadState(new CheckpointReader(session, Need<JsonObject>(entry, "values", src), path)); }
            catch (CheckpointException) { throw; }
            catch (Exception e) when (e is ShipException or ArgumentException or InvalidOperationException)
            {
                throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: the run state at '{path}' does not fit: {e.Message}", e);
            }
        }
        if (saved.Count > 0)
            throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: group '{g.Tag}' has saved run state at stack level(s) {string.Join(", ", saved.Keys)}, beyond its {level} level(s).");
    }

    /// <summary>
    /// A state the group keeps at its declared full shape must come back at exactly that shape. A state whose group
    /// lays it out itself (a delay queue [slots, batch, N]) must have the same rank and the same sizes except on one
    /// axis, which may be longer (a queue keeps slots it grew at a coarser dt).
    /// </summary>
    private static bool StateShapeFits(long[] saved, long[] reset, long[] declared)
    {
        if (saved.Length != reset.Length) return false;
        if (reset.SequenceEqual(declared)) return saved.SequenceEqual(reset);
        int differing = 0;
        for (int k = 0; k < saved.Length; k++)
            if (saved[k] != reset[k])
            {
                if (saved[k] < reset[k]) return false;
                differing++;
            }
        return differing <= 1;
    }

    private static void CheckAgainstJson(Tensor t, JsonObject vn, string what, string src)
    {
        if (vn["shape"] is JsonArray shape)
        {
            var s = shape.Select(d => d is JsonValue v && v.TryGetValue(out long x) ? x : -1).ToArray();
            if (!s.SequenceEqual(t.shape))
                throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: '{what}' is {Shapes.Format(s)} in the manifest but {Shapes.Format(t.shape)} in the tensor file.");
        }
        if (vn["dtype"] is JsonValue dv && dv.TryGetValue(out string? dtype) && dtype != SafeTensors.DTypeName(t.dtype))
            throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: '{what}' is {dtype} in the manifest but {SafeTensors.DTypeName(t.dtype)} in the tensor file.");
    }

    private static string? TensorName(JsonObject vn, string path, string src, bool required)
    {
        if (vn["tensor"] is JsonValue v && v.TryGetValue(out string? s)) return s;
        if (required) throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{src}: '{path}' has no saved tensor.");
        return null;
    }

    private static Device ParseDevice(string s, string src)
    {
        try { return torch.device(s); }
        catch (Exception e) when (e is not ShipException) { throw Corrupt(src, $"network.device '{s}' is not a device"); }
    }

    private static CheckpointException Corrupt(string src, string what) => new(CheckpointProblem.Corrupted, $"{src}: {what}.");

    private static T Need<T>(JsonObject o, string key, string src) where T : JsonNode =>
        o[key] as T ?? throw Corrupt(src, $"'{key}' is missing or is not a JSON {(typeof(T) == typeof(JsonArray) ? "array" : "object")}");

    private static string Str(JsonObject o, string key, string src) =>
        o[key] is JsonValue v && v.TryGetValue(out string? s) ? s : throw Corrupt(src, $"'{key}' is missing or not a string");

    private static double Dbl(JsonObject o, string key, string src) =>
        Json.TryDouble(o[key], out var d) ? d : throw Corrupt(src, $"'{key}' is missing or not a number");

    private static long Lng(JsonObject o, string key, string src) =>
        o[key] is JsonValue v && v.TryGetValue(out long x) ? x : throw Corrupt(src, $"'{key}' is missing or not an integer");

    private static int Int(JsonObject o, string key, string src) =>
        o[key] is JsonValue v && v.TryGetValue(out int x) ? x : throw Corrupt(src, $"'{key}' is missing or not an integer");

    private static bool Bool(JsonObject o, string key, string src) =>
        o[key] is JsonValue v && v.TryGetValue(out bool x) ? x : throw Corrupt(src, $"'{key}' is missing or not true/false");
}
