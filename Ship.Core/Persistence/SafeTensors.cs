using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Persistence;

/// <summary>
/// Reads and writes the safetensors format (Hugging Face), so a PyTorch user opens Ship.NET tensors with
/// <c>safetensors.torch.load_file</c>: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// <c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}</c> padded with
/// spaces to a multiple of 8, then the raw little-endian data of every tensor, back to back in header order.
/// Reading checks every size and offset before creating any tensor, so a truncated or corrupted file is reported, never half-read.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest header accepted (as the reference implementation: 100 MB), so a corrupted length cannot exhaust memory.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private static readonly (ScalarType Type, string Name, int Size)[] Types =
    {
        (ScalarType.Float64, "F64", 8), (ScalarType.Float32, "F32", 4), (ScalarType.Float16, "F16", 2), (ScalarType.BFloat16, "BF16", 2),
        (ScalarType.Int64, "I64", 8), (ScalarType.Int32, "I32", 4), (ScalarType.Int16, "I16", 2), (ScalarType.Int8, "I8", 1),
        (ScalarType.Byte, "U8", 1), (ScalarType.Bool, "BOOL", 1),
    };

    /// <summary>The safetensors name of a dtype ("F32", "I64", "BOOL"…); complex dtypes are not representable.</summary>
    public static string DTypeName(ScalarType type)
    {
        foreach (var t in Types) if (t.Type == type) return t.Name;
        throw new ArgumentException($"dtype {type} cannot be stored in safetensors.", nameof(type));
    }

    /// <summary>Writes the tensors (detached CPU copies, in the given order) and optional string metadata to <paramref name="path"/>.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        Write(stream, tensors, metadata);
    }

    /// <summary>Writes the safetensors bytes to a stream.</summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing assumes a little-endian host.");
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var (name, t) in list)
        {
            if (string.IsNullOrEmpty(name) || name == "__metadata__" || !names.Add(name))
                throw new ArgumentException($"tensor name '{name}' is empty, reserved or repeated.", nameof(tensors));
            ArgumentNullException.ThrowIfNull(t, name);
            long bytes = t.numel() * ElementSize(t.dtype);
            var shape = new JsonArray();
            foreach (var d in t.Sizes()) shape.Add(d);
            header[name] = new JsonObject { ["dtype"] = DTypeName(t.dtype), ["shape"] = shape, ["data_offsets"] = new JsonArray(offset, offset + bytes) };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
        stream.Write(len);
        stream.Write(json);
        for (int k = json.Length; k < padded; k++) stream.WriteByte((byte)' ');
        foreach (var (_, t) in list)
        {
            if (t.numel() == 0) continue;
            using var c = t.detach().cpu().contiguous();
            stream.Write(c.bytes);
        }
    }

    /// <summary>Reads every tensor of a safetensors file as CPU tensors, in file order, with its metadata.</summary>
    public static SafeTensorsContent Read(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException(CheckpointProblem.NotFound, $"safetensors file '{path}' does not exist: expected a safetensors file, found {Errors.UserFiles.WhatIsAt(path, file: true)}.");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CheckpointException(CheckpointProblem.Corrupted, $"cannot read '{path}': {e.Message}", e); }
        return Read(bytes, path);
    }

    /// <summary>Parses safetensors bytes; <paramref name="source"/> names them in errors.</summary>
    public static SafeTensorsContent Read(ReadOnlySpan<byte> bytes, string source = "safetensors data")
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reading assumes a little-endian host.");
        if (bytes.Length < 8)
            throw new CheckpointException(CheckpointProblem.Truncated, $"'{source}' has {bytes.Length} bytes, fewer than the 8-byte header length.");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (n > MaxHeaderBytes)
            throw new CheckpointException(CheckpointProblem.Corrupted, $"'{source}' announces a header of {n} bytes (limit {MaxHeaderBytes}): not a safetensors file.");
        if ((long)n > bytes.Length - 8)
            throw new CheckpointException(CheckpointProblem.Truncated, $"'{source}' announces a {n}-byte header but holds only {bytes.Length - 8} bytes after the length.");
        JsonObject header;
        try
        {
            header = JsonNode.Parse(bytes.Slice(8, (int)n).ToArray()) as JsonObject
                ?? throw new CheckpointException(CheckpointProblem.Corrupted, $"'{source}': the header is not a JSON object.");
        }
        catch (JsonException e) { throw new CheckpointException(CheckpointProblem.Corrupted, $"'{source}': the header is not valid JSON ({e.Message}).", e); }
        long dataStart = 8 + (long)n, dataLength = bytes.Length - dataStart;

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<(string Name, ScalarType Type, long[] Shape, long Begin, long End)>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is not JsonObject meta) throw Bad(source, "__metadata__ is not an object");
                foreach (var (k, v) in meta)
                    metadata[k] = v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : throw Bad(source, $"metadata '{k}' is not a string");
                continue;
            }
            if (node is not JsonObject o) throw Bad(source, $"entry '{name}' is not an object");
            var dtypeName = (o["dtype"] as JsonValue)?.TryGetValue<string>(out var dn) == true ? dn : throw Bad(source, $"entry '{name}' has no dtype");
            int idx = Array.FindIndex(Types, t => t.Name == dtypeName);
            if (idx < 0) throw Bad(source, $"entry '{name}' has unsupported dtype '{dtypeName}'");
            var shape = (o["shape"] as JsonArray ?? throw Bad(source, $"entry '{name}' has no shape"))
                .Select(d => d is JsonValue v && v.TryGetValue<long>(out var x) && x >= 0 ? x : throw Bad(source, $"entry '{name}' has a bad shape")).ToArray();
            var offs = o["data_offsets"] as JsonArray;
            if (offs is not { Count: 2 }) throw Bad(source, $"entry '{name}' needs data_offsets [begin, end]");
            long begin = offs[0] is JsonValue b && b.TryGetValue<long>(out var bb) ? bb : -1;
            long end = offs[1] is JsonValue e2 && e2.TryGetValue<long>(out var ee) ? ee : -1;
            long numel = 1;
            try
            {
                foreach (var d in shape) numel = checked(numel * d);
                _ = checked(numel * Types[idx].Size);
            }
            catch (OverflowException) { throw Bad(source, $"entry '{name}' has a shape {Format(shape)} whose size overflows 64 bits"); }
            if (begin < 0 || end < begin || end - begin != numel * Types[idx].Size)
                throw Bad(source, $"entry '{name}' ({dtypeName} {Format(shape)}) needs {numel * Types[idx].Size} bytes, its offsets [{begin}, {end}] give {end - begin}");
            entries.Add((name, Types[idx].Type, shape, begin, end));
        }
        // The data must be covered exactly, without holes or overlaps (as the reference implementation requires).
        long cursor = 0;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin != cursor) throw Bad(source, $"entry '{e.Name}' starts at {e.Begin}, expected {cursor} (holes or overlaps in the data)");
            cursor = e.End;
        }
        if (cursor > dataLength)
            throw new CheckpointException(CheckpointProblem.Truncated, $"'{source}' needs {cursor} bytes of tensor data but holds {dataLength}: the file is truncated.");
        if (cursor < dataLength)
            throw Bad(source, $"{dataLength - cursor} bytes follow the last tensor");

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var e in entries)
            {
                var t = torch.empty(e.Shape, dtype: e.Type);
                if (e.End > e.Begin) t.bytes = bytes.Slice((int)(dataStart + e.Begin), (int)(e.End - e.Begin)).ToArray();
                tensors[e.Name] = t.DetachFromDisposeScope();
            }
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
        return new SafeTensorsContent(entries.Select(e => e.Name).ToArray(), tensors, metadata);
    }

    private static CheckpointException Bad(string source, string what) =>
        new(CheckpointProblem.Corrupted, $"'{source}' is not a valid safetensors file: {what}.");

    internal static long ElementSize(ScalarType type)
    {
        foreach (var t in Types) if (t.Type == type) return t.Size;
        throw new ArgumentException($"dtype {type} cannot be stored in safetensors.", nameof(type));
    }

    private static string Format(long[] shape) => "[" + string.Join(", ", shape) + "]";
}

/// <summary>The tensors (CPU, owned by the caller: dispose them) and metadata read from a safetensors file.</summary>
public sealed class SafeTensorsContent : IDisposable
{
    internal SafeTensorsContent(IReadOnlyList<string> names, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Names = names;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Tensor names in the order of the header.</summary>
    public IReadOnlyList<string> Names { get; }
    /// <summary>The tensors by name.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors { get; }
    /// <summary>The string metadata ("__metadata__").</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Frees every tensor.</summary>
    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
    }
}
