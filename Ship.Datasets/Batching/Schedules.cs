using Ship.Core.Clocks;
using Ship.Core.Errors;

namespace Ship.Datasets.Batching;

/// <summary>
/// Builds <see cref="Schedule"/>s for variable-dt data (event streams, resampled recordings): runs of equal step
/// durations become one (dt, steps) segment, so a run changes dt, and recomputes its decay factors, only where the
/// data does.
/// </summary>
public static class Schedules
{
    /// <summary>
    /// Merges consecutive step durations that agree within <paramref name="relativeTolerance"/> of the first of their run
    /// into one segment at that first dt. Durations must be finite and &gt; 0.
    /// </summary>
    public static Schedule FromStepDurations(IEnumerable<double> durations, double relativeTolerance = 1e-9)
    {
        ArgumentNullException.ThrowIfNull(durations);
        if (!(relativeTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(relativeTolerance), relativeTolerance, "must be >= 0.");
        var segments = new List<Segment>();
        int k = 0;
        foreach (var dt in durations)
        {
            if (!(dt > 0) || double.IsInfinity(dt))
                throw new NetworkConfigurationException($"Step {k}: the duration must be a finite value > 0 seconds, got {dt}.");
            if (segments.Count > 0 && Math.Abs(dt - segments[^1].Dt) <= relativeTolerance * segments[^1].Dt)
                segments[^1] = segments[^1] with { Steps = segments[^1].Steps + 1 };
            else
                segments.Add(new Segment(dt, 1));
            k++;
        }
        return new Schedule(segments);
    }

    /// <summary>
    /// A schedule whose steps END at the given strictly increasing times (seconds, the first &gt; 0), matching the
    /// engine's convention that Times[k] is the end of step k: dt_k = t_k − t_(k−1) with t_(−1) = 0.
    /// </summary>
    public static Schedule FromTimes(IEnumerable<double> endTimes, double relativeTolerance = 1e-9)
    {
        ArgumentNullException.ThrowIfNull(endTimes);
        var durations = new List<double>();
        double previous = 0;
        int k = 0;
        foreach (var t in endTimes)
        {
            if (!(t > previous) || double.IsInfinity(t))
                throw new NetworkConfigurationException($"Step {k}: end time {t} s must be finite and later than the previous one ({previous} s).");
            durations.Add(t - previous);
            previous = t;
            k++;
        }
        return FromStepDurations(durations, relativeTolerance);
    }

    /// <summary>Whether two schedules have the same segments (exact dt and step counts), i.e. can drive one batch.</summary>
    public static bool SameSegments(Schedule a, Schedule b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return a.Segments.SequenceEqual(b.Segments);
    }
}
