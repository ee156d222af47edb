using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using NUnit.Framework;
using Ship.Core.Persistence;
using Ship.Devices.Persistence;
using TorchSharp;
using static Ship.Tests.Reliability.ReliabilityKit;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

/// <summary>
/// The tensor file follows the safetensors specification, checked with a minimal reader written here from the
/// specification alone (8-byte little-endian header length, JSON header, raw little-endian data), independent of
/// the library's reader: what this reader sees is what Python's safetensors sees.
/// </summary>
public class SafeTensorsFormatTests
{
    private sealed record Entry(string DType, long[] Shape, long Begin, long End, byte[] Data);

    /// <summary>A reader from the specification: no validation beyond what the format requires to locate the data.</summary>
    private static (Dictionary<string, Entry> Tensors, Dictionary<string, string> Metadata, ulong HeaderLength) MiniRead(byte[] file)
    {
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(0, 8));
        using var doc = JsonDocument.Parse(file.AsMemory(8, (int)n));
        var tensors = new Dictionary<string, Entry>();
        var meta = new Dictionary<string, string>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                foreach (var m in p.Value.EnumerateObject()) meta[m.Name] = m.Value.GetString()!;
                continue;
            }
            var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            long start = 8 + (long)n;
            tensors[p.Name] = new Entry(p.Value.GetProperty("dtype").GetString()!,
                p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
                offsets[0], offsets[1], file[(int)(start + offsets[0])..(int)(start + offsets[1])]);
        }
        return (tensors, meta, n);
    }

    [Test]
    public void WrittenFilesFollowTheSpecification()
    {
        var dir = TempFolder("st-write");
        var path = Path.Combine(dir, "t.safetensors");
        var f32 = torch.tensor(new float[] { 1.5f, -2f, 0.1f, float.Epsilon, -0f, 3e38f }, new long[] { 2, 3 });
        var f64 = torch.tensor(new[] { Math.PI, -1e-300 });
        var i64 = torch.tensor(new long[] { long.MinValue, 7, long.MaxValue });
        var flags = torch.tensor(new[] { true, false, true });
        var scalar = torch.tensor(42.0f);
        var empty = torch.zeros(0, 3);
        var transposed = torch.arange(6, dtype: ScalarType.Int32).reshape(2, 3).t(); // not contiguous: written in logical order
        SafeTensors.Write(path, new KeyValuePair<string, Tensor>[]
        {
            new("f32", f32), new("f64", f64), new("i64", i64), new("bool", flags), new("scalar", scalar), new("empty", empty), new("t", transposed),
        }, new Dictionary<string, string> { ["note"] = "hello" });

        var file = File.ReadAllBytes(path);
        var (tensors, meta, n) = MiniRead(file);
        Assert.That(n % 8, Is.EqualTo(0UL), "header padded to 8 bytes");
        Assert.That(file.Skip(8).Take((int)n).Reverse().TakeWhile(b => b != (byte)'}').All(b => b == (byte)' '), Is.True, "padding is spaces");
        Assert.That(meta["note"], Is.EqualTo("hello"));

        byte[] Le<T>(T[] values, Func<T, byte[]> bytes) => values.SelectMany(bytes).ToArray(); // BitConverter is little-endian here
        Assert.That(BitConverter.IsLittleEndian, Is.True);
        Assert.That(tensors["f32"].DType, Is.EqualTo("F32"));
        Assert.That(tensors["f32"].Shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(tensors["f32"].Data, Is.EqualTo(Le(new[] { 1.5f, -2f, 0.1f, float.Epsilon, -0f, 3e38f }, BitConverter.GetBytes)));
        Assert.That(tensors["f64"].DType, Is.EqualTo("F64"));
        Assert.That(tensors["f64"].Data, Is.EqualTo(Le(new[] { Math.PI, -1e-300 }, BitConverter.GetBytes)));
        Assert.That(tensors["i64"].DType, Is.EqualTo("I64"));
        Assert.That(tensors["i64"].Data, Is.EqualTo(Le(new[] { long.MinValue, 7, long.MaxValue }, BitConverter.GetBytes)));
        Assert.That(tensors["bool"].DType, Is.EqualTo("BOOL"));
        Assert.That(tensors["bool"].Data, Is.EqualTo(new byte[] { 1, 0, 1 }));
        Assert.That(tensors["scalar"].Shape, Is.Empty);
        Assert.That(tensors["scalar"].Data, Is.EqualTo(BitConverter.GetBytes(42.0f)));
        Assert.That(tensors["empty"].Shape, Is.EqualTo(new long[] { 0, 3 }));
        Assert.That(tensors["empty"].Data, Is.Empty);
        Assert.That(tensors["t"].DType, Is.EqualTo("I32"));
        Assert.That(tensors["t"].Shape, Is.EqualTo(new long[] { 3, 2 }));
        Assert.That(tensors["t"].Data, Is.EqualTo(Le(new[] { 0, 3, 1, 4, 2, 5 }, BitConverter.GetBytes)));

        // Offsets tile the data region exactly, which is the rest of the file.
        long cursor = 0;
        foreach (var e in tensors.Values.OrderBy(e => e.Begin))
        {
            Assert.That(e.Begin, Is.EqualTo(cursor));
            cursor = e.End;
        }
        Assert.That(8 + (long)n + cursor, Is.EqualTo(file.LongLength));
    }

    [Test]
    public void TheLibraryReadsAFileBuiltByHandFromTheSpecification()
    {
        // No padding, metadata after the tensors, entries out of data order: all allowed by the format.
        var a = Le(new[] { 1.25, -3.5 });
        var b = Le(new[] { 9f, 8f, 7f, 6f });
        var header = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]},\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},\"__metadata__\":{\"k\":\"v\"}}";
        var hb = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + hb.Length + 32];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)hb.Length);
        hb.CopyTo(file, 8);
        a.CopyTo(file, 8 + hb.Length);
        b.CopyTo(file, 8 + hb.Length + 16);
        using var c = SafeTensors.Read(file);
        Assert.That(c.Tensors["a"].dtype, Is.EqualTo(ScalarType.Float64));
        Assert.That(c.Tensors["a"].data<double>().ToArray(), Is.EqualTo(new[] { 1.25, -3.5 }));
        Assert.That(c.Tensors["b"].shape, Is.EqualTo(new long[] { 2, 2 }));
        Assert.That(c.Tensors["b"].data<float>().ToArray(), Is.EqualTo(new[] { 9f, 8f, 7f, 6f }));
        Assert.That(c.Metadata["k"], Is.EqualTo("v"));

        static byte[] Le<T>(T[] v) where T : struct => v.SelectMany(x => x switch
        {
            double d => BitConverter.GetBytes(d),
            float f => BitConverter.GetBytes(f),
            _ => throw new ArgumentException(),
        }).ToArray();
    }

    [Test]
    public void ACheckpointTensorFileReadsWithTheIndependentReader()
    {
        var dir = TempFolder("st-ckpt");
        var net = Scenarios.Build("batched");
        Scenarios.Part1(net, "batched");
        Checkpoint.Save(net, dir, Scenarios.Registry());
        var (tensors, meta, _) = MiniRead(File.ReadAllBytes(Path.Combine(dir, NetworkCheckpoint.TensorFile)));
        Assert.That(meta["format"], Is.EqualTo("Ship.NET checkpoint"));
        var w = tensors["groups/IF/w"];
        Assert.That(w.DType, Is.EqualTo("F32"));
        Assert.That(w.Shape, Is.EqualTo(new long[] { 5, 4 }));
        var expected = net["IF"].Get("w").contiguous().data<float>().ToArray();
        Assert.That(Enumerable.Range(0, expected.Length).Select(i => BitConverter.ToSingle(w.Data, 4 * i)), Is.EqualTo(expected));
        var u = tensors["groups/L/u"];
        Assert.That(u.Shape, Is.EqualTo(new long[] { 3, 4 }), "membranes [batch, N]");
        Assert.That(tensors["rng/state"].DType, Is.EqualTo("U8"));
    }

    [Test]
    public void MalformedFilesGiveTypedErrors()
    {
        var good = new MemoryStream();
        SafeTensors.Write(good, new KeyValuePair<string, Tensor>[] { new("x", torch.ones(4, 4)) });
        var bytes = good.ToArray();

        var e1 = Assert.Throws<CheckpointException>(() => SafeTensors.Read(bytes.AsSpan(0, bytes.Length - 5)));
        Assert.That(e1!.Problem, Is.EqualTo(CheckpointProblem.Truncated));
        Assert.That(e1.Message, Does.Contain("truncated"));
        var e2 = Assert.Throws<CheckpointException>(() => SafeTensors.Read(bytes.AsSpan(0, 5)));
        Assert.That(e2!.Problem, Is.EqualTo(CheckpointProblem.Truncated));
        var huge = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(huge, ulong.MaxValue / 2);
        Assert.That(Assert.Throws<CheckpointException>(() => SafeTensors.Read(huge))!.Problem, Is.EqualTo(CheckpointProblem.Corrupted));
        var badJson = (byte[])bytes.Clone();
        badJson[8] = (byte)'[';
        Assert.That(Assert.Throws<CheckpointException>(() => SafeTensors.Read(badJson))!.Problem, Is.EqualTo(CheckpointProblem.Corrupted));
        var extra = bytes.Concat(new byte[] { 1, 2, 3 }).ToArray();
        Assert.That(Assert.Throws<CheckpointException>(() => SafeTensors.Read(extra))!.Message, Does.Contain("follow the last tensor"));
    }
}
