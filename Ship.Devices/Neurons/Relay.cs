using Ship.Core.Groups;
using static TorchSharp.torch;

namespace Ship.Devices.Neurons;

/// <summary>
/// N components that output the sum of their inputs unchanged in the same step: a junction where several synapses meet
/// or one output fans out, and the group behind NIR's Output node. Adds no lag and no state.
/// </summary>
public sealed class Relay : NeuronGroup
{
    /// <summary>Creates a relay of N components.</summary>
    public Relay(int n) : base(n) { }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input) => input ?? zeros(new long[] { Context.BatchSize, ComponentCount }, dtype: Context.DType, device: Context.Device);
}
