using TorchSharp;

namespace Ship.Datasets.Batching;

/// <summary>
/// Derives one generator per (loader seed, epoch), so that an epoch's order depends only on those two numbers:
/// reproducible, resumable at any epoch, and independent of the global generator and of other loaders.
/// </summary>
public static class EpochSeeds
{
    /// <summary>SplitMix64 of the seed and the epoch: nearby inputs give unrelated seeds.</summary>
    public static ulong Mix(long seed, int epoch)
    {
        unchecked
        {
            ulong z = (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)(uint)epoch + 0x632BE59BD9B4E019UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>A fresh CPU generator for one epoch of a loader.</summary>
    public static torch.Generator Generator(long seed, int epoch) => new(Mix(seed, epoch));

    /// <summary>Number of batches of size <paramref name="batchSize"/> over <paramref name="count"/> samples.</summary>
    internal static int BatchCount(long count, int batchSize, bool dropLast) =>
        (int)(dropLast ? count / batchSize : (count + batchSize - 1) / batchSize);

    internal static void CheckBatchSize(int batchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "the batch size must be >= 1.");
    }

    internal static void CheckEpoch(int epoch)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "epochs count from 0.");
    }

    internal static long[] Permutation(long n, torch.Generator g)
    {
        using var p = torch.randperm(n, generator: g);
        return p.data<long>().ToArray();
    }
}
