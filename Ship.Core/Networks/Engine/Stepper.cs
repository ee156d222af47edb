using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks.Observers;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Core.Networks;

/// <summary>
/// Executes validated plans: for each segment, blocks of at most <c>blockSteps</c> steps; per block the whole-block
/// stage computes its groups' outputs at once, then the step stage calls the stepped groups in call order, step by
/// step, and every observer hears each step and the block's end. It has no monitor-, guard- or output-specific
/// branches: those are observers. Tensor lifetime is <see cref="TensorLifetime"/>'s business.
/// </summary>
internal sealed class Stepper
{
    private readonly RunState _state;
    private readonly IReadOnlyList<IRunObserver> _observers;
    private readonly TensorLifetime _lifetime;
    private readonly int _blockSteps;
    private readonly Tensor?[] _current, _block;
    private readonly Tensor[][] _slices;
    private readonly StepView _step;
    private readonly BlockView _blockView;
    private bool _checkShapes = true;
    private readonly Precision _precision;
    private readonly ChainTape? _tape;
    private int _tapedBlocks;

    /// <summary>A stepper for one call; with a <paramref name="tape"/>, fused chains that record gradients write their calls on it (<see cref="Network.RunAndBackward"/>).</summary>
    public Stepper(RunState state, IReadOnlyList<IRunObserver> observers, TensorLifetime lifetime, int blockSteps, ChainTape? tape = null)
    {
        _state = state;
        _tape = tape;
        _observers = observers;
        _lifetime = lifetime;
        _blockSteps = Math.Max(1, blockSteps);
        int n = state.Graph.Count;
        _current = new Tensor?[n];
        _block = new Tensor?[n];
        _slices = new Tensor[n][];
        _step = new StepView(g => _current[state.Graph.IndexOf(g)]);
        _blockView = new BlockView(g => _block[state.Graph.IndexOf(g)]);
        _precision = state.Context.Precision;
    }

    /// <summary>Runs <paramref name="steps"/> steps under <paramref name="plan"/> (one schedule segment); groups are prepared for its dt when <paramref name="prepare"/> or the dt changes.</summary>
    public void RunSegment(ExecutionPlan plan, int steps, bool prepare)
    {
        var ctx = _state.Context;
        if (prepare || ctx.Dt != plan.Dt) Prepare(plan);
        int chunk = plan.HasSequence ? _blockSteps : steps;
        for (int start = 0; start < steps; start += chunk)
        {
            int length = Math.Min(chunk, steps - start);
            long first = ctx.StepIndex;
            // The tape carries no gradient from one block's final states to the next: Network.TapeRefusal admits one block.
            if (_tape is not null && plan.HasSequence && ++_tapedBlocks > 1)
                throw new ShipException("Internal error: a run on a chain tape reached a second block; TapeRefusal admits one.");
            if (plan.HasSequence) ComputeBlock(plan, length);
            for (int done = 0; done < length;)
            {
                if (!plan.PerStepWork) { Advance(plan.Dt); done++; continue; }
                int n = _lifetime.NextScopeSteps(length - done);
                using (var scope = _lifetime.BeginSteps())
                {
                    for (int k = 0; k < n; k++) Step(plan, done + k);
                    _lifetime.EndSteps(scope, n, plan.Sequence);
                }
                done += n;
            }
            EndBlock(plan, first, length);
        }
    }

    /// <summary>Makes <paramref name="plan"/>'s dt the current one and prepares every group for it (the framework recomputes their declared coefficients).</summary>
    public void Prepare(ExecutionPlan plan)
    {
        _state.Context.Dt = plan.Dt;
        foreach (var g in plan.Graph.Groups) g.PrepareTimeStep(plan.Dt);
    }

    private void Advance(double dt)
    {
        var ctx = _state.Context;
        ctx.Time = _state.Timeline.Now;
        _state.Timeline.Advance(dt);
        ctx.StepIndex++;
    }

    private void ComputeBlock(ExecutionPlan plan, int steps)
    {
        // One dispose scope for the whole block: what the sequence forms make in between is freed here; outputs, slices
        // and new states are kept. While recording gradients the autograd graph holds what the backward needs.
        using var scope = torch.NewDisposeScope();
        var graph = plan.Graph;
        foreach (var i in plan.Order)
        {
            if (!plan.Sequence[i]) continue;
            if (plan.ChainOf[i] is >= 0 and var c)
            {
                // A fused chain runs whole when the order reaches its first group (its other groups read only inside it).
                if (plan.Chains[c][0] == i) ComputeChain(plan, plan.Chains[c], steps);
                continue;
            }
            var src = graph.Sources[i];
            Tensor? x = src.Length switch
            {
                0 => null,
                1 => _block[src[0]],
                _ => src.Skip(1).Aggregate(_block[src[0]]!.clone(), (acc, s) => acc.Plus_(_block[s]!)),
            };
            var g = graph.Groups[i];
            var before = _lifetime.StatesOf(i);
            var y = _precision.Round(((ISequenceGroup)g).StepSequence(x, steps)); // stored in the storage type, if any
            KeepBlock(plan, i, y, steps, before, "StepSequence");
        }
    }

    /// <summary>
    /// Takes group <paramref name="i"/>'s block output <paramref name="y"/> [batch, steps, N] after a whole-block pass
    /// (checked, kept past the block's scope, sliced per step where the plan says so) and frees the states it replaced.
    /// </summary>
    private void KeepBlock(ExecutionPlan plan, int i, Tensor y, int steps, (Parameters.StateVariable, Tensor?)[] before, string source)
    {
        var ctx = _state.Context;
        var g = plan.Graph.Groups[i];
        var shape = y.Sizes(); // read once: each read is a native call per dimension and a new array
        if (shape.Length != 3 || shape[0] != ctx.BatchSize || shape[1] != steps || shape[2] != g.OutputSize)
            throw new ShipException($"Group '{g.DisplayName}' ({g.GetType().Name}) returned {Shapes.Format(shape)} from {source}, expected [{ctx.BatchSize}, {steps}, {g.OutputSize}].");
        _block[i] = y.DetachFromDisposeScope();
        _lifetime.AddTemporary(y);
        if (plan.Slices[i])
        {
            _slices[i] = y.unbind(1).Select(t => t.DetachFromDisposeScope()).ToArray();
            foreach (var t in _slices[i]) _lifetime.AddTemporary(t);
        }
        foreach (var v in _state.Variables[i]) v.Tensor?.DetachFromDisposeScope();
        _lifetime.StatesReplaced(before);
    }

    private void ComputeChain(ExecutionPlan plan, int[] chain, int steps)
    {
        var graph = plan.Graph;
        var before = new (Parameters.StateVariable, Tensor?)[chain.Length][];
        var links = new ChainLink[chain.Length];
        for (int k = 0; k < chain.Length; k++)
        {
            before[k] = _lifetime.StatesOf(chain[k]);
            links[k] = ((IChainGroup)graph.Groups[chain[k]]).OpenLink();
        }
        var blocks = FusedChain.Run(links, _block[graph.Sources[chain[0]][0]]!, _tape);
        for (int k = 0; k < chain.Length; k++) KeepBlock(plan, chain[k], blocks[k], steps, before[k], "its fused-chain link");
    }

    private void Step(ExecutionPlan plan, int stepInBlock)
    {
        var graph = plan.Graph;
        var ctx = _state.Context;
        ctx.Time = _state.Timeline.Now;
        _state.Timeline.Advance(plan.Dt);
        // A delayed output is known before its group runs, so a back edge from it reads this step's value (no artefact).
        foreach (var i in plan.Prefetch) _state.SetLatest(i, graph.Groups[i].PeekDelayedOutput(), owned: false);
        Array.Clear(_current);
        foreach (var i in plan.Stepped)
        {
            var g = graph.Groups[i];
            Tensor y;
            if (plan.Sequence[i]) y = _slices[i][stepInBlock];
            else
            {
                var src = graph.Sources[i];
                var x = src.Length switch { 0 => null, 1 => _state.Latest[src[0]], _ => SumOf(src) };
                y = g.Step(x);
                if (_checkShapes) CheckOutput(g, y);
                if (_precision.RoundsOutputs) y = _precision.Round(y);
            }
            _state.SetLatest(i, y, owned: false);
            _current[i] = y;
        }
        _checkShapes = false;
        _step.StepIndex = ctx.StepIndex;
        _step.Time = ctx.Time;
        _step.Dt = plan.Dt;
        _step.EndTime = _state.Timeline.Now;
        _step.Plan = plan;
        foreach (var o in _observers) o.OnStep(_step);
        ctx.StepIndex++;
    }

    private void EndBlock(ExecutionPlan plan, long first, int length)
    {
        var graph = plan.Graph;
        // The last step of a whole-block output, as a small copy of its own: a view would keep the whole block (and its
        // autograd graph) alive. Nothing computes from it in this block; it is what the next block and checkpoints read.
        for (int i = 0; i < graph.Count; i++)
            if (plan.Sequence[i])
                _state.SetLatest(i, LastStep(_block[i]!, length, graph.Groups[i].OutputSize).DetachFromDisposeScope(), owned: true);
        _blockView.FirstStep = first;
        _blockView.Steps = length;
        _blockView.Dt = plan.Dt;
        _blockView.Plan = plan;
        var endTimes = new double[length];
        var times = _state.Timeline.Times;
        for (int k = 0; k < length; k++) endTimes[k] = times[(int)(first + k)];
        _blockView.EndTimes = endTimes;
        foreach (var o in _observers) o.OnBlockEnd(_blockView);
        Array.Clear(_block);
        Array.Clear(_slices);
        _lifetime.EndBlock();
    }

    /// <summary>
    /// A copy [batch, N] of step <paramref name="length"/> − 1 of a block [batch, length, N], without a graph. A contiguous
    /// host block is copied row by row into one new tensor (one native call); otherwise a view and its clone (two).
    /// </summary>
    private Tensor LastStep(Tensor block, int length, int n)
    {
        int batch = _state.Context.BatchSize;
        long rowBytes = (long)n * block.ElementSize;
        if (block.device_type == DeviceType.CPU && block.is_contiguous() && rowBytes * length * batch <= int.MaxValue)
        {
            var copy = torch.empty(new long[] { batch, n }, dtype: block.dtype, device: block.device);
            var from = block.bytes;
            var to = copy.bytes;
            int row = (int)rowBytes;
            for (int b = 0; b < batch; b++)
                from.Slice((int)(((long)b * length + length - 1) * rowBytes), row).CopyTo(to.Slice(b * row, row));
            return copy;
        }
        using var noGrad = torch.no_grad(); // a copy without a graph: two native calls, not three (detach)
        using var last = block.select(1, length - 1);
        // A strided block (a narrow product computed transposed) gives a row-major copy, as every other latest output.
        return last.is_contiguous() ? last.clone() : last.contiguous();
    }

    private Tensor SumOf(int[] src)
    {
        var acc = _state.Latest[src[0]]!.Plus(_state.Latest[src[1]]!);
        for (int k = 2; k < src.Length; k++) acc.Plus_(_state.Latest[src[k]]!);
        return acc;
    }

    private void CheckOutput(Group g, Tensor y)
    {
        var ctx = _state.Context;
        if (y is null || y.dim() != 2 || y.Sizes()[0] != ctx.BatchSize || y.Sizes()[1] != g.OutputSize)
            throw new ShipException(
                $"Group '{g.DisplayName}' ({g.GetType().Name}) returned {(y is null ? "null" : Shapes.Format(y.Sizes()))} from Step, expected [{ctx.BatchSize}, {g.OutputSize}].");
    }
}
