using PureHDF;
using PureHDF.Selections;
using Ship.Core.Errors;
using Ship.Datasets.Events;

namespace Ship.Datasets.Readers;

/// <summary>Options of <see cref="HeidelbergSpikes.Read"/>.</summary>
public sealed record HeidelbergReadOptions
{
    /// <summary>Number of input channels (cochlea model units); every unit must lie in [0, Channels). SHD and SSC: 700.</summary>
    public int Channels { get; init; } = HeidelbergSpikes.Units;

    /// <summary>Number of classes when labels are to be checked to lie in [0, Classes) (SHD: 20, SSC: 35); null checks only that labels are ≥ 0.</summary>
    public int? Classes { get; init; }

    /// <summary>First sample (row) to read.</summary>
    public long Start { get; init; }

    /// <summary>Number of samples to read from <see cref="Start"/>; null reads to the end. Only those rows are read from the file.</summary>
    public long? Count { get; init; }

    /// <summary>Require each sample's times to be non-decreasing (the published files are sorted); off by default because binning does not need it.</summary>
    public bool RequireSortedTimes { get; init; }
}

/// <summary>What <see cref="HeidelbergSpikes.Read"/> returns: the events and labels, and the optional extras of the file.</summary>
/// <param name="Events">Samples, labels and channel count.</param>
/// <param name="Speakers">/extra/speaker (one speaker id per sample), or null when the file has none.</param>
/// <param name="Keys">/extra/keys (the name of each class), or null when the file has none.</param>
public sealed record HeidelbergData(EventSet Events, long[]? Speakers, string[]? Keys);

/// <summary>
/// Reader for the HDF5 files of the Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) data sets
/// (Cramer et al. 2020, CC BY 4.0). Layout: /spikes/times (one variable-length array of spike times in seconds per
/// sample, float16, float32 or float64), /spikes/units (the matching variable-length array of integer unit indices, 0..699),
/// /labels (one integer class per sample) and an optional group /extra (speaker, keys, meta_info). Every structural
/// problem raises <see cref="DataFormatException"/> naming the file, the dataset path (<see cref="DataFormatException.Field"/>),
/// the 0-based sample (<see cref="DataFormatException.Row"/>), and the expected and actual values.
/// </summary>
public static class HeidelbergSpikes
{
    private const string Options = nameof(HeidelbergReadOptions);

    /// <summary>Number of cochlea model units of SHD and SSC.</summary>
    public const int Units = 700;

    /// <summary>Path of the spike times.</summary>
    public const string TimesPath = "/spikes/times";

    /// <summary>Path of the spike units.</summary>
    public const string UnitsPath = "/spikes/units";

    /// <summary>Path of the labels.</summary>
    public const string LabelsPath = "/labels";

    /// <summary>Reads the samples (or the rows chosen by <paramref name="options"/>) of an SHD or SSC file.</summary>
    public static HeidelbergData Read(string path, HeidelbergReadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options ??= new HeidelbergReadOptions();
        if (options.Channels < 1) throw new ParameterException(Options, "Channels", $"must be >= 1, got {options.Channels}.");
        if (options.Classes is < 1) throw new ParameterException(Options, "Classes", $"must be >= 1 (or null to check only that labels are >= 0), got {options.Classes}.");
        if (options.Start < 0) throw new ParameterException(Options, "Start", $"must be >= 0, got {options.Start}.");
        if (options.Count is < 0) throw new ParameterException(Options, "Count", $"must be >= 0, got {options.Count}.");
        Ship.Core.Errors.UserFiles.RequireFile(path, "an SHD/SSC HDF5 file (e.g. shd_train.h5)");
        IDisposable file;
        NativeFileAccess h5;
        try
        {
            var f = H5File.OpenRead(path);
            file = f;
            h5 = new NativeFileAccess(f);
        }
        catch (Exception e)
        {
            throw DataFormatException.InField(path, "/", null, $"expected an HDF5 file, but it cannot be opened as one ({e.Message}).", e);
        }
        using (file)
        {
            try { return ReadOpen(path, h5, options); }
            catch (Exception e) when (e is not ShipException and not ArgumentException)
            {
                throw DataFormatException.InField(path, "/", null, $"the HDF5 structure cannot be read; the file may be truncated or corrupt ({e.Message}).", e);
            }
        }
    }

    private static HeidelbergData ReadOpen(string path, NativeFileAccess h5, HeidelbergReadOptions options)
    {
        {
            var timesSet = h5.Dataset(path, TimesPath);
            var unitsSet = h5.Dataset(path, UnitsPath);
            var labelsSet = h5.Dataset(path, LabelsPath);
            long n = Length(path, TimesPath, timesSet);
            long nUnits = Length(path, UnitsPath, unitsSet);
            long nLabels = Length(path, LabelsPath, labelsSet);
            if (nUnits != n)
                throw DataFormatException.InField(path, UnitsPath, null, $"expected one row per row of {TimesPath} ({n}), found {nUnits}.");
            if (nLabels != n)
                throw DataFormatException.InField(path, LabelsPath, null, $"expected one label per row of {TimesPath} ({n}), found {nLabels}.");
            if (options.Start > n)
                throw new ParameterException(Options, "Start", $"must be <= the {n} samples of '{path}', got {options.Start}.");
            long count = options.Count ?? n - options.Start;
            if (options.Start + count > n)
                throw new ParameterException(Options, "Count", $"Start + Count must be <= the {n} samples of '{path}', got {options.Start} + {count} = {options.Start + count}.");

            var times = ReadVlenFloats(path, TimesPath, timesSet, options.Start, count);
            var units = ReadVlenInts(path, UnitsPath, unitsSet, options.Start, count);
            var labels = ReadInts(path, LabelsPath, labelsSet, options.Start, count);
            var samples = new EventList[count];
            for (long r = 0; r < count; r++)
            {
                long row = options.Start + r;
                var t = times[r];
                var u = units[r];
                if (t.Length != u.Length)
                    throw DataFormatException.InField(path, UnitsPath, row, $"expected as many units as {TimesPath} has times ({t.Length}), found {u.Length}.");
                var channels = new int[u.Length];
                for (int i = 0; i < t.Length; i++)
                {
                    if (!double.IsFinite(t[i]) || t[i] < 0)
                        throw DataFormatException.InField(path, TimesPath, row, $"spike {i}: expected a finite time >= 0 s, found {t[i]}.");
                    if (options.RequireSortedTimes && i > 0 && t[i] < t[i - 1])
                        throw DataFormatException.InField(path, TimesPath, row, $"spike {i}: expected times in non-decreasing order, found {t[i]} s after {t[i - 1]} s.");
                    if (u[i] < 0 || u[i] >= options.Channels)
                        throw DataFormatException.InField(path, UnitsPath, row, $"spike {i}: expected a unit in [0, {options.Channels}), found {u[i]}.");
                    channels[i] = (int)u[i];
                }
                long label = labels[r];
                if (label < 0 || (options.Classes is { } k && label >= k))
                    throw DataFormatException.InField(path, LabelsPath, row,
                        $"expected a class in [0, {(options.Classes is { } c ? c.ToString() : "∞")}), found {label}.");
                samples[r] = new EventList(t, channels);
            }

            long[]? speakers = null;
            string[]? keys = null;
            if (h5.Exists("extra/speaker"))
            {
                var s = h5.Dataset(path, "/extra/speaker");
                if (Length(path, "/extra/speaker", s) != n)
                    throw DataFormatException.InField(path, "/extra/speaker", null, $"expected one speaker per sample ({n}), found {Length(path, "/extra/speaker", s)}.");
                speakers = ReadInts(path, "/extra/speaker", s, options.Start, count);
            }
            if (h5.Exists("extra/keys"))
            {
                var k = h5.Dataset(path, "/extra/keys");
                try { keys = k.Read<string[]>(); }
                catch (Exception e) { throw DataFormatException.InField(path, "/extra/keys", null, $"expected an array of class names (strings), found {k.Type.Class} ({e.Message}).", e); }
            }
            var set = new EventSet(samples, labels, options.Channels, path);
            return new HeidelbergData(set, speakers, keys);
        }
    }

    private sealed class NativeFileAccess(PureHDF.VOL.Native.NativeFile file)
    {
        public bool Exists(string relative)
        {
            var parts = relative.Split('/');
            IH5Group g = file;
            for (int i = 0; i < parts.Length; i++)
            {
                if (!g.LinkExists(parts[i])) return false;
                if (i < parts.Length - 1)
                {
                    if (g.Get(parts[i]) is not IH5Group sub) return false;
                    g = sub;
                }
            }
            return true;
        }

        public IH5Dataset Dataset(string path, string at)
        {
            if (!Exists(at.TrimStart('/')))
                throw DataFormatException.InField(path, at, null, "expected a dataset here (the SHD/SSC layout has /spikes/times, /spikes/units and /labels), found nothing.");
            IH5Object o;
            try { o = file.Get(at.TrimStart('/')); }
            catch (Exception e) { throw DataFormatException.InField(path, at, null, $"cannot be read ({e.Message}).", e); }
            return o as IH5Dataset ?? throw DataFormatException.InField(path, at, null, $"expected a dataset, found a {(o is IH5Group ? "group" : o.GetType().Name)}.");
        }
    }

    private static long Length(string path, string at, IH5Dataset d)
    {
        var dims = d.Space.Dimensions;
        if (dims.Length != 1)
            throw DataFormatException.InField(path, at, null, $"expected a 1-D dataset (one entry per sample), found shape [{string.Join(", ", dims)}].");
        return (long)dims[0];
    }

    private static HyperslabSelection Rows(long start, long count) => new((ulong)start, (ulong)count);

    private static double[][] ReadVlenFloats(string path, string at, IH5Dataset d, long start, long count)
    {
        var t = d.Type;
        if (t.Class != H5DataTypeClass.VariableLength || t.VariableLength.BaseType.Class != H5DataTypeClass.FloatingPoint)
            throw DataFormatException.InField(path, at, null, $"expected variable-length arrays of floats (one per sample), found {Describe(t)}.");
        if (count == 0) return Array.Empty<double[]>();
        var mem = new[] { (ulong)count };
        try
        {
            return t.VariableLength.BaseType.Size switch
            {
                2 => d.Read<Half[][]>(Rows(start, count), memoryDims: mem).Select(r => r.Select(x => (double)x).ToArray()).ToArray(),
                4 => d.Read<float[][]>(Rows(start, count), memoryDims: mem).Select(r => r.Select(x => (double)x).ToArray()).ToArray(),
                8 => d.Read<double[][]>(Rows(start, count), memoryDims: mem),
                int s => throw DataFormatException.InField(path, at, null, $"expected 2-, 4- or 8-byte floats, found {s}-byte floats."),
            };
        }
        catch (Exception e) when (e is not DataFormatException)
        {
            throw DataFormatException.InField(path, at, null, $"cannot be read ({e.Message}).", e);
        }
    }

    private static long[][] ReadVlenInts(string path, string at, IH5Dataset d, long start, long count)
    {
        var t = d.Type;
        if (t.Class != H5DataTypeClass.VariableLength || t.VariableLength.BaseType.Class != H5DataTypeClass.FixedPoint)
            throw DataFormatException.InField(path, at, null, $"expected variable-length arrays of integers (one per sample), found {Describe(t)}.");
        if (count == 0) return Array.Empty<long[]>();
        var b = t.VariableLength.BaseType;
        var sel = Rows(start, count);
        var mem = new[] { (ulong)count };
        try
        {
            return (b.Size, b.FixedPoint.IsSigned) switch
            {
                (1, false) => d.Read<byte[][]>(sel, memoryDims: mem).Select(r => r.Select(x => (long)x).ToArray()).ToArray(),
                (1, true) => d.Read<sbyte[][]>(sel, memoryDims: mem).Select(r => r.Select(x => (long)x).ToArray()).ToArray(),
                (2, false) => d.Read<ushort[][]>(sel, memoryDims: mem).Select(r => r.Select(x => (long)x).ToArray()).ToArray(),
                (2, true) => d.Read<short[][]>(sel, memoryDims: mem).Select(r => r.Select(x => (long)x).ToArray()).ToArray(),
                (4, false) => d.Read<uint[][]>(sel, memoryDims: mem).Select(r => r.Select(x => (long)x).ToArray()).ToArray(),
                (4, true) => d.Read<int[][]>(sel, memoryDims: mem).Select(r => r.Select(x => (long)x).ToArray()).ToArray(),
                (8, false) => d.Read<ulong[][]>(sel, memoryDims: mem).Select(r => r.Select(x => x > long.MaxValue ? long.MaxValue : (long)x).ToArray()).ToArray(),
                (8, true) => d.Read<long[][]>(sel, memoryDims: mem),
                var (s, _) => throw DataFormatException.InField(path, at, null, $"expected 1-, 2-, 4- or 8-byte integers, found {s}-byte integers."),
            };
        }
        catch (Exception e) when (e is not DataFormatException)
        {
            throw DataFormatException.InField(path, at, null, $"cannot be read ({e.Message}).", e);
        }
    }

    private static long[] ReadInts(string path, string at, IH5Dataset d, long start, long count)
    {
        var t = d.Type;
        if (t.Class != H5DataTypeClass.FixedPoint)
            throw DataFormatException.InField(path, at, null, $"expected integers (one per sample), found {Describe(t)}.");
        if (count == 0) return Array.Empty<long>();
        var sel = Rows(start, count);
        var mem = new[] { (ulong)count };
        try
        {
            return (t.Size, t.FixedPoint.IsSigned) switch
            {
                (1, false) => d.Read<byte[]>(sel, memoryDims: mem).Select(x => (long)x).ToArray(),
                (1, true) => d.Read<sbyte[]>(sel, memoryDims: mem).Select(x => (long)x).ToArray(),
                (2, false) => d.Read<ushort[]>(sel, memoryDims: mem).Select(x => (long)x).ToArray(),
                (2, true) => d.Read<short[]>(sel, memoryDims: mem).Select(x => (long)x).ToArray(),
                (4, false) => d.Read<uint[]>(sel, memoryDims: mem).Select(x => (long)x).ToArray(),
                (4, true) => d.Read<int[]>(sel, memoryDims: mem).Select(x => (long)x).ToArray(),
                (8, false) => d.Read<ulong[]>(sel, memoryDims: mem).Select(x => x > long.MaxValue ? long.MaxValue : (long)x).ToArray(),
                (8, true) => d.Read<long[]>(sel, memoryDims: mem),
                var (s, _) => throw DataFormatException.InField(path, at, null, $"expected 1-, 2-, 4- or 8-byte integers, found {s}-byte integers."),
            };
        }
        catch (Exception e) when (e is not DataFormatException)
        {
            throw DataFormatException.InField(path, at, null, $"cannot be read ({e.Message}).", e);
        }
    }

    private static string Describe(IH5DataType t) => t.Class == H5DataTypeClass.VariableLength
        ? $"variable-length arrays of {t.VariableLength.BaseType.Class} ({t.VariableLength.BaseType.Size} bytes)"
        : $"{t.Class} ({t.Size} bytes)";
}
