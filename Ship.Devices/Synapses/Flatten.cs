using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Groups;
using static TorchSharp.torch;

namespace Ship.Devices.Synapses;

/// <summary>
/// Flattens a map (NIR's Flatten): every Ship.NET group already holds its components flattened in C order, so the values
/// pass unchanged; the group keeps the input shape and the flattened axes so that an exported graph states them.
/// </summary>
[ShipModel("Flatten")]
public sealed class Flatten : SynapseGroup, IShipModel<Flatten, Flatten.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes).</summary>
    public sealed record Settings(int[] InputShape, int StartDim, int EndDim);

    /// <inheritdoc />
    public Settings GetSettings() => new(InputShape, StartDim, EndDim);

    /// <inheritdoc />
    public static Flatten FromSettings(Settings settings) => new(settings.InputShape, settings.StartDim, settings.EndDim);

    /// <summary>Creates the flatten of <paramref name="inputShape"/> (without batch) from axis <paramref name="startDim"/> to <paramref name="endDim"/> (NIR counts the batch-free axes from 0; −1 is the last).</summary>
    public Flatten(int[] inputShape, int startDim = 0, int endDim = -1)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Length == 0 || inputShape.Any(d => d < 1))
            throw new Ship.Core.Errors.ParameterException(GetType().Name, "input_type", $"expected a shape of sizes >= 1, got [{string.Join(", ", inputShape)}].");
        InputShape = (int[])inputShape.Clone();
        StartDim = startDim;
        EndDim = endDim;
    }

    /// <summary>Input shape (without batch).</summary>
    public int[] InputShape { get; }
    /// <summary>First flattened axis.</summary>
    public int StartDim { get; }
    /// <summary>Last flattened axis (−1: the last).</summary>
    public int EndDim { get; }

    /// <inheritdoc />
    public override void ValidateSizes()
    {
        long n = InputShape.Aggregate(1L, (a, b) => a * b);
        if (SourceCount != n || TargetCount != n)
            throw new NetworkConfigurationException($"Flatten '{DisplayName}' of [{string.Join(", ", InputShape)}] ({n} values) is wired to {SourceCount} sources and {TargetCount} targets.");
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input) => input!;
}
