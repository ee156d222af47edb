using System.Globalization;
using System.IO.Compression;
using CsvHelper;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets.Readers;

/// <summary>Which columns of a CSV file become channels, and how the file is laid out.</summary>
public sealed record CsvTimeSeriesOptions
{
    /// <summary>Whether the first line names the columns (needed to select columns by name). Default true.</summary>
    public bool HasHeader { get; init; } = true;

    /// <summary>Channel columns by header name, in output order; null (and no indices) = every column but the label.</summary>
    public IReadOnlyList<string>? Columns { get; init; }

    /// <summary>Channel columns by 0-based index, in output order; an alternative to <see cref="Columns"/>.</summary>
    public IReadOnlyList<int>? ColumnIndices { get; init; }

    /// <summary>Name of a per-row integer label column (read into <see cref="TimeSeries.Labels"/>), or null.</summary>
    public string? LabelColumn { get; init; }

    /// <summary>0-based index of a per-row integer label column, or null.</summary>
    public int? LabelColumnIndex { get; init; }

    /// <summary>Field separator; null detects it among , ; tab and |. Default ','.</summary>
    public char? Separator { get; init; } = ',';

    /// <summary>Floating dtype of the values tensor. Default float32.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
}

/// <summary>A multichannel time series read from a file: one row per time step, one column per channel.</summary>
public sealed class TimeSeries : IDisposable
{
    /// <summary>Wraps the values and optional labels read from <paramref name="source"/>.</summary>
    public TimeSeries(Tensor values, Tensor? labels, IReadOnlyList<string> channels, string source)
    {
        Values = values;
        Labels = labels;
        Channels = channels;
        Source = source;
    }

    /// <summary>Values [steps, channels].</summary>
    public Tensor Values { get; }

    /// <summary>Per-step labels [steps] (int64) when a label column was named, else null.</summary>
    public Tensor? Labels { get; }

    /// <summary>Channel names: the header names, or "column k" without a header.</summary>
    public IReadOnlyList<string> Channels { get; }

    /// <summary>The file the series came from.</summary>
    public string Source { get; }

    /// <summary>Number of time steps (rows).</summary>
    public long Steps => Values.Sizes()[0];

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        Values.Dispose();
        Labels?.Dispose();
    }
}

/// <summary>
/// Reads a CSV file (optionally gzipped, detected by its magic bytes) as a time series with CsvHelper: rows are time
/// steps, selected columns are channels. Every row must have as many fields as the header (or, without a header, as the
/// first row), and every selected field must be a finite number in invariant culture; otherwise a
/// <see cref="DataFormatException"/> names the file and the 1-based line (empty lines count).
/// </summary>
public static class CsvTimeSeries
{
    /// <summary>Reads <paramref name="path"/> into a [steps, channels] tensor (plus labels when a label column is given).</summary>
    public static TimeSeries Read(string path, CsvTimeSeriesOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var o = options ?? new CsvTimeSeriesOptions();
        if (o.Columns is not null && o.ColumnIndices is not null)
            throw new ArgumentException("Give the channel columns either by name or by index, not both.", nameof(options));
        if (o.LabelColumn is not null && o.LabelColumnIndex is not null)
            throw new ArgumentException("Give the label column either by name or by index, not both.", nameof(options));
        if (!o.HasHeader && (o.Columns is not null || o.LabelColumn is not null))
            throw new ArgumentException($"Columns can only be selected by name in a file with a header; '{path}' is read without one (HasHeader = false): use indices.", nameof(options));
        if (o.DType is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"DType must be a floating type, got {o.DType}.", nameof(options));

        var csvOptions = new CsvReaderOptions
        {
            HasHeader = o.HasHeader,
            Separator = o.Separator,
            TrackLineNumbers = true,
            FormatProvider = CultureInfo.InvariantCulture,
        };
        using var stream = OpenMaybeGzipped(path);
        using var csv = CsvReader.Create(stream, csvOptions);

        var values = new List<double>();
        var labels = new List<long>();
        int[]? channelIdx = null;
        int labelIdx = -1;
        int fieldCount = -1;
        string[] names = Array.Empty<string>();
        long steps = 0;
        try
        {
            if (o.HasHeader)
            {
                csv.ReadHeader();
                names = csv.Headers.ToArray();
                if (names.Length == 0) throw DataFormatException.AtLine(path, 1, "the file is empty: expected a header line.");
                fieldCount = names.Length;
                (channelIdx, labelIdx) = Resolve(path, o, names, 1);
            }
            while (csv.Read())
            {
                long line = csv.LineNumber;
                int count = csv.FieldCount;
                if (fieldCount < 0)
                {
                    fieldCount = count;
                    names = Enumerable.Range(0, count).Select(k => $"column {k}").ToArray();
                    (channelIdx, labelIdx) = Resolve(path, o, names, line);
                }
                if (count != fieldCount)
                    throw DataFormatException.AtLine(path, line,
                        $"the row has {count} field(s), the {(o.HasHeader ? "header has" : "first row has")} {fieldCount}.");
                foreach (int c in channelIdx!)
                {
                    var s = csv.GetString(c);
                    if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
                        throw DataFormatException.AtLine(path, line,
                            $"column {c} ('{names[c]}') holds '{Clip(s)}', which is not a finite number (invariant culture, '.' decimal point).");
                    values.Add(v);
                }
                if (labelIdx >= 0)
                {
                    var s = csv.GetString(labelIdx);
                    if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || v != Math.Floor(v) || Math.Abs(v) > 9e15)
                        throw DataFormatException.AtLine(path, line,
                            $"label column {labelIdx} ('{names[labelIdx]}') holds '{Clip(s)}', which is not an integer label.");
                    labels.Add((long)v);
                }
                steps++;
            }
        }
        catch (CsvFormatException e)
        {
            throw DataFormatException.AtLine(path, Math.Max(1, e.LineNumber), $"malformed CSV: {e.Message}", e);
        }
        catch (InvalidDataException e)
        {
            // A damaged gzip stream (bad block, wrong checksum) surfaces while rows are read.
            throw DataFormatException.AtLine(path, Math.Max(1, steps + (o.HasHeader ? 2 : 1)), $"the gzip-compressed data is corrupt: {e.Message}", e);
        }
        if (steps == 0)
            throw DataFormatException.AtLine(path, o.HasHeader ? 2 : 1, "the file has no data rows.");

        int channels = channelIdx!.Length;
        var data = torch.tensor(values.ToArray(), new long[] { steps, channels }, ScalarType.Float64);
        Tensor tensor = data;
        if (o.DType != ScalarType.Float64) { tensor = data.to_type(o.DType); data.Dispose(); }
        var lab = labelIdx >= 0 ? torch.tensor(labels.ToArray(), ScalarType.Int64) : null;
        return new TimeSeries(tensor, lab, channelIdx.Select(c => names[c]).ToArray(), path);
    }

    private static (int[] Channels, int Label) Resolve(string path, CsvTimeSeriesOptions o, string[] names, long line)
    {
        int n = names.Length;
        int ByName(string name, string role)
        {
            int i = Array.IndexOf(names, name);
            if (i < 0)
                throw DataFormatException.AtLine(path, line,
                    $"the {role} column '{name}' is not in the header ({string.Join(", ", names.Select(x => $"'{x}'"))}).");
            return i;
        }
        int ByIndex(int i, string role)
        {
            if (i < 0 || i >= n)
                throw DataFormatException.AtLine(path, line,
                    $"the {role} column index {i} is out of range: the {(o.HasHeader ? "header" : "first row")} has {n} column(s) (0..{n - 1}).");
            return i;
        }
        int label = o.LabelColumn is not null ? ByName(o.LabelColumn, "label")
            : o.LabelColumnIndex is int li ? ByIndex(li, "label") : -1;
        int[] channels = o.Columns is not null ? o.Columns.Select(c => ByName(c, "channel")).ToArray()
            : o.ColumnIndices is not null ? o.ColumnIndices.Select(i => ByIndex(i, "channel")).ToArray()
            : Enumerable.Range(0, n).Where(i => i != label).ToArray();
        if (channels.Length == 0)
            throw DataFormatException.AtLine(path, line, "no channel column is selected (the only column is the label).");
        if (label >= 0 && channels.Contains(label))
            throw DataFormatException.AtLine(path, line, $"column {label} ('{names[label]}') is selected both as a channel and as the label.");
        return (channels, label);
    }

    private static Stream OpenMaybeGzipped(string path)
    {
        var file = Ship.Core.Errors.UserFiles.Open(path, "a CSV time series (text or gzipped)", p => new FileStream(p, FileMode.Open, FileAccess.Read, FileShare.Read));
        int b0 = file.ReadByte(), b1 = file.ReadByte();
        file.Position = 0;
        return b0 == 0x1f && b1 == 0x8b ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
