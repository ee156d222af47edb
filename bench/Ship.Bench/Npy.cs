using System.Text;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Bench;

/// NumPy .npy files (format version 1.0, C order) for the tensors the training comparison exchanges with the Python peer:
/// uint8, int64 and float32, little-endian.
internal static partial class Npy
{
    private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    private static string Descr(ScalarType t) => t switch
    {
        ScalarType.Byte => "|u1",
        ScalarType.Int64 => "<i8",
        ScalarType.Float32 => "<f4",
        ScalarType.Float64 => "<f8",
        _ => throw new ArgumentException($"npy: dtype {t} is not written by this benchmark"),
    };

    private static ScalarType FromDescr(string d) => d switch
    {
        "|u1" => ScalarType.Byte,
        "<i8" => ScalarType.Int64,
        "<f4" => ScalarType.Float32,
        "<f8" => ScalarType.Float64,
        _ => throw new InvalidDataException($"npy: dtype '{d}' is not read by this benchmark"),
    };

    /// Writes a CPU copy of t.
    public static void Write(string path, Tensor t)
    {
        using var c = t.detach().cpu().contiguous();
        string shape = c.dim() switch
        {
            0 => "()",
            1 => $"({c.shape[0]},)",
            _ => "(" + string.Join(", ", c.shape) + ")",
        };
        var header = $"{{'descr': '{Descr(c.dtype)}', 'fortran_order': False, 'shape': {shape}, }}";
        // Magic (6) + version (2) + length (2) + header + '\n' is padded with spaces to a multiple of 64 bytes.
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        using var f = File.Create(path);
        f.Write(Magic);
        f.Write(new byte[] { 1, 0, (byte)(header.Length & 0xff), (byte)(header.Length >> 8) });
        f.Write(Encoding.ASCII.GetBytes(header));
        f.Write(c.bytes);
    }

    /// Reads an .npy file written by <see cref="Write"/> or numpy.save (C order, the dtypes above).
    public static Tensor Read(string path)
    {
        // Header first, then the data straight into the tensor: no managed copy of the whole file (a 2 MB array per
        // epoch's spikes went to the large-object heap, whose committed memory showed up in the training's peak RSS).
        using var f = File.OpenRead(path);
        Span<byte> head = stackalloc byte[12];
        if (f.ReadAtLeast(head, 10, throwOnEndOfStream: false) < 10 || !head[..6].SequenceEqual(Magic)) throw new InvalidDataException($"{path}: not an .npy file");
        int major = head[6];
        int len = major == 1 ? head[8] | head[9] << 8 : BitConverter.ToInt32(head[8..12]);
        int start = major == 1 ? 10 : 12;
        var headerBytes = new byte[len];
        f.Position = start;
        f.ReadExactly(headerBytes);
        var header = Encoding.ASCII.GetString(headerBytes);
        var descr = DescrRegex().Match(header).Groups[1].Value;
        if (header.Contains("'fortran_order': True")) throw new InvalidDataException($"{path}: Fortran order is not read");
        var dims = ShapeRegex().Match(header).Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(long.Parse).ToArray();
        var t = torch.empty(dims, FromDescr(descr));
        f.ReadExactly(t.bytes);
        return t;
    }

    [GeneratedRegex(@"'descr':\s*'([^']*)'")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();
}
