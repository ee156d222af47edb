using Ship.Core.Networks.Observers;
using Ship.Core.IO;
using Ship.Core.Groups;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Monitors;

/// <summary>
/// Records one variable (a state, a parameter, or "output") of one group at every step. Each record is a detached copy,
/// never an alias of a state that later changes in place, and recording never changes results.
/// Values accumulate over a run and its continuations and are cleared when a new run resets the network.
/// With <see cref="StreamTo"/> the records go to disk in chunks instead, so a long monitored run holds at most one
/// chunk in memory.
/// </summary>
public sealed class StateMonitor : IRunObserver
{
    /// <summary>The name that records a group's output rather than one of its variables.</summary>
    public const string Output = "output";

    private readonly List<Tensor> _records = new();
    private readonly List<double> _times = new();
    private Tensor? _stacked;
    private MonitorStreamWriter? _stream;
    private double[]? _streamTimes;
    private int _count;

    /// <summary>The monitors of the same network (to refuse two streams into one folder).</summary>
    internal IReadOnlyList<StateMonitor>? Siblings { get; init; }

    internal StateMonitor(Group group, string variable)
    {
        Group = group;
        Variable = variable;
    }

    /// <summary>The monitored group.</summary>
    public Group Group { get; }
    /// <summary>The monitored variable, or <see cref="Output"/>.</summary>
    public string Variable { get; }
    /// <summary>Whether the monitor records; a disabled monitor costs nothing in the step loop.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>Number of recorded steps (streamed ones included).</summary>
    public int Count => _count;
    /// <summary>Whether records go to disk (<see cref="StreamTo"/>).</summary>
    public bool IsStreaming => _stream is not null;
    /// <summary>The folder records stream to, or null for an in-memory monitor.</summary>
    public string? StreamFolder => _stream?.Folder;

    /// <summary>Time (end of step, see <see cref="Clocks.Timeline"/>) of every record; read back from disk when streaming.</summary>
    public IReadOnlyList<double> Times
    {
        get
        {
            if (_stream is null) return _times;
            Flush();
            return _streamTimes ??= MonitorStream.ReadTimes(_stream.Folder);
        }
    }

    /// <summary>
    /// The records stacked as [batch, steps, ...]; variables without a batch axis are broadcast over the batch.
    /// When streaming, this reads every chunk back from disk (the whole run in memory: use <see cref="MonitorStream.Read"/> per file for less).
    /// </summary>
    public Tensor Values
    {
        get
        {
            if (_count == 0) return _stacked ??= EmptyRecords();
            if (_stream is not null)
            {
                Flush();
                return _stacked ??= MonitorStream.Read(_stream.Folder).Values.DetachFromDisposeScope();
            }
            return _stacked ??= torch.stack(_records, 1).DetachFromDisposeScope();
        }
    }

    /// <summary>
    /// No records yet: [batch, 0, ...] in the network's dtype once the group is bound (so code that concatenates or
    /// counts records needs no special case), [0] before.
    /// </summary>
    private Tensor EmptyRecords()
    {
        if (!Group.IsBound) return torch.empty(0).DetachFromDisposeScope();
        var ctx = Group.Context;
        long[] record;
        if (Variable == Output) record = [ctx.BatchSize, Group.OutputSize];
        else
        {
            var variable = Group.Variable(Variable);
            record = variable.FullShape(ctx);
            if ((variable.Extent & Parameters.Extent.Batch) == 0) record = new[] { (long)ctx.BatchSize }.Concat(record).ToArray();
        }
        var shape = new[] { record[0], 0L }.Concat(record.Skip(1)).ToArray();
        return torch.empty(shape, ctx.DType, ctx.Device).DetachFromDisposeScope();
    }

    /// <summary>
    /// Sends the records of the following runs to <paramref name="folder"/> in chunks of <paramref name="chunkSteps"/>
    /// steps (and at the end of every Run or Continue call), so memory stays bounded however long the run. SafeTensors
    /// chunks (<c>chunk-000000.safetensors</c>: "values" [batch, steps, ...], "times", "steps") load in Python with the
    /// safetensors library; CSV appends to <c>records.csv</c> in long format (step, time_s, batch, index, value), step by
    /// step. Read back with <see cref="MonitorStream.Read"/>. A new Run (a reset) starts the stream over: the chunk files
    /// this monitor wrote are replaced. Call before the run: the monitor must hold no records.
    /// </summary>
    public StateMonitor StreamTo(string folder, int chunkSteps = 1024, MonitorFileFormat format = MonitorFileFormat.SafeTensors)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (chunkSteps < 1) throw new ArgumentOutOfRangeException(nameof(chunkSteps), chunkSteps, "a chunk holds at least one step.");
        if (_count > 0)
            throw new Errors.ShipException($"Monitor {Group.DisplayName}.{Variable} already holds {_count} records: switch it to streaming before running.");
        var full = Path.GetFullPath(folder);
        if (File.Exists(full))
            throw new Errors.ShipException($"Monitor {Group.DisplayName}.{Variable}: cannot stream into '{full}', which is a file; give a folder.");
        if (Siblings?.FirstOrDefault(m => !ReferenceEquals(m, this) && m._stream is { } s && s.Folder == full) is { } other)
            throw new Errors.ShipException(
                $"Monitor {Group.DisplayName}.{Variable}: folder '{full}' already receives the stream of monitor {other.Group.DisplayName}.{other.Variable}; the two would overwrite each other's chunks. Give each monitor its own folder.");
        // The folder's lock refuses a stream of another network or process; re-targeting this monitor to its own
        // folder releases the old lock first, since it would otherwise refuse itself.
        if (_stream is { } own && own.Folder == full) { own.Dispose(); _stream = null; }
        var fresh = new MonitorStreamWriter(folder, chunkSteps, format, Group.DisplayName, Variable);
        _stream?.Dispose();
        _stream = fresh;
        return this;
    }

    /// <summary>
    /// Ends streaming: writes the pending records, releases the folder (another monitor, network or process may then
    /// stream into it) and leaves the chunks on disk (<see cref="MonitorStream.Read"/>). The monitor then holds no
    /// records and records the following runs in memory. Does nothing for an in-memory monitor.
    /// </summary>
    public void CloseStream()
    {
        if (_stream is null) return;
        Flush();
        ReleaseRecords();
        _stream.Dispose();
        _stream = null;
    }

    /// <summary>Releases the stream's folder without writing (the monitor is being removed from its network).</summary>
    internal void ReleaseStream()
    {
        _stream?.Dispose();
        _stream = null;
    }

    /// <inheritdoc />
    public bool NeedsStepOutput(Group group) => false;
    /// <inheritdoc />
    public bool NeedsStepState(Group group) => Enabled && Variable != Output && ReferenceEquals(group, Group);
    /// <inheritdoc />
    public bool Watches(Group group) => Enabled && ReferenceEquals(group, Group);
    /// <inheritdoc />
    public void OnRunStart(RunStartView run) { }
    /// <inheritdoc />
    public void OnRunEnd(bool completed) => EndOfCall();
    /// <inheritdoc />
    public override string ToString() => $"monitor {Group.DisplayName}.{Variable}";

    /// <inheritdoc />
    public void OnStep(StepView step)
    {
        // A whole-block group's output is recorded once per block (OnBlockEnd), never also per step.
        if (!Enabled || step.Plan!.IsSequence(Group) || step.Output(Group) is not { } y) return;
        Record(Variable == Output ? y : Group.Variable(Variable).Value, step.EndTime);
    }

    /// <inheritdoc />
    public void OnBlockEnd(BlockView block)
    {
        if (!Enabled || Variable != Output || block.SequenceOutput(Group) is not { } y) return;
        for (int k = 0; k < block.Steps; k++)
        {
            using var slice = y.select(1, k);
            Record(slice, block.EndTimes[k]);
        }
    }

    /// <summary>Why this monitor cannot record, or null when it can (the variable exists and has a [batch, …] layout).</summary>
    internal static string? WhyNotRecordable(Group group, string variable)
    {
        if (variable == Output) return null;
        var v = group.AllVariables.FirstOrDefault(x => x.Name == variable);
        if (v is null) return $"no such parameter or state; {group.GetType().Name} has: {string.Join(", ", group.AllVariables.Select(x => x.Name))}.";
        return v is Parameters.StateVariable { NotMonitorableBecause: { } why } ? $"cannot be monitored: {why}." : null;
    }

    internal void Record(Tensor value, double time)
    {
        // A detached copy: states may be updated in place, and records must never change afterwards.
        var v = value.detach();
        if (Variable != Output)
        {
            // Declared extent first (a scalar or per-component value is broadcast to [batch, …]); a state whose actual
            // layout differs from its declaration (a per-source trace [batch, Ns], a queue [batch, C, Nt]) is recorded
            // as it is, with a batch axis added when it has none.
            var variable = Group.Variable(Variable);
            var full = variable.FullShape(Group.Context);
            bool batched = (variable.Extent & Parameters.Extent.Batch) != 0;
            if (!batched) full = new[] { (long)Group.Context.BatchSize }.Concat(full).ToArray();
            if (Parameters.Shapes.BroadcastsTo(v.Sizes(), full)) v = v.expand(full);
            else if (!batched || v.dim() == 0 || v.Sizes()[0] != Group.Context.BatchSize)
                v = v.unsqueeze(0).expand(new[] { (long)Group.Context.BatchSize }.Concat(v.Sizes()).ToArray());
        }
        _records.Add(v.clone().DetachFromDisposeScope());
        _times.Add(time);
        _count++;
        _stacked?.Dispose();
        _stacked = null;
        _streamTimes = null;
        if (_stream is not null && _records.Count >= _stream.ChunkSteps) Flush();
    }

    /// <summary>Called by the network at the end of every Run/Continue call (and when one fails): writes a streamed partial chunk.</summary>
    internal void EndOfCall()
    {
        if (_stream is not null) Flush();
    }

    private void Flush()
    {
        if (_stream is null || _records.Count == 0) return;
        using (var chunk = torch.stack(_records, 1))
            _stream.Append(chunk, _times, _count - _records.Count);
        foreach (var r in _records) r.Dispose();
        _records.Clear();
        _times.Clear();
        _streamTimes = null;
    }

    internal void Clear()
    {
        ReleaseRecords();
        if (_stream is null) return;
        _stream.Restart();
        _restarts++;
    }

    private int _restarts; // streams restarted (a Run's reset): a failed Run's rollback point tells whether it got that far

    private void ReleaseRecords()
    {
        foreach (var r in _records) r.Dispose();
        _records.Clear();
        _times.Clear();
        _count = 0;
        _stacked?.Dispose();
        _stacked = null;
        _streamTimes = null;
    }

    /// <summary>
    /// What a call may change, to undo if it fails. Before a Continue: the record count (later records are dropped; a
    /// stream's later chunk files are deleted, its CSV cut back). Before a Run, which clears the monitor: its records
    /// move into the point and come back if the Run fails, or are freed if it completes. A stream restarted by a Run
    /// has deleted its files: they do not come back (docs/reliability.md).
    /// </summary>
    internal Groups.RollbackPoint Capture(bool reset)
    {
        int count = _count;
        if (reset && _stream is null)
        {
            // As the Run's Clear would: the stacked view is of records that move into the point.
            _stacked?.Dispose();
            _stacked = null;
            var records = _records.ToList();
            var times = _times.ToList();
            _records.Clear();
            _times.Clear();
            _count = 0;
            return new(() =>
            {
                ReleaseRecords();
                _records.AddRange(records);
                _times.AddRange(times);
                _count = count;
            }, () => { foreach (var r in records) r.Dispose(); });
        }
        if (reset)
        {
            // A Run restarts the stream at its reset: the earlier chunks are deleted then and do not come back. If the Run
            // fails, what it streamed goes too, so the monitor holds nothing rather than records of a run that never was.
            var restarted = _stream!;
            int restarts = _restarts;
            return new(() =>
            {
                if (_restarts == restarts || !ReferenceEquals(restarted, _stream)) return; // failed before its reset: nothing changed
                ReleaseRecords();
                restarted.TruncateTo((0, 0, 0));
            });
        }
        int kept = _records.Count;
        var mark = _stream?.Mark();
        var stream = _stream;
        return new(() =>
        {
            if (_count == count) return; // the failed call recorded nothing here (a disabled monitor, an early failure)
            _stacked?.Dispose();
            _stacked = null;
            _streamTimes = null;
            if (stream is not null && ReferenceEquals(stream, _stream) && mark is { } m)
            {
                // The failed call's records: in memory past the chunk being filled, or already written.
                foreach (var r in _records) r.Dispose();
                _records.Clear();
                _times.Clear();
                stream.TruncateTo(m);
                _count = count;
                return;
            }
            for (int k = _records.Count - 1; k >= kept; k--) _records[k].Dispose();
            if (_records.Count > kept) _records.RemoveRange(kept, _records.Count - kept);
            if (_times.Count > kept) _times.RemoveRange(kept, _times.Count - kept);
            _count = count;
        });
    }

    /// <summary>The in-memory records (null if none or streaming) and their times, for checkpoints.</summary>
    internal (Tensor? Values, double[] Times) Snapshot() =>
        _stream is null && _records.Count > 0 ? (torch.stack(_records, 1), _times.ToArray()) : (null, _times.ToArray());

    /// <summary>Replaces the records by saved ones [batch, steps, ...] (checkpoint loading).</summary>
    internal void Restore(Tensor? values, IReadOnlyList<double> times)
    {
        Clear();
        if (values is null) return;
        foreach (var r in values.unbind(1)) _records.Add(r.clone().DetachFromDisposeScope());
        _times.AddRange(times);
        _count = _records.Count;
    }

    /// <summary>The stream settings and progress, for checkpoints: (folder, chunk steps, format, chunks written, records).</summary>
    internal (string Folder, int ChunkSteps, MonitorFileFormat Format, int Chunks, int Count)? StreamState =>
        _stream is null ? null : (_stream.Folder, _stream.ChunkSteps, _stream.Format, _stream.Chunks, _count);

    /// <summary>Re-attaches a stream saved by a checkpoint, adopting the files already written (they must still be there).</summary>
    internal void ResumeStream(string folder, int chunkSteps, MonitorFileFormat format, int chunks, int count)
    {
        Clear();
        ReleaseStream();
        _stream = MonitorStreamWriter.Resume(folder, chunkSteps, format, Group.DisplayName, Variable, chunks);
        _count = count;
    }

    /// <summary>
    /// Writes the records in long format (one row per step, batch row and element: step, time, batch, index, value),
    /// which loads directly into pandas, R or a spreadsheet pivot. Multi-axis variables use the flattened element index.
    /// </summary>
    public void ToCsv(string path)
    {
        using var values = Values.to_type(ScalarType.Float64).cpu();
        var times = Times;
        long b = values.Sizes()[0], t = values.Sizes()[1];
        long per = values.numel() / Math.Max(1, b * t);
        var flat = values.reshape(b, t, per).data<double>().ToArray();
        IEnumerable<IReadOnlyList<object>> Rows()
        {
            for (long bi = 0; bi < b; bi++)
                for (long ti = 0; ti < t; ti++)
                    for (long k = 0; k < per; k++)
                        yield return new object[] { ti, times[(int)ti], bi, k, flat[(bi * t + ti) * per + k] };
        }
        CsvTable.Write(path, new[] { "step", "time_s", "batch", "index", "value" }, Rows());
    }
}
