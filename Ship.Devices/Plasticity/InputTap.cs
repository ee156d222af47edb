using Ship.Core.Groups;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Plasticity;

/// <summary>
/// A transparent wrapper that remembers the last input its group received, so that a learning block can read a
/// synapse's presynaptic spikes without a second network connection (a group's sources would be summed). It changes
/// nothing in the wrapped group's behaviour; add the tap to the network in place of the group.
/// </summary>
public sealed class InputTap : GroupWrapper
{
    /// <summary>Wraps <paramref name="inner"/>, which must not belong to a network yet.</summary>
    public InputTap(Group inner) : base(inner) { }

    /// <summary>The input of the most recent step (valid during that step only), or null before the first step.</summary>
    public Tensor? LastInput { get; private set; }

    /// <summary>Steps taken since creation; a reader compares it with its own count to know the input is this step's.</summary>
    public long StepCount { get; private set; }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        LastInput = input;
        StepCount++;
        return Inner.Step(input);
    }
}
