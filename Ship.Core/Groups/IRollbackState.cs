namespace Ship.Core.Groups;

/// <summary>
/// A group whose Run or Continue changes something beyond its declared state variables — an input cursor, weights a
/// learning rule changes in place, the conductances of devices it pulses. Before every call the engine asks each such
/// group (wrapped ones included) for a <see cref="RollbackPoint"/>; a call that fails part-way restores it, a call that
/// completes commits it (frees what only the point holds). Declared states, latest outputs, random streams, the clock
/// and monitors are the engine's own business: a group captures only what the engine cannot see.
/// </summary>
public interface IRollbackState
{
    /// <summary>Captures what the coming call may change; <paramref name="reset"/> is true for a Run (states will be reset).</summary>
    RollbackPoint Capture(bool reset);
}

/// <summary>What a group needs to undo a failed call (<see cref="IRollbackState"/>): one restore and one commit action.</summary>
public sealed class RollbackPoint
{
    private readonly Action _restore;
    private readonly Action? _commit;
    private bool _done;

    /// <summary>Creates a point: <paramref name="restore"/> puts the group back, <paramref name="commit"/> (optional) frees the saved copies after a completed call.</summary>
    public RollbackPoint(Action restore, Action? commit = null)
    {
        _restore = restore ?? throw new ArgumentNullException(nameof(restore));
        _commit = commit;
    }

    /// <summary>A point with nothing to undo.</summary>
    public static RollbackPoint Nothing { get; } = new(() => { });

    /// <summary>Puts the group back as it was when the point was captured (once; later calls do nothing).</summary>
    public void Restore()
    {
        if (_done) return;
        _done = true;
        _restore();
    }

    /// <summary>The call completed: frees what only this point holds (once; later calls do nothing).</summary>
    public void Commit()
    {
        if (_done) return;
        _done = true;
        _commit?.Invoke();
    }

    /// <summary>Both points in one: restored and committed in reverse order of capture (the later one first).</summary>
    public static RollbackPoint Combine(RollbackPoint first, RollbackPoint second) =>
        new(() => { second.Restore(); first.Restore(); }, () => { second.Commit(); first.Commit(); });
}
