using Ship.Core.Errors;

namespace Ship.Training.Sweeps;

/// <summary>
/// A shard specification is malformed, or shard results cannot be merged (a shard missing or present twice, a point
/// missing or duplicated, shards run with other settings, a results file that changed after its manifest was written).
/// The message names the file at fault and what is wrong, so a half-finished job array can be repaired by rerunning
/// exactly the shards named.
/// </summary>
public sealed class ShardException : ShipException
{
    /// <summary>Creates the exception; when <paramref name="file"/> is given the message starts with it; <paramref name="inner"/> is the error that revealed it.</summary>
    public ShardException(string problem, string? file = null, Exception? inner = null)
        : base(file is null ? problem : $"{file}: {problem}", inner)
    {
        File = file;
        Problem = problem;
    }

    /// <summary>The shard file (manifest or results) at fault, or the file that was expected but not found; null for a bad specification.</summary>
    public string? File { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}
