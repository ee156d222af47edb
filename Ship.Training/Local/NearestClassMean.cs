using Ship.Core.Errors;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Training.Local;

/// <summary>
/// Nearest-class-mean readout: the simplest check that unsupervised features separate the classes, with nothing
/// trained but one mean per class. Predicts argmin_c ‖x − μ_c‖² with μ_c the mean feature vector of class c.
/// </summary>
public sealed class NearestClassMean
{
    private NearestClassMean(Tensor means) => Means = means;

    /// <summary>Class means [classes, D] (float64).</summary>
    public Tensor Means { get; }

    /// <summary>Computes the means from features [n, D] and labels [n] (int64, 0..classes−1); a class without samples is an error.</summary>
    public static NearestClassMean Fit(Tensor features, Tensor labels, int classes)
    {
        var (x, y) = ReadoutChecks.Check(nameof(NearestClassMean), features, labels, classes);
        using var scope = torch.NewDisposeScope();
        var onehot = torch.nn.functional.one_hot(y, classes).to_type(ScalarType.Float64);          // [n, classes]
        var counts = onehot.sum(new long[] { 0 }); // (a bare 0 would bind to the dtype overload)
        if (counts.min().item<double>() == 0)
            throw new InputException(nameof(NearestClassMean), "every class needs at least one training sample.");
        var means = onehot.t().mm(x).div_(counts.unsqueeze(1));
        return new NearestClassMean(means.MoveToOuterDisposeScope());
    }

    /// <summary>Predicted class per sample [n] (int64).</summary>
    public Tensor Predict(Tensor features)
    {
        using var scope = torch.NewDisposeScope();
        var x = features.to_type(ScalarType.Float64).flatten(1);
        return torch.cdist(x, Means).argmin(1).MoveToOuterDisposeScope();
    }

    /// <summary>Fraction of samples predicted right.</summary>
    public double Accuracy(Tensor features, Tensor labels) => ReadoutChecks.Accuracy(Predict(features), labels);
}

/// <summary>Shared argument checks of the feature readouts.</summary>
internal static class ReadoutChecks
{
    internal static (Tensor X, Tensor Y) Check(string name, Tensor features, Tensor labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (classes < 1) throw new ParameterException(name, "classes", $"must be ≥ 1, got {classes}.");
        if (features.dim() < 2 || labels.dim() != 1 || features.Sizes()[0] != labels.Sizes()[0])
            throw new InputException(name, $"features must be [n, ...] and labels [n]; got {Shapes.Format(features.Sizes())} and {Shapes.Format(labels.Sizes())}.");
        var y = labels.to_type(ScalarType.Int64);
        if (y.numel() > 0 && (y.min().item<long>() < 0 || y.max().item<long>() >= classes))
            throw new InputException(name, $"labels must lie in 0..{classes - 1}.");
        return (features.to_type(ScalarType.Float64).flatten(1), y);
    }

    internal static double Accuracy(Tensor predicted, Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        return predicted.eq(labels.to_type(ScalarType.Int64)).to_type(ScalarType.Float64).mean().item<double>();
    }
}
