using System.Text;
using Ship.Core.Networks;
using Ship.Core.Persistence;
using static TorchSharp.torch;

namespace Ship.Nir;

/// <summary>How <see cref="NirGraph.Read(string, double, NirImportOptions?)"/> builds the network.</summary>
public sealed record NirImportOptions
{
    /// <summary>Batch size of the network (default 1).</summary>
    public int BatchSize { get; init; } = 1;
    /// <summary>Floating type the network runs in; null: the exporting network's (graph metadata "ship_dtype"), else float32.</summary>
    public ScalarType? DType { get; init; }
    /// <summary>
    /// Whether a graph written by Ship.NET is rebuilt from the checkpoint in its metadata (exact models, device arrays,
    /// presets and periphery), provided its NIR nodes are still those the checkpoint exports. Default true.
    /// </summary>
    public bool UseShipMetadata { get; init; } = true;
    /// <summary>Registry for models in an embedded checkpoint; null: the discovered models of the Ship.NET libraries and the entry assembly.</summary>
    public ModelRegistry? Registry { get; init; }
}

/// <summary>
/// NIR (Neuromorphic Intermediate Representation) import and export of Ship.NET networks. A NIR graph stores
/// continuous-time nodes and no time step: <see cref="Read(string, double, NirImportOptions?)"/> takes dt explicitly,
/// <see cref="Write"/> records the network's dt in the graph metadata. Mapping, equations and limits: docs/nir.md.
/// </summary>
public static class NirGraph
{
    /// <summary>Metadata key of the embedded Ship.NET checkpoint manifest (JSON text).</summary>
    public const string CheckpointManifestKey = "ship_checkpoint/network.json";
    /// <summary>Metadata key of the embedded Ship.NET checkpoint tensors (safetensors bytes).</summary>
    public const string CheckpointTensorsKey = "ship_checkpoint/tensors.safetensors";

    /// <summary>Reads a NIR file and builds a network stepping at <paramref name="dt"/> seconds.</summary>
    public static Network Read(string path, double dt, NirImportOptions? options = null) =>
        FromNir(NirFile.Read(path).Root, dt, options, Path.GetFileNameWithoutExtension(path));

    /// <summary>Builds a network from a NIR graph (or a single node) stepping at <paramref name="dt"/> seconds.</summary>
    public static Network FromNir(NirNode root, double dt, NirImportOptions? options = null, string name = "nir")
    {
        ArgumentNullException.ThrowIfNull(root);
        options ??= new NirImportOptions();
        if (options.UseShipMetadata && TryCheckpoint(root, dt, options) is { } exact) return exact;
        var dtype = options.DType ?? (root.Metadata.TryGetValue("ship_dtype", out var d) && d is NirText t && Enum.TryParse<ScalarType>(t.Text, out var parsed) ? parsed : ScalarType.Float32);
        return NirImport.Build(root, dt, options with { DType = dtype }, name);
    }

    /// <summary>Writes <paramref name="network"/> as a NIR file (initializing it first if needed); see <see cref="ToNir"/>.</summary>
    public static void Write(Network network, string path, bool embedCheckpoint = true, ModelRegistry? registry = null) =>
        NirFile.Write(path, new NirDocument(NirFile.WriterVersion, ToNir(network, embedCheckpoint, registry)));

    /// <summary>
    /// The NIR graph of <paramref name="network"/>: one node per group (two for a first-order synapse and a delayed group),
    /// its connections as edges, dt and dtype in the metadata, and (with <paramref name="embedCheckpoint"/>) the network's
    /// checkpoint, so hardware settings NIR cannot express survive a round trip through Ship.NET.
    /// </summary>
    public static NirNode ToNir(Network network, bool embedCheckpoint = true, ModelRegistry? registry = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (!network.IsInitialized) network.Initialize();
        var graph = NirExport.Build(network);
        if (embedCheckpoint)
        {
            string folder = Path.Combine(Path.GetTempPath(), $"ship-nir-{Guid.NewGuid():N}");
            try
            {
                new NetworkCheckpoint(registry ?? new ModelRegistry()).Save(network, folder);
                graph.Metadata[CheckpointManifestKey] = new NirText(File.ReadAllText(Path.Combine(folder, NetworkCheckpoint.ManifestFile)));
                var bytes = File.ReadAllBytes(Path.Combine(folder, NetworkCheckpoint.TensorFile));
                graph.Metadata[CheckpointTensorsKey] = new NirArray(bytes.Select(b => (double)b).ToArray(), new long[] { bytes.Length }, NirDType.UInt8);
            }
            finally
            {
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            }
        }
        return graph;
    }

    // The embedded checkpoint is used only while the graph still is what that network exports: a graph edited by another
    // tool (new weights, nodes, edges) is imported from its NIR nodes instead.
    private static Network? TryCheckpoint(NirNode root, double dt, NirImportOptions options)
    {
        if (!root.Metadata.TryGetValue(CheckpointManifestKey, out var m) || m is not NirText manifest
            || !root.Metadata.TryGetValue(CheckpointTensorsKey, out var b) || b is not NirArray tensors) return null;
        string folder = Path.Combine(Path.GetTempPath(), $"ship-nir-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            File.WriteAllText(Path.Combine(folder, NetworkCheckpoint.ManifestFile), manifest.Text, Encoding.UTF8);
            File.WriteAllBytes(Path.Combine(folder, NetworkCheckpoint.TensorFile), tensors.Data.Select(x => (byte)x).ToArray());
            Network net;
            try
            {
                net = new NetworkCheckpoint(options.Registry ?? new ModelRegistry()).Load(folder);
            }
            catch (CheckpointException)
            {
                return null; // e.g. a model this registry does not know: the NIR nodes still describe the network
            }
            var again = NirExport.Build(net);
            if (!again.SameAs(root, out _, compareMetadata: false)) return null;
            net.Dt = dt;
            if (options.BatchSize != net.BatchSize) net.BatchSize = options.BatchSize;
            if (options.DType is { } dtype && dtype != net.DType) net.DType = dtype;
            return net;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
