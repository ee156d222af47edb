using Ship.Core.Errors;

namespace Ship.Core.Persistence;

/// <summary>What went wrong with a checkpoint, so callers can react without parsing messages.</summary>
public enum CheckpointProblem
{
    /// <summary>The folder or one of its files does not exist.</summary>
    NotFound,
    /// <summary>The file was written by a newer or unknown format version, or is not a Ship.NET checkpoint at all.</summary>
    UnsupportedVersion,
    /// <summary>A file ends before the data it announces (an interrupted copy or write).</summary>
    Truncated,
    /// <summary>A file is malformed or its content does not match its checksum.</summary>
    Corrupted,
    /// <summary>A tensor's name, shape or dtype disagrees with the topology the checkpoint describes.</summary>
    TopologyMismatch,
    /// <summary>A model type name is not in the registry used for loading, or an object has no registered codec when saving.</summary>
    UnknownModel,
    /// <summary>The network cannot be saved in its current state (e.g. changed since its last initialization).</summary>
    NotSaveable,
}

/// <summary>
/// A checkpoint could not be saved or loaded. Loading never returns a half-built network: the error is raised before
/// the new network is handed out, and the network being saved is never changed.
/// </summary>
public sealed class CheckpointException : ShipException
{
    /// <summary>Creates the exception; the message names the file, the group or tensor at fault and what was expected.</summary>
    public CheckpointException(CheckpointProblem problem, string message, Exception? inner = null)
        : base(message, inner) => Problem = problem;

    /// <summary>The kind of failure.</summary>
    public CheckpointProblem Problem { get; }
}
