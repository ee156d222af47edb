using Ship.Core.Persistence;
using Ship.Core.Groups;
using static TorchSharp.torch;

namespace Ship.Devices.Neurons;

/// <summary>
/// N components that output the sum of their inputs unchanged in the same step: a junction where several synapses meet
/// or one output fans out, and the group behind NIR's Output node. Adds no lag and no state.
/// </summary>
[ShipModel("Relay")]
public sealed class Relay : NeuronGroup, IShipModel<Relay, Relay.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes).</summary>
    public sealed record Settings(int N);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount);

    /// <inheritdoc />
    public static Relay FromSettings(Settings settings) => new(settings.N);

    /// <summary>Creates a relay of N components.</summary>
    public Relay(int n) : base(n) { }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input) => input ?? zeros(new long[] { Context.BatchSize, ComponentCount }, dtype: Context.DType, device: Context.Device);
}
