using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets.Readers;

/// <summary>
/// Reader for the IDX files of MNIST, Fashion-MNIST and their relatives, plain or gzipped (detected by the gzip magic
/// bytes 1f 8b, not by the file name). Layout (big-endian): two zero bytes, a dtype byte (only 0x08, unsigned byte, is
/// used by these data sets), the number of dimensions, one 32-bit size per dimension, then the data in row-major
/// order. Every byte is accounted for: a wrong magic number, an impossible size, a truncated file or trailing bytes
/// raise <see cref="DataFormatException"/> with the file and the byte offset (of the decompressed data when gzipped).
/// </summary>
public static class Idx
{
    /// <summary>Magic number of a label file: unsigned bytes, one dimension.</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Magic number of an image file: unsigned bytes, three dimensions (n, rows, cols).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>
    /// Reads an image file as float32: [n, rows·cols] when <paramref name="flatten"/> (what a dense input layer takes),
    /// else [n, rows, cols]. Pixel values stay 0..255, or 0..1 with <paramref name="normalize"/>.
    /// </summary>
    public static Tensor ReadImages(string path, bool flatten = true, bool normalize = false)
    {
        var (data, dims, offset) = Read(path, 3, "images");
        using var raw = torch.tensor(data.AsSpan(offset).ToArray(), new long[] { dims[0], dims[1], dims[2] });
        var images = raw.to_type(ScalarType.Float32);
        if (normalize) images.div_(255.0);
        if (!flatten) return images;
        using (images) return images.reshape(dims[0], (long)dims[1] * dims[2]);
    }

    /// <summary>Reads a label file as int64 [n].</summary>
    public static Tensor ReadLabels(string path)
    {
        var (data, dims, offset) = Read(path, 1, "labels");
        using var raw = torch.tensor(data.AsSpan(offset).ToArray(), new long[] { dims[0] });
        return raw.to_type(ScalarType.Int64);
    }

    /// <summary>
    /// Loads the training (<paramref name="train"/>) or test part of an MNIST-style folder holding the standard file
    /// names: train-images-idx3-ubyte / train-labels-idx1-ubyte or t10k-images-idx3-ubyte / t10k-labels-idx1-ubyte,
    /// each optionally ending in .gz (the variant with a dot before "idx" is accepted too). Checks that both files
    /// hold the same number of samples.
    /// </summary>
    public static LabeledSet LoadFolder(string directory, bool train = true, bool flatten = true, bool normalize = false)
    {
        string prefix = train ? "train" : "t10k";
        var imagesPath = FindFile(directory, prefix, "images", "idx3-ubyte");
        var labelsPath = FindFile(directory, prefix, "labels", "idx1-ubyte");
        var images = ReadImages(imagesPath, flatten, normalize);
        Tensor labels;
        try { labels = ReadLabels(labelsPath); }
        catch { images.Dispose(); throw; }
        if (labels.Sizes()[0] != images.Sizes()[0])
        {
            long n = labels.Sizes()[0], m = images.Sizes()[0];
            images.Dispose();
            labels.Dispose();
            throw DataFormatException.AtOffset(labelsPath, 4,
                $"the label file holds {n} labels but '{Path.GetFileName(imagesPath)}' holds {m} images; the two files do not belong together.");
        }
        return new LabeledSet(images, labels);
    }

    /// <summary>The standard file names tried for one part of an MNIST-style folder, in the order they are tried.</summary>
    public static IReadOnlyList<string> StandardNames(bool train, bool images)
    {
        string prefix = train ? "train" : "t10k";
        string kind = images ? "images" : "labels";
        string suffix = images ? "idx3-ubyte" : "idx1-ubyte";
        return new[] { $"{prefix}-{kind}-{suffix}", $"{prefix}-{kind}-{suffix}.gz", $"{prefix}-{kind}.{suffix}", $"{prefix}-{kind}.{suffix}.gz" };
    }

    private static string FindFile(string directory, string prefix, string kind, string suffix)
    {
        var names = StandardNames(prefix == "train", kind == "images");
        Ship.Core.Errors.UserFiles.RequireFolder(directory, $"an IDX folder holding the {prefix} {kind} ({string.Join(" or ", names)})");
        foreach (var n in names)
        {
            var p = Path.Combine(directory, n);
            if (File.Exists(p)) return p;
        }
        var present = Directory.EnumerateFiles(directory).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).Take(8).ToList();
        throw new Ship.Core.Errors.MissingFileException(directory, $"an IDX {prefix} {kind} file named {string.Join(", ", names)}",
            present.Count == 0 ? "an empty folder" : $"only {string.Join(", ", present)}{(present.Count == 8 ? ", …" : "")}");
    }

    /// <summary>Reads and validates a whole file; returns the bytes, the sizes and the offset of the first data byte.</summary>
    private static (byte[] Data, int[] Dims, int Offset) Read(string path, int expectedDims, string what)
    {
        ArgumentNullException.ThrowIfNull(path);
        var bytes = Ship.Core.Errors.UserFiles.Open(path, $"an IDX {what} file", File.ReadAllBytes);
        bool gz = bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
        var data = gz ? Gunzip(path, bytes) : bytes;

        int expectedMagic = expectedDims == 1 ? LabelsMagic : ImagesMagic;
        if (data.Length < 4)
            throw DataFormatException.AtOffset(path, data.Length,
                $"the file ends after {data.Length} bytes; an IDX {what} file starts with the 4-byte magic number 0x{expectedMagic:X8}.", gz);
        if (data[0] != 0 || data[1] != 0)
            throw DataFormatException.AtOffset(path, data[0] != 0 ? 0 : 1,
                $"not an IDX file: the magic number 0x{BigEndian(data, 0):X8} does not start with two zero bytes (expected 0x{expectedMagic:X8} for {what}).", gz);
        if (data[2] != 0x08)
            throw DataFormatException.AtOffset(path, 2,
                $"the IDX data type byte is 0x{data[2]:X2} ({TypeName(data[2])}); only 0x08 (unsigned byte, as in MNIST) is supported.", gz);
        if (data[3] != expectedDims)
        {
            string hint = data[3] switch
            {
                1 => " (this looks like a label file)",
                3 => " (this looks like an image file)",
                _ => "",
            };
            throw DataFormatException.AtOffset(path, 3,
                $"the magic number 0x{BigEndian(data, 0):X8} declares {data[3]} dimension(s){hint}; expected 0x{expectedMagic:X8} ({expectedDims} dimension(s), {what}).", gz);
        }

        int header = 4 + 4 * expectedDims;
        var dims = new int[expectedDims];
        long product = 1;
        for (int d = 0; d < expectedDims; d++)
        {
            int at = 4 + 4 * d;
            if (data.Length < at + 4)
                throw DataFormatException.AtOffset(path, data.Length,
                    $"the file ends inside the header: size {d} of {expectedDims} needs bytes {at}..{at + 3}.", gz);
            int size = BigEndian(data, at);
            bool ok = d == 0 ? size >= 0 : size >= 1;
            if (!ok)
                throw DataFormatException.AtOffset(path, at,
                    $"dimension {d} has size {size}; it must be {(d == 0 ? ">= 0" : ">= 1")}.", gz);
            dims[d] = size;
            product *= size;
        }
        long expectedLength = header + product;
        if (expectedLength > Array.MaxLength)
            throw DataFormatException.AtOffset(path, 4,
                $"the sizes [{string.Join(", ", dims)}] imply {product} data bytes, more than one array can hold.", gz);
        if (data.Length < expectedLength)
            throw DataFormatException.AtOffset(path, data.Length,
                $"the file is truncated: sizes [{string.Join(", ", dims)}] need {product} data bytes ending at offset {expectedLength}, but the data ends at offset {data.Length}.", gz);
        if (data.Length > expectedLength)
            throw DataFormatException.AtOffset(path, expectedLength,
                $"{data.Length - expectedLength} unexpected trailing byte(s) after the {product} data bytes that sizes [{string.Join(", ", dims)}] declare.", gz);
        return (data, dims, header);
    }

    private static byte[] Gunzip(string path, byte[] compressed)
    {
        using var output = new MemoryStream(compressed.Length * 4);
        using var gz = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        var buffer = new byte[1 << 16];
        try
        {
            int n;
            while ((n = gz.Read(buffer, 0, buffer.Length)) > 0) output.Write(buffer, 0, n);
        }
        catch (InvalidDataException e)
        {
            throw DataFormatException.AtOffset(path, output.Length,
                $"the gzip stream is corrupt after {output.Length} decompressed bytes: {e.Message}", true, e);
        }
        return output.ToArray();
    }

    private static int BigEndian(byte[] b, int at) => (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];

    private static string TypeName(byte t) => t switch
    {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "not an IDX type",
    };
}
