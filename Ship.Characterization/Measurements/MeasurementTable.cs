using System.Globalization;
using System.Text.RegularExpressions;
using CsvHelper;

namespace Ship.Characterization.Measurements;

/// <summary>Options shared by the measurement readers: units for columns whose header carries none.</summary>
public sealed record MeasurementReadOptions
{
    /// <summary>Unit of conductance columns whose header has no unit suffix and when the file has no <c>unit</c> column; null = the header must say.</summary>
    public ConductanceUnit? ConductanceUnit { get; init; }
    /// <summary>Unit of a time column written as plain <c>time</c> (default seconds).</summary>
    public TimeUnit TimeUnit { get; init; } = Measurements.TimeUnit.Seconds;
}

/// <summary>
/// One CSV file opened for a reader (CsvHelper underneath): finds columns by name, with an optional unit written as a
/// suffix (<c>conductance_uS</c>, <c>conductance (uS)</c>, <c>conductance [uS]</c>), and parses cells into typed values
/// or throws <see cref="MeasurementFileException"/> naming the row and column. Lines starting with # are comments.
/// </summary>
internal sealed partial class MeasurementTable : IDisposable
{
    private readonly CsvReader _csv;
    private readonly string[] _header;

    [GeneratedRegex(@"^\s*(?<name>[A-Za-z][A-Za-z0-9 ]*?)\s*(?:_(?<u1>[^\s_\(\)\[\]]+)|\((?<u2>[^\)]+)\)|\[(?<u3>[^\]]+)\])?\s*$")]
    private static partial Regex HeaderPattern();

    public MeasurementTable(TextReader reader, string file)
    {
        File = file;
        _csv = CsvReader.Create(reader, new CsvReaderOptions
        {
            HasHeader = true,
            TrimWhitespace = true,
            SkipEmptyLines = true,
            CommentPrefix = '#',
            TrackLineNumbers = true,
            FormatProvider = CultureInfo.InvariantCulture,
        });
        try { _header = _csv.Headers.ToArray(); }
        catch (CsvFormatException e) { throw new MeasurementFileException(file, Math.Max(1, e.LineNumber), "(header)", "a well-formed CSV header", e.Message); }
        if (_header.Length == 0) throw new MeasurementFileException(file, 0, "(header)", "a header line and at least one data row", "an empty file");
        Columns = _header.Select(h =>
        {
            var m = HeaderPattern().Match(h);
            if (!m.Success) return (Name: h.Trim().ToLowerInvariant(), Unit: (string?)null);
            string? u = m.Groups["u1"].Success ? m.Groups["u1"].Value : m.Groups["u2"].Success ? m.Groups["u2"].Value.Trim()
                : m.Groups["u3"].Success ? m.Groups["u3"].Value.Trim() : null;
            return (Name: m.Groups["name"].Value.Trim().ToLowerInvariant(), Unit: u);
        }).ToArray();
        HeaderRow = 1;
    }

    public string File { get; }
    public (string Name, string? Unit)[] Columns { get; }
    public long HeaderRow { get; }
    /// <summary>Line number of the current record.</summary>
    public long Row => _csv.LineNumber;

    public bool Read()
    {
        try { return _csv.Read(); }
        catch (CsvFormatException e) { throw new MeasurementFileException(File, Math.Max(1, e.LineNumber), "(row)", "a well-formed CSV row", e.Message); }
    }

    /// <summary>Index of the column named <paramref name="name"/>, or -1 (when optional) / an error naming what the header has.</summary>
    public int Find(string name, bool required = true)
    {
        for (int i = 0; i < Columns.Length; i++)
            if (Columns[i].Name == name) return i;
        if (!required) return -1;
        throw new MeasurementFileException(File, HeaderRow, name, $"a column '{name}'",
            $"the columns [{string.Join(", ", _header)}]");
    }

    public string HeaderOf(int column) => _header[column];

    public string Cell(int column)
    {
        string? s = column < _csv.FieldCount ? _csv.GetString(column) : null;
        if (string.IsNullOrEmpty(s))
            throw new MeasurementFileException(File, Row, _header[column], "a value", "an empty cell");
        return s;
    }

    public string? OptionalCell(int column) =>
        column >= 0 && column < _csv.FieldCount && _csv.GetString(column) is { Length: > 0 } s ? s : null;

    public double Number(int column, string what = "a finite number")
    {
        string s = Cell(column);
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            throw new MeasurementFileException(File, Row, _header[column], what, $"'{s}'");
        if (!double.IsFinite(v)) throw new MeasurementFileException(File, Row, _header[column], what, $"'{s}' (not finite)");
        return v;
    }

    public int Integer(int column, int min = 0)
    {
        string s = Cell(column);
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min)
            throw new MeasurementFileException(File, Row, _header[column], $"an integer >= {min}", $"'{s}'");
        return v;
    }

    /// <summary>A conductance in siemens (≥ 0) from a column whose unit was resolved by <see cref="ConductanceScale"/>.</summary>
    public double Conductance(int column, double scale)
    {
        double v = Number(column, "a finite conductance");
        if (v < 0) throw new MeasurementFileException(File, Row, _header[column], "a conductance >= 0", MeasurementUnits.Format(v));
        return v * scale;
    }

    /// <summary>
    /// Factor to siemens for a conductance column: its header suffix, else the file's <c>unit</c> column (one unit for
    /// the whole file), else the option; an error when none says, or when they disagree.
    /// </summary>
    public double ConductanceScale(int column, ConductanceUnit? fromUnitColumn, long unitRow, int unitColumn, MeasurementReadOptions options)
    {
        var (name, suffix) = Columns[column];
        ConductanceUnit? header = null;
        if (suffix is not null)
        {
            if (!MeasurementUnits.TryParseConductance(suffix, out var u))
                throw new MeasurementFileException(File, HeaderRow, _header[column], "a conductance unit S, mS, uS or nS", $"'{suffix}'");
            header = u;
        }
        if (header is { } h && fromUnitColumn is { } c && h != c)
            throw new MeasurementFileException(File, unitRow, _header[unitColumn], $"the unit of the header '{_header[column]}' ({MeasurementUnits.Symbol(h)}): mixed units",
                MeasurementUnits.Symbol(c));
        var unit = header ?? fromUnitColumn ?? options.ConductanceUnit
            ?? throw new MeasurementFileException(File, HeaderRow, _header[column],
                $"a unit: write it in the header ('{name}_uS', '{name} (S)') or add a 'unit' column, or pass the unit as an option", "no unit");
        if (header is { } h2 && options.ConductanceUnit is { } o && o != h2)
            throw new MeasurementFileException(File, HeaderRow, _header[column], $"the unit given as an option ({MeasurementUnits.Symbol(o)}): mixed units",
                MeasurementUnits.Symbol(h2));
        return MeasurementUnits.ToSiemens(unit);
    }

    /// <summary>Factor to seconds for a time column (suffix, else the option).</summary>
    public double TimeScale(int column, MeasurementReadOptions options)
    {
        var suffix = Columns[column].Unit;
        if (suffix is null) return MeasurementUnits.ToSeconds(options.TimeUnit);
        if (!MeasurementUnits.TryParseTime(suffix, out var u))
            throw new MeasurementFileException(File, HeaderRow, _header[column], "a time unit s, ms, min or h", $"'{suffix}'");
        return MeasurementUnits.ToSeconds(u);
    }

    public void Dispose() => _csv.Dispose();
}
