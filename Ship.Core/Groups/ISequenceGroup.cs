using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Groups;

/// <summary>
/// A group that can compute a whole segment of steps in one call when its input is known before the run (it is fed
/// only by inputs or by other such groups, with no path back to it). The stepper then replaces T per-step calls by
/// one, e.g. a dense synapse becomes one matrix product over batch × steps. <see cref="Group.Step"/> stays the
/// reference: the results and the final state must be identical to T calls of Step.
/// </summary>
/// <remarks>
/// Two questions decide whether the plan uses the sequence form, asked separately: <see cref="SequenceRefusal"/> (does
/// the maths allow it: a model's own answer, e.g. not while plasticity changes the weights within the run) and
/// <see cref="KernelRefusal"/> (does a fused kernel of the kernels layer serve it under the context's
/// <see cref="Networks.KernelPolicy"/>: asked only where the form needs one). The plan prints both reasons.
/// </remarks>
public interface ISequenceGroup
{
    /// <summary>Why the maths does not allow the sequence form for the coming run (e.g. a device reads noisy weights every step), or null when it does.</summary>
    string? SequenceRefusal { get; }

    /// <summary>Whether the maths allows the sequence form for the coming run (<see cref="SequenceRefusal"/> is null).</summary>
    bool CanRunSequence => SequenceRefusal is null;

    /// <summary>Why no fused kernel under the context's kernel policy serves the sequence form, or null when one does or the form needs none.</summary>
    string? KernelRefusal => null;

    /// <summary>Input [batch, steps, InputSize] (null without sources) at the current dt → output [batch, steps, OutputSize]; leaves the state as after <paramref name="steps"/> calls of Step.</summary>
    Tensor StepSequence(Tensor? input, int steps);
}

/// <summary>The plan's question to a sequence group, in one place.</summary>
public static class SequenceForm
{
    /// <summary>Why <paramref name="group"/> does not run as a whole segment in the coming run (the maths first, then the kernel policy), or null when it does.</summary>
    public static string? Refusal(ISequenceGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        return group.SequenceRefusal ?? group.KernelRefusal;
    }
}
