using Ship.Core.Errors;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Geometry;

/// <summary>
/// Distance-dependent random connectivity: source i connects to target j with probability P[i, j] = k·exp(−D[i, j]²/λ²)
/// (the Gaussian profile of SHIP's 3-D "minipillar" reservoirs), independently per pair: a pair is connected when a
/// uniform draw u ∈ [0, 1) satisfies u &lt; P. Results are [Ns, Nt], the orientation of a synapse's "w". Every draw
/// comes from a given generator — the network's <c>Context.Rng</c> when used as a weight <see cref="Value"/>.
/// </summary>
public static class DistanceConnectivity
{
    /// <summary>P = k·exp(−D²/λ²) from squared distances [Ns, Nt]; k ∈ [0, 1] is the probability at zero distance, λ &gt; 0 the length scale.</summary>
    public static Tensor Probability(Tensor squaredDistances, double k, double lambda)
    {
        ArgumentNullException.ThrowIfNull(squaredDistances);
        Check(k, lambda);
        return squaredDistances.div(-lambda * lambda).exp_().mul_(k);
    }

    /// <summary>
    /// A 0/1 connection mask [Ns, Nt] (dtype of the distances) drawn with <paramref name="rng"/> on the distances' device;
    /// <paramref name="excludeSelf"/> forbids i → i (needs Ns = Nt, i.e. a layer connected to itself).
    /// </summary>
    public static Tensor Mask(Tensor squaredDistances, double k, double lambda, torch.Generator rng, bool excludeSelf = false)
    {
        ArgumentNullException.ThrowIfNull(rng);
        using var scope = torch.NewDisposeScope();
        var p = Probability(squaredDistances, k, lambda);
        var u = Ship.Core.Networks.Draw.Rand(p.Sizes(), p.dtype, p.device, rng);
        var mask = u.lt_(p);
        if (excludeSelf)
        {
            if (p.dim() != 2 || p.Sizes()[0] != p.Sizes()[1])
                throw new ParameterException(nameof(DistanceConnectivity), "excludeSelf",
                    $"self-connections exist only for a square [N, N] map, got {Shapes.Format(p.Sizes())}.");
            mask.mul_(torch.eye(p.Sizes()[0], dtype: p.dtype, device: p.device).neg_().add_(1));
        }
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A weight <see cref="Value"/> for a synapse's "w": the mask drawn from the network's generator at every
    /// initialization, times a constant weight.
    /// </summary>
    public static Value Weights(Layout source, Layout target, double k, double lambda, double weight = 1, bool excludeSelf = false)
    {
        if (!double.IsFinite(weight)) throw new ParameterException(nameof(DistanceConnectivity), "weight", $"must be finite, got {weight}.");
        return Weights(source, target, k, lambda, _ => null, excludeSelf, weight);
    }

    /// <summary>
    /// A weight <see cref="Value"/> whose connected pairs take magnitudes from <paramref name="magnitude"/> (e.g. random
    /// draws from the same context's generator, drawn after the mask); unconnected pairs are 0.
    /// </summary>
    public static Value Weights(Layout source, Layout target, double k, double lambda, Func<GenerateContext, Tensor> magnitude, bool excludeSelf = false)
    {
        ArgumentNullException.ThrowIfNull(magnitude);
        return Weights(source, target, k, lambda, magnitude, excludeSelf, 1.0);
    }

    private static Value Weights(Layout source, Layout target, double k, double lambda, Func<GenerateContext, Tensor?> magnitude, bool excludeSelf, double scale)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        Check(k, lambda);
        if (excludeSelf && source.Count != target.Count)
            throw new ParameterException(nameof(DistanceConnectivity), "excludeSelf", $"self-connections exist only between layers of equal size, got {source.Count} and {target.Count}.");
        return Value.Generated(c =>
        {
            var shape = c.Shape;
            if (shape.Length != 2 || shape[0] != source.Count || shape[1] != target.Count)
                throw new ParameterException(c.Group, c.Name,
                    $"distance-dependent weights are [{source.Count}, {target.Count}] (source layout × target layout), the synapse needs {Shapes.Format(shape)}.");
            using var scope = torch.NewDisposeScope();
            var d2 = Distances.Squared(source, target).to(c.Device);
            var w = Mask(d2, k, lambda, c.Rng, excludeSelf).to_type(c.DType);
            var m = magnitude(c);
            if (m is not null) w.mul_(m);
            if (scale != 1.0) w.mul_(scale);
            return w.MoveToOuterDisposeScope();
        }, $"distance-dependent mask (k = {k}, λ = {lambda}{(excludeSelf ? ", no self-connections" : "")})");
    }

    private static void Check(double k, double lambda)
    {
        if (!(k >= 0 && k <= 1)) throw new ParameterException(nameof(DistanceConnectivity), "k", $"the probability at zero distance must be in [0, 1], got {k}.");
        if (!(lambda > 0) || double.IsInfinity(lambda)) throw new ParameterException(nameof(DistanceConnectivity), "lambda", $"the length scale must be a finite value > 0, got {lambda}.");
    }
}
