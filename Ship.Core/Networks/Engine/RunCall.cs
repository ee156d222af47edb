using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks.Observers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// One Run or Continue: <see cref="Prepare"/> checks everything the call implies (inputs, every segment's dt against
/// every group, monitors) and derives the plan of each distinct dt without changing anything; <see cref="Execute"/>
/// then feeds the inputs, resets (Run) and steps. A failure part-way (the finite guard, a model error, an observer)
/// puts the network back as it was at the start of the call — states, latest outputs, random streams, the clock, input
/// cursors, monitors, what groups save themselves (<see cref="IRollbackState"/>) — so a following Continue gives what
/// it would have given without the failed call.
/// </summary>
internal sealed class RunCall
{
    private readonly Network _net;
    private readonly RunState _state;
    private readonly Schedule _schedule;
    private readonly List<(IInputGroup Group, Tensor Data)> _feeds;
    private readonly bool _reset;
    private readonly IReadOnlyList<IRunObserver> _observers;
    private readonly OutputRecorder _recorder;

    private RunCall(Network net, RunState state, Schedule schedule, List<(IInputGroup, Tensor)> feeds, bool reset,
        IReadOnlyList<IRunObserver> observers, OutputRecorder recorder, Dictionary<double, ExecutionPlan> plans)
    {
        _net = net;
        _state = state;
        _schedule = schedule;
        _feeds = feeds;
        _reset = reset;
        _observers = observers;
        _recorder = recorder;
        Plans = plans;
    }

    /// <summary>The call's schedule (the given one, or the network's dt and steps).</summary>
    public Schedule Schedule => _schedule;

    /// <summary>The input groups fed by the call and their data.</summary>
    public IReadOnlyList<(IInputGroup Group, Tensor Data)> Feeds => _feeds;

    /// <summary>The plan of every distinct dt of the call.</summary>
    public Dictionary<double, ExecutionPlan> Plans { get; }

    /// <summary>The observers of a call, in the order they hear each step: the output recorder, monitors, the finite guard, then the user's.</summary>
    public static List<IRunObserver> ObserversOf(Network net, OutputRecorder? recorder)
    {
        var list = new List<IRunObserver>();
        if (recorder is not null) list.Add(recorder);
        list.AddRange(net.Monitors.Where(m => m.Enabled));
        if (net.CheckFinite) list.Add(new FiniteGuard());
        list.AddRange(net.Observers);
        return list;
    }

    /// <summary>Validates the call; changes nothing.</summary>
    public static RunCall Prepare(Network net, RunState state, Schedule? schedule, IReadOnlyDictionary<string, Tensor>? inputs, bool reset)
    {
        if (!reset && !state.HasRun) throw new ShipException($"Network '{net.Name}': nothing to continue; call Run first.");
        var groups = state.Graph.Groups;
        var feeds = new List<(IInputGroup Group, Tensor Data)>();
        if (inputs is not null)
            foreach (var (tag, data) in inputs)
            {
                var g = net[tag];
                if (g is not IInputGroup ig) throw new InputException(tag, $"is a {g.GetType().Name}, not an input group.");
                feeds.Add((ig, data));
            }
        if (reset)
            foreach (var g in groups)
                if (g is IInputGroup ig && !Fed(feeds, ig) && ig.StagedData is { } staged)
                    feeds.Add((ig, staged));
        // The step count the data asks for belongs to this call only: Steps is left as it was (SHIP changes a global).
        int? preferred = null;
        foreach (var (ig, data) in feeds)
            if (ig.PreferredSteps(data) is > 0 and var p) preferred = Math.Max(preferred ?? p, p);
        schedule ??= Schedule.Fixed(net.Dt, preferred ?? net.Steps);
        int total = schedule.TotalSteps;
        foreach (var (ig, data) in feeds) ig.CheckFeed(data, total);
        foreach (var g in groups)
            if (g is IInputGroup ig && !Fed(feeds, ig))
            {
                if (reset) throw new InputException(g.Tag, "got no data for this run: pass a [batch, steps, N] tensor keyed by its tag.");
                if (ig.RemainingSteps < total) throw new InputException(g.Tag, $"has {ig.RemainingSteps} steps of data left, the continued run needs {total}; pass new data.");
            }
        // Every dt of the schedule against every group, before any state changes (one place validates dt).
        var dts = new List<double>(1);
        foreach (var seg in schedule.Segments)
            if (!dts.Contains(seg.Dt)) dts.Add(seg.Dt);
        foreach (var dt in dts)
            foreach (var g in groups) g.ValidateTimeStep(dt);
        foreach (var m in net.Monitors)
        {
            if (!m.Enabled) continue;
            if (!state.Graph.Contains(m.Group)) throw new NetworkConfigurationException($"Network '{net.Name}': monitor {m.Group.DisplayName}.{m.Variable} watches a group that is not part of this network.");
            if (Monitors.StateMonitor.WhyNotRecordable(m.Group, m.Variable) is { } why) throw new ParameterException(m.Group.DisplayName, m.Variable, why);
        }
        var recorder = new OutputRecorder(state.Graph);
        var observers = ObserversOf(net, recorder);
        var plans = new Dictionary<double, ExecutionPlan>(dts.Count);
        foreach (var dt in dts) plans[dt] = net.PlanFor(dt, observers);
        return new RunCall(net, state, schedule, feeds, reset, observers, recorder, plans);
    }

    private static bool Fed(List<(IInputGroup Group, Tensor Data)> feeds, IInputGroup group)
    {
        foreach (var f in feeds) if (ReferenceEquals(f.Group, group)) return true;
        return false;
    }

    /// <summary>Feeds, resets (for a Run) and steps the whole schedule; returns the outputs. With a <paramref name="tape"/>, recording fused chains write their calls on it.</summary>
    public RunResult Execute(ChainTape? tape = null)
    {
        using var gradGuard = _net.TrackGradients ? null : torch.no_grad();
        using var tf32 = _net.Precision.EnterTf32(); // a process-wide libtorch flag: set for this call, restored after
        // The policy's intra-op threads for this call, on this thread only; the caller's setting comes back after.
        using var threads = Native.IntraOpThreads.Enter(_net.ThreadsFor(_schedule.TotalSteps).Threads);
        var saved = _state.Snapshot(_reset, _net.Monitors);
        bool completed = false, heard = false;
        var lifetime = new TensorLifetime(_state, _recorder, _net.DisposeScopeBytes, _net.StepsPerDisposeScope);
        var stepper = new Stepper(_state, _observers, lifetime, _net.SequenceBlockSteps, tape);
        try
        {
            foreach (var (g, d) in _feeds) g.Feed(d, _schedule.TotalSteps);
            if (_reset)
            {
                // Prepared before the reset, so initial states see coefficients of this call's parameters and first dt.
                stepper.Prepare(Plans[_schedule.Segments[0].Dt]);
                _state.Reset();
                lifetime.AdoptResetStates();
                foreach (var m in _net.Monitors) m.Clear();
            }
            else lifetime.TakeOverOwnedLatest();
            int firstStep = _state.Timeline.Count;
            var start = new RunStartView(_net, _reset, firstStep, _schedule.TotalSteps);
            foreach (var o in _observers) o.OnRunStart(start);
            bool first = true;
            foreach (var seg in _schedule.Segments)
            {
                stepper.RunSegment(Plans[seg.Dt], seg.Steps, prepare: first && !_reset);
                first = false;
            }
            var outputs = _recorder.Finish(lifetime.Live());
            lifetime.AdoptStepMade(outputs.Values);
            lifetime.FreePriorLatest(end: true);
            _state.HasRun = true;
            _state.MadeStates = lifetime.MadeStates();
            completed = true;
            return new RunResult(outputs, _state.Timeline.TimesFrom(firstStep), firstStep);
        }
        catch
        {
            // Observers hear the failure before anything is put back, while the groups still show what the call did (an
            // energy ledger charges what the failed call attempted: pulses, converter counts); then the rollback.
            heard = true;
            try
            {
                foreach (var o in _observers) o.OnRunEnd(false);
            }
            finally
            {
                saved.Restore(_state);
                _recorder.Release(lifetime.Live());
                lifetime.FreePriorLatest(end: true);
            }
            throw;
        }
        finally
        {
            if (completed) saved.Discard(_state, _net.FreeReplacedStates);
            if (!heard) foreach (var o in _observers) o.OnRunEnd(completed);
        }
    }
}
