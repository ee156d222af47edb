using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using static TorchSharp.torch;

namespace Ship.Devices.Synapses;

/// <summary>One-to-one gain (NIR's Scale): y = s ⊙ x, s per target, so Ns must equal Nt.</summary>
[ShipModel("Scale")]
public sealed class Scale : SynapseGroup, IShipModel<Scale, NoSettings>
{
    /// <inheritdoc />
    public NoSettings GetSettings() => NoSettings.Instance;

    /// <inheritdoc />
    public static Scale FromSettings(NoSettings settings) => new();

    /// <summary>Creates the gain; <paramref name="scale"/> defaults to 1.</summary>
    public Scale(Value? scale = null)
    {
        Factor = Param("scale", Extent.Component, scale ?? 1.0, Constraint.Finite);
    }

    /// <summary>The gain s per target.</summary>
    public Parameter Factor { get; }

    /// <inheritdoc />
    public override void ValidateSizes()
    {
        if (SourceCount != TargetCount)
            throw new NetworkConfigurationException($"Scale '{DisplayName}' connects {SourceCount} sources to {TargetCount} targets; one-to-one needs equal sizes.");
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input) => input!.mul(Factor.Value);
}
