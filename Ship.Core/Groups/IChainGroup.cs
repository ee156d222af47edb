using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Groups;

/// <summary>
/// A sequence group that can also run as one link of a fused chain. Where the plan finds whole-block groups each of
/// which is the only reader of the one before (e.g. dense → LIF → dense → leaky integrator, the usual trained
/// network), it runs their whole-block forms inside one autograd node (<see cref="Networks.ExecutionPlan.Chains"/>)
/// instead of one node per group: the same kernels in the same order, so the same numbers, with a fraction of the
/// native calls and none of the per-node gradient buffers (docs/architecture.md, "Fused chains").
/// </summary>
public interface IChainGroup : ISequenceGroup
{
    /// <summary>Why this group cannot be a link of a fused chain in the coming run (asked once it can run as a whole block), or null when it can.</summary>
    string? LinkRefusal { get; }

    /// <summary>Opens this group's link for one block; the link starts from the group's current state.</summary>
    ChainLink OpenLink();
}

/// <summary>
/// One group's part in one block of a fused chain: a forward over the block without a graph, a backward from the
/// gradient of its block output, and the commit of its final state. A link holds no tensor of its own between forward
/// and backward: what the backward needs goes into the list the chain saves in the autograd graph, so it lives exactly
/// as long as the graph does.
/// </summary>
public abstract class ChainLink
{
    /// <summary>
    /// Tensors the link differentiates besides its input (the weights as read for this block, an initial state), in
    /// the order <see cref="Backward"/> writes their gradients: autograd inputs of the chain's node.
    /// </summary>
    public abstract IReadOnlyList<Tensor> Inputs { get; }

    /// <summary>How many final states [batch, width] carry gradients to the next block: outputs of the chain's node, in order.</summary>
    public virtual int GradStates => 0;

    /// <summary>
    /// Runs the block: <paramref name="x"/> [B, T, Nin] (host; the first link's may be an input that records a gradient,
    /// to be read detached) → [B, T, Nout], a tensor the caller owns; when
    /// <paramref name="saved"/> is not null, appends what <see cref="Backward"/> needs (<paramref name="inputNeedsGrad"/>:
    /// whether ∂L/∂x will be asked for). Keeps the final states for <see cref="FinalGradStates"/> and <see cref="Commit"/>.
    /// </summary>
    public abstract Tensor Forward(Tensor x, List<Tensor>? saved, bool inputNeedsGrad);

    /// <summary>After <see cref="Forward"/>: the <see cref="GradStates"/> final states that carry gradients, [B, N] each.</summary>
    public virtual IReadOnlyList<Tensor> FinalGradStates => Array.Empty<Tensor>();

    /// <summary>
    /// Stores the block's final states into the group: the gradient-carrying ones as given (<paramref name="gradStates"/>,
    /// made from the chain node's output, or <see cref="FinalGradStates"/> themselves without a graph), the others as
    /// the forward left them.
    /// </summary>
    public abstract void Commit(IReadOnlyList<Tensor> gradStates);

    /// <summary>
    /// The backward of the block from ∂L/∂y <paramref name="dy"/> [B, T, Nout] and the final states' gradients
    /// <paramref name="dStates"/>, reading <paramref name="saved"/> (what the forward appended, in order): writes the
    /// gradients of <see cref="Inputs"/> into <paramref name="dInputs"/> (null where none is needed) and returns ∂L/∂x
    /// when <paramref name="needDx"/>, else null.
    /// </summary>
    public abstract Tensor? Backward(Tensor dy, IReadOnlyList<Tensor> dStates, IReadOnlyList<Tensor> saved, bool needDx, Tensor?[] dInputs);
}
