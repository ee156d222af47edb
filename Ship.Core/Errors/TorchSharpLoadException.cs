namespace Ship.Core.Errors;

/// <summary>
/// TorchSharp's native libraries could not be loaded; the one-line message names the cause (for example the libstdc++
/// symbol version GLIBCXX_3.4.32 that Debian 12 lacks) and the fix, and the original failure is the inner exception.
/// </summary>
public sealed class TorchSharpLoadException : ShipException
{
    /// <summary>The native bridge file the diagnosis looked at, or null when none was found next to the application.</summary>
    public string? Bridge { get; }

    /// <summary>Creates the exception with its one-line message, the bridge file examined and TorchSharp's own failure.</summary>
    public TorchSharpLoadException(string message, string? bridge, Exception? inner) : base(message, inner) => Bridge = bridge;
}
