namespace Ship.Core.Errors;

/// <summary>Base of every error Ship.NET raises on purpose, so callers can catch the library's own failures in one place.</summary>
public class ShipException : Exception
{
    /// <summary>Creates the exception with a message that names what was wrong and what was expected.</summary>
    public ShipException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>The network's structure or settings are inconsistent (unknown or duplicate tags, dangling synapses, bad dt or steps).</summary>
public sealed class NetworkConfigurationException : ShipException
{
    /// <summary>Creates the exception; the message names the group or setting at fault.</summary>
    public NetworkConfigurationException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A parameter or initial-state value has the wrong shape, type or range; carries the names needed to fix it.</summary>
public sealed class ParameterException : ShipException
{
    /// <summary>Tag of the group that owns the parameter (or its type name before it was added).</summary>
    public string Group { get; }
    /// <summary>Name of the parameter or state variable.</summary>
    public string Parameter { get; }

    /// <summary>Creates the exception with the group, the parameter and a description of expected versus actual.</summary>
    public ParameterException(string group, string parameter, string problem)
        : base($"Group '{group}', parameter '{parameter}': {problem}")
    {
        Group = group;
        Parameter = parameter;
    }
}

/// <summary>An input tensor given to a run does not fit the input group it feeds.</summary>
public sealed class InputException : ShipException
{
    /// <summary>Tag of the input group.</summary>
    public string Group { get; }

    /// <summary>Creates the exception naming the input group and the shape problem.</summary>
    public InputException(string group, string problem) : base($"Input group '{group}': {problem}") => Group = group;
}

/// <summary>The numerical guard (<c>Network.CheckFinite</c>) found a NaN or an infinity; names where and when it first appeared.</summary>
public sealed class NonFiniteValueException : ShipException
{
    /// <summary>Creates the exception for the first non-finite value found.</summary>
    public NonFiniteValueException(string group, string variable, long step, double time, string what)
        : base($"Group '{group}', {(variable == "output" ? "output" : $"variable '{variable}'")}: {what} at step {step} (t = {time.ToString("R", System.Globalization.CultureInfo.InvariantCulture)} s); the run was stopped there.")
    {
        Group = group;
        Variable = variable;
        Step = step;
        Time = time;
    }

    /// <summary>Tag of the group holding the value.</summary>
    public string Group { get; }
    /// <summary>Name of the state variable, or "output".</summary>
    public string Variable { get; }
    /// <summary>Index of the step (since the last reset) whose result held the value.</summary>
    public long Step { get; }
    /// <summary>Time at the end of that step, in seconds.</summary>
    public double Time { get; }
}
