using System.Globalization;
using System.Text;
using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Monitors;

/// <summary>File format of a streamed monitor (<see cref="StateMonitor.StreamTo"/>).</summary>
public enum MonitorFileFormat
{
    /// <summary>One safetensors file per chunk ("values" [batch, steps, ...] in the recorded dtype, "times" float64, "steps" int64): exact and compact.</summary>
    SafeTensors,
    /// <summary>One CSV file in long format (step, time_s, batch, index, value), appended chunk by chunk in step order; values as round-trip doubles.</summary>
    Csv,
}

/// <summary>Reads back what a streamed monitor wrote.</summary>
public static class MonitorStream
{
    /// <summary>Name of the CSV file of a CSV stream.</summary>
    public const string CsvFile = "records.csv";

    /// <summary>
    /// Name of the lock file a streaming monitor holds open exclusively in its folder while it streams (removed when the
    /// stream is closed), so a second monitor — of any network, in any process — cannot stream into the same folder.
    /// </summary>
    public const string LockFile = ".ship-stream.lock";

    /// <summary>
    /// All records of a streamed monitor folder: values [batch, steps, ...] (as recorded for SafeTensors chunks;
    /// float64 [batch, steps, elements] for CSV) and the time of every step.
    /// </summary>
    public static (Tensor Values, double[] Times) Read(string folder)
    {
        Errors.UserFiles.RequireFolder(folder, StreamFolder);
        var chunks = ChunkFiles(folder);
        if (chunks.Count > 0)
        {
            var values = new List<Tensor>();
            var times = new List<double>();
            try
            {
                foreach (var f in chunks)
                {
                    using var c = SafeTensors.Read(f);
                    values.Add(c.Tensors["values"].clone());
                    times.AddRange(c.Tensors["times"].data<double>().ToArray());
                }
                return (torch.cat(values, 1), times.ToArray());
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
        }
        var csv = Path.Combine(folder, CsvFile);
        if (File.Exists(csv)) return ReadCsv(csv);
        throw new Errors.MissingFileException(folder, StreamFolder, "a folder with neither");
    }

    /// <summary>The time of every streamed step, without loading the values of SafeTensors chunks.</summary>
    public static double[] ReadTimes(string folder)
    {
        var chunks = ChunkFiles(folder);
        if (chunks.Count == 0) return Read(folder).Times;
        var times = new List<double>();
        foreach (var f in chunks)
        {
            using var c = SafeTensors.Read(f);
            times.AddRange(c.Tensors["times"].data<double>().ToArray());
        }
        return times.ToArray();
    }

    private const string StreamFolder = "a streamed monitor folder (chunk-*.safetensors files or " + CsvFile + ")";

    /// <summary>The chunk files of a SafeTensors stream, in order.</summary>
    public static IReadOnlyList<string> ChunkFiles(string folder) =>
        Directory.Exists(folder)
            ? Directory.GetFiles(folder, "chunk-*.safetensors")
                .Select(f => (File: f, Index: long.TryParse(Path.GetFileNameWithoutExtension(f)["chunk-".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var k) ? k : -1))
                .Where(x => x.Index >= 0).OrderBy(x => x.Index).Select(x => x.File).ToList()
            : Array.Empty<string>();

    private static (Tensor, double[]) ReadCsv(string path)
    {
        var rows = new List<(long Step, double Time, long Batch, long Index, double Value)>();
        using (var reader = new StreamReader(path, Encoding.UTF8))
        {
            var header = reader.ReadLine();
            if (header != "step,time_s,batch,index,value") throw new Errors.ShipException($"'{path}' is not a streamed monitor CSV (header '{header}').");
            string? line;
            int n = 1;
            while ((line = reader.ReadLine()) is not null)
            {
                n++;
                var f = line.Split(',');
                if (f.Length != 5) throw new Errors.ShipException($"'{path}' line {n}: expected 5 fields, got {f.Length}.");
                rows.Add((long.Parse(f[0], CultureInfo.InvariantCulture), double.Parse(f[1], CultureInfo.InvariantCulture),
                    long.Parse(f[2], CultureInfo.InvariantCulture), long.Parse(f[3], CultureInfo.InvariantCulture), double.Parse(f[4], CultureInfo.InvariantCulture)));
            }
        }
        if (rows.Count == 0) throw new Errors.ShipException($"'{path}' holds no records.");
        long steps = rows.Max(r => r.Step) + 1, batch = rows.Max(r => r.Batch) + 1, per = rows.Max(r => r.Index) + 1;
        var data = new double[batch * steps * per];
        var times = new double[steps];
        foreach (var r in rows)
        {
            data[(r.Batch * steps + r.Step) * per + r.Index] = r.Value;
            times[r.Step] = r.Time;
        }
        return (torch.tensor(data, new[] { batch, steps, per }), times);
    }
}

/// <summary>
/// Writes the chunks of one streamed monitor and remembers its files, so a new run can replace them. Holds the folder's
/// lock file open with no sharing from construction to <see cref="Dispose"/>: the operating system, not a process-wide
/// table, keeps two streams (of one network, two networks or two processes) out of one folder.
/// </summary>
internal sealed class MonitorStreamWriter : IDisposable
{
    private readonly List<string> _written = new();
    private readonly string _group, _variable;
    private FileStream? _lock;
    private int _chunk;

    public MonitorStreamWriter(string folder, int chunkSteps, MonitorFileFormat format, string group, string variable, bool resume = false)
    {
        Folder = Path.GetFullPath(folder);
        ChunkSteps = chunkSteps;
        Format = format;
        _group = group;
        _variable = variable;
        Directory.CreateDirectory(Folder);
        _lock = Lock(Folder, group, variable);
        if (resume) return;
        try
        {
            // Files of an earlier stream into this folder would be read back as part of this one.
            foreach (var f in MonitorStream.ChunkFiles(Folder)) File.Delete(f);
            File.Delete(Path.Combine(Folder, MonitorStream.CsvFile));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>A writer that continues a stream whose <paramref name="chunks"/> first chunks (or CSV file) are already on disk.</summary>
    public static MonitorStreamWriter Resume(string folder, int chunkSteps, MonitorFileFormat format, string group, string variable, int chunks)
    {
        var w = new MonitorStreamWriter(folder, chunkSteps, format, group, variable, resume: true);
        try
        {
            if (format == MonitorFileFormat.SafeTensors)
            {
                var files = MonitorStream.ChunkFiles(w.Folder);
                if (files.Count != chunks)
                    throw new Persistence.CheckpointException(Persistence.CheckpointProblem.TopologyMismatch,
                        $"monitor {group}.{variable} streamed {chunks} chunk(s) to '{w.Folder}', which now holds {files.Count}: the stream cannot be resumed.");
                w._written.AddRange(files);
            }
            else if (chunks > 0)
            {
                var csv = Path.Combine(w.Folder, MonitorStream.CsvFile);
                if (!File.Exists(csv))
                    throw new Persistence.CheckpointException(Persistence.CheckpointProblem.TopologyMismatch, $"monitor {group}.{variable} streamed to '{csv}', which no longer exists.");
                w._written.Add(csv);
            }
        }
        catch
        {
            w.Dispose();
            throw;
        }
        w._chunk = chunks;
        return w;
    }

    /// <summary>Takes the folder's lock, or names the folder and says why it is taken; nothing is written before.</summary>
    private static FileStream Lock(string folder, string group, string variable)
    {
        var path = Path.Combine(folder, MonitorStream.LockFile);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (IOException e)
        {
            throw new Errors.ShipException(
                $"Monitor {group}.{variable}: cannot stream into '{folder}': the folder is locked by another stream ({MonitorStream.LockFile} is held by a monitor of another network or process: {e.Message}). Give each monitor its own folder, or close the other stream first (StateMonitor.CloseStream, Network.RemoveMonitor).");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new Errors.ShipException($"Monitor {group}.{variable}: cannot stream into '{folder}': {e.Message}");
        }
    }

    /// <summary>Releases the folder's lock (its lock file is removed); the chunks stay.</summary>
    public void Dispose()
    {
        _lock?.Dispose();
        _lock = null;
    }

    public string Folder { get; }
    public int ChunkSteps { get; }
    public MonitorFileFormat Format { get; }
    public int Chunks => _chunk;

    /// <summary>Where the stream stands (chunks written, files, the CSV file's length), to go back to with <see cref="TruncateTo"/>.</summary>
    public (int Chunks, int Files, long CsvLength) Mark()
    {
        var csv = Path.Combine(Folder, MonitorStream.CsvFile);
        return (_chunk, _written.Count, Format == MonitorFileFormat.Csv && File.Exists(csv) ? new FileInfo(csv).Length : 0);
    }

    /// <summary>Forgets what was written since <paramref name="mark"/>: later chunk files are deleted, the CSV file is cut back (a failed call).</summary>
    public void TruncateTo((int Chunks, int Files, long CsvLength) mark)
    {
        if (Format == MonitorFileFormat.SafeTensors)
            for (int k = _written.Count - 1; k >= mark.Files; k--)
            {
                File.Delete(_written[k]);
                _written.RemoveAt(k);
            }
        else
        {
            var csv = Path.Combine(Folder, MonitorStream.CsvFile);
            if (mark.Files == 0) { File.Delete(csv); _written.Clear(); }
            else if (File.Exists(csv)) using (var f = new FileStream(csv, FileMode.Open, FileAccess.Write)) f.SetLength(mark.CsvLength);
        }
        _chunk = mark.Chunks;
    }

    public void Restart()
    {
        foreach (var f in _written) File.Delete(f);
        _written.Clear();
        _chunk = 0;
    }

    /// <summary>Writes records [batch, steps, ...] whose first step has index <paramref name="firstStep"/> since the reset.</summary>
    public void Append(Tensor values, IReadOnlyList<double> times, long firstStep)
    {
        if (Format == MonitorFileFormat.SafeTensors)
        {
            var path = Path.Combine(Folder, $"chunk-{_chunk:D6}.safetensors");
            using var t = torch.tensor(times.ToArray(), ScalarType.Float64);
            using var s = torch.arange(firstStep, firstStep + times.Count, dtype: ScalarType.Int64);
            SafeTensors.Write(path, new KeyValuePair<string, Tensor>[] { new("values", values), new("times", t), new("steps", s) },
                new Dictionary<string, string> { ["group"] = _group, ["variable"] = _variable, ["first_step"] = firstStep.ToString(CultureInfo.InvariantCulture) });
            _written.Add(path);
            _chunk++;
            return;
        }
        var csv = Path.Combine(Folder, MonitorStream.CsvFile);
        bool fresh = !_written.Contains(csv);
        _chunk++;
        using var d = values.detach().to_type(ScalarType.Float64).cpu().contiguous();
        long b = d.Sizes()[0], steps = d.Sizes()[1];
        long per = d.numel() / Math.Max(1, b * steps);
        var flat = d.reshape(b, steps, per).data<double>().ToArray();
        using var w = new StreamWriter(csv, append: !fresh, new UTF8Encoding(false));
        if (fresh)
        {
            w.Write("step,time_s,batch,index,value\n");
            _written.Add(csv);
        }
        var sb = new StringBuilder();
        for (long ti = 0; ti < steps; ti++)
            for (long bi = 0; bi < b; bi++)
                for (long k = 0; k < per; k++)
                {
                    sb.Clear();
                    sb.Append((firstStep + ti).ToString(CultureInfo.InvariantCulture)).Append(',')
                      .Append(times[(int)ti].ToString("R", CultureInfo.InvariantCulture)).Append(',')
                      .Append(bi.ToString(CultureInfo.InvariantCulture)).Append(',')
                      .Append(k.ToString(CultureInfo.InvariantCulture)).Append(',')
                      .Append(flat[(bi * steps + ti) * per + k].ToString("R", CultureInfo.InvariantCulture)).Append('\n');
                    w.Write(sb);
                }
    }
}
