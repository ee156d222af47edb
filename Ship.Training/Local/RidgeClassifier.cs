using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Training.Local;

/// <summary>
/// Linear classifier fitted in closed form (ridge regression on one-hot targets, with a bias): a deterministic,
/// optimizer-free linear readout of features. W = (X̃ᵀX̃ + λ·I')⁻¹X̃ᵀY with X̃ = [X, 1] and I' not penalizing the bias;
/// predicts argmax of X̃·W.
/// </summary>
public sealed class RidgeClassifier
{
    private RidgeClassifier(Tensor weights) => Weights = weights;

    /// <summary>Weights [D + 1, classes] (float64), the last row being the bias.</summary>
    public Tensor Weights { get; }

    /// <summary>Fits on features [n, D] and labels [n] (int64) with penalty <paramref name="lambda"/> ≥ 0.</summary>
    public static RidgeClassifier Fit(Tensor features, Tensor labels, int classes, double lambda = 1.0)
    {
        if (!(lambda >= 0) || !double.IsFinite(lambda)) throw new ParameterException(nameof(RidgeClassifier), "lambda", $"must be ≥ 0 and finite, got {lambda}.");
        var (x, y) = ReadoutChecks.Check(nameof(RidgeClassifier), features, labels, classes);
        using var scope = torch.NewDisposeScope();
        var xb = torch.cat(new[] { x, torch.ones(x.Sizes()[0], 1, dtype: ScalarType.Float64) }, 1);
        var target = torch.nn.functional.one_hot(y, classes).to_type(ScalarType.Float64);
        long d = xb.Sizes()[1];
        var penalty = torch.eye(d, dtype: ScalarType.Float64).mul_(lambda);
        penalty[d - 1, d - 1] = 0.0;
        // A tiny jitter keeps the system solvable when λ = 0 and some features are constant.
        var gram = xb.t().mm(xb).add_(penalty).add_(torch.eye(d, dtype: ScalarType.Float64).mul_(1e-9));
        var w = torch.linalg.solve(gram, xb.t().mm(target));
        return new RidgeClassifier(w.MoveToOuterDisposeScope());
    }

    /// <summary>Predicted class per sample [n] (int64).</summary>
    public Tensor Predict(Tensor features)
    {
        using var scope = torch.NewDisposeScope();
        var x = features.to_type(ScalarType.Float64).flatten(1);
        var xb = torch.cat(new[] { x, torch.ones(x.Sizes()[0], 1, dtype: ScalarType.Float64) }, 1);
        return xb.mm(Weights).argmax(1).MoveToOuterDisposeScope();
    }

    /// <summary>Fraction of samples predicted right.</summary>
    public double Accuracy(Tensor features, Tensor labels) => ReadoutChecks.Accuracy(Predict(features), labels);
}
