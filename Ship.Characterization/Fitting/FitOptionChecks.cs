using Ship.Core.Errors;

namespace Ship.Characterization.Fitting;

/// <summary>Checks of fit options before any data is touched, each a <see cref="ParameterException"/> naming the options record, the option, the range and the value.</summary>
internal static class FitOptionChecks
{
    /// <summary>A confidence level strictly between 0 and 1.</summary>
    public static void Level(string options, double level)
    {
        if (!(level > 0 && level < 1)) throw new ParameterException(options, "Level", $"the confidence level must be between 0 and 1 (exclusive), got {level}");
    }

    /// <summary>A finite number &gt; 0 (in the option's unit).</summary>
    public static void Positive(string options, string option, double value, string unit)
    {
        if (!(value > 0 && double.IsFinite(value))) throw new ParameterException(options, option, $"must be a finite number > 0 ({unit}), got {value}");
    }

    /// <summary>A finite number &gt;= 0 (in the option's unit).</summary>
    public static void NonNegative(string options, string option, double value, string unit)
    {
        if (!(value >= 0 && double.IsFinite(value))) throw new ParameterException(options, option, $"must be a finite number >= 0 ({unit}), got {value}");
    }

    /// <summary>A fraction in [0, 1).</summary>
    public static void Fraction(string options, string option, double value)
    {
        if (!(value >= 0 && value < 1)) throw new ParameterException(options, option, $"must be a fraction from 0 (inclusive) to 1 (exclusive), got {value}");
    }
}
