using Ship.Core.Clocks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>The run state a checkpoint saves and restores (used by <see cref="Persistence.NetworkCheckpoint"/> only).</summary>
public sealed partial class Network
{
    /// <summary>Whether a run happened since the last initialization, so that Continue has something to continue.</summary>
    internal bool HasRun => _hasRun;

    /// <summary>The latest output of the group at <paramref name="index"/> (in order of adding), what its readers see next step.</summary>
    internal Tensor? LatestOutput(int index) => _latest[index];

    /// <summary>
    /// Puts a freshly initialized network in the state of a saved run: prepares every group for the saved dt, resets
    /// the states (so groups rebuild their own layout), lets <paramref name="restoreStates"/> overwrite them, then
    /// restores the latest outputs, the timeline and the step counters. Continue then goes on exactly as the saved network would.
    /// </summary>
    internal void RestoreRun(double dt, long stepIndex, double time, IReadOnlyList<Timeline.Stretch> stretches, IReadOnlyList<Tensor> latest, Action restoreStates)
    {
        var ctx = Context;
        Prepare(ctx, dt);
        ResetAll(ctx);
        restoreStates();
        for (int i = 0; i < _latest.Length; i++)
        {
            _latest[i]?.Dispose();
            _latest[i] = latest[i].DetachFromDisposeScope();
            _latestOwned[i] = false;
        }
        _timeline.Restore(stretches);
        ctx.StepIndex = stepIndex;
        ctx.Time = time;
        _hasRun = true;
    }
}
