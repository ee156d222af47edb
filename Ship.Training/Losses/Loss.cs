using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Training.Losses;

/// <summary>A scalar loss of scores [batch, N] against targets (class indices [batch] or values [batch, N]).</summary>
public interface ILoss
{
    /// <summary>The mean loss over the batch.</summary>
    Tensor Compute(Tensor scores, Tensor target);
    /// <summary>Throws a <see cref="LossInputException"/> if <paramref name="target"/> cannot be compared with scores of this shape (checked before a run).</summary>
    void Check(long[] scoresShape, Tensor target) => LossChecks.Real(Name, "target", target);
    /// <summary>Name for summaries.</summary>
    string Name { get; }
}

/// <summary>Negative log-likelihood on log-softmax of the scores (SHIP's only loss), targets as class indices.</summary>
public sealed class NllLoss : ILoss, ICheckedLoss
{
    /// <inheritdoc />
    public void Check(long[] scoresShape, Tensor target) => LossChecks.ClassIndices(Name, "target", scoresShape, target);
    /// <inheritdoc />
    public Tensor Compute(Tensor scores, Tensor target) => this.CheckThen(scores, target) ?? ComputeChecked(scores, target);
    // libtorch's cross-entropy of class indices is this very composition (log-softmax over dim 1, then the NLL with its
    // defaults), the same kernels forward and backward, in one native call instead of two.
    /// <inheritdoc />
    public Tensor ComputeChecked(Tensor scores, Tensor target) =>
        nn.functional.cross_entropy(scores, target.dtype == ScalarType.Int64 ? target : target.to_type(ScalarType.Int64));
    /// <inheritdoc />
    public string Name => "nll(log-softmax)";
}

/// <summary>Cross-entropy of logits with class-index targets, optionally label-smoothed.</summary>
public sealed class CrossEntropyLoss(double labelSmoothing = 0) : ILoss, ICheckedLoss
{
    /// <inheritdoc />
    public void Check(long[] scoresShape, Tensor target) => LossChecks.ClassIndices(Name, "target", scoresShape, target);
    /// <inheritdoc />
    public Tensor Compute(Tensor scores, Tensor target) => this.CheckThen(scores, target) ?? ComputeChecked(scores, target);
    /// <inheritdoc />
    public Tensor ComputeChecked(Tensor scores, Tensor target) =>
        nn.functional.cross_entropy(scores, target.dtype == ScalarType.Int64 ? target : target.to_type(ScalarType.Int64), label_smoothing: labelSmoothing);
    /// <inheritdoc />
    public string Name => labelSmoothing == 0 ? "cross-entropy" : $"cross-entropy(smoothing={labelSmoothing})";
}

/// <summary>Mean squared error between scores (e.g. spike counts) and target values of the same shape.</summary>
public sealed class MseLoss : ILoss, ICheckedLoss
{
    /// <inheritdoc />
    public void Check(long[] scoresShape, Tensor target) => LossChecks.SameShape(Name, scoresShape, target);
    /// <inheritdoc />
    public Tensor Compute(Tensor scores, Tensor target) => this.CheckThen(scores, target) ?? ComputeChecked(scores, target);
    /// <inheritdoc />
    public Tensor ComputeChecked(Tensor scores, Tensor target) => nn.functional.mse_loss(scores, target.to_type(scores.dtype));
    /// <inheritdoc />
    public string Name => "mse";
}

/// <summary>Any user function of (scores, target) returning a scalar tensor.</summary>
public sealed class CustomLoss(string name, Func<Tensor, Tensor, Tensor> function) : ILoss
{
    /// <inheritdoc />
    public Tensor Compute(Tensor scores, Tensor target) => function(scores, target);
    /// <inheritdoc />
    public string Name => name;
}

/// <summary>
/// A built-in loss whose <see cref="ILoss.Check"/> is complete (libtorch accepts every target it passes): the trainer,
/// having checked the target before the run, computes it without checking again and needs no probe.
/// </summary>
internal interface ICheckedLoss
{
    /// <summary>The loss of a target that <see cref="ILoss.Check"/> accepted for these scores' shape.</summary>
    Tensor ComputeChecked(Tensor scores, Tensor target);
}

/// <summary>Shared by the built-in losses: the check runs on the actual scores too, for callers that skip the trainer.</summary>
internal static class LossCheckExtensions
{
    /// <summary>Checks and returns null, so <c>CheckThen(…) ?? compute</c> reads as one expression.</summary>
    public static Tensor? CheckThen(this ILoss loss, Tensor scores, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(scores);
        loss.Check(scores.Sizes(), target);
        return null;
    }
}
