using Ship.Core.Groups;
using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Parameters;
using Ship.Devices.Wrappers;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Synapses;

/// <summary>How the per-connection delays of a <see cref="HeterogeneousDelay"/> synapse are given.</summary>
public enum DelayUnit
{
    /// <summary>Whole numbers of steps, whatever dt is.</summary>
    Steps,
    /// <summary>Seconds, converted to round(d / dt) steps (ties up) at every dt.</summary>
    Seconds,
}

/// <summary>
/// Dense synapse whose every connection has its own delay (SHIP has only a uniform delay per group):
///   y_t[j] = Σ_i w_ij · x_{t − d_ij}[i],   d_ij ≥ 0 steps (given in steps, or in seconds as round(d_ij / dt)),
/// with x = 0 before the first step. Each step the contributions x_t[i]·w_ij are added into a queue of future arrivals
/// (state "arrivals", [batch, C, Nt], slot k = what target j receives k steps from now, C = max d + 1) at slot d_ij,
/// and slot 0 is the output. With min d ≥ 1 the output depends only on past inputs: <see cref="OutputDelaySteps"/> and
/// <see cref="PeekDelayedOutput"/> let the network run it anywhere in the call order without a lag. With delays in
/// seconds, a dt change keeps each pending arrival's remaining flight time (as <see cref="Delay"/> does), so every
/// contribution arrives exactly once. Works with weight devices (see <see cref="WeightedSynapse"/>).
/// </summary>
[ShipModel("HeterogeneousDelay")]
public sealed class HeterogeneousDelay : WeightedSynapse, IShipModel<HeterogeneousDelay, HeterogeneousDelay.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(IWeightDevice? Device, bool Plastic, DelayUnit Unit);

    /// <inheritdoc />
    public Settings GetSettings() => new(WeightDevice, Plastic, Unit);

    /// <inheritdoc />
    public static HeterogeneousDelay FromSettings(Settings settings) => Restore(new HeterogeneousDelay(0.0, unit: settings.Unit), new WeightedSettings(settings.Device, settings.Plastic));

    private readonly Derived<Slots> _slots;
    private Tensor? _pad;
    private double _queueDt = double.NaN;

    /// <summary>Delays in whole steps (smallest, largest) and the queue address d_ij·Nt + j of every connection, flattened [Ns·Nt].</summary>
    private sealed record Slots(long Min, long Max, Tensor Index);

    /// <summary>Creates the synapse from delays [Ns, Nt] (or broadcastable) in <paramref name="unit"/>; weights default to uniform on [0, 1).</summary>
    public HeterogeneousDelay(Value delays, Value? weights = null, DelayUnit unit = DelayUnit.Steps) : base(weights)
    {
        ArgumentNullException.ThrowIfNull(delays);
        Unit = unit;
        Delays = Param("delay", Extent.Connection, delays, Constraint.NonNegative, ScalarType.Float64);
        Arrivals = State("arrivals", Extent.Batch | Extent.Component, 0.0);
        _slots = Derive("slots", SlotsAt);
    }

    /// <summary>Unit of the "delay" parameter.</summary>
    public DelayUnit Unit { get; }
    /// <summary>Per-connection delays [Ns, Nt], in steps or seconds (see <see cref="Unit"/>).</summary>
    public Parameter Delays { get; }
    /// <summary>Pending arrivals [batch, C, Nt]; slot 0 is the next output.</summary>
    public StateVariable Arrivals { get; }
    /// <summary>Smallest per-connection delay in steps at the current dt.</summary>
    public long MinSteps => _slots.Value.Min;
    /// <summary>Largest per-connection delay in steps at the current dt.</summary>
    public long MaxSteps => _slots.Value.Max;

    /// <inheritdoc />
    public override int OutputDelaySteps => IsBound ? (int)Math.Min(MinSteps, int.MaxValue) : 0;

    /// <inheritdoc />
    public override int OutputDelayStepsAt(double dt)
    {
        if (Unit == DelayUnit.Steps) return OutputDelaySteps;
        using var min = Delays.Value.min();
        return (int)Math.Min(Math.Floor(min.item<double>() / dt + 0.5 + 1e-9), int.MaxValue);
    }

    /// <inheritdoc />
    public override void ValidateTimeStep(double dt)
    {
        if (Unit == DelayUnit.Steps) return;
        using var max = Delays.Value.max();
        double longest = Math.Floor(max.item<double>() / dt + 0.5 + 1e-9);
        double slots = (longest + 1) * Context.BatchSize * TargetCount;
        if (longest > int.MaxValue || slots > (1L << 31))
            throw new ParameterException(DisplayName, "delay",
                $"the longest delay is {longest} steps at dt = {dt} s, which needs a queue of {slots} values; shorten it or raise dt.");
    }

    /// <inheritdoc />
    protected override void OnBind()
    {
        base.OnBind();
        _ = _slots.Value; // delays that are not whole steps, or too long, are refused at initialization
    }

    /// <inheritdoc />
    protected override void ParameterChanged(Parameter parameter)
    {
        if (ReferenceEquals(parameter, Delays)) FitArrivals();
        base.ParameterChanged(parameter);
    }

    /// <inheritdoc />
    protected override RollbackPoint CaptureRollback(bool reset)
    {
        double queueDt = _queueDt; // the dt the arrivals are laid out for: a failed call may end at another
        return RollbackPoint.Combine(base.CaptureRollback(reset), new(() => _queueDt = queueDt));
    }

    /// <inheritdoc />
    protected override void OnTimeStepPrepared(double dt)
    {
        // Pending arrivals keep their remaining flight time in seconds across a dt change.
        if (Unit == DelayUnit.Seconds && dt != _queueDt && Arrivals.Tensor is { } q && q.dim() == 3)
        {
            Arrivals.Tensor = Keep(DelayFunctional.Remap(q, 1, _queueDt, dt, 0));
            Context.ReleaseReplaced(q);
        }
        _queueDt = dt;
        FitArrivals();
    }

    // A longer delay (a new dt or new delays) needs more slots: pending arrivals stay where they are.
    private void FitArrivals()
    {
        long max = MaxSteps;
        if (Arrivals.Tensor is { } a && a.dim() == 3 && a.Sizes()[1] < max + 1)
        {
            using var scope = torch.NewDisposeScope();
            var grown = torch.cat(new[] { a, torch.zeros(a.Sizes()[0], max + 1 - a.Sizes()[1], a.Sizes()[2], dtype: a.dtype, device: a.device) }, 1);
            Arrivals.Tensor = Keep(grown.DetachFromDisposeScope());
            Context.ReleaseReplaced(a);
        }
    }

    private Slots SlotsAt(double dt)
    {
        var ctx = Context;
        var d = Delays.Value.expand(SourceCount, TargetCount);
        Tensor steps;
        if (Unit == DelayUnit.Steps)
        {
            steps = d.round();
            double worst = d.sub(steps).abs().max().item<double>();
            if (worst > 1e-9)
                throw new ParameterException(DisplayName, "delay",
                    $"delays in steps must be whole numbers (one is {worst:g3} away from the nearest); give DelayUnit.Seconds for delays in seconds.");
        }
        else steps = d.DivNumber(dt).AddNumber_(0.5 + 1e-9).floor_();
        long min = (long)steps.min().item<double>();
        long max = (long)steps.max().item<double>();
        long slots = (max + 1) * ctx.BatchSize * TargetCount;
        if (max > int.MaxValue || slots > (1L << 31))
            throw new ParameterException(DisplayName, "delay",
                $"the longest delay is {max} steps at dt = {dt} s, which needs a queue of {slots} values; shorten it or raise dt.");
        var targets = torch.arange(TargetCount, dtype: ScalarType.Int64, device: ctx.Device);
        var index = steps.to_type(ScalarType.Int64).to(ctx.Device).mul_(TargetCount).Plus_(targets).flatten();
        return new Slots(min, max, index);
    }

    /// <inheritdoc />
    protected override void OnReset()
    {
        base.OnReset();
        var ctx = Context;
        // The reset just materialized the queue from its declaration; its shape follows the delays in steps: replaced, and
        // the fresh tensor freed (it was left to the finalizer at every run).
        Arrivals.Tensor?.Dispose();
        Arrivals.Tensor = Keep(torch.zeros(new long[] { ctx.BatchSize, MaxSteps + 1, TargetCount }, dtype: ctx.DType, device: ctx.Device));
        _queueDt = _slots.Dt;
        _pad?.Dispose();
        _pad = Keep(torch.zeros(new long[] { ctx.BatchSize, 1, TargetCount }, dtype: ctx.DType, device: ctx.Device));
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var (output, arrivals) = HeterogeneousDelayFunctional.Step(Arrivals.Value, input!, Weights, _slots.Value.Index, _pad!);
        Arrivals.Tensor = arrivals;
        return output;
    }

    /// <inheritdoc />
    public override Tensor PeekDelayedOutput() => MinSteps >= 1 ? Arrivals.Value.select(1, 0) : base.PeekDelayedOutput();
}

/// <summary>The heterogeneous-delay step as a pure function, so it can be tested and reused without a group.</summary>
public static class HeterogeneousDelayFunctional
{
    /// <summary>
    /// One step: adds x[b, i]·w[i, j] into arrivals[b, d_ij, j] (<paramref name="index"/> holds d_ij·Nt + j, flattened
    /// [Ns·Nt]), returns slot 0 as the output and the queue moved on by one slot (<paramref name="pad"/> = zeros [B, 1, Nt]).
    /// </summary>
    public static (Tensor Output, Tensor Arrivals) Step(Tensor arrivals, Tensor x, Tensor weights, Tensor index, Tensor pad)
    {
        long b = arrivals.Sizes()[0], c = arrivals.Sizes()[1], nt = arrivals.Sizes()[2];
        var contributions = x.unsqueeze(2).mul(weights).reshape(b, -1);
        var all = arrivals.reshape(b, c * nt).index_add(1, index, contributions, 1).view(b, c, nt);
        return (all.select(1, 0), torch.cat(new[] { all.narrow(1, 1, c - 1), pad }, 1));
    }
}
