using Ship.Core.Errors;

namespace Ship.Core.Clocks;

/// <summary>One stretch of a run at a constant time step.</summary>
/// <param name="Dt">Time step in seconds.</param>
/// <param name="Steps">Number of steps at that dt.</param>
public readonly record struct Segment(double Dt, int Steps);

/// <summary>
/// The (dt, steps) segments a run follows (SHIP's run_multisteps, as a value you can inspect and validate before running).
/// A fixed-dt run is a schedule of one segment.
/// </summary>
public sealed class Schedule
{
    /// <summary>Creates a schedule, validating every segment so a bad one fails before any state changes.</summary>
    public Schedule(IEnumerable<Segment> segments)
    {
        ArgumentNullException.ThrowIfNull(segments);
        Segments = segments.ToArray();
        if (Segments.Count == 0) throw new NetworkConfigurationException("The schedule has no segment: give at least one (dt, steps) pair.");
        for (int i = 0; i < Segments.Count; i++)
        {
            var s = Segments[i];
            if (!TimeStep.IsValidDt(s.Dt))
                throw new NetworkConfigurationException($"Schedule segment {i}: {TimeStep.InvalidDt(s.Dt)}");
            if (s.Steps < 1)
                throw new NetworkConfigurationException($"Schedule segment {i}: steps must be >= 1 (an empty segment does nothing), got {s.Steps}.");
        }
        long total = Segments.Sum(s => (long)s.Steps);
        if (total > MaxSteps)
            throw new NetworkConfigurationException($"The schedule has {total} steps in all; a run counts steps in 32 bits, so at most {MaxSteps}: split it into several Continue calls.");
    }

    /// <summary>Most steps one schedule may hold (step indices of a run are 32-bit).</summary>
    public const int MaxSteps = int.MaxValue;

    /// <summary>Creates a schedule from (dt, steps) pairs.</summary>
    public Schedule(params (double dt, int steps)[] segments) : this(segments.Select(s => new Segment(s.dt, s.steps))) { }

    /// <summary>A single segment at a fixed dt.</summary>
    public static Schedule Fixed(double dt, int steps) => new((dt, steps));

    /// <summary>The segments, in order.</summary>
    public IReadOnlyList<Segment> Segments { get; }

    /// <summary>Total number of steps over all segments.</summary>
    public int TotalSteps => Segments.Sum(s => s.Steps);

    /// <summary>Total simulated time in seconds.</summary>
    public double Duration => Segments.Sum(s => s.Dt * s.Steps);

    /// <inheritdoc />
    public override string ToString() => string.Join(", ", Segments.Select(s => $"{s.Steps} × {s.Dt:g6} s"));
}
