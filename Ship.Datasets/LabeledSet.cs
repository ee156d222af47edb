using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets;

/// <summary>
/// Samples and their labels, kept together so that subsets and splits can never misalign them.
/// Owns both tensors: dispose it (or let a dispose scope take them) when done.
/// </summary>
public sealed class LabeledSet : IDisposable
{
    /// <summary>Wraps samples [n, ...] and labels [n]; the first axes must agree.</summary>
    public LabeledSet(Tensor inputs, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(labels);
        if (inputs.dim() < 1 || labels.dim() != 1 || inputs.Sizes()[0] != labels.Sizes()[0])
            throw new ArgumentException(
                $"inputs must be [n, ...] and labels [n] with the same n; got inputs {Shapes.Format(inputs.Sizes())} and labels {Shapes.Format(labels.Sizes())}.");
        Inputs = inputs;
        Labels = labels;
    }

    /// <summary>Samples, first axis = sample.</summary>
    public Tensor Inputs { get; }

    /// <summary>Class labels (int64), one per sample.</summary>
    public Tensor Labels { get; }

    /// <summary>Number of samples.</summary>
    public long Count => Labels.Sizes()[0];

    /// <summary>The samples at <paramref name="indices"/> (int64 positions), as new tensors.</summary>
    public LabeledSet Subset(Tensor indices)
    {
        using var idx = indices.to(ScalarType.Int64, Inputs.device);
        return new LabeledSet(Inputs.index_select(0, idx), Labels.index_select(0, idx.to(Labels.device)));
    }

    /// <summary>A seeded stratified hold-out (see <see cref="DataSplit.Stratified"/>): each class keeps its share in both parts.</summary>
    public (LabeledSet Train, LabeledSet Test) Split(double testFraction = 0.2, long seed = 0)
    {
        var (train, test) = DataSplit.Stratified(Labels, testFraction, seed);
        using (train)
        using (test)
            return (Subset(train), Subset(test));
    }

    /// <summary>Frees both tensors.</summary>
    public void Dispose()
    {
        Inputs.Dispose();
        Labels.Dispose();
    }
}
