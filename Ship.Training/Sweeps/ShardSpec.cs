using System.Globalization;

namespace Ship.Training.Sweeps;

/// <summary>
/// One shard of a sweep cut into <see cref="Count"/> parts, written "i/n" with 1 ≤ i ≤ n (1-based, like Slurm's
/// <c>SLURM_ARRAY_TASK_ID</c> for <c>--array=1-n</c>). Points are dealt round-robin: point k (0-based) belongs to shard
/// (k mod n) + 1. Round-robin rather than contiguous blocks keeps shards balanced when the cost of a point grows along the
/// sweep, and a point's shard depends only on k and n, never on the total, so every shard can compute its own list.
/// </summary>
public sealed record ShardSpec
{
    /// <summary>Creates shard <paramref name="index"/> of <paramref name="count"/>; throws <see cref="ShardException"/> unless 1 ≤ index ≤ count.</summary>
    public ShardSpec(int index, int count)
    {
        if (count < 1) throw new ShardException($"shard {index}/{count}: the number of shards n must be at least 1, got {count}.");
        if (index < 1 || index > count)
            throw new ShardException($"shard {index}/{count}: i must be between 1 and n = {count} (shards are numbered from 1), got {index}.");
        Index = index;
        Count = count;
    }

    /// <summary>The whole sweep as a single shard (1/1).</summary>
    public static ShardSpec Whole { get; } = new(1, 1);

    /// <summary>This shard's number, 1 ≤ Index ≤ Count.</summary>
    public int Index { get; }

    /// <summary>How many shards the sweep is cut into.</summary>
    public int Count { get; }

    /// <summary>
    /// Parses "i/n" (whole numbers, spaces around them allowed); throws <see cref="ShardException"/> with the text and
    /// the rule it breaks, so a command line can report it as a usage error.
    /// </summary>
    public static ShardSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            || !int.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            throw new ShardException($"'{text}' is not a shard: expected i/n with whole numbers 1 <= i <= n (e.g. 2/4).");
        return new ShardSpec(i, n);
    }

    /// <summary>The shard (1-based) that point <paramref name="point"/> (0-based) belongs to when the sweep is cut into <paramref name="count"/> shards.</summary>
    public static int ShardOf(int point, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(point);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return point % count + 1;
    }

    /// <summary>Whether point <paramref name="point"/> (0-based) is this shard's.</summary>
    public bool Owns(int point) => ShardOf(point, Count) == Index;

    /// <summary>This shard's points of a sweep of <paramref name="total"/> points, ascending (empty when n exceeds the total and this shard gets none).</summary>
    public int[] Points(int total)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(total);
        var list = new List<int>();
        for (int k = Index - 1; k < total; k += Count) list.Add(k);
        return list.ToArray();
    }

    /// <summary>The file-name tag of this shard, "shard-i-of-n".</summary>
    public string FileTag => $"shard-{Index}-of-{Count}";

    /// <summary>"i/n", the form <see cref="Parse"/> reads.</summary>
    public override string ToString() => $"{Index}/{Count}";
}
