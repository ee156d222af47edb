using System.Collections;

namespace Ship.Core.Clocks;

/// <summary>
/// Absolute time of every step since the last reset. Convention (fixed and variable dt alike): step k spans
/// (t[k-1], t[k]] with t[-1] = 0, and <c>Times[k]</c> is the time at the END of step k, the instant its output
/// and recorded states refer to. A fixed run at dt therefore has Times[k] = (k + 1)·dt.
/// Stored as stretches of constant dt (start time, dt, step count), so memory does not grow with the number of steps
/// of a long run; the time of step j of a stretch is start + (j + 1)·dt, so long runs do not accumulate rounding.
/// </summary>
public sealed class Timeline
{
    private readonly List<Stretch> _stretches = new();
    private double _now;
    private int _count;

    /// <summary>Creates an empty timeline.</summary>
    public Timeline()
    {
        Times = new StepList(this, dts: false);
        Dts = new StepList(this, dts: true);
    }

    /// <summary>Time at the end of every step, in seconds (computed from the stretches on access).</summary>
    public IReadOnlyList<double> Times { get; }
    /// <summary>dt of every step, in seconds.</summary>
    public IReadOnlyList<double> Dts { get; }
    /// <summary>Time at the end of the last step (0 after a reset).</summary>
    public double Now => _now;
    /// <summary>Number of steps since the last reset.</summary>
    public int Count => _count;
    /// <summary>The stretches of constant dt since the last reset, in order (what a checkpoint stores).</summary>
    public IReadOnlyList<Stretch> Stretches => _stretches;

    /// <summary>A run of consecutive steps at one dt.</summary>
    /// <param name="Start">Time at the start of the stretch's first step, in seconds.</param>
    /// <param name="Dt">Step of the stretch, in seconds.</param>
    /// <param name="Steps">Number of steps in the stretch.</param>
    /// <param name="FirstIndex">Index (since the reset) of the stretch's first step.</param>
    public readonly record struct Stretch(double Start, double Dt, int Steps, int FirstIndex);

    /// <summary>Records one step of length dt; times within a constant-dt stretch are start + k·dt, so long runs do not accumulate rounding.</summary>
    internal void Advance(double dt)
    {
        if (_stretches.Count == 0 || _stretches[^1].Dt != dt)
            _stretches.Add(new Stretch(_now, dt, 0, _count));
        var s = _stretches[^1];
        s = s with { Steps = s.Steps + 1 };
        _stretches[^1] = s;
        _now = s.Start + s.Steps * dt;
        _count++;
    }

    /// <summary>Forgets every step, for a fresh run.</summary>
    internal void Reset()
    {
        _stretches.Clear();
        _now = 0;
        _count = 0;
    }

    /// <summary>Replaces the content by saved stretches (checkpoint loading); they must be contiguous and start at step 0.</summary>
    internal void Restore(IReadOnlyList<Stretch> stretches)
    {
        int index = 0;
        foreach (var s in stretches)
        {
            if (s.FirstIndex != index || s.Steps < 1 || !(s.Dt > 0) || !double.IsFinite(s.Start))
                throw new ArgumentException($"stretch at step {s.FirstIndex} does not continue the timeline (expected step {index}, steps >= 1, dt > 0).", nameof(stretches));
            index += s.Steps;
        }
        Reset();
        _stretches.AddRange(stretches);
        _count = index;
        _now = _stretches.Count == 0 ? 0 : _stretches[^1].Start + _stretches[^1].Steps * _stretches[^1].Dt;
    }

    /// <summary>Times of the steps from <paramref name="first"/> on, as an array (one pass over the stretches).</summary>
    internal double[] TimesFrom(int first)
    {
        var result = new double[Math.Max(0, _count - first)];
        foreach (var s in _stretches)
            for (int j = Math.Max(0, first - s.FirstIndex); j < s.Steps; j++)
                result[s.FirstIndex + j - first] = s.Start + (j + 1) * s.Dt;
        return result;
    }

    private double At(int k, bool dt)
    {
        if ((uint)k >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(k), k, $"the timeline has {_count} steps.");
        int lo = 0, hi = _stretches.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (_stretches[mid].FirstIndex <= k) lo = mid; else hi = mid - 1;
        }
        var s = _stretches[lo];
        return dt ? s.Dt : s.Start + (k - s.FirstIndex + 1) * s.Dt;
    }

    private sealed class StepList : IReadOnlyList<double>
    {
        private readonly Timeline _owner;
        private readonly bool _dts;
        public StepList(Timeline owner, bool dts) { _owner = owner; _dts = dts; }
        public double this[int index] => _owner.At(index, _dts);
        public int Count => _owner._count;
        public IEnumerator<double> GetEnumerator()
        {
            foreach (var s in _owner._stretches)
                for (int j = 0; j < s.Steps; j++)
                    yield return _dts ? s.Dt : s.Start + (j + 1) * s.Dt;
        }
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
