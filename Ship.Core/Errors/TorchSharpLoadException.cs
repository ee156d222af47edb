namespace Ship.Core.Errors;

/// <summary>
/// TorchSharp's native libraries could not be loaded; the one-line message names the cause (for example the libstdc++
/// symbol version GLIBCXX_3.4.32 that Debian 12 lacks) and the fix. TorchSharp's own error, with its long load trace,
/// is kept as text in <see cref="TorchSharpError"/> rather than as the inner exception, so that an unhandled one prints
/// the cause and not 50 lines of nested traces.
/// </summary>
public sealed class TorchSharpLoadException : ShipException
{
    /// <summary>The native bridge file the diagnosis looked at, or null when none was found next to the application.</summary>
    public string? Bridge { get; }

    /// <summary>TorchSharp's original exception as text (type, message with its load trace, stack), for a bug report.</summary>
    public string TorchSharpError { get; }

    /// <summary>Creates the exception with its one-line message, the bridge file examined and TorchSharp's own error as text.</summary>
    public TorchSharpLoadException(string message, string? bridge, string torchSharpError) : base(message)
    {
        Bridge = bridge;
        TorchSharpError = torchSharpError;
    }
}
