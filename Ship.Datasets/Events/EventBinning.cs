using Ship.Core.Errors;
using Ship.Datasets.Encoders;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets.Events;

/// <summary>
/// Puts event lists on a simulation time grid. An event at time t goes into step k = ⌊t/dt⌋ (the same rule and 1e-9
/// tolerance as <see cref="TimeToFirstSpike.StepOf"/>); step k covers [k·dt, (k+1)·dt), and the grid holds
/// K = ⌈duration/dt⌉ steps. Events at t ≥ K·dt are dropped (<see cref="Dropped"/> counts them). Channel c goes to
/// output channel ⌊c / pool⌋, so pool adjacent channels merge (SHD's 700 channels with pool 10 give 70).
/// </summary>
public static class EventBinning
{
    private const string Name = "EventBinning";

    /// <summary>The step an event at <paramref name="t"/> (s) falls into.</summary>
    public static long StepOf(double t, double dt) => TimeToFirstSpike.StepOf(t, dt);

    /// <summary>Number of steps of a grid of <paramref name="duration"/> seconds.</summary>
    public static long Steps(double duration, double dt) => TimeToFirstSpike.WindowSteps(duration, dt);

    /// <summary>
    /// Bins <paramref name="samples"/> into a float32 raster [n, K, ⌈channels / pool⌉]: 1 where a step holds at least
    /// one event of the channel, or the number of events with <paramref name="counts"/>.
    /// </summary>
    public static Tensor Bin(IReadOnlyList<EventList> samples, int channels, double dt, double duration, bool counts = false, int pool = 1)
    {
        ArgumentNullException.ThrowIfNull(samples);
        Check(channels, dt, duration, pool);
        long steps = Steps(duration, dt);
        long outChannels = (channels + pool - 1) / pool;
        long total = samples.Count * steps * outChannels;
        if (total > Array.MaxLength)
            throw new ParameterException(Name, "samples",
                $"the raster would hold {samples.Count} × {steps} × {outChannels} = {total} values ({total * 4.0 / (1 << 30):0.0} GiB), more than one array can; bin a slice of the samples (EventSet.Subset, HeidelbergReadOptions.Start/Count) or pool channels.");
        var raster = new float[total];
        for (int s = 0; s < samples.Count; s++)
        {
            var e = samples[s];
            for (int i = 0; i < e.Count; i++)
            {
                int c = e.Channels[i];
                if ((uint)c >= (uint)channels)
                    throw new ParameterException(Name, "samples", $"sample {s}, event {i}: channel {c} is outside [0, {channels}).");
                double t = e.Times[i];
                if (!(t >= 0) || double.IsInfinity(t))
                    throw new ParameterException(Name, "samples", $"sample {s}, event {i}: time {t} s must be finite and >= 0.");
                long k = StepOf(t, dt);
                if (k >= steps) continue;
                long at = (s * steps + k) * outChannels + c / pool;
                raster[at] = counts ? raster[at] + 1 : 1;
            }
        }
        return torch.tensor(raster, new long[] { samples.Count, steps, outChannels });
    }

    /// <summary>Number of events of <paramref name="samples"/> at or after the end of a grid of <paramref name="duration"/> seconds (dropped by <see cref="Bin"/>).</summary>
    public static long Dropped(IReadOnlyList<EventList> samples, double dt, double duration)
    {
        Check(1, dt, duration, 1);
        long steps = Steps(duration, dt);
        return samples.Sum(s => (long)s.Times.Count(t => StepOf(t, dt) >= steps));
    }

    private static void Check(int channels, double dt, double duration, int pool)
    {
        if (channels < 1) throw new ParameterException(Name, "channels", $"must be >= 1, got {channels}.");
        if (!(dt > 0) || double.IsInfinity(dt)) throw new ParameterException(Name, "dt", $"must be a finite value > 0 s, got {dt}.");
        if (!(duration > 0) || double.IsInfinity(duration)) throw new ParameterException(Name, "duration", $"must be a finite value > 0 s, got {duration}.");
        if (pool < 1) throw new ParameterException(Name, "pool", $"must be >= 1, got {pool}.");
    }
}
