using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Wrappers;

/// <summary>
/// Output delay (axonal latency) around any group (SHIP's delayed): y_out[t] = y[t − d], d = round(delay / dt) steps
/// (ties round up; d = 0 passes the output through), zeros before the first value arrives. Only what the network sees is
/// delayed: wrappers outside it (refractoriness, winner-take-all) still react to the spikes of this step, so the wrapper
/// order does not matter. Pending values live in a queue (state "delay_queue", [C, batch, OutputSize], slot k = output
/// of the k-th coming step). With d ≥ 1 the next output is known in advance (<see cref="OutputDelaySteps"/>,
/// <see cref="PeekDelayedOutput"/>), so a recurrent loop through the delay has no extra lag.
/// At a dt change every value in flight keeps its remaining flight time: with r steps of dt_old to go it arrives after
/// max(1, round(r · dt_old / dt_new)) steps of dt_new; values meeting in one step add up, so each is delivered exactly
/// once (SHIP empties the buffer instead).
/// </summary>
[ShipModel("Delay")]
public sealed class Delay : GroupWrapper, IUndelayedOutput, IRollbackState, IShipModel<Delay, Delay.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(Group Inner, double Seconds);

    /// <inheritdoc />
    public Settings GetSettings() => new(Inner, Seconds);

    /// <inheritdoc />
    public static Delay FromSettings(Settings settings) => new(settings.Inner, settings.Seconds);

    private readonly Derived<int> _steps;
    private readonly Derived<Tensor?> _slot;
    private double _queueDt = double.NaN;
    private Tensor? _undelayed;

    /// <summary>Delays the output of <paramref name="inner"/> by <paramref name="delay"/> seconds (≥ 0).</summary>
    public Delay(Group inner, double delay) : base(inner)
    {
        if (!(delay >= 0) || double.IsInfinity(delay))
            throw new ParameterException(GetType().Name, "delay", $"the delay must be a finite number of seconds >= 0, got {delay}.");
        Seconds = delay;
        Queue = State("delay_queue", Extent.Batch | Extent.Component, 0.0);
        NotMonitorable(Queue, "it is a queue [slots, batch, N] whose length changes with dt; monitor the group's output instead");
        WrapperStack.CheckNames(this);
        _steps = Derive("steps", dt => DelayFunctional.StepsFor(Seconds, dt));
        _slot = Derive("slot", _ => _steps.Value >= 1 ? torch.tensor(new long[] { _steps.Value - 1 }, device: Context.Device) : null);
    }

    /// <summary>The delay in seconds.</summary>
    public double Seconds { get; }
    /// <summary>The delay in steps at the current dt.</summary>
    public int Steps => IsBound ? _steps.Value : 0;
    /// <summary>Pending outputs [C, batch, OutputSize], C ≥ <see cref="Steps"/>; slot 0 is the next output.</summary>
    public StateVariable Queue { get; }

    /// <inheritdoc />
    public Tensor UndelayedOutput => _undelayed ?? throw new ShipException($"Group '{DisplayName}' has not stepped yet: no undelayed output.");

    /// <inheritdoc />
    public override int OutputDelaySteps => Steps + Inner.OutputDelaySteps;

    /// <inheritdoc />
    public override int OutputDelayStepsAt(double dt) => DelayFunctional.StepsFor(Seconds, dt) + Inner.OutputDelayStepsAt(dt);

    /// <inheritdoc />
    public override void ValidateTimeStep(double dt)
    {
        base.ValidateTimeStep(dt);
        if (Seconds / dt + 0.5 > int.MaxValue)
            throw new ParameterException(DisplayName, "delay", $"a delay of {Seconds} s is more than {int.MaxValue} steps of {dt} s.");
    }

    /// <summary>The dt the queue is laid out for and the last undelayed output, put back if a call fails (it may end at another dt).</summary>
    RollbackPoint IRollbackState.Capture(bool reset)
    {
        var (queueDt, undelayed) = (_queueDt, _undelayed);
        return new(() => (_queueDt, _undelayed) = (queueDt, undelayed));
    }

    /// <inheritdoc />
    protected override void OnTimeStepPrepared(double dt)
    {
        // Pending outputs keep their remaining delay in seconds across a dt change (the coefficients are already for dt).
        if (Queue.Tensor is { } q && q.dim() == 3 && dt != _queueDt)
        {
            Queue.Tensor = Keep(DelayFunctional.Remap(q, 0, _queueDt, dt, _steps.Value));
            Context.ReleaseReplaced(q);
        }
        _queueDt = dt;
    }

    /// <inheritdoc />
    protected override void OnReset()
    {
        base.OnReset();
        var ctx = Context;
        // The reset just materialized the queue from its declaration; its shape follows the delay in steps: replaced, and
        // the fresh tensor freed (it was left to the finalizer at every run).
        Queue.Tensor?.Dispose();
        Queue.Tensor = Keep(torch.zeros(new long[] { _steps.Value, ctx.BatchSize, OutputSize }, dtype: ctx.DType, device: ctx.Device));
        _queueDt = _steps.Dt;
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var y = Inner.Step(input);
        _undelayed = WrapperStack.Undelayed(Inner, y);
        var (output, queue) = DelayFunctional.Step(Queue.Value, y, _steps.Value, _slot.Value);
        Queue.Tensor = queue;
        return output;
    }

    /// <inheritdoc />
    public override Tensor PeekDelayedOutput()
    {
        var q = Queue.Value;
        if (_steps.Value >= 1) return q[0];
        var next = Inner.PeekDelayedOutput();
        return q.Sizes()[0] > 0 ? next.Plus(q[0]) : next;
    }
}

/// <summary>Delay queues as pure functions (slot k of axis <c>dim</c> = value due in the k-th coming step), shared by <see cref="Delay"/> and the heterogeneous-delay synapse.</summary>
public static class DelayFunctional
{
    /// <summary>round(seconds / dt), ties up, with a 1e-9-step tolerance so that 3 ms / 1 ms is 3 whatever the rounding of the quotient.</summary>
    public static int StepsFor(double seconds, double dt)
    {
        double steps = Math.Floor(seconds / dt + 0.5 + 1e-9);
        if (steps > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(seconds), seconds, $"a delay of {seconds} s is more than {int.MaxValue} steps of {dt} s.");
        return (int)steps;
    }

    /// <summary>
    /// One step of a uniform delay of <paramref name="steps"/>: returns (output, new queue). With d = 0 the value passes
    /// through (plus anything still pending from before a dt change); with d ≥ 1 the output is the head of the queue and
    /// <paramref name="y"/> joins it d steps ahead. <paramref name="slot"/> is the index tensor [d − 1], cached by the caller.
    /// </summary>
    public static (Tensor Output, Tensor Queue) Step(Tensor queue, Tensor y, int steps, Tensor? slot)
    {
        long capacity = queue.Sizes()[0];
        if (steps == 0)
            return capacity == 0 ? (y, queue) : (y.Plus(queue[0]), queue.narrow(0, 1, capacity - 1));
        var output = queue[0];
        var rest = queue.narrow(0, 1, capacity - 1);
        var next = capacity == steps
            ? torch.cat(new[] { rest, y.unsqueeze(0) }, 0)
            : rest.index_add(0, slot!, y.unsqueeze(0), 1);
        return (output, next);
    }

    /// <summary>
    /// Re-expresses a queue of dt_old slots in dt_new slots, each value keeping its remaining flight time: slot k (due
    /// after k + 1 old steps) moves to slot max(1, round((k + 1)·dt_old/dt_new)) − 1. The result has at least
    /// <paramref name="minSlots"/> slots; values landing in one slot add up, so nothing is lost or duplicated.
    /// </summary>
    public static Tensor Remap(Tensor queue, int dim, double dtOld, double dtNew, int minSlots)
    {
        long capacity = queue.Sizes()[dim];
        var target = new long[capacity];
        long size = minSlots;
        for (long k = 0; k < capacity; k++)
        {
            target[k] = Math.Max(1, StepsFor((k + 1) * dtOld, dtNew)) - 1;
            size = Math.Max(size, target[k] + 1);
        }
        var shape = queue.Sizes();
        shape[dim] = size;
        var result = torch.zeros(shape, dtype: queue.dtype, device: queue.device);
        if (capacity == 0) return result;
        using var index = torch.tensor(target, device: queue.device);
        return result.index_add(dim, index, queue, 1);
    }
}
