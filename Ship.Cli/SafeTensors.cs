using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Cli;

/// <summary>
/// Minimal safetensors writer and reader (float32 only, the study's weights): an 8-byte little-endian header length, a
/// JSON header {name: {dtype: "F32", shape, data_offsets: [begin, end]}, "__metadata__": {…}} padded with spaces to a
/// multiple of 8 bytes, then the raw little-endian data of each tensor in header order. Readable by the safetensors
/// library (Python: <c>safetensors.torch.load_file</c>).
/// </summary>
public static class SafeTensors
{
    /// <summary>Writes <paramref name="tensors"/> (any float dtype, stored as float32) and optional string metadata.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var m = new JsonObject();
            foreach (var (k, v) in metadata) m[k] = v;
            header["__metadata__"] = m;
        }
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, tensor) in tensors.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var data = tensor.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
            var bytes = new byte[data.Length * 4];
            for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), data[i]);
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(tensor.shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            offset += bytes.Length;
            blobs.Add(bytes);
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using var f = File.Create(path);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
        f.Write(len);
        f.Write(json);
        for (int i = json.Length; i < padded; i++) f.WriteByte((byte)' ');
        foreach (var b in blobs) f.Write(b);
    }

    /// <summary>Reads a float32 safetensors file written by <see cref="Write"/> (or any F32-only file) into CPU tensors.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        var bytes = Ship.Core.Errors.UserFiles.Open(path, "a float32 safetensors file (a study's model weights)", File.ReadAllBytes);
        if (bytes.Length < 8) throw new InvalidDataException($"'{path}' is not a safetensors file: {bytes.Length} bytes.");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (n > (ulong)(bytes.Length - 8)) throw new InvalidDataException($"'{path}': header length {n} exceeds the file.");
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var result = new Dictionary<string, Tensor>();
        long start = 8 + (long)n;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") continue;
            var dtype = p.Value.GetProperty("dtype").GetString();
            if (dtype != "F32") throw new InvalidDataException($"'{path}': tensor '{p.Name}' has dtype {dtype}; only F32 is read.");
            var shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var off = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            long count = shape.Aggregate(1L, (a, b) => a * b);
            if (off[1] - off[0] != 4 * count || start + off[1] > bytes.Length)
                throw new InvalidDataException($"'{path}': tensor '{p.Name}' has offsets [{off[0]}, {off[1]}] that do not fit its shape or the file.");
            var data = new float[count];
            for (long i = 0; i < count; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)(start + off[0] + 4 * i)));
            result[p.Name] = torch.tensor(data, shape);
        }
        return result;
    }
}
