using System.Collections;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets.Batching;

/// <summary>The order in which a <see cref="RaggedLoader"/> visits spike trains of different lengths.</summary>
public enum RaggedOrder
{
    /// <summary>The order of the list, every epoch.</summary>
    AsGiven,
    /// <summary>A fresh seeded permutation every epoch.</summary>
    Shuffled,
    /// <summary>Shortest first (stable), every epoch: batches waste the least padding (SHIP's ListHauler "sort").</summary>
    ByLength,
    /// <summary>Batches cut from the length-sorted list, visited in a fresh seeded order every epoch: little padding and still shuffled.</summary>
    BucketedByLength,
}

/// <summary>A padded batch of variable-length spike trains. The caller owns the tensors.</summary>
/// <param name="X">Spikes [B, T, N], zero after each train's end; T is the longest length in the batch (or the loader's fixed length).</param>
/// <param name="Lengths">int64 [B]: the number of real steps of each sample.</param>
/// <param name="Y">Labels [B], when the loader has labels.</param>
/// <param name="Indices">int64 [B]: positions of the samples in the loader's list.</param>
public sealed record RaggedBatch(Tensor X, Tensor Lengths, Tensor? Y, Tensor Indices) : IDisposable
{
    /// <summary>Number of samples in the batch.</summary>
    public long Size => Indices.Sizes()[0];

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        X.Dispose();
        Lengths.Dispose();
        Y?.Dispose();
        Indices.Dispose();
    }
}

/// <summary>
/// Mini-batches over a list of spike trains [steps_i, N] of different lengths, padded with zeros to [B, T, N]
/// with the true lengths alongside (a network run over T steps then sees silence after each train ends; read a
/// per-sample result at step length − 1). Orders: see <see cref="RaggedOrder"/>; shuffled orders come from a
/// generator seeded by (seed, epoch), never the global one. Every sample appears exactly once per epoch unless
/// drop-last removes the final partial batch.
/// </summary>
public sealed class RaggedLoader : IEnumerable<RaggedBatch>
{
    private readonly IReadOnlyList<Tensor> _trains;
    private readonly Tensor? _labels;
    private readonly long[] _lengths;

    /// <summary>Creates a loader; the trains and labels are borrowed, not copied.</summary>
    /// <param name="trains">Spike trains [steps_i, N], same N, dtype and device.</param>
    /// <param name="labels">Labels [count] or null.</param>
    /// <param name="batchSize">Samples per batch.</param>
    /// <param name="order">Visiting order.</param>
    /// <param name="dropLast">Skip the final batch when it is smaller than the batch size.</param>
    /// <param name="seed">Seed of the loader's own generators.</param>
    /// <param name="steps">Fixed padded length T for every batch (longer trains are cut, their length becomes T), or null for the batch's longest train.</param>
    public RaggedLoader(IReadOnlyList<Tensor> trains, Tensor? labels, int batchSize, RaggedOrder order = RaggedOrder.Shuffled,
        bool dropLast = false, long seed = 0, int? steps = null)
    {
        ArgumentNullException.ThrowIfNull(trains);
        EpochSeeds.CheckBatchSize(batchSize);
        if (trains.Count == 0) throw new ArgumentException("The list of spike trains is empty.", nameof(trains));
        var first = trains[0] ?? throw new ArgumentException("Spike train 0 is null.", nameof(trains));
        for (int i = 0; i < trains.Count; i++)
        {
            var t = trains[i] ?? throw new ArgumentException($"Spike train {i} is null.", nameof(trains));
            if (t.dim() != 2 || t.Sizes()[1] != first.Sizes()[1] || t.Sizes()[0] < 1)
                throw new ArgumentException(
                    $"Spike train {i} must be [steps ≥ 1, N = {first.Sizes()[1]}] like train 0, got {Shapes.Format(t.Sizes())}.", nameof(trains));
            if (t.dtype != first.dtype || t.device.type != first.device.type)
                throw new ArgumentException($"Spike train {i} is {t.dtype} on {t.device}, train 0 is {first.dtype} on {first.device}; convert them to one dtype and device.", nameof(trains));
        }
        if (labels is not null && (labels.dim() < 1 || labels.Sizes()[0] != trains.Count))
            throw new ArgumentException($"labels must be [{trains.Count}, ...] (one per train), got {Shapes.Format(labels.Sizes())}.", nameof(labels));
        if (steps is < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "the fixed length must be >= 1 step.");
        _trains = trains;
        _labels = labels;
        _lengths = trains.Select(t => t.Sizes()[0]).ToArray();
        BatchSize = batchSize;
        Order = order;
        DropLast = dropLast;
        Seed = seed;
        Steps = steps;
    }

    /// <summary>Number of trains.</summary>
    public int Count => _trains.Count;
    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }
    /// <summary>Visiting order.</summary>
    public RaggedOrder Order { get; }
    /// <summary>Whether a final partial batch is skipped.</summary>
    public bool DropLast { get; }
    /// <summary>Seed of the loader's own generators.</summary>
    public long Seed { get; }
    /// <summary>Fixed padded length, or null for per-batch longest.</summary>
    public int? Steps { get; }
    /// <summary>Epoch that the next enumeration gives; counts up from 0.</summary>
    public int NextEpoch { get; set; }
    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => EpochSeeds.BatchCount(Count, BatchSize, DropLast);
    /// <summary>Length (steps) of every train, in list order.</summary>
    public IReadOnlyList<long> Lengths => _lengths;

    /// <summary>The batches of epoch <paramref name="epoch"/> as lists of train positions, without loading any tensor.</summary>
    public IReadOnlyList<long[]> BatchIndices(int epoch)
    {
        EpochSeeds.CheckEpoch(epoch);
        long[] order = Order switch
        {
            RaggedOrder.Shuffled => EpochSeeds.Permutation(Count, EpochSeeds.Generator(Seed, epoch)),
            RaggedOrder.ByLength or RaggedOrder.BucketedByLength =>
                Enumerable.Range(0, Count).Select(i => (long)i).OrderBy(i => _lengths[i]).ToArray(), // OrderBy is stable
            _ => Enumerable.Range(0, Count).Select(i => (long)i).ToArray(),
        };
        var batches = new List<long[]>();
        for (int start = 0; start < order.Length; start += BatchSize)
        {
            int size = Math.Min(BatchSize, order.Length - start);
            if (size < BatchSize && DropLast) break;
            batches.Add(order.AsSpan(start, size).ToArray());
        }
        if (Order == RaggedOrder.BucketedByLength)
        {
            var perm = EpochSeeds.Permutation(batches.Count, EpochSeeds.Generator(Seed, epoch));
            batches = perm.Select(p => batches[(int)p]).ToList();
        }
        return batches;
    }

    /// <summary>The batches of epoch <paramref name="epoch"/>, without changing <see cref="NextEpoch"/>.</summary>
    public IEnumerable<RaggedBatch> Epoch(int epoch)
    {
        var batches = BatchIndices(epoch);
        return batches.Select(Make);
    }

    /// <summary>Pads the trains at <paramref name="indices"/> into one batch.</summary>
    public RaggedBatch Make(long[] indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var (x, lengths) = Padding.Pad(indices.Select(i => _trains[(int)i]).ToArray(), Steps);
        var idx = torch.tensor(indices, ScalarType.Int64);
        Tensor? y = null;
        if (_labels is not null)
        {
            using var iy = idx.to(_labels.device);
            y = _labels.index_select(0, iy);
        }
        return new RaggedBatch(x, lengths, y, idx);
    }

    /// <summary>Enumerates epoch <see cref="NextEpoch"/> and advances it.</summary>
    public IEnumerator<RaggedBatch> GetEnumerator() => Epoch(NextEpoch++).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Zero-padding of variable-length sequences into one batch tensor.</summary>
public static class Padding
{
    /// <summary>
    /// Stacks sequences [steps_i, N] into [B, T, N] with zeros after each end, T = <paramref name="steps"/> or the
    /// longest; returns the kept lengths min(steps_i, T) as int64 [B].
    /// </summary>
    public static (Tensor X, Tensor Lengths) Pad(IReadOnlyList<Tensor> sequences, int? steps = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (sequences.Count == 0) throw new ArgumentException("Nothing to pad.", nameof(sequences));
        var first = sequences[0];
        long t = steps ?? sequences.Max(s => s.Sizes()[0]);
        var lengths = sequences.Select(s => Math.Min(s.Sizes()[0], t)).ToArray();
        var x = torch.zeros(new long[] { sequences.Count, t, first.Sizes()[1] }, first.dtype, first.device);
        using (torch.no_grad())
            for (int i = 0; i < sequences.Count; i++)
            {
                using var row = x.select(0, i).narrow(0, 0, lengths[i]);
                using var src = sequences[i].narrow(0, 0, lengths[i]);
                row.copy_(src);
            }
        return (x, torch.tensor(lengths, ScalarType.Int64));
    }
}
