using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Geometry;

/// <summary>
/// Pairwise distances between the positions of two layouts, [Ns, Nt] in float64 (row i: source i, column j: target j,
/// the orientation of a synapse's weights). On a periodic axis of period L the separation is the shortest one around
/// the ring: δ − L·round(δ/L), so |δ| ≤ L/2 (the torus metric).
/// </summary>
public static class Distances
{
    /// <summary>Euclidean distances D[i, j] = |p_i − q_j| (periodic axes wrapped) between a source and a target layout.</summary>
    public static Tensor Euclidean(Layout source, Layout target)
    {
        using var scope = torch.NewDisposeScope();
        return Squared(source, target).sqrt_().MoveToOuterDisposeScope();
    }

    /// <summary>Distances between every pair of positions of one layout; the diagonal is 0.</summary>
    public static Tensor Euclidean(Layout layout) => Euclidean(layout, layout);

    /// <summary>Squared distances D²[i, j] (periodic axes wrapped); what a Gaussian connection profile needs, without a square root.</summary>
    public static Tensor Squared(Layout source, Layout target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (source.Dimensions != target.Dimensions)
            throw new ParameterException(nameof(Distances), "layouts", $"source has {source.Dimensions} axes, target {target.Dimensions}; both must live in the same space.");
        if (!source.Period.SequenceEqual(target.Period))
            throw new ParameterException(nameof(Distances), "period",
                $"source periods [{string.Join(", ", source.Period)}] differ from target periods [{string.Join(", ", target.Period)}]; both must live in the same space.");
        using var scope = torch.NewDisposeScope();
        var delta = source.Positions.unsqueeze(1).sub(target.Positions.unsqueeze(0)); // [Ns, Nt, D]
        if (source.IsPeriodic)
        {
            // Open axes use L = 1 with a zero multiplier, so no ∞·0 appears.
            var l = source.Period.Select(p => double.IsFinite(p) ? p : 1.0).ToArray();
            var on = source.Period.Select(p => double.IsFinite(p) ? p : 0.0).ToArray();
            var lt = torch.tensor(l, dtype: ScalarType.Float64);
            var ont = torch.tensor(on, dtype: ScalarType.Float64);
            delta = delta.sub(delta.div(lt).round_().mul_(ont));
        }
        return delta.pow_(2).sum(2).MoveToOuterDisposeScope();
    }

    /// <summary>Squared distances between every pair of positions of one layout.</summary>
    public static Tensor Squared(Layout layout) => Squared(layout, layout);
}
