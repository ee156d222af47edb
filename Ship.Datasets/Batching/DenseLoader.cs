using System.Collections;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets.Batching;

/// <summary>One mini-batch: samples, their labels and where they sit in the data set. The caller owns the tensors.</summary>
/// <param name="X">Samples [B, ...].</param>
/// <param name="Y">Labels [B] (or targets [B, ...]).</param>
/// <param name="Indices">int64 positions of the samples in the loader's data.</param>
public sealed record Batch(Tensor X, Tensor Y, Tensor Indices) : IDisposable
{
    /// <summary>Number of samples in the batch (the last one can be smaller unless drop-last is set).</summary>
    public long Size => Indices.Sizes()[0];

    /// <summary>Frees the three tensors.</summary>
    public void Dispose()
    {
        X.Dispose();
        Y.Dispose();
        Indices.Dispose();
    }
}

/// <summary>
/// Mini-batches over dense data x [n, ...] and y [n, ...]. Each enumeration is one epoch; with shuffling, epoch e
/// visits the samples in a permutation drawn from a generator seeded by (seed, e) alone (see <see cref="EpochSeeds"/>),
/// so the same seed gives the same orders, epochs differ from each other, and no global generator is touched.
/// Every sample appears exactly once per epoch, except the last n mod B samples of the order when drop-last is set
/// (useful because a network's batch size is fixed).
/// </summary>
public sealed class DenseLoader : IEnumerable<Batch>
{
    private readonly Tensor _x;
    private readonly Tensor _y;

    /// <summary>Creates a loader over <paramref name="x"/> [n, ...] and <paramref name="y"/> [n, ...]; the tensors are borrowed, not copied.</summary>
    public DenseLoader(Tensor x, Tensor y, int batchSize, bool shuffle = true, bool dropLast = false, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        EpochSeeds.CheckBatchSize(batchSize);
        if (x.dim() < 1 || y.dim() < 1 || x.Sizes()[0] != y.Sizes()[0] || x.Sizes()[0] == 0)
            throw new ArgumentException($"x [n, ...] and y [n, ...] must have the same n ≥ 1; got x {Shapes.Format(x.Sizes())} and y {Shapes.Format(y.Sizes())}.");
        _x = x;
        _y = y;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        Seed = seed;
    }

    /// <summary>Creates a loader over a labeled set (borrowed).</summary>
    public DenseLoader(LabeledSet data, int batchSize, bool shuffle = true, bool dropLast = false, long seed = 0)
        : this(data.Inputs, data.Labels, batchSize, shuffle, dropLast, seed) { }

    /// <summary>Number of samples.</summary>
    public long Count => _x.Sizes()[0];
    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }
    /// <summary>Whether each epoch uses a fresh permutation.</summary>
    public bool Shuffle { get; }
    /// <summary>Whether a last batch smaller than <see cref="BatchSize"/> is skipped.</summary>
    public bool DropLast { get; }
    /// <summary>Seed of the loader's own generators.</summary>
    public long Seed { get; }
    /// <summary>Epoch that the next enumeration (foreach) gives; counts up from 0.</summary>
    public int NextEpoch { get; set; }
    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => EpochSeeds.BatchCount(Count, BatchSize, DropLast);

    /// <summary>The order (int64 positions) in which epoch <paramref name="epoch"/> visits the samples.</summary>
    public Tensor Order(int epoch)
    {
        EpochSeeds.CheckEpoch(epoch);
        return torch.tensor(OrderArray(epoch), ScalarType.Int64);
    }

    /// <summary>The batches of epoch <paramref name="epoch"/>, without changing <see cref="NextEpoch"/>.</summary>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        EpochSeeds.CheckEpoch(epoch);
        return Iterate(epoch);
    }

    private IEnumerable<Batch> Iterate(int epoch)
    {
        var order = OrderArray(epoch);
        int batches = BatchesPerEpoch;
        for (int b = 0; b < batches; b++)
        {
            long start = (long)b * BatchSize;
            long size = Math.Min(BatchSize, order.Length - start);
            var idx = torch.tensor(order.AsSpan((int)start, (int)size).ToArray(), ScalarType.Int64);
            using var ix = idx.to(_x.device);
            using var iy = idx.to(_y.device);
            yield return new Batch(_x.index_select(0, ix), _y.index_select(0, iy), idx);
        }
    }

    private long[] OrderArray(int epoch)
    {
        if (!Shuffle) return Enumerable.Range(0, (int)Count).Select(i => (long)i).ToArray();
        return EpochSeeds.Permutation(Count, EpochSeeds.Generator(Seed, epoch));
    }

    /// <summary>Enumerates epoch <see cref="NextEpoch"/> and advances it.</summary>
    public IEnumerator<Batch> GetEnumerator() => Iterate(NextEpoch++).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
