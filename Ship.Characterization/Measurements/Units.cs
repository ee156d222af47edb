using System.Globalization;

namespace Ship.Characterization.Measurements;

/// <summary>Units a conductance column may be written in; every reader returns siemens.</summary>
public enum ConductanceUnit
{
    /// <summary>S.</summary>
    Siemens,
    /// <summary>mS.</summary>
    Millisiemens,
    /// <summary>µS (also written uS).</summary>
    Microsiemens,
    /// <summary>nS.</summary>
    Nanosiemens,
}

/// <summary>Units a time column may be written in; every reader returns seconds.</summary>
public enum TimeUnit
{
    /// <summary>s.</summary>
    Seconds,
    /// <summary>ms.</summary>
    Milliseconds,
    /// <summary>min.</summary>
    Minutes,
    /// <summary>h.</summary>
    Hours,
}

/// <summary>Unit names and factors to SI, shared by the readers and the report writers.</summary>
public static class MeasurementUnits
{
    /// <summary>Factor that turns a value in <paramref name="unit"/> into siemens.</summary>
    public static double ToSiemens(ConductanceUnit unit) => unit switch
    {
        ConductanceUnit.Siemens => 1,
        ConductanceUnit.Millisiemens => 1e-3,
        ConductanceUnit.Microsiemens => 1e-6,
        ConductanceUnit.Nanosiemens => 1e-9,
        _ => throw new ArgumentOutOfRangeException(nameof(unit)),
    };

    /// <summary>Factor that turns a value in <paramref name="unit"/> into seconds.</summary>
    public static double ToSeconds(TimeUnit unit) => unit switch
    {
        TimeUnit.Seconds => 1,
        TimeUnit.Milliseconds => 1e-3,
        TimeUnit.Minutes => 60,
        TimeUnit.Hours => 3600,
        _ => throw new ArgumentOutOfRangeException(nameof(unit)),
    };

    /// <summary>Symbol of a conductance unit as written in headers (S, mS, uS, nS).</summary>
    public static string Symbol(ConductanceUnit unit) => unit switch
    {
        ConductanceUnit.Siemens => "S",
        ConductanceUnit.Millisiemens => "mS",
        ConductanceUnit.Microsiemens => "uS",
        _ => "nS",
    };

    /// <summary>Parses a conductance unit symbol (S, mS, uS, µS, nS; case of the prefix matters: mS is not MS).</summary>
    public static bool TryParseConductance(string? text, out ConductanceUnit unit)
    {
        unit = ConductanceUnit.Siemens;
        switch (text?.Trim())
        {
            case "S": case "siemens": unit = ConductanceUnit.Siemens; return true;
            case "mS": unit = ConductanceUnit.Millisiemens; return true;
            case "uS": case "µS": case "μS": unit = ConductanceUnit.Microsiemens; return true;
            case "nS": unit = ConductanceUnit.Nanosiemens; return true;
            default: return false;
        }
    }

    /// <summary>Parses a time unit symbol (s, ms, min, h).</summary>
    public static bool TryParseTime(string? text, out TimeUnit unit)
    {
        unit = TimeUnit.Seconds;
        switch (text?.Trim())
        {
            case "s": unit = TimeUnit.Seconds; return true;
            case "ms": unit = TimeUnit.Milliseconds; return true;
            case "min": unit = TimeUnit.Minutes; return true;
            case "h": unit = TimeUnit.Hours; return true;
            default: return false;
        }
    }

    internal static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
