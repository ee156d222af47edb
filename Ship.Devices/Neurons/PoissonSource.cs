using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Neurons;

/// <summary>
/// Autonomous Poisson spike source (SHIP's poissonN): each component spikes in a step with probability p = rate·dt,
/// independently across components, batch rows and steps. Draws come from the network's generator, so a seed
/// reproduces them. rate·dt must not exceed 1 (a step cannot hold more than one spike). Output: 0/1 in the network dtype.
/// </summary>
[ShipModel("PoissonSource")]
public sealed class PoissonSource : NeuronGroup, ISequenceGroup, ISourceGroup, IShipModel<PoissonSource, PoissonSource.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int N);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount);

    /// <inheritdoc />
    public static PoissonSource FromSettings(Settings settings) => new(settings.N);

    private readonly Derived<Tensor> _threshold;

    /// <summary>Creates N sources firing at 100 Hz (SHIP's default) unless set otherwise.</summary>
    public PoissonSource(int n, double rate = 100.0) : base(n)
    {
        Rate = Param("rate", Extent.Component | Extent.Batch, rate, Constraint.NonNegative);
        // u ~ U[0, 1) fires when u ≥ 1 − p, which has probability p, never fires for p = 0 and always for p = 1.
        // Double precision: in float32, 1 − p and the draws are rounded to 2^-24, which biases the small p of low
        // rates at small dt (e.g. 1 Hz at dt = 1 µs) by percents or suppresses them entirely.
        _threshold = Derive("threshold", dt => Rate.Value.to_type(ScalarType.Float64).MulNumber(dt).OneMinus());
    }

    /// <summary>Mean firing rate in Hz, scalar, per component or per batch row.</summary>
    public Parameter Rate { get; }

    /// <inheritdoc />
    public override void ValidateTimeStep(double dt)
    {
        // Every intermediate freed here: this runs at every call's validation (two tensors per call were left to the finalizer).
        using var wide = Rate.Value.to_type(ScalarType.Float64);
        using var p = wide.MulNumber(dt);
        using var top = p.max();
        double max = top.item<double>();
        if (max > 1)
            throw new ParameterException(DisplayName, "rate",
                $"rate·dt must be <= 1 (at most one spike per step); the highest rate gives {max} at dt = {dt} s: lower the rate or the time step.");
    }

    /// <inheritdoc />
    public string? SequenceRefusal => null;

    /// <summary>Draws all steps at once in step-major order, [T, B, N], from the group's own "spikes" stream: the numbers per-step draws consume.</summary>
    public Tensor StepSequence(Tensor? input, int steps)
    {
        if (input is not null)
            throw new NetworkConfigurationException($"Poisson source '{DisplayName}' generates its own spikes and takes no input: remove the connections into it.");
        var ctx = Context;
        var u = Draw.Rand(new long[] { steps, ctx.BatchSize, ComponentCount }, ScalarType.Float64, ctx.Device, ctx.Stream("spikes")).permute(1, 0, 2);
        var threshold = _threshold.Value;
        var thr = threshold.dim() == 2 ? threshold.unsqueeze(1) : threshold;
        var spikes = ctx.Spikes.Fire(u, thr);
        return spikes.dtype == ctx.DType ? spikes : spikes.to_type(ctx.DType);
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        if (input is not null)
            throw new NetworkConfigurationException($"Poisson source '{DisplayName}' generates its own spikes and takes no input: remove the connections into it.");
        var ctx = Context;
        var u = Draw.Rand(new long[] { ctx.BatchSize, ComponentCount }, ScalarType.Float64, ctx.Device, ctx.Stream("spikes"));
        var spikes = ctx.Spikes.Fire(u, _threshold.Value);
        return spikes.dtype == ctx.DType ? spikes : spikes.to_type(ctx.DType);
    }
}
