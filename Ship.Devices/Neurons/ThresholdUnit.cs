using Ship.Core.Persistence;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using static TorchSharp.torch;

namespace Ship.Devices.Neurons;

/// <summary>Stateless threshold (NIR's Threshold node): z = 1 where x ≥ θ, else 0, in the same step; no memory, no reset.</summary>
[ShipModel("ThresholdUnit")]
public sealed class ThresholdUnit : NeuronGroup, IShipModel<ThresholdUnit, ThresholdUnit.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; the threshold is a parameter, saved separately).</summary>
    public sealed record Settings(int N);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount);

    /// <inheritdoc />
    public static ThresholdUnit FromSettings(Settings settings) => new(settings.N);

    /// <summary>Creates N threshold units with θ = <paramref name="threshold"/> unless set otherwise.</summary>
    public ThresholdUnit(int n, double threshold = 1.0) : base(n)
    {
        Threshold = Param("threshold", Extent.Component | Extent.Batch, threshold, Constraint.Finite);
    }

    /// <summary>The threshold θ.</summary>
    public Parameter Threshold { get; }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input) => ThresholdUnitFunctional.Step(
        input ?? zeros(new long[] { Context.BatchSize, ComponentCount }, dtype: Context.DType, device: Context.Device), Threshold.Value, Context.Spikes);
}

/// <summary>The threshold unit as a pure function.</summary>
public static class ThresholdUnitFunctional
{
    /// <summary>z = H(x − θ) with the network's spike function (Heaviside at ≥, or a surrogate when training).</summary>
    public static Tensor Step(Tensor x, Tensor threshold, ISpikeFunction? fire = null) => (fire ?? HeavisideSpikes.Instance).Fire(x, threshold);
}
