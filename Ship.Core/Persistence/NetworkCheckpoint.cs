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
public sealed partial class NetworkCheckpoint
{
    /// <summary>The format name written in every manifest.</summary>
    public const string FormatName = "Ship.NET checkpoint";
    /// <summary>The format version this library writes and the highest it reads.</summary>
    public const int FormatVersion = 2;
    /// <summary>File name of the JSON manifest inside a checkpoint folder.</summary>
    public const string ManifestFile = "network.json";
    /// <summary>File name of the tensor file inside a checkpoint folder.</summary>
    public const string TensorFile = "tensors.safetensors";

    /// <summary>Creates a serializer that knows the models of <paramref name="registry"/> (discovered: <c>new ModelRegistry()</c>).</summary>
    public NetworkCheckpoint(ModelRegistry registry) => Registry = registry ?? throw new ArgumentNullException(nameof(registry));

    /// <summary>Creates a serializer with the models discovered in the Ship.NET assemblies and the entry assembly.</summary>
    public NetworkCheckpoint() : this(new ModelRegistry()) { }

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
            ["settings"] = JsonSerializer.SerializeToNode(NetworkSettings.Of(network), session.Options),
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
                o["shape"] = new JsonArray(t.Sizes().Select(d => (JsonNode)JsonValue.Create(d)!).ToArray());
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
        if (File.Exists(folder))
            throw new CheckpointException(CheckpointProblem.NotSaveable, $"'{folder}' is a file, not a folder; a checkpoint is a folder (nothing was written).");
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any() && !File.Exists(Path.Combine(folder, ManifestFile)))
            throw new CheckpointException(CheckpointProblem.NotSaveable, $"'{folder}' exists and is not a checkpoint folder; choose another path (nothing was written).");
        try
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            Directory.CreateDirectory(tmp);
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
        catch (Exception e)
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            if (e is IOException or UnauthorizedAccessException)
                throw new CheckpointException(CheckpointProblem.NotSaveable, $"cannot write the checkpoint '{folder}': {e.Message} (the previous checkpoint, if any, is kept).", e);
            throw;
        }
    }
}
