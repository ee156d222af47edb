namespace Ship.Characterization.Measurements;

/// <summary>One read of an endurance (cycling) measurement: a device's conductance in one state after some cycles.</summary>
/// <param name="Device">Device identifier.</param>
/// <param name="Cycle">Set/reset cycles the device had received before this read.</param>
/// <param name="High">True for the high-conductance state (LRS, after SET), false for the low one (HRS, after RESET).</param>
/// <param name="Conductance">Conductance read (S).</param>
public sealed record CyclingSample(string Device, long Cycle, bool High, double Conductance);

/// <summary>One device's endurance series: both states at each cycle count, cycles ascending.</summary>
/// <param name="Device">Device identifier.</param>
/// <param name="Cycles">Cycle counts, ascending.</param>
/// <param name="High">High-state conductance at each cycle count (S).</param>
/// <param name="Low">Low-state conductance at each cycle count (S).</param>
public sealed record CyclingSeries(string Device, long[] Cycles, double[] High, double[] Low)
{
    /// <summary>The memory window G_high − G_low at each cycle count (S).</summary>
    public double[] Window => High.Zip(Low, (h, l) => h - l).ToArray();
}

/// <summary>An endurance data set (siemens): the two states of each device read at increasing cycle counts.</summary>
/// <param name="Source">Where the samples came from.</param>
/// <param name="Samples">Every sample in file order.</param>
public sealed record CyclingMeasurements(string Source, IReadOnlyList<CyclingSample> Samples)
{
    /// <summary>One series per device, in order of first appearance (the reader guarantees both states at every cycle).</summary>
    public IReadOnlyList<CyclingSeries> Series() =>
        Samples.GroupBy(s => s.Device).Select(g =>
        {
            var cycles = g.Select(s => s.Cycle).Distinct().Order().ToArray();
            var high = g.Where(s => s.High).ToDictionary(s => s.Cycle, s => s.Conductance);
            var low = g.Where(s => !s.High).ToDictionary(s => s.Cycle, s => s.Conductance);
            return new CyclingSeries(g.Key, cycles, cycles.Select(c => high[c]).ToArray(), cycles.Select(c => low[c]).ToArray());
        }).ToArray();
}

public static partial class MeasurementReader
{
    /// <summary>Reads an endurance (cycling) file: <c>device, cycle, state, conductance</c>, state high/low (lrs/hrs, set/reset, on/off).</summary>
    public static CyclingMeasurements ReadCycling(string path, MeasurementReadOptions? options = null)
    {
        using var reader = OpenFile(path);
        return ReadCycling(reader, Path.GetFileName(path), options);
    }

    /// <summary>
    /// Reads endurance CSV text; <paramref name="name"/> appears in errors. Each device's cycle counts rise from one
    /// cycle count to the next, and every (device, cycle) holds exactly one high and one low read.
    /// </summary>
    public static CyclingMeasurements ReadCycling(TextReader text, string name, MeasurementReadOptions? options = null)
    {
        options ??= new MeasurementReadOptions();
        using var t = new MeasurementTable(text, name);
        int cDev = t.Find("device"), cCycle = t.Find("cycle"), cState = t.Find("state"), cG = t.Find("conductance");
        var units = new UnitColumn(t);
        var samples = new List<CyclingSample>();
        // Per device: the current cycle count, its row, and which states it has so far.
        var open = new Dictionary<string, (long Cycle, long Row, bool High, bool Low)>();
        double? scale = null;
        while (t.Read())
        {
            string device = t.Cell(cDev);
            string cycleText = t.Cell(cCycle);
            if (!long.TryParse(cycleText, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long cycle) || cycle < 0)
                throw new MeasurementFileException(name, t.Row, t.HeaderOf(cCycle), "a cycle count (an integer >= 0)", $"'{cycleText}'");
            string state = t.Cell(cState).ToLowerInvariant();
            bool high = state switch
            {
                "high" or "lrs" or "set" or "on" => true,
                "low" or "hrs" or "reset" or "off" => false,
                _ => throw new MeasurementFileException(name, t.Row, t.HeaderOf(cState), "a state high/low (lrs/hrs, set/reset, on/off)", $"'{state}'"),
            };
            var fileUnit = units.Next();
            scale ??= t.ConductanceScale(cG, fileUnit, units.FirstRow, units.Column, options);
            double g = t.Conductance(cG, scale.Value);
            if (open.TryGetValue(device, out var o))
            {
                if (cycle < o.Cycle)
                    throw new MeasurementFileException(name, t.Row, t.HeaderOf(cCycle),
                        $"cycle counts increasing for device '{device}' (previous {o.Cycle} on row {o.Row})", cycle.ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (cycle == o.Cycle)
                {
                    if (high ? o.High : o.Low)
                        throw new MeasurementFileException(name, t.Row, t.HeaderOf(cState),
                            $"one {(high ? "high" : "low")} read per device and cycle (device '{device}', cycle {cycle} has one on row {o.Row} or before)", $"'{state}' again");
                    open[device] = (cycle, o.Row, o.High || high, o.Low || !high);
                }
                else
                {
                    CheckPair(name, t, cState, device, o);
                    open[device] = (cycle, t.Row, high, !high);
                }
            }
            else open[device] = (cycle, t.Row, high, !high);
            samples.Add(new CyclingSample(device, cycle, high, g));
        }
        if (samples.Count == 0) throw new MeasurementFileException(name, t.HeaderRow, "(rows)", "at least one data row", "none");
        foreach (var (device, o) in open) CheckPair(name, t, cState, device, o);
        return new CyclingMeasurements(name, samples);
    }

    private static void CheckPair(string name, MeasurementTable t, int cState, string device, (long Cycle, long Row, bool High, bool Low) o)
    {
        if (!(o.High && o.Low))
            throw new MeasurementFileException(name, o.Row, t.HeaderOf(cState),
                $"a high and a low read of device '{device}' at cycle {o.Cycle}", $"only a {(o.High ? "high" : "low")} read");
    }
}
