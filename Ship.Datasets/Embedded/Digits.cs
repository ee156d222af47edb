using System.Globalization;
using System.IO.Compression;
using CsvHelper;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets.Embedded;

/// <summary>
/// The 8x8 handwritten digits embedded in the library: 1797 images of 64 pixels (0..16) with labels 0..9, the test
/// part of the UCI "Optical Recognition of Handwritten Digits" data set (E. Alpaydin and C. Kaynak, 1998, CC BY 4.0).
/// Small enough to ship and to train a spiking network on a CPU in seconds, so demos and tests need no download.
/// </summary>
public static class Digits
{
    /// <summary>Number of samples.</summary>
    public const int Count = 1797;

    /// <summary>Pixels per image (8 × 8, row-major).</summary>
    public const int Pixels = 64;

    /// <summary>Number of classes (digits 0..9).</summary>
    public const int Classes = 10;

    /// <summary>Largest pixel value (a pixel counts the set bits of a 4×4 block of the original 32×32 bitmap).</summary>
    public const double MaxPixel = 16;

    /// <summary>Name of the embedded resource, for messages and for users who want the raw CSV.</summary>
    public const string ResourceName = "Ship.Datasets.Embedded.digits.csv.gz";

    /// <summary>Credit line required by the CC BY 4.0 licence wherever the data are redistributed or shown.</summary>
    public const string Credit =
        "Optical Recognition of Handwritten Digits, E. Alpaydin and C. Kaynak (1998), UCI Machine Learning Repository, " +
        "https://archive.ics.uci.edu/ml/datasets/optical+recognition+of+handwritten+digits, licensed CC BY 4.0.";

    /// <summary>
    /// Loads all samples: images [1797, 64] float32 with values 0..16, or 0..1 (divided by 16) with
    /// <paramref name="normalize"/>, and labels [1797] int64, in the file's order.
    /// </summary>
    public static LabeledSet Load(bool normalize = false)
    {
        var (pixels, labels) = ReadResource();
        var images = torch.tensor(pixels, new long[] { Count, Pixels }, ScalarType.Float32);
        if (normalize) images.div_(MaxPixel);
        return new LabeledSet(images, torch.tensor(labels, ScalarType.Int64));
    }

    /// <summary>
    /// A seeded STRATIFIED hold-out: each digit class sends round(testFraction·n_class) of its samples, drawn by a
    /// permutation from a generator seeded with <paramref name="seed"/>, to the test part (about 20 % of every class by
    /// default, 359 samples in all). Both parts keep the file's order; the same seed gives the same split.
    /// </summary>
    public static (LabeledSet Train, LabeledSet Test) Split(double testFraction = 0.2, long seed = 0, bool normalize = false)
    {
        using var all = Load(normalize);
        return all.Split(testFraction, seed);
    }

    private static (float[] Pixels, long[] Labels) ReadResource()
    {
        using var raw = typeof(Digits).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource '{ResourceName}' is missing from {typeof(Digits).Assembly.GetName().Name}; the build did not embed Embedded/digits.csv.gz.");
        using var gz = new GZipStream(raw, CompressionMode.Decompress);
        using var csv = CsvReader.Create(gz, new CsvReaderOptions
        {
            HasHeader = false,
            Separator = ',',
            TrackLineNumbers = true,
            FormatProvider = CultureInfo.InvariantCulture,
        });
        var pixels = new float[Count * Pixels];
        var labels = new long[Count];
        int row = 0;
        while (csv.Read())
        {
            long line = csv.LineNumber;
            if (row >= Count) throw DataFormatException.AtLine(ResourceName, line, $"more than {Count} rows.");
            if (csv.FieldCount != Pixels + 1)
                throw DataFormatException.AtLine(ResourceName, line, $"{csv.FieldCount} fields, expected {Pixels + 1} (64 pixels and the label).");
            for (int k = 0; k <= Pixels; k++)
            {
                if (!csv.TryParse<int>(k, out var v) || v < 0 || v > (k < Pixels ? (int)MaxPixel : Classes - 1))
                    throw DataFormatException.AtLine(ResourceName, line, $"field {k} is '{csv.GetString(k)}', expected an integer in 0..{(k < Pixels ? (int)MaxPixel : Classes - 1)}.");
                if (k < Pixels) pixels[row * Pixels + k] = v;
                else labels[row] = v;
            }
            row++;
        }
        if (row != Count) throw DataFormatException.AtLine(ResourceName, row + 1, $"only {row} rows, expected {Count}.");
        return (pixels, labels);
    }
}
