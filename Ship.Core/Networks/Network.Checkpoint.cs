using Ship.Core.Clocks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>The run state a checkpoint saves and restores (used by <see cref="Persistence.NetworkCheckpoint"/> only).</summary>
public sealed partial class Network
{
    /// <summary>Whether a completed run can be continued.</summary>
    internal bool HasRun => _state?.HasRun == true;

    /// <summary>The latest output of the group at <paramref name="index"/> (in order of adding), what its readers see next step.</summary>
    internal Tensor? LatestOutput(int index) => _state!.Latest[_state.Graph.IndexOf(_groups[index])];

    /// <summary>Puts a freshly initialized network in a saved run's state (prepare at dt, reset, <paramref name="restoreStates"/>, latest outputs in order of adding, timeline, counters).</summary>
    internal void RestoreRun(double dt, long stepIndex, double time, IReadOnlyList<Timeline.Stretch> stretches, IReadOnlyList<Tensor> latest, Action restoreStates)
    {
        var s = _state!;
        s.Context.Dt = dt;
        foreach (var g in s.Graph.Groups) g.PrepareTimeStep(dt);
        s.Reset();
        restoreStates();
        for (int i = 0; i < _groups.Count; i++) s.SetLatest(s.Graph.IndexOf(_groups[i]), latest[i].DetachFromDisposeScope(), owned: true);
        _timeline.Restore(stretches);
        s.Context.StepIndex = stepIndex;
        s.Context.Time = time;
        s.HasRun = true;
    }
}
