using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Groups;

/// <summary>
/// A group that can compute a whole segment of steps in one call when its input is known before the run (it is fed
/// only by inputs or by other such groups, with no path back to it). The stepper then replaces T per-step calls by
/// one, e.g. a dense synapse becomes one matrix product over batch × steps. <see cref="Group.Step"/> stays the
/// reference: the results and the final state must be identical to T calls of Step.
/// </summary>
public interface ISequenceGroup
{
    /// <summary>Whether the sequence form can serve the coming run (e.g. not when a device reads noisy weights every step).</summary>
    bool CanRunSequence { get; }

    /// <summary>Input [batch, steps, InputSize] (null without sources) at the current dt → output [batch, steps, OutputSize]; leaves the state as after <paramref name="steps"/> calls of Step.</summary>
    Tensor StepSequence(Tensor? input, int steps);
}
