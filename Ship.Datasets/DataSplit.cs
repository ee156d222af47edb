using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets;

/// <summary>Seeded train/test splits computed from labels only, so the same seed always holds out the same samples.</summary>
public static class DataSplit
{
    /// <summary>
    /// Stratified hold-out: for every class c with n_c samples, round(testFraction·n_c) samples (half away from zero)
    /// chosen by a random permutation of that class go to the test part, the rest to the training part. Both parts list
    /// their sample indices in ascending order (shuffle with a loader). The permutation comes from a torch.Generator
    /// seeded with <paramref name="seed"/>, never the global generator.
    /// </summary>
    /// <returns>int64 index tensors (train, test) into the original samples.</returns>
    public static (Tensor Train, Tensor Test) Stratified(Tensor labels, double testFraction = 0.2, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.dim() != 1) throw new ArgumentException($"labels must be 1-D [n], got {labels.dim()}-D.", nameof(labels));
        if (!(testFraction >= 0 && testFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "the test fraction must be in [0, 1].");
        long[] y;
        using (var l = labels.to(ScalarType.Int64, CPU)) y = l.data<long>().ToArray();
        var classes = y.Distinct().OrderBy(c => c).ToArray();
        var gen = new torch.Generator(unchecked((ulong)seed));
        var train = new List<long>();
        var test = new List<long>();
        foreach (var c in classes)
        {
            var members = Enumerable.Range(0, y.Length).Where(i => y[i] == c).Select(i => (long)i).ToArray();
            int nTest = (int)Math.Round(testFraction * members.Length, MidpointRounding.AwayFromZero);
            long[] perm;
            using (var p = torch.randperm(members.Length, generator: gen)) perm = p.data<long>().ToArray();
            for (int k = 0; k < perm.Length; k++) (k < nTest ? test : train).Add(members[perm[k]]);
        }
        train.Sort();
        test.Sort();
        return (torch.tensor(train.ToArray(), ScalarType.Int64), torch.tensor(test.ToArray(), ScalarType.Int64));
    }
}
