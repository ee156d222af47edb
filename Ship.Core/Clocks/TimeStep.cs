namespace Ship.Core.Clocks;

/// <summary>
/// The time information of the step being computed, as one value: its index from the last reset, its start time and
/// its dt (seconds). A group reads it as <c>Context.Now</c> instead of combining the context's counters itself; what it
/// derives from dt alone is declared with <c>Group.Derive</c> and recomputed by the framework.
/// </summary>
/// <param name="Index">Index of the step, counted from the last reset.</param>
/// <param name="Start">Time at the start of the step, in seconds from the last reset.</param>
/// <param name="Dt">Length of the step in seconds.</param>
public readonly record struct TimeStep(long Index, double Start, double Dt)
{
    /// <summary>Time at the end of the step (Start + Dt), the time stamp of what the step computes.</summary>
    public double End => Start + Dt;

    /// <summary>The one rule for a time step, applied by every entry point (schedule, network, context, group preparation): finite and &gt; 0 seconds.</summary>
    public static bool IsValidDt(double dt) => dt > 0 && !double.IsInfinity(dt);

    /// <summary>What every entry point says about a time step <see cref="IsValidDt"/> refuses.</summary>
    public static string InvalidDt(double dt) => $"dt must be a finite value > 0 seconds, got {dt}.";
}
