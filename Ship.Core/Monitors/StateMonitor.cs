using Ship.Core.IO;
using Ship.Core.Groups;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Monitors;

/// <summary>
/// Records one variable (a state, a parameter, or "output") of one group at every step. Each record is a detached copy,
/// never an alias of a state that later changes in place, and recording never changes results.
/// Values accumulate over a run and its continuations and are cleared when a new run resets the network.
/// </summary>
public sealed class StateMonitor
{
    /// <summary>The name that records a group's output rather than one of its variables.</summary>
    public const string Output = "output";

    private readonly List<Tensor> _records = new();
    private readonly List<double> _times = new();
    private Tensor? _stacked;

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
    /// <summary>Number of recorded steps.</summary>
    public int Count => _records.Count;
    /// <summary>Time (end of step, see <see cref="Clocks.Timeline"/>) of every record.</summary>
    public IReadOnlyList<double> Times => _times;

    /// <summary>The records stacked as [batch, steps, ...]; variables without a batch axis are broadcast over the batch.</summary>
    public Tensor Values
    {
        get
        {
            if (_records.Count == 0)
                throw new Errors.ShipException($"Monitor {Group.DisplayName}.{Variable} has no records: run the network first.");
            return _stacked ??= torch.stack(_records, 1).DetachFromDisposeScope();
        }
    }

    internal void Record(Tensor value, double time)
    {
        // A detached copy: states may be updated in place, and records must never change afterwards.
        var v = value.detach();
        if (Variable != Output)
        {
            var variable = Group.Variable(Variable);
            var full = variable.FullShape(Group.Context);
            if ((variable.Extent & Parameters.Extent.Batch) == 0) full = new[] { (long)Group.Context.BatchSize }.Concat(full).ToArray();
            v = v.expand(full);
        }
        _records.Add(v.clone().DetachFromDisposeScope());
        _times.Add(time);
        _stacked?.Dispose();
        _stacked = null;
    }

    internal void Clear()
    {
        foreach (var r in _records) r.Dispose();
        _records.Clear();
        _times.Clear();
        _stacked?.Dispose();
        _stacked = null;
    }

    /// <summary>
    /// Writes the records in long format (one row per step, batch row and element: step, time, batch, index, value),
    /// which loads directly into pandas, R or a spreadsheet pivot. Multi-axis variables use the flattened element index.
    /// </summary>
    public void ToCsv(string path)
    {
        using var values = Values.to_type(ScalarType.Float64).cpu();
        long b = values.shape[0], t = values.shape[1];
        long per = values.numel() / Math.Max(1, b * t);
        var flat = values.reshape(b, t, per).data<double>().ToArray();
        IEnumerable<IReadOnlyList<object>> Rows()
        {
            for (long bi = 0; bi < b; bi++)
                for (long ti = 0; ti < t; ti++)
                    for (long k = 0; k < per; k++)
                        yield return new object[] { ti, _times[(int)ti], bi, k, flat[(bi * t + ti) * per + k] };
        }
        CsvTable.Write(path, new[] { "step", "time_s", "batch", "index", "value" }, Rows());
    }
}
