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
    }

    public CompiledGraph Graph { get; }
    public SimulationContext Context { get; }
    public Timeline Timeline { get; }
    /// <summary>Latest output of each group (graph numbering).</summary>
    public Tensor?[] Latest { get; }
    /// <summary>Latest outputs that are copies only the engine holds, freed when replaced.</summary>
    public bool[] LatestOwned { get; }
    /// <summary>Whether a completed run can be continued.</summary>
    public bool HasRun { get; set; }

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
        foreach (var g in Graph.Groups)
        {
            foreach (var v in g.AllVariables)
                if (v is StateVariable { Tensor: { } old }) ReleaseGraph(old);
            g.ResetState();
        }
        for (int i = 0; i < Graph.Count; i++)
            SetLatest(i, torch.zeros(new long[] { ctx.BatchSize, Graph.Groups[i].OutputSize }, dtype: ctx.DType, device: ctx.Device).DetachFromDisposeScope(), owned: true);
        Timeline.Reset();
        ctx.StepIndex = 0;
        ctx.Time = 0;
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

    /// <summary>Copies of everything a failed call must put back.</summary>
    public Saved Snapshot()
    {
        var states = new List<(Variable, Tensor?)>();
        foreach (var g in Graph.Groups)
            foreach (var v in g.AllVariables.OfType<StateVariable>())
                states.Add((v, Copy(v.Tensor)));
        var latest = Latest.Select(Copy).ToArray();
        return new Saved(states, latest, Context.Streams.Snapshot(), Context.StepIndex, Context.Time);
    }

    private static Tensor? Copy(Tensor? t)
    {
        if (t is not { IsInvalid: false }) return null;
        using var plain = t.detach();
        return plain.clone().DetachFromDisposeScope();
    }

    /// <summary>A snapshot of states, latest outputs, streams and counters.</summary>
    public sealed record Saved(List<(Variable Variable, Tensor? Value)> States, Tensor?[] Latest,
        Dictionary<(string, string), Tensor> Streams, long StepIndex, double Time)
    {
        /// <summary>Puts everything back (the timeline keeps the steps that ran, for diagnosis).</summary>
        public void Restore(RunState state)
        {
            foreach (var (v, t) in States) v.Tensor = t;
            for (int i = 0; i < Latest.Length; i++) state.SetLatest(i, Latest[i], owned: true);
            state.Context.Streams.Restore(Streams);
            foreach (var s in Streams.Values) s.Dispose();
        }

        /// <summary>Frees the copies after a call that completed.</summary>
        public void Discard()
        {
            foreach (var (_, t) in States) t?.Dispose();
            foreach (var t in Latest) t?.Dispose();
            foreach (var s in Streams.Values) s.Dispose();
        }
    }
}
