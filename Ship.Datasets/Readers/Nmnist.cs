using Ship.Datasets.Events;

namespace Ship.Datasets.Readers;

/// <summary>One N-MNIST event: pixel column and row (0-based), polarity (1 = ON, 0 = OFF) and time stamp in microseconds.</summary>
/// <param name="X">Pixel column, 0..33.</param>
/// <param name="Y">Pixel row, 0..33.</param>
/// <param name="Polarity">1 for an ON (brighter) event, 0 for OFF.</param>
/// <param name="TimeUs">Time stamp in microseconds from the start of the recording (23 bits, plus 2^13 µs per earlier overflow marker).</param>
public readonly record struct NmnistEvent(int X, int Y, int Polarity, int TimeUs);

/// <summary>
/// Reader for the binary event files of N-MNIST (Orchard et al. 2015): MNIST digits recorded by an ATIS event camera
/// moved in three saccades (about 100 ms each) over a 34 × 34 pixel field. Each event is 5 bytes (40 bits,
/// big-endian): bits 39–32 the x address, 31–24 the y address, bit 23 the polarity, bits 22–0 the time stamp in µs.
/// A record whose y address is 240 is not an event but a time-stamp overflow marker (the format's reference reader,
/// Orchard's eventvision.py): it is dropped and adds 2^13 µs to the time stamps of every record from it on.
/// A file size that is not a multiple of 5, an address outside the sensor or (by default) a time stamp that goes
/// backwards raises <see cref="DataFormatException"/> with the file, the byte offset, the event index and the field.
/// </summary>
public static class Nmnist
{
    /// <summary>Sensor width and height in pixels.</summary>
    public const int Side = 34;

    /// <summary>The y address that marks a time-stamp overflow record instead of an event.</summary>
    public const int OverflowY = 240;

    /// <summary>What an overflow marker adds to the time stamps of the records from it on, in µs (2^13).</summary>
    public const int OverflowUs = 1 << 13;

    /// <summary>Bytes per event.</summary>
    public const int EventBytes = 5;

    /// <summary>Number of channels of a sample: one per polarity and pixel (<see cref="Channel"/>).</summary>
    public const int Channels = 2 * Side * Side;

    /// <summary>The channel of an event: polarity·34·34 + y·34 + x (OFF events first, then ON, each row-major).</summary>
    public static int Channel(NmnistEvent e) => e.Polarity * Side * Side + e.Y * Side + e.X;

    /// <summary>Decodes every event of one file; <paramref name="requireSortedTimes"/> rejects a time stamp smaller than the previous one.</summary>
    public static NmnistEvent[] ReadEvents(string path, bool requireSortedTimes = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var data = Ship.Core.Errors.UserFiles.Open(path, "an N-MNIST event file (.bin, 5 bytes per event)", File.ReadAllBytes);
        if (data.Length % EventBytes != 0)
        {
            long whole = data.Length / EventBytes;
            throw DataFormatException.AtOffset(path, whole * EventBytes,
                $"expected a whole number of {EventBytes}-byte events, found {data.Length} bytes ({whole} events and {data.Length % EventBytes} bytes of a truncated one).");
        }
        int records = data.Length / EventBytes;
        var events = new List<NmnistEvent>(records);
        long offset = 0; // µs added by the overflow markers read so far
        for (int i = 0; i < records; i++)
        {
            int o = i * EventBytes;
            int x = data[o], y = data[o + 1], p = data[o + 2] >> 7;
            int raw = ((data[o + 2] & 0x7F) << 16) | (data[o + 3] << 8) | data[o + 4];
            if (y == OverflowY)
            {
                offset += OverflowUs;
                continue;
            }
            if (x >= Side) throw DataFormatException.InRecord(path, o, "x", i, $"expected a column in [0, {Side}), found {x}.");
            if (y >= Side) throw DataFormatException.InRecord(path, o + 1, "y", i, $"expected a row in [0, {Side}) or the overflow marker {OverflowY}, found {y}.");
            long t = raw + offset;
            if (t > int.MaxValue) throw DataFormatException.InRecord(path, o + 2, "timestamp", i, $"expected a time stamp below {int.MaxValue} µs, found {t} µs after {offset / OverflowUs} overflow markers.");
            if (requireSortedTimes && events.Count > 0 && t < events[^1].TimeUs)
                throw DataFormatException.InRecord(path, o + 2, "timestamp", i, $"expected a time stamp >= the previous event's {events[^1].TimeUs} µs, found {t} µs.");
            events.Add(new NmnistEvent(x, y, p, (int)t));
        }
        return events.ToArray();
    }

    /// <summary>One file as an <see cref="EventList"/>: times in seconds, channels by <see cref="Channel"/>.</summary>
    public static EventList ReadSample(string path, bool requireSortedTimes = true)
    {
        var e = ReadEvents(path, requireSortedTimes);
        return new EventList(e.Select(v => v.TimeUs * 1e-6).ToArray(), e.Select(Channel).ToArray());
    }

    /// <summary>
    /// Reads an N-MNIST folder: <paramref name="root"/>/Train (or /Test when <paramref name="train"/> is false) holds one
    /// sub-folder per digit, 0 to 9, of .bin files. Files are read in ordinal name order, digit by digit;
    /// <paramref name="perClass"/> keeps only the first files of each digit.
    /// </summary>
    public static EventSet LoadFolder(string root, bool train = true, int? perClass = null, bool requireSortedTimes = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        if (perClass is < 0) throw new Ship.Core.Errors.ParameterException(nameof(Nmnist), nameof(perClass), $"must be >= 0, got {perClass}.");
        string part = Path.Combine(root, train ? "Train" : "Test");
        Ship.Core.Errors.UserFiles.RequireFolder(part, $"the N-MNIST {(train ? "Train" : "Test")} folder ({root}/Train and {root}/Test, each with sub-folders 0..9 of .bin files)");
        var samples = new List<EventList>();
        var labels = new List<long>();
        for (int digit = 0; digit <= 9; digit++)
        {
            string dir = Path.Combine(part, digit.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Ship.Core.Errors.UserFiles.RequireFolder(dir, $"the N-MNIST folder of digit {digit} (.bin files)");
            var files = Directory.GetFiles(dir, "*.bin").OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal);
            foreach (var f in perClass is { } k ? files.Take(k) : files)
            {
                samples.Add(ReadSample(f, requireSortedTimes));
                labels.Add(digit);
            }
        }
        return new EventSet(samples, labels.ToArray(), Channels, part);
    }
}
