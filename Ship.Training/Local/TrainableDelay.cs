using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Parameters;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Training.Local;

/// <summary>
/// Dense synapse with a continuous, trainable delay per connection: the integer delays of
/// <see cref="HeterogeneousDelay"/> have no gradient, so each delay d_ij ≥ 0 (in steps, any real value) is split into
/// n_ij = ⌊d_ij⌋ and f_ij = d_ij − n_ij and the input is linearly interpolated between the two neighbouring shifts:
///   y_t[j] = Σ_i w_ij · ((1 − f_ij)·x_{t−n_ij}[i] + f_ij·x_{t−n_ij−1}[i]),   x = 0 before the first step.
/// The output is continuous in d and differentiable almost everywhere, with ∂y_t[j]/∂d_ij = w_ij·(x_{t−n−1}[i] − x_{t−n}[i])
/// (the one-sided derivative from above at whole numbers); an integer d gives exactly the shift of HeterogeneousDelay.
/// Train "delay" with the <see cref="Trainer"/> (<c>Trainables.Of(net, tag, "delay")</c>): gradients reach the delays
/// through f (n is re-read from d at every call, so a delay may move across whole steps between runs) and the weights
/// and the input as usual. Negative values reached by an optimizer act as 0 (the derivative there is 0). A spike
/// delayed by a fractional amount arrives as two partial pulses, (1 − f) and f, in consecutive steps. Implementation:
/// a queue of future arrivals (state "arrivals" [batch, C, Nt], C = max n + 2) receives x_i·w_ij·(1 − f_ij) in slot
/// n_ij and x_i·w_ij·f_ij in slot n_ij + 1 each step; slot 0 is the output. Works with weight devices.
/// </summary>
[ShipModel("TrainableDelay")]
public sealed class TrainableDelay : WeightedSynapse, IShipModel<TrainableDelay, WeightedSynapse.WeightedSettings>
{
    /// <inheritdoc />
    public WeightedSettings GetSettings() => SynapseSettings();

    /// <inheritdoc />
    public static TrainableDelay FromSettings(WeightedSettings settings) => Restore(new TrainableDelay(0.0), settings);

    private readonly Derived<Slots> _slots;
    private readonly Derived<Tensor> _fraction;
    private Tensor? _pad;

    /// <summary>Whole parts ⌊d⌋ (smallest, largest) and the queue addresses of both parts of every connection, [2·Ns·Nt].</summary>
    private sealed record Slots(long Min, long Max, Tensor Index);

    /// <summary>Creates the synapse from delays in steps [Ns, Nt] (or broadcastable); weights default to uniform on [0, 1).</summary>
    public TrainableDelay(Value delays, Value? weights = null) : base(weights)
    {
        ArgumentNullException.ThrowIfNull(delays);
        Delays = Param("delay", Extent.Connection, delays, Constraint.NonNegative);
        Arrivals = State("arrivals", Extent.Batch | Extent.Component, 0.0);
        _slots = Derive("slots", _ => WholeSteps());
        // f keeps its graph to the delay parameter: derived at each call's preparation, under the call's gradient mode.
        _fraction = Derive("fraction", _ =>
        {
            var d = Delays.Value.expand(SourceCount, TargetCount).clamp_min(0);
            return d.sub(d.detach().floor());
        });
    }

    /// <summary>Per-connection delays in steps [Ns, Nt] (real values; the trainable parameter).</summary>
    public Parameter Delays { get; }
    /// <summary>Pending arrivals [batch, C, Nt]; slot 0 is the next output.</summary>
    public StateVariable Arrivals { get; }
    /// <summary>Smallest whole part ⌊d⌋ over the connections, as of the last preparation (each call re-reads the trained delays).</summary>
    public long MinSteps => _slots.Value.Min;
    /// <summary>Largest whole part ⌊d⌋ over the connections, as of the last preparation.</summary>
    public long MaxSteps => _slots.Value.Max;

    /// <inheritdoc />
    public override int OutputDelaySteps => IsBound ? (int)Math.Min(MinSteps, int.MaxValue) : 0;

    /// <inheritdoc />
    protected override void OnBind()
    {
        base.OnBind();
        _ = _slots.Value; // delays too long for a queue are refused at initialization
    }

    /// <inheritdoc />
    protected override void OnTimeStepPrepared(double dt)
    {
        // Delays trained between a run and its continuation may now need more slots: pending arrivals stay where they are.
        long need = MaxSteps + 2;
        if (Arrivals.Tensor is { } a && a.dim() == 3 && a.Sizes()[1] < need)
        {
            using var scope = torch.NewDisposeScope();
            var grown = torch.cat(new[] { a, torch.zeros(a.Sizes()[0], need - a.Sizes()[1], a.Sizes()[2], dtype: a.dtype, device: a.device) }, 1);
            Arrivals.Tensor = Keep(grown.DetachFromDisposeScope());
            Context.ReleaseReplaced(a);
        }
    }

    /// <summary>Reads the whole parts of the delays (no gradient) and the queue slots they address.</summary>
    private Slots WholeSteps()
    {
        var d = Delays.Value.detach().expand(SourceCount, TargetCount).clamp_min(0);
        var whole = d.floor();
        long min = (long)whole.min().to_type(ScalarType.Float64).item<double>();
        long max = (long)whole.max().to_type(ScalarType.Float64).item<double>();
        long slots = (max + 2) * Context.BatchSize * TargetCount;
        if (max + 2 > int.MaxValue || slots > (1L << 31))
            throw new ParameterException(DisplayName, "delay", $"the longest delay is {max} steps, which needs a queue of {slots} values; shorten it.");
        var targets = torch.arange(TargetCount, dtype: ScalarType.Int64, device: Context.Device);
        var first = whole.to_type(ScalarType.Int64).mul_(TargetCount).add_(targets).flatten();
        // Slot n_ij receives the (1 − f) part, slot n_ij + 1 the f part: one index_add per step.
        return new Slots(min, max, torch.cat(new[] { first, first.add(TargetCount) }));
    }

    /// <inheritdoc />
    protected override void OnReset()
    {
        base.OnReset();
        var ctx = Context;
        // The reset just materialized the queue from its declaration; its shape follows the delays in steps: replaced, and
        // the fresh tensor freed (it was left to the finalizer at every run).
        Arrivals.Tensor?.Dispose();
        Arrivals.Tensor = Keep(torch.zeros(new long[] { ctx.BatchSize, MaxSteps + 2, TargetCount }, dtype: ctx.DType, device: ctx.Device));
        _pad?.Dispose();
        _pad = Keep(torch.zeros(new long[] { ctx.BatchSize, 1, TargetCount }, dtype: ctx.DType, device: ctx.Device));
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var (output, arrivals) = TrainableDelayFunctional.Step(Arrivals.Value, input!, Weights, _fraction.Value, _slots.Value.Index, _pad!);
        Arrivals.Tensor = arrivals;
        return output;
    }

    /// <inheritdoc />
    public override Tensor PeekDelayedOutput() => MinSteps >= 1 ? Arrivals.Value.select(1, 0) : base.PeekDelayedOutput();
}

/// <summary>The interpolated-delay step as a pure function, so it can be tested and reused without a group.</summary>
public static class TrainableDelayFunctional
{
    /// <summary>
    /// One step: adds x[b, i]·w[i, j]·(1 − f[i, j]) into arrivals[b, n_ij, j] and x[b, i]·w[i, j]·f[i, j] into
    /// arrivals[b, n_ij + 1, j] (<paramref name="index"/> holds both slot addresses, [2·Ns·Nt]), returns slot 0 as the
    /// output and the queue moved on by one slot (<paramref name="pad"/> = zeros [B, 1, Nt]). Differentiable in x, w and f.
    /// </summary>
    public static (Tensor Output, Tensor Arrivals) Step(Tensor arrivals, Tensor x, Tensor weights, Tensor fraction, Tensor index, Tensor pad)
    {
        long b = arrivals.Sizes()[0], c = arrivals.Sizes()[1], nt = arrivals.Sizes()[2];
        var contributions = x.unsqueeze(2).mul(weights);
        var late = contributions.mul(fraction);
        var parts = torch.cat(new[] { contributions.sub(late).reshape(b, -1), late.reshape(b, -1) }, 1);
        var all = arrivals.reshape(b, c * nt).index_add(1, index, parts, 1).view(b, c, nt);
        return (all.select(1, 0), torch.cat(new[] { all.narrow(1, 1, c - 1), pad }, 1));
    }
}
