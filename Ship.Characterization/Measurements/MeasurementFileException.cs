using Ship.Core.Errors;

namespace Ship.Characterization.Measurements;

/// <summary>
/// A measurement file cannot be read as asked: names the file, the row (the line number in the file, the header being
/// line 1), the column, what was expected and what was found, so the fix is one edit away.
/// </summary>
public sealed class MeasurementFileException : ShipException
{
    /// <summary>Creates the exception; <paramref name="row"/> 0 means the file as a whole.</summary>
    public MeasurementFileException(string file, long row, string column, string expected, string actual, Exception? inner = null)
        : base($"Measurement file '{file}', row {row}, column '{column}': expected {expected}, got {actual}.", inner)
    {
        File = file;
        Row = row;
        Column = column;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>File name (or the name given to a reader).</summary>
    public string File { get; }
    /// <summary>Line number in the file (header = 1; 0 = the file as a whole).</summary>
    public long Row { get; }
    /// <summary>Column at fault, as written in the header (or the name that was missing).</summary>
    public string Column { get; }
    /// <summary>What the reader expected.</summary>
    public string Expected { get; }
    /// <summary>What it found.</summary>
    public string Actual { get; }
}
