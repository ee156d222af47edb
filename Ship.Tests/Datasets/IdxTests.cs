using System.Buffers.Binary;
using System.IO.Compression;
using NUnit.Framework;
using Ship.Datasets;
using Ship.Datasets.Readers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Datasets;

public class IdxTests
{
    private const int N = 3, Rows = 2, Cols = 4;

    private static byte Pixel(int i) => (byte)((i * 37 + 11) % 256);

    private static byte[] Header(byte dtype, byte ndims, params int[] dims)
    {
        var h = new byte[4 + 4 * dims.Length];
        h[2] = dtype;
        h[3] = ndims;
        for (int d = 0; d < dims.Length; d++) BinaryPrimitives.WriteInt32BigEndian(h.AsSpan(4 + 4 * d), dims[d]);
        return h;
    }

    private static byte[] ImageFile(int n = N) =>
        Header(0x08, 3, n, Rows, Cols).Concat(Enumerable.Range(0, n * Rows * Cols).Select(Pixel)).ToArray();

    private static byte[] LabelFile(int n = N) =>
        Header(0x08, 1, n).Concat(Enumerable.Range(0, n).Select(i => (byte)((i * 3) % 10))).ToArray();

    private static string Write(TempDir dir, string name, byte[] bytes, bool gzip)
    {
        var path = dir.File(name);
        if (!gzip) File.WriteAllBytes(path, bytes);
        else
        {
            using var f = File.Create(path);
            using var gz = new GZipStream(f, CompressionLevel.Optimal);
            gz.Write(bytes);
        }
        return path;
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ImagesRoundTripFlatAndSquare(bool gzip)
    {
        using var dir = new TempDir();
        var path = Write(dir, gzip ? "img.gz" : "img", ImageFile(), gzip);
        using var flat = Idx.ReadImages(path);
        Assert.That(flat.shape, Is.EqualTo(new long[] { N, Rows * Cols }));
        Assert.That(flat.dtype, Is.EqualTo(ScalarType.Float32));
        var values = flat.data<float>().ToArray();
        for (int i = 0; i < values.Length; i++) Assert.That(values[i], Is.EqualTo((float)Pixel(i)), $"pixel {i}");

        using var square = Idx.ReadImages(path, flatten: false, normalize: true);
        Assert.That(square.shape, Is.EqualTo(new long[] { N, Rows, Cols }));
        // pixel (n=2, r=1, c=3) is flat index 2·8 + 1·4 + 3 = 23.
        Assert.That(square[2, 1, 3].item<float>(), Is.EqualTo(Pixel(23) / 255f).Within(1e-7));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void LabelsRoundTrip(bool gzip)
    {
        using var dir = new TempDir();
        var path = Write(dir, "lab", LabelFile(7), gzip); // the name does not say gzip: detection is by magic bytes
        using var y = Idx.ReadLabels(path);
        Assert.That(y.dtype, Is.EqualTo(ScalarType.Int64));
        Assert.That(y.data<long>().ToArray(), Is.EqualTo(Enumerable.Range(0, 7).Select(i => (long)((i * 3) % 10)).ToArray()));
    }

    [Test]
    public void LoadFolderFindsStandardNamesPlainOrGzipped()
    {
        using var dir = new TempDir();
        Write(dir, "train-images-idx3-ubyte.gz", ImageFile(5), true);
        Write(dir, "train-labels-idx1-ubyte", LabelFile(5), false);
        Write(dir, "t10k-images-idx3-ubyte", ImageFile(2), false);
        Write(dir, "t10k-labels-idx1-ubyte.gz", LabelFile(2), true);
        using var train = Idx.LoadFolder(dir.Path);
        using var test = Idx.LoadFolder(dir.Path, train: false, flatten: false);
        Assert.That(train.Inputs.shape, Is.EqualTo(new long[] { 5, Rows * Cols }));
        Assert.That(train.Labels.shape, Is.EqualTo(new long[] { 5 }));
        Assert.That(test.Inputs.shape, Is.EqualTo(new long[] { 2, Rows, Cols }));
        Assert.That(test.Labels[1].item<long>(), Is.EqualTo(3));
    }

    [Test]
    public void LoadFolderWithMismatchedCountsNamesLabelFile()
    {
        using var dir = new TempDir();
        Write(dir, "train-images-idx3-ubyte", ImageFile(3), false);
        var labels = Write(dir, "train-labels-idx1-ubyte", LabelFile(4), false);
        var e = Assert.Throws<DataFormatException>(() => Idx.LoadFolder(dir.Path))!;
        Assert.That(e.File, Is.EqualTo(labels));
        Assert.That(e.ByteOffset, Is.EqualTo(4));
        Assert.That(e.Message, Does.Contain("4 labels").And.Contain("3 images"));
    }

    [Test]
    public void LoadFolderWithoutFilesSaysWhatItLookedFor()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<Ship.Core.Errors.MissingFileException>(() => Idx.LoadFolder(dir.Path, train: false))!;
        Assert.That(e.Message, Does.Contain("t10k-images-idx3-ubyte.gz"));
        Assert.That((e.Path, e.Found), Is.EqualTo((dir.Path, "an empty folder")));
    }

    private static DataFormatException Corrupt(byte[] bytes, bool gzip, bool images, out string path)
    {
        var dir = new TempDir();
        try
        {
            path = Write(dir, "bad", bytes, gzip);
            var p = path;
            return images
                ? Assert.Throws<DataFormatException>(() => Idx.ReadImages(p).Dispose())!
                : Assert.Throws<DataFormatException>(() => Idx.ReadLabels(p).Dispose())!;
        }
        finally { dir.Dispose(); }
    }

    private static void AssertNames(DataFormatException e, string path, long offset)
    {
        Assert.That(e.File, Is.EqualTo(path));
        Assert.That(e.ByteOffset, Is.EqualTo(offset));
        Assert.That(e.Message, Does.Contain(path).And.Contain($"byte offset {offset}"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void TruncatedDataNamesFileAndEndOffset(bool gzip)
    {
        var bytes = ImageFile();
        var cut = bytes[..^5];
        var e = Corrupt(cut, gzip, true, out var path);
        AssertNames(e, path, cut.Length);
        Assert.That(e.Message, Does.Contain("truncated").And.Contain($"ending at offset {bytes.Length}"));
        Assert.That(e.Message.Contains("decompressed"), Is.EqualTo(gzip));
    }

    [Test]
    public void TrailingBytesNameTheExpectedEnd()
    {
        var bytes = ImageFile().Concat(new byte[] { 1, 2 }).ToArray();
        var e = Corrupt(bytes, false, true, out var path);
        AssertNames(e, path, 16 + N * Rows * Cols);
        Assert.That(e.Message, Does.Contain("2 unexpected trailing"));
    }

    [Test]
    public void LabelFileReadAsImagesIsRejectedAtTheDimensionByte()
    {
        var e = Corrupt(LabelFile(), false, true, out var path);
        AssertNames(e, path, 3);
        Assert.That(e.Message, Does.Contain("0x00000801").And.Contain("looks like a label file").And.Contain("0x00000803"));
    }

    [Test]
    public void WrongDtypeIsRejectedAtOffsetTwo()
    {
        var bytes = ImageFile();
        bytes[2] = 0x0D;
        var e = Corrupt(bytes, false, true, out var path);
        AssertNames(e, path, 2);
        Assert.That(e.Message, Does.Contain("float32"));
    }

    [Test]
    public void NonZeroMagicPrefixIsNotAnIdxFile()
    {
        var bytes = LabelFile();
        bytes[0] = 0x50; // e.g. a PNG or a text file
        var e = Corrupt(bytes, false, false, out var path);
        AssertNames(e, path, 0);
        Assert.That(e.Message, Does.Contain("not an IDX file"));
    }

    [Test]
    public void HeaderCutShortNamesTheEnd()
    {
        var bytes = ImageFile()[..10];
        var e = Corrupt(bytes, false, true, out var path);
        AssertNames(e, path, 10);
        Assert.That(e.Message, Does.Contain("inside the header"));
    }

    [Test]
    public void ZeroRowsIsAnImpossibleDimension()
    {
        var bytes = Header(0x08, 3, 2, 0, 4);
        var e = Corrupt(bytes, false, true, out var path);
        AssertNames(e, path, 8);
        Assert.That(e.Message, Does.Contain("dimension 1 has size 0"));
    }

    [Test]
    public void EmptyFileIsRejectedAtOffsetZero()
    {
        var e = Corrupt(Array.Empty<byte>(), false, false, out var path);
        AssertNames(e, path, 0);
    }
}
