using Ship.Core.Clocks;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// What a network carries from step to step besides its groups' variables: the latest output of every group (what its
/// readers see next), which of them only the engine holds, the timeline and whether a run can be continued. A call
/// takes a <see cref="Snapshot"/> before its first step so that a failure part-way puts states, latest outputs and
/// random streams back as they were.
/// </summary>
internal sealed class RunState
{
    public RunState(CompiledGraph graph, SimulationContext ctx, Timeline timeline)
    {
        Graph = graph;
        Context = ctx;
        Timeline = timeline;
        Latest = new Tensor?[graph.Count];
        LatestOwned = new bool[graph.Count];
        // Read once when the network is initialized (models declare their variables in their constructors), so the
        // engine's per-run bookkeeping walks arrays instead of making an iterator per group and pass.
        Variables = graph.Groups.Select(g => g.AllVariables.ToArray()).ToArray();
        States = Variables.Select(vs => vs.OfType<StateVariable>().ToArray()).ToArray();
    }

    /// <summary>Every variable of each group (its <see cref="Groups.Group.AllVariables"/>, graph numbering), as at initialization.</summary>
    public Variable[][] Variables { get; }
    /// <summary>The state variables of each group (graph numbering), as at initialization.</summary>
    public StateVariable[][] States { get; }

    public CompiledGraph Graph { get; }
    public SimulationContext Context { get; }
    public Timeline Timeline { get; }
    /// <summary>Latest output of each group (graph numbering).</summary>
    public Tensor?[] Latest { get; }
    /// <summary>Latest outputs that are copies only the engine holds, freed when replaced.</summary>
    public bool[] LatestOwned { get; }
    /// <summary>Whether a completed run can be continued.</summary>
    public bool HasRun { get; set; }
    /// <summary>The state tensors the last completed call made itself and left as the groups' states (nobody else made them).</summary>
    public HashSet<Tensor> MadeStates { get; set; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>Sets a group's latest output; an owned previous one is freed.</summary>
    public void SetLatest(int i, Tensor? y, bool owned)
    {
        if (LatestOwned[i] && !ReferenceEquals(Latest[i], y)) Latest[i]?.Dispose();
        Latest[i] = y;
        LatestOwned[i] = owned;
    }

    /// <summary>Resets every group and the clock for a fresh run (latest outputs become zeros).</summary>
    public void Reset()
    {
        var ctx = Context;
        for (int i = 0; i < Graph.Count; i++)
        {
            foreach (var v in States[i])
                if (v.Tensor is { } old) ReleaseGraph(old);
            Graph.Groups[i].ResetState();
        }
        for (int i = 0; i < Graph.Count; i++) SetLatest(i, ZerosFor(i), owned: false);
        Timeline.Reset();
        ctx.StepIndex = 0;
        ctx.Time = 0;
    }

    /// <summary>
    /// Drops the autograd graph every state and latest output holds (<see cref="Network.RunAndBackward"/>, after the
    /// backward used it): a later call starts from them as constants on both paths, the chain tape's (whose states are
    /// leaves) and the autograd nodes' (whose states would otherwise lead a later backward into a graph already walked).
    /// </summary>
    public void ReleaseGraphs()
    {
        foreach (var group in States)
            foreach (var v in group)
                if (v.Tensor is { } t) ReleaseGraph(t);
        foreach (var y in Latest)
            if (y is not null) ReleaseGraph(y);
    }

    /// <summary>
    /// A state replaced by a reset keeps its value but drops the autograd graph of the run that made it: the caller may
    /// still hold the tensor (Get), so it is not freed; but its graph — with every tensor saved for the backward —
    /// would otherwise stay alive until the garbage collector finalizes the wrapper, which in a training loop is a whole
    /// batch's activations per batch (the growth of resident memory the training benchmark measured).
    /// </summary>
    private static void ReleaseGraph(Tensor t)
    {
        if (t.IsInvalid || !t.requires_grad || t.is_leaf) return;
        try { t.detach_(); }
        catch (System.Runtime.InteropServices.ExternalException)
        {
            // A view cannot be detached in place; its graph then goes with its wrapper, as before.
        }
    }

    /// <summary>
    /// The zero output a reset gives group <paramref name="i"/>: one tensor per group, made once per batch size, dtype
    /// and device and then shared by every run (outputs are never modified in place), instead of a fresh zeros per run.
    /// </summary>
    private Tensor ZerosFor(int i)
    {
        // A context's batch size, dtype and device never change (another setting makes a new context and RunState), so
        // the zeros made for this RunState stay right; only a zero freed by someone else is made again.
        var ctx = Context;
        _zeros ??= new Tensor?[Graph.Count];
        var z = _zeros[i];
        if (z is null || z.IsInvalid)
            z = _zeros[i] = torch.zeros(new long[] { ctx.BatchSize, Graph.Groups[i].OutputSize }, dtype: ctx.DType, device: ctx.Device).DetachFromDisposeScope();
        return z;
    }

    private Tensor?[]? _zeros;

    /// <summary>
    /// What a failed call must put back. Before a Run (<paramref name="reset"/>) nothing is copied: the reset gives every
    /// state a fresh tensor (<see cref="Groups.Group.ResetState"/> assigns, never overwrites) and every latest output a new
    /// value, so the tensors from before the call keep their values untouched; the snapshot holds them, and takes over
    /// the engine's own latest outputs so the reset does not free them. Before a Continue states may change in place,
    /// so they and the latest outputs are copied. Also saved: the random streams, the clock (timeline, step index,
    /// time), whether the network can be continued, the monitors' records (<paramref name="monitors"/>) and what groups
    /// implementing <see cref="Groups.IRollbackState"/> change beyond their declared states (input cursors, weights and
    /// devices a learning rule changes during the run).
    /// </summary>
    public Saved Snapshot(bool reset, IReadOnlyList<Monitors.StateMonitor> monitors)
    {
        var states = new List<(Variable, Tensor?)>();
        foreach (var group in States)
            foreach (var v in group)
                states.Add((v, reset ? v.Tensor : Copy(v.Tensor)));
        var latest = new (Tensor?, bool)[Latest.Length];
        for (int i = 0; i < Latest.Length; i++)
        {
            if (reset)
            {
                latest[i] = (Latest[i], LatestOwned[i]);
                LatestOwned[i] = false;
            }
            else latest[i] = (Copy(Latest[i]), true);
        }
        // The states a Run holds (not copies) must survive the call: groups free what they replace through the context.
        Context.HeldForRollback = reset ? states : null; // searched only when a group replaces a state outside a step
        var points = new List<Groups.RollbackPoint>();
        try
        {
            foreach (var g in Graph.Groups)
                foreach (var x in g.StackInnerFirst)
                    if (x is Groups.IRollbackState r) points.Add(r.Capture(reset));
            foreach (var m in monitors) points.Add(m.Capture(reset));
        }
        catch
        {
            // A capture that fails (out of memory copying weights) leaves nothing half-held: the call has not started.
            for (int k = points.Count - 1; k >= 0; k--) points[k].Restore();
            if (reset) for (int i = 0; i < Latest.Length; i++) LatestOwned[i] = latest[i].Item2;
            else
            {
                // A Continue's copies are the snapshot's own: freed with it.
                foreach (var (_, copy) in states) copy?.Dispose();
                foreach (var (copy, _) in latest) copy?.Dispose();
            }
            Context.HeldForRollback = null;
            throw;
        }
        return new Saved(states, latest, Context.Streams.Snapshot(), Context.StepIndex, Context.Time, Held: reset, MadeStates,
            Timeline.Stretches.ToList(), HasRun, points, Context.Dt);
    }

    private static Tensor? Copy(Tensor? t)
    {
        if (t is not { IsInvalid: false }) return null;
        using var plain = t.detach();
        return plain.clone().DetachFromDisposeScope();
    }

    /// <summary>
    /// A snapshot of states, latest outputs, streams, the clock and what groups and monitors saved themselves;
    /// <c>Held</c>: the states are the tensors themselves, not copies.
    /// </summary>
    public sealed record Saved(List<(Variable Variable, Tensor? Value)> States, (Tensor? Value, bool Owned)[] Latest,
        Dictionary<(string, string), Tensor> Streams, long StepIndex, double Time, bool Held, HashSet<Tensor> MadeBefore,
        List<Timeline.Stretch> Stretches, bool HadRun, List<Groups.RollbackPoint> Points, double Dt)
    {
        /// <summary>Puts everything back: the network is as it was before the failed call, and a Continue goes on from there.</summary>
        public void Restore(RunState state)
        {
            state.Context.HeldForRollback = null;
            foreach (var (v, t) in States) v.Tensor = t;
            for (int i = 0; i < Latest.Length; i++) state.SetLatest(i, Latest[i].Value, Latest[i].Owned);
            state.Context.Streams.Restore(Streams);
            foreach (var s in Streams.Values) s.Dispose();
            // Later captures first: a wrapper's or monitor's point may rely on what an earlier one restores.
            for (int k = Points.Count - 1; k >= 0; k--) Points[k].Restore();
            state.Timeline.Restore(Stretches);
            state.Context.StepIndex = StepIndex;
            state.Context.Time = Time;
            state.HasRun = HadRun;
            state.MadeStates = MadeBefore;
            // A call at another dt prepared every group for it (coefficients, queue layouts): back to the dt of before the
            // call, so what reads it between calls (Set's checks, a checkpoint's run.dt) sees the network as it was.
            if (!state.Context.Dt.Equals(Dt))
            {
                state.Context.Dt = Dt;
                foreach (var g in state.Graph.Groups) g.PrepareTimeStep(Dt);
            }
        }

        /// <summary>Frees what only the snapshot holds after a call that completed: copies, and the latest outputs it took over.</summary>
        public void Discard(RunState state, bool freeReplaced)
        {
            state.Context.HeldForRollback = null;
            if (!Held) foreach (var (_, t) in States) t?.Dispose();
            else if (freeReplaced)
                // The states the previous call made and this Run replaced (Network.FreeReplacedStates): freed now, so a
                // training loop leaves nothing for the finalizer.
                foreach (var (v, t) in States)
                    if (t is not null && MadeBefore.Contains(t) && !ReferenceEquals(v.Tensor, t) && !state.Latest.Any(y => ReferenceEquals(y, t))) t.Dispose();
            foreach (var (t, owned) in Latest) if (owned) t?.Dispose();
            foreach (var s in Streams.Values) s.Dispose();
            foreach (var p in Points) p.Commit();
        }
    }
}
