using System.Text.Json.Serialization;
using Ship.Core.Persistence;
using Ship.Core.Groups;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Plasticity;

/// <summary>
/// A transparent wrapper that remembers the last input its group received, so that a learning block can read a
/// synapse's presynaptic spikes without a second network connection (a group's sources would be summed). It changes
/// nothing in the wrapped group's behaviour; add the tap to the network in place of the group.
/// </summary>
[ShipModel("InputTap")]
public sealed class InputTap : GroupWrapper, IShipModel<InputTap, InputTap.Settings>
{
    /// <summary>Wraps <paramref name="inner"/>, which must not belong to a network yet.</summary>
    public InputTap(Group inner) : base(inner) { }

    /// <summary>The learning block that built this tap, or null for a tap made by hand.</summary>
    public PlasticityBlock? Block { get; internal set; }

    /// <summary>
    /// Construction settings: a block's tap is written as a reference to the network group holding the block (the block
    /// builds the tap again); a tap made by hand writes the group it wraps.
    /// </summary>
    public sealed record Settings(Group? Inner, [property: JsonConverter(typeof(GroupTagJsonConverter))] Group? Block);

    /// <inheritdoc />
    public Settings GetSettings() => Block is null ? new(Inner, null) : new(null, Block);

    /// <inheritdoc />
    public static InputTap FromSettings(Settings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Block is null)
            return new InputTap(settings.Inner ?? throw new CheckpointException(CheckpointProblem.Corrupted, "an InputTap's settings name neither the group it wraps nor its learning block."));
        var block = settings.Block as PlasticityBlock ?? (settings.Block as GroupWrapper)?.Find<PlasticityBlock>()
            ?? throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"group '{settings.Block.DisplayName}' ({settings.Block.GetType().Name}) holds no learning block, yet a tap refers to it.");
        return block.Tap;
    }

    /// <summary>The input of the most recent step (valid during that step only), or null before the first step.</summary>
    public Tensor? LastInput { get; internal set; }

    /// <summary>Steps taken since creation; a reader compares it with its own count to know the input is this step's.</summary>
    public long StepCount { get; internal set; }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        LastInput = input;
        StepCount++;
        return Inner.Step(input);
    }
}
