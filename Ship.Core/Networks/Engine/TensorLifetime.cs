using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// The one place that decides which tensors of a run live and which are freed. Rules: a tensor that is a group's
/// variable, a latest output, or held by the output recorder (recorded or returned) is never freed here; whatever a
/// block of steps computes besides is freed when the block ends (intermediates under a dispose scope at once, replaced
/// states of the previous block with the next one); whole-block temporaries (sequence outputs nobody returns, their
/// per-step slices) are freed when their block ends. Scopes never reach outside the call: a caller's own dispose scope
/// around Run/Continue sees only the returned outputs, which are detached from every scope.
/// </summary>
internal sealed class TensorLifetime
{
    private readonly RunState _state;
    private readonly OutputRecorder _recorder;
    private readonly long _scopeBytes;
    private readonly int _maxStepsPerScope;
    private readonly HashSet<Tensor> _survivors = new(ReferenceEqualityComparer.Instance);
    private readonly List<Tensor> _temporaries = new();
    private readonly HashSet<Tensor> _ownStates = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<Tensor> _stepMade = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<Tensor> _priorLatest = new(ReferenceEqualityComparer.Instance);
    private int? _stepsPerScope;

    public TensorLifetime(RunState state, OutputRecorder recorder, long scopeBytes, int maxStepsPerScope)
    {
        _state = state;
        _recorder = recorder;
        _scopeBytes = scopeBytes;
        _maxStepsPerScope = Math.Max(1, maxStepsPerScope);
    }

    /// <summary>Steps to compute under the next scope: one at first (measured), then as many as about the byte budget allows.</summary>
    public int NextScopeSteps(int left) => Math.Min(_stepsPerScope ?? 1, left);

    /// <summary>Opens the scope of a block of steps; what the previous block kept and has since been replaced is freed with it.</summary>
    public DisposeScope BeginSteps()
    {
        var scope = torch.NewDisposeScope();
        foreach (var t in _survivors) if (!t.IsInvalid) scope.Attach(t);
        return scope;
    }

    /// <summary>
    /// Before the scope of <paramref name="steps"/> steps closes: keeps variables, latest outputs and recorded outputs,
    /// and remembers the states and latest outputs this block made (the next block frees them once they are replaced).
    /// </summary>
    public void EndSteps(DisposeScope scope, int steps, bool[] sequence)
    {
        if (_stepsPerScope is null)
        {
            long bytes = 0;
            foreach (var d in scope.DisposablesView)
                if (d is Tensor { IsInvalid: false } t) bytes += t.NumberOfElements * t.ElementSize;
            long perStep = Math.Max(1, bytes / Math.Max(1, steps));
            _stepsPerScope = (int)Math.Clamp(_scopeBytes / perStep, 1, _maxStepsPerScope);
        }
        _survivors.Clear();
        foreach (var group in _state.Variables)
            foreach (var v in group)
                if (v.Tensor is { } t)
                {
                    if (v is Parameters.StateVariable && scope.Contains(t))
                    {
                        _stepMade.Add(t);
                        if (!_recorder.Holds(t)) _survivors.Add(t);
                    }
                    t.DetachFromDisposeScope();
                }
        var latest = _state.Latest;
        for (int i = 0; i < latest.Length; i++)
            if (latest[i] is { } y)
            {
                if (!sequence[i] && scope.Contains(y))
                {
                    _stepMade.Add(y);
                    if (!_recorder.Holds(y)) _survivors.Add(y);
                }
                y.DetachFromDisposeScope();
            }
        foreach (var t in _recorder.Held) t.DetachFromDisposeScope();
        FreePriorLatest(end: false);
        // The reset's states (this call's own, made outside every step scope) that the steps have replaced: freed now,
        // under the same conditions as a whole-block pass frees them (StatesReplaced), not left to the finalizer.
        if (_ownStates.Count > 0)
        {
            var live = Live();
            _ownStates.RemoveWhere(t =>
            {
                if (live.Contains(t) || _recorder.Holds(t)) return false;
                t.Dispose();
                return true;
            });
        }
    }

    /// <summary>
    /// Takes note of the states the reset just made: they are this call's own (nobody outside has seen them yet), so
    /// when a whole-block pass replaces them they are freed at once instead of waiting for the garbage collector's
    /// finalizer (a training loop otherwise leaves a few native tensors per batch behind, and its memory grows).
    /// </summary>
    public void AdoptResetStates()
    {
        foreach (var group in _state.States)
            foreach (var v in group)
                if (v.Tensor is { } t) _ownStates.Add(t);
    }

    /// <summary>The state variables of group <paramref name="i"/> (graph numbering) and their tensors before a whole-block pass.</summary>
    public (Parameters.StateVariable Variable, Tensor? Before)[] StatesOf(int i)
    {
        var states = _state.States[i];
        var before = new (Parameters.StateVariable, Tensor?)[states.Length];
        for (int k = 0; k < states.Length; k++) before[k] = (states[k], states[k].Tensor);
        return before;
    }

    /// <summary>
    /// After a whole-block pass: a state it replaced is freed when this call made it (reset, or an earlier block) and
    /// nothing else holds it (a latest output, the recorder, another variable); the new states are this call's own.
    /// </summary>
    public void StatesReplaced((Parameters.StateVariable Variable, Tensor? Before)[] states)
    {
        foreach (var (v, old) in states)
        {
            if (v.Tensor is not { } now) continue;
            if (old is not null && !ReferenceEquals(old, now) && _ownStates.Remove(old) && !IsLatest(old) && !_recorder.Holds(old) && !IsVariable(old))
                old.Dispose();
            _ownStates.Add(now);
        }
    }

    /// <summary>
    /// After a completed call, before <see cref="MadeStates"/>: the states and latest outputs its steps made and the
    /// network still holds are this call's own, as those of a reset or a whole-block pass are — a state is freed when a
    /// later Run replaces it (<see cref="Network.FreeReplacedStates"/>), a latest output when it is replaced (owned) —
    /// unless it is a variable of the network or an output handed to the caller. Stepped networks otherwise left their
    /// final states and latest outputs to the finalizer at every run.
    /// </summary>
    public void AdoptStepMade(IEnumerable<Tensor> handedOut)
    {
        foreach (var t in _temporaries) _stepMade.Add(t);
        _temporaries.Clear();
        if (_stepMade.Count == 0) return;
        var handed = new HashSet<Tensor>(handedOut, ReferenceEqualityComparer.Instance);
        foreach (var group in _state.States)
            foreach (var v in group)
                if (v.Tensor is { } t && _stepMade.Contains(t)) _ownStates.Add(t);
        var latest = _state.Latest;
        var owned = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < latest.Length; i++)
            if (latest[i] is { } y && !_state.LatestOwned[i] && _stepMade.Contains(y) && !handed.Contains(y) && !IsVariable(y) && owned.Add(y))
                _state.LatestOwned[i] = true;
        _stepMade.Clear();
    }

    /// <summary>
    /// Before a Continue's first step: the latest outputs the engine owns from before the call (a previous call's, a
    /// checkpoint's) are freed by this lifetime once nothing holds them, not when their group replaces them — a group
    /// that passes its input on as it is (Identity, Relay) read through a lagging edge makes such a tensor its own
    /// latest output and a recorded output before the owner's group replaces it.
    /// </summary>
    public void TakeOverOwnedLatest()
    {
        for (int i = 0; i < _state.Latest.Length; i++)
            if (_state.LatestOwned[i])
            {
                if (_state.Latest[i] is { } y) _priorLatest.Add(y);
                _state.LatestOwned[i] = false;
            }
    }

    /// <summary>
    /// Frees the latest outputs taken over by <see cref="TakeOverOwnedLatest"/> that are neither live nor held by the
    /// recorder; at the end of the call (<paramref name="end"/>, completed or rolled back) one still live is owned again
    /// (by one group: several may share it).
    /// </summary>
    public void FreePriorLatest(bool end)
    {
        if (_priorLatest.Count == 0) return;
        var live = Live();
        _priorLatest.RemoveWhere(t =>
        {
            if (live.Contains(t))
            {
                if (!end) return false;
                // A group that kept it as a state holds it now: that group's, not the engine's, to free.
                int i = Array.FindIndex(_state.Latest, y => ReferenceEquals(y, t));
                if (i >= 0 && !IsVariable(t)) _state.LatestOwned[i] = true;
                return true;
            }
            if (_recorder.Holds(t)) return false;
            t.Dispose();
            return true;
        });
    }

    /// <summary>The states this call made (reset or a whole-block pass) that are still the groups' states.</summary>
    public HashSet<Tensor> MadeStates()
    {
        var made = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var group in _state.States)
            foreach (var v in group)
                if (v.Tensor is { } t && _ownStates.Contains(t)) made.Add(t);
        return made;
    }

    private bool IsLatest(Tensor t)
    {
        foreach (var y in _state.Latest) if (ReferenceEquals(y, t)) return true;
        return false;
    }

    private bool IsVariable(Tensor t)
    {
        foreach (var group in _state.Variables)
            foreach (var v in group)
                if (ReferenceEquals(v.Tensor, t)) return true;
        return false;
    }

    /// <summary>A whole-block tensor (a sequence output or one of its slices) to free when its block ends unless kept.</summary>
    public void AddTemporary(Tensor t) => _temporaries.Add(t);

    /// <summary>
    /// Frees the block's temporaries that are neither live (variable, latest output) nor held by the recorder. A live one
    /// (a per-step slice that is a stepped group's latest output, as an identity synapse's) stays on the list, so a later
    /// block frees it once replaced, and is this call's own at its end (<see cref="AdoptStepMade"/>): it was left to the
    /// finalizer at every block before.
    /// </summary>
    public void EndBlock()
    {
        if (_temporaries.Count == 0) return;
        var live = Live();
        _temporaries.RemoveAll(t =>
        {
            if (live.Contains(t)) return false;
            if (!_recorder.Holds(t)) t.Dispose();
            return true;
        });
    }

    /// <summary>Tensors the network still holds: variables and latest outputs (one set, refilled at each call).</summary>
    public HashSet<Tensor> Live()
    {
        var live = _live;
        live.Clear();
        foreach (var t in _state.Latest) if (t is not null) live.Add(t);
        foreach (var group in _state.Variables) foreach (var v in group) if (v.Tensor is not null) live.Add(v.Tensor);
        return live;
    }

    private readonly HashSet<Tensor> _live = new(ReferenceEqualityComparer.Instance);
}
