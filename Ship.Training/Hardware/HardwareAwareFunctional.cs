using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Training.Hardware;

/// <summary>
/// The weight transforms of hardware-aware training as pure functions, so that tests and other training loops can use
/// them without a network. Quantization uses the same grid as <c>QuantizedLevels</c> on a direct (weight-space) mapping:
/// n levels L_k = −M + k·Δ, Δ = 2M/(n − 1), nearest level k = clamp(⌊(w + M)/Δ + ½⌋, 0, n − 1) (ties go up), so a
/// network trained with it meets exactly the levels the hardware evaluation programs.
/// </summary>
public static class HardwareAwareFunctional
{
    /// <summary>Clips weights to the device range [−limit, limit]; the gradient is 1 inside and 0 outside (plain clamp).</summary>
    public static Tensor Clip(Tensor w, double limit)
    {
        if (!(limit > 0) || !double.IsFinite(limit))
            throw new ParameterException(nameof(HardwareAwareFunctional), "clip", $"the device range must be a finite limit > 0, got {limit}.");
        return w.clamp(-limit, limit);
    }

    /// <summary>The scale M = max|w| the hardware maps to full range (detached: the grid is a property of programming, not a trained quantity); 1 when all weights are zero.</summary>
    public static Tensor Scale(Tensor w)
    {
        using var scope = torch.NewDisposeScope();
        var m = w.detach().abs().max();
        return torch.where(m.gt(0), m, torch.ones_like(m)).MoveToOuterDisposeScope();
    }

    /// <summary>Nearest of n levels on [−M, M] for a (scalar or broadcastable) scale M; no gradient (the result is detached).</summary>
    public static Tensor Quantize(Tensor w, int levels, Tensor scale)
    {
        CheckLevels(levels);
        using var scope = torch.NewDisposeScope();
        var m = scale.detach().to_type(w.dtype);
        var step = m.mul(2.0 / (levels - 1));
        var k = w.detach().Plus(m).div_(step).add_(0.5).floor_().clamp_(0, levels - 1);
        return k.mul_(step).sub_(m).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Straight-through estimator: the forward value is <paramref name="forward"/>, the gradient is that of
    /// <paramref name="w"/> (identity), computed as w + (forward − w).detach().
    /// </summary>
    public static Tensor StraightThrough(Tensor w, Tensor forward)
    {
        using var scope = torch.NewDisposeScope();
        var shift = forward.detach() - w.detach();
        return w.Plus(shift).MoveToOuterDisposeScope();
    }

    /// <summary>Quantization with a straight-through gradient: forward = nearest level on [−M, M], backward = identity.</summary>
    public static Tensor QuantizeStraightThrough(Tensor w, int levels, Tensor scale) => StraightThrough(w, Quantize(w, levels, scale));

    /// <summary>Adds Gaussian noise σ·M·ξ (σ relative to the scale M), ξ drawn from <paramref name="rng"/>; the gradient passes unchanged.</summary>
    public static Tensor AddNoise(Tensor w, double sigma, Tensor scale, torch.Generator rng)
    {
        if (!(sigma >= 0) || !double.IsFinite(sigma))
            throw new ParameterException(nameof(HardwareAwareFunctional), "noise", $"the relative noise σ must be finite and ≥ 0, got {sigma}.");
        if (sigma == 0) return w.alias();
        using var scope = torch.NewDisposeScope();
        // Drawn on the host generator and moved: CUDA-side draws with a CPU generator fail (Draw explains why).
        var xi = Ship.Core.Networks.Draw.Randn(w.Sizes(), w.dtype, w.device, rng);
        return w.Plus(xi.mul_(scale.detach().to_type(w.dtype)).mul_(sigma)).MoveToOuterDisposeScope();
    }

    internal static void CheckLevels(int levels)
    {
        if (levels < 2) throw new ParameterException(nameof(HardwareAwareFunctional), "levels", $"needs at least 2 conductance levels, got {levels}.");
    }
}
