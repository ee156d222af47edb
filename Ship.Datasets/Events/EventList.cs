using Ship.Core.Errors;

namespace Ship.Datasets.Events;

/// <summary>
/// One sample of an event data set: the time of each event in seconds and the input channel it arrives on, in the
/// file's order. Both arrays have the same length.
/// </summary>
public sealed class EventList
{
    /// <summary>Wraps event times (s) and channels of equal length (checked).</summary>
    public EventList(double[] times, int[] channels)
    {
        ArgumentNullException.ThrowIfNull(times);
        ArgumentNullException.ThrowIfNull(channels);
        if (times.Length != channels.Length)
            throw new ParameterException(nameof(EventList), nameof(channels), $"expected one channel per time ({times.Length}), got {channels.Length}.");
        Times = times;
        Channels = channels;
    }

    /// <summary>Event times in seconds from the start of the sample.</summary>
    public double[] Times { get; }

    /// <summary>Input channel of each event.</summary>
    public int[] Channels { get; }

    /// <summary>Number of events.</summary>
    public int Count => Times.Length;

    /// <summary>Time of the latest event (s), or 0 for an empty sample.</summary>
    public double LastTime => Times.Length == 0 ? 0 : Times.Max();

    /// <summary>
    /// The events with <paramref name="start"/> ≤ t &lt; <paramref name="end"/> (s), shifted so that the window starts at
    /// 0 (e.g. one saccade of an N-MNIST recording).
    /// </summary>
    public EventList Window(double start, double end)
    {
        if (!(end > start)) throw new ParameterException(nameof(EventList), nameof(end), $"expected a window end > its start {start} s, got {end} s.");
        var keep = Enumerable.Range(0, Count).Where(i => Times[i] >= start && Times[i] < end).ToArray();
        return new EventList(keep.Select(i => Times[i] - start).ToArray(), keep.Select(i => Channels[i]).ToArray());
    }
}
