using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive.Crossbar;

/// <summary>Physical size of one crossbar tile (data only): word lines (rows, one per input) × bit lines (physical columns).</summary>
/// <param name="Rows">Word lines per tile (≥ 1).</param>
/// <param name="Columns">Bit lines per tile (≥ 2: a differential pair, or one device column and the reference column).</param>
public sealed record TileSize(int Rows = 256, int Columns = 256)
{
    /// <summary>Checks every field; throws a <see cref="ParameterException"/> naming <paramref name="owner"/> and the field.</summary>
    public void Validate(string owner)
    {
        if (Rows < 1) throw new ParameterException(owner, "tile.rows", $"must be >= 1, got {Rows}.");
        if (Columns < 2) throw new ParameterException(owner, "tile.columns", $"must be >= 2 (a differential pair or a column and its reference), got {Columns}.");
    }
}

/// <summary>
/// Splitting a matrix over tiles and combining the tiles' partial sums. A matrix [Ns, N] on tiles of R rows and L
/// columns becomes [Tr, Tc, R, L] with Tr = ⌈Ns/R⌉, Tc = ⌈N/L⌉, zero-padded (unused cells hold no device: G = 0).
/// </summary>
public static class TilingFunctional
{
    /// <summary>Number of tiles along a dimension of <paramref name="size"/> elements, ⌈size/per⌉.</summary>
    public static int Count(long size, int per) => (int)((size + per - 1) / per);

    /// <summary>[Ns, N] → [Tr, Tc, R, L], zero-padded.</summary>
    public static Tensor Split(Tensor m, int rows, int columns)
    {
        long ns = m.Sizes()[0], n = m.Sizes()[1];
        int tr = Count(ns, rows), tc = Count(n, columns);
        var padded = torch.nn.functional.pad(m, new long[] { 0, tc * columns - n, 0, tr * rows - ns });
        return padded.reshape(tr, rows, tc, columns).permute(0, 2, 1, 3);
    }

    /// <summary>Input rows [B, Ns] → [B, Tr, R], zero-padded.</summary>
    public static Tensor SplitRows(Tensor x, int rows)
    {
        long ns = x.Sizes()[^1];
        int tr = Count(ns, rows);
        return torch.nn.functional.pad(x, new long[] { 0, tr * rows - ns }).reshape(x.Sizes()[0], tr, rows);
    }

    /// <summary>Digital combination of partial column sums [B, Tr, Tc·L] → [B, N]: the sum over row tiles, trimmed to N columns.</summary>
    public static Tensor Combine(Tensor partial, long n) => partial.sum(1).narrow(-1, 0, n);
}
