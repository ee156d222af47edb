using Ship.Devices.Memristive;

namespace Ship.Characterization.Measurements;

/// <summary>One read of a pulse-response measurement: the conductance (S) after <see cref="Pulse"/> pulses of one train.</summary>
/// <param name="Device">Device identifier as written in the file.</param>
/// <param name="Cycle">Cycle number (a cycle holds one potentiation and/or one depression train).</param>
/// <param name="Pulse">Pulses applied in this train before the read (0 = the read before the first pulse).</param>
/// <param name="Polarity">Direction of the train's pulses.</param>
/// <param name="Conductance">Conductance read (S).</param>
public sealed record PulseSample(string Device, int Cycle, int Pulse, PulseDirection Polarity, double Conductance);

/// <summary>One read of a retention (drift) measurement.</summary>
/// <param name="Device">Device identifier.</param>
/// <param name="Level">Conductance the device was programmed to (S).</param>
/// <param name="Time">Time since programming (s).</param>
/// <param name="Conductance">Conductance read (S).</param>
public sealed record RetentionSample(string Device, double Level, double Time, double Conductance);

/// <summary>One of repeated reads of a device at a fixed state.</summary>
/// <param name="Device">Device identifier.</param>
/// <param name="Read">Index of the read.</param>
/// <param name="Conductance">Conductance read (S).</param>
public sealed record ReadNoiseSample(string Device, int Read, double Conductance);

/// <summary>A pulse-response data set (siemens), with the trains grouped per device.</summary>
public sealed class PulseMeasurements
{
    /// <summary>Wraps the samples of <paramref name="source"/> (a file name or a label).</summary>
    public PulseMeasurements(string source, IReadOnlyList<PulseSample> samples)
    {
        Source = source;
        Samples = samples ?? throw new ArgumentNullException(nameof(samples));
    }

    /// <summary>Where the samples came from.</summary>
    public string Source { get; }
    /// <summary>Every sample in file order.</summary>
    public IReadOnlyList<PulseSample> Samples { get; }
    /// <summary>Device identifiers in order of first appearance.</summary>
    public IReadOnlyList<string> Devices => Samples.Select(s => s.Device).Distinct().ToArray();
    /// <summary>Cycle numbers present, ascending.</summary>
    public IReadOnlyList<int> Cycles => Samples.Select(s => s.Cycle).Distinct().Order().ToArray();

    /// <summary>The trains of one device (or all devices when null): one per (device, cycle, polarity), pulses ascending.</summary>
    public IReadOnlyList<PulseTrain> Trains(string? device = null) =>
        Samples.Where(s => device is null || s.Device == device)
            .GroupBy(s => (s.Device, s.Cycle, s.Polarity))
            .Select(g => new PulseTrain(g.Key.Device, g.Key.Cycle, g.Key.Polarity,
                g.Select(s => (double)s.Pulse).ToArray(), g.Select(s => s.Conductance).ToArray()))
            .ToArray();
}

/// <summary>One train of identical pulses on one device in one cycle.</summary>
/// <param name="Device">Device identifier.</param>
/// <param name="Cycle">Cycle number.</param>
/// <param name="Polarity">Direction.</param>
/// <param name="Pulses">Pulse numbers, ascending.</param>
/// <param name="Conductances">Conductance after each pulse number (S).</param>
public sealed record PulseTrain(string Device, int Cycle, PulseDirection Polarity, double[] Pulses, double[] Conductances);

/// <summary>A retention data set (siemens, seconds).</summary>
/// <param name="Source">Where the samples came from.</param>
/// <param name="Samples">Every sample in file order.</param>
public sealed record RetentionMeasurements(string Source, IReadOnlyList<RetentionSample> Samples)
{
    /// <summary>One series per (device, level): times ascending.</summary>
    public IReadOnlyList<(string Device, double Level, double[] Times, double[] Conductances)> Series() =>
        Samples.GroupBy(s => (s.Device, s.Level))
            .Select(g => g.OrderBy(s => s.Time).ToArray())
            .Select(a => (a[0].Device, a[0].Level, a.Select(s => s.Time).ToArray(), a.Select(s => s.Conductance).ToArray()))
            .ToArray();
}

/// <summary>A read-noise data set (siemens).</summary>
/// <param name="Source">Where the samples came from.</param>
/// <param name="Samples">Every sample in file order.</param>
public sealed record ReadNoiseMeasurements(string Source, IReadOnlyList<ReadNoiseSample> Samples)
{
    /// <summary>Per device: mean conductance, standard deviation of the reads (n − 1) and the number of reads.</summary>
    public IReadOnlyList<(string Device, double Mean, double Sigma, int Reads)> PerDevice() =>
        Samples.GroupBy(s => s.Device).Select(g =>
        {
            var v = g.Select(s => s.Conductance).ToArray();
            double m = v.Average();
            double sd = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)) : 0;
            return (g.Key, m, sd, v.Length);
        }).ToArray();
}

/// <summary>
/// Readers for measured device data in CSV (CsvHelper). Columns are found by name in any order (case-insensitive);
/// conductance units come from the header suffix (<c>conductance_uS</c>), a <c>unit</c> column, or
/// <see cref="MeasurementReadOptions.ConductanceUnit"/>; every value returned is in siemens and seconds. Any problem is a
/// <see cref="MeasurementFileException"/> naming row and column. Formats (docs/measured-devices.md):
/// pulses <c>device, cycle, pulse, polarity, conductance</c>; retention <c>device, level, time, conductance</c>;
/// read noise <c>device, read, conductance</c>; cycling (endurance) <c>device, cycle, state, conductance</c>.
/// </summary>
public static partial class MeasurementReader
{
    /// <summary>Reads a pulse-response file.</summary>
    public static PulseMeasurements ReadPulses(string path, MeasurementReadOptions? options = null)
    {
        using var reader = OpenFile(path);
        return ReadPulses(reader, Path.GetFileName(path), options);
    }

    /// <summary>Reads pulse-response CSV text; <paramref name="name"/> appears in errors.</summary>
    public static PulseMeasurements ReadPulses(TextReader text, string name, MeasurementReadOptions? options = null)
    {
        options ??= new MeasurementReadOptions();
        using var t = new MeasurementTable(text, name);
        int cDev = t.Find("device"), cCycle = t.Find("cycle"), cPulse = t.Find("pulse"), cPol = t.Find("polarity"), cG = t.Find("conductance");
        var units = new UnitColumn(t);
        var last = new Dictionary<(string, int, PulseDirection), (int Pulse, long Row)>();
        var samples = new List<PulseSample>();
        double? scale = null;
        while (t.Read())
        {
            string device = t.Cell(cDev);
            int cycle = t.Integer(cCycle);
            int pulse = t.Integer(cPulse);
            var polarity = Polarity(t, cPol);
            var fileUnit = units.Next();
            scale ??= t.ConductanceScale(cG, fileUnit, units.FirstRow, units.Column, options);
            double g = t.Conductance(cG, scale.Value);
            var key = (device, cycle, polarity);
            if (last.TryGetValue(key, out var prev) && pulse <= prev.Pulse)
                throw new MeasurementFileException(name, t.Row, t.HeaderOf(cPulse),
                    $"pulse numbers increasing within device '{device}', cycle {cycle}, {polarity} (previous {prev.Pulse} on row {prev.Row})", pulse.ToString());
            last[key] = (pulse, t.Row);
            samples.Add(new PulseSample(device, cycle, pulse, polarity, g));
        }
        if (samples.Count == 0) throw new MeasurementFileException(name, t.HeaderRow, "(rows)", "at least one data row", "none");
        return new PulseMeasurements(name, samples);
    }

    /// <summary>Reads a retention (drift) file.</summary>
    public static RetentionMeasurements ReadRetention(string path, MeasurementReadOptions? options = null)
    {
        using var reader = OpenFile(path);
        return ReadRetention(reader, Path.GetFileName(path), options);
    }

    /// <summary>Reads retention CSV text; <paramref name="name"/> appears in errors.</summary>
    public static RetentionMeasurements ReadRetention(TextReader text, string name, MeasurementReadOptions? options = null)
    {
        options ??= new MeasurementReadOptions();
        using var t = new MeasurementTable(text, name);
        int cDev = t.Find("device"), cLevel = t.Find("level"), cTime = t.Find("time"), cG = t.Find("conductance");
        var units = new UnitColumn(t);
        double timeScale = t.TimeScale(cTime, options);
        var samples = new List<RetentionSample>();
        double? gScale = null, lScale = null;
        while (t.Read())
        {
            string device = t.Cell(cDev);
            var fileUnit = units.Next();
            lScale ??= t.ConductanceScale(cLevel, fileUnit, units.FirstRow, units.Column, options);
            gScale ??= t.ConductanceScale(cG, fileUnit, units.FirstRow, units.Column, options);
            double level = t.Conductance(cLevel, lScale.Value);
            double time = t.Number(cTime, "a finite time");
            if (time < 0) throw new MeasurementFileException(name, t.Row, t.HeaderOf(cTime), "a time >= 0", MeasurementUnits.Format(time));
            double g = t.Conductance(cG, gScale.Value);
            samples.Add(new RetentionSample(device, level, time * timeScale, g));
        }
        if (samples.Count == 0) throw new MeasurementFileException(name, t.HeaderRow, "(rows)", "at least one data row", "none");
        return new RetentionMeasurements(name, samples);
    }

    /// <summary>Reads a read-noise file.</summary>
    public static ReadNoiseMeasurements ReadReadNoise(string path, MeasurementReadOptions? options = null)
    {
        using var reader = OpenFile(path);
        return ReadReadNoise(reader, Path.GetFileName(path), options);
    }

    /// <summary>Reads read-noise CSV text; <paramref name="name"/> appears in errors.</summary>
    public static ReadNoiseMeasurements ReadReadNoise(TextReader text, string name, MeasurementReadOptions? options = null)
    {
        options ??= new MeasurementReadOptions();
        using var t = new MeasurementTable(text, name);
        int cDev = t.Find("device"), cRead = t.Find("read"), cG = t.Find("conductance");
        var units = new UnitColumn(t);
        var samples = new List<ReadNoiseSample>();
        double? scale = null;
        while (t.Read())
        {
            string device = t.Cell(cDev);
            int read = t.Integer(cRead);
            var fileUnit = units.Next();
            scale ??= t.ConductanceScale(cG, fileUnit, units.FirstRow, units.Column, options);
            samples.Add(new ReadNoiseSample(device, read, t.Conductance(cG, scale.Value)));
        }
        if (samples.Count == 0) throw new MeasurementFileException(name, t.HeaderRow, "(rows)", "at least one data row", "none");
        return new ReadNoiseMeasurements(name, samples);
    }

    private static StreamReader OpenFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new MeasurementFileException(path, 0, "(file)", "an existing file", Ship.Core.Errors.UserFiles.WhatIsAt(path, file: true));
        try { return new StreamReader(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone or locked between the check and the open: still the reader's own error, with .NET's inside.
            throw new MeasurementFileException(path, 0, "(file)", "a readable file", e.Message, e);
        }
    }

    private static PulseDirection Polarity(MeasurementTable t, int column)
    {
        string s = t.Cell(column).ToLowerInvariant();
        return s switch
        {
            "up" or "+" or "+1" or "1" or "set" or "potentiation" or "ltp" => PulseDirection.Potentiation,
            "down" or "-" or "-1" or "reset" or "depression" or "ltd" => PulseDirection.Depression,
            _ => throw new MeasurementFileException(t.File, t.Row, t.HeaderOf(column), "a polarity up/down (+/−, set/reset, potentiation/depression, ltp/ltd)", $"'{s}'"),
        };
    }

    /// <summary>The optional per-row <c>unit</c> column: one unit for the whole file, or a mixed-units error at the first row that differs.</summary>
    private sealed class UnitColumn(MeasurementTable t)
    {
        private ConductanceUnit? _unit;
        public int Column { get; } = t.Find("unit", required: false);
        public long FirstRow { get; private set; }

        public ConductanceUnit? Next()
        {
            if (Column < 0) return null;
            string s = t.Cell(Column);
            if (!MeasurementUnits.TryParseConductance(s, out var u))
                throw new MeasurementFileException(t.File, t.Row, t.HeaderOf(Column), "a conductance unit S, mS, uS or nS", $"'{s}'");
            if (_unit is null)
            {
                _unit = u;
                FirstRow = t.Row;
            }
            else if (_unit != u)
                throw new MeasurementFileException(t.File, t.Row, t.HeaderOf(Column),
                    $"the same unit on every row ({MeasurementUnits.Symbol(_unit.Value)} from row {FirstRow}): mixed units", MeasurementUnits.Symbol(u));
            return u;
        }
    }
}
