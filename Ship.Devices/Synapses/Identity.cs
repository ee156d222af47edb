using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Groups;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Synapses;

/// <summary>One-to-one ideal wire (SHIP's linkS): passes the source output unchanged, so Ns must equal Nt.</summary>
[ShipModel("Identity")]
public sealed class Identity : SynapseGroup, IShipModel<Identity, NoSettings>
{
    /// <inheritdoc />
    public NoSettings GetSettings() => NoSettings.Instance;

    /// <inheritdoc />
    public static Identity FromSettings(NoSettings settings) => new();

    /// <inheritdoc />
    public override void ValidateSizes()
    {
        if (SourceCount != TargetCount)
            throw new NetworkConfigurationException($"Identity link '{DisplayName}' connects {SourceCount} sources to {TargetCount} targets; one-to-one needs equal sizes.");
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input) => input!;
}
