using Ship.Core.Errors;

namespace Ship.Devices.Memristive;

/// <summary>Shared argument checks, so every device model reports a bad value with its name, parameter and allowed range.</summary>
internal static class DeviceErrors
{
    public static double NonNegative(string owner, string parameter, double value, string unit = "")
    {
        if (!double.IsFinite(value) || value < 0)
            throw new ParameterException(owner, parameter, $"must be a finite value >= 0{unit}, got {value}.");
        return value;
    }

    public static double Positive(string owner, string parameter, double value, string unit = "")
    {
        if (!double.IsFinite(value) || !(value > 0))
            throw new ParameterException(owner, parameter, $"must be a finite value > 0{unit}, got {value}.");
        return value;
    }

    public static double Probability(string owner, string parameter, double value)
    {
        if (!(value >= 0 && value <= 1))
            throw new ParameterException(owner, parameter, $"is a probability and must lie in [0, 1], got {value}.");
        return value;
    }

    /// <summary>A physical conductance: finite and never negative (a device conducts or it does not).</summary>
    public static double Conductance(string owner, string parameter, double value)
    {
        if (!double.IsFinite(value) || value < 0)
            throw new ParameterException(owner, parameter, $"is a conductance and must be a finite value >= 0, got {value}.");
        return value;
    }

    public static double Time(string owner, string parameter, double value)
    {
        if (!double.IsFinite(value) || value < 0)
            throw new ParameterException(owner, parameter, $"is a time since programming and must be a finite value >= 0 s, got {value}.");
        return value;
    }
}
