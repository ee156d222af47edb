namespace Ship.Core.Clocks;

/// <summary>
/// Absolute time of every step since the last reset. Convention (fixed and variable dt alike): step k spans
/// (t[k-1], t[k]] with t[-1] = 0, and <c>Times[k]</c> is the time at the END of step k, the instant its output
/// and recorded states refer to. A fixed run at dt therefore has Times[k] = (k + 1)·dt.
/// </summary>
public sealed class Timeline
{
    private readonly List<double> _times = new();
    private readonly List<double> _dts = new();
    private double _now, _stretchStart;
    private long _stretchSteps;

    /// <summary>Time at the end of every step, in seconds.</summary>
    public IReadOnlyList<double> Times => _times;
    /// <summary>dt of every step, in seconds.</summary>
    public IReadOnlyList<double> Dts => _dts;
    /// <summary>Time at the end of the last step (0 after a reset).</summary>
    public double Now => _now;
    /// <summary>Number of steps since the last reset.</summary>
    public int Count => _times.Count;

    /// <summary>Records one step of length dt; times within a constant-dt stretch are start + k·dt, so long runs do not accumulate rounding.</summary>
    internal void Advance(double dt)
    {
        if (_dts.Count == 0 || _dts[^1] != dt)
        {
            _stretchStart = _now;
            _stretchSteps = 0;
        }
        _stretchSteps++;
        _now = _stretchStart + _stretchSteps * dt;
        _dts.Add(dt);
        _times.Add(_now);
    }

    /// <summary>Forgets every step, for a fresh run.</summary>
    internal void Reset()
    {
        _times.Clear();
        _dts.Clear();
        _now = _stretchStart = 0;
        _stretchSteps = 0;
    }
}
