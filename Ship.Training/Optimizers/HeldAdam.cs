using Ship.Core.Memory;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ship.Training.Optimizers;

/// <summary>
/// TorchSharp's Adam with every number operand held for the duration of its native call. TorchSharp 0.107's
/// <c>Adam.step</c> turns β₁, 1 − β₁, β₂, 1 − β₂, ε, √(1 − β₂ᵗ), the step size and the implicit α = 1 into temporary
/// native Scalars whose last managed reference ends when their handle is read; a garbage collection started by any other
/// thread during the call (a progress reporter, a data loader, the runtime's own threads) can then run a Scalar's
/// finalizer while libtorch reads it, and the process aborts with "Expected false to be true" from c10's Scalar.h
/// (measured: one abort in 30 training runs of the main job's network with a competing process,
/// docs/reliability.md "Native scalars and the finalizer"). This class performs the same operations in the same
/// order on the same state (<see cref="Adam.State"/>), so results, <c>state_dict</c>, checkpoints and learning-rate
/// schedulers are those of <see cref="Adam"/>, bit for bit.
/// </summary>
public sealed class HeldAdam : Adam
{
    /// <summary>Creates the optimizer over one group of parameters (the arguments of <c>torch.optim.Adam</c>).</summary>
    public HeldAdam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 0, bool amsgrad = false, bool maximize = false)
        : base(parameters, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize)
    {
    }

    /// <summary>Creates the optimizer over parameter groups (the arguments of <c>torch.optim.Adam</c>).</summary>
    public HeldAdam(IEnumerable<ParamGroup> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 0, bool amsgrad = false, bool maximize = false)
        : base(parameters, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize)
    {
    }

    /// <summary>Sets every parameter's gradient to zero in place (as <see cref="torch.optim.Optimizer.zero_grad"/>), with a held zero: one native call per parameter, no tensor made beyond the gradient's handle.</summary>
    public override void zero_grad() => HeldScalars.ZeroGradients(_parameter_groups.SelectMany(g => g.Parameters));

    /// <summary>One Adam update of every parameter with a gradient (as <see cref="Adam.step"/>), its Scalars held.</summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        return _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
            double eps = options.eps!.Value, lr = options.LearningRate!.Value;
            bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
            // Held for the whole group: `using` keeps each Scalar reachable until every call that reads it has returned.
            using var sBeta1 = beta1.ToScalar();
            using var sOneMinusBeta1 = (1 - beta1).ToScalar();
            using var sBeta2 = beta2.ToScalar();
            using var sOneMinusBeta2 = (1 - beta2).ToScalar();
            using var sEps = eps.ToScalar();
            using var sWeightDecay = weightDecay.ToScalar();
            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                var grad = param.grad;
                if (grad is null) continue;
                if (maximize) grad = -grad;
                state.step += 1;
                double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                if (!amsgrad && !maximize && weightDecay == 0 && AdamMoments.TryUpdate(grad, state.exp_avg, state.exp_avg_sq, beta1, beta2))
                {
                    // The moments in one managed pass (the same roundings as mul_/add_/addcmul_), then sqrt, the
                    // denominator and the update as below: sqrt stays libtorch's (its vector library's rounding), and
                    // the parameter is changed by addcdiv_, which autograd sees as an in-place change.
                    var root = state.exp_avg_sq.sqrt();
                    AdamMoments.Denominator(root, Math.Sqrt(biasCorrection2), eps);
                    using var sStepFast = (-(lr / biasCorrection1)).ToScalar();
                    param.addcdiv_(state.exp_avg, root, sStepFast);
                    continue;
                }
                if (weightDecay != 0) grad = grad.add(param, sWeightDecay);
                state.exp_avg.mul_(sBeta1).add_(grad, sOneMinusBeta1);
                // conj() of a real gradient is the gradient itself (one handle saved per parameter).
                state.exp_avg_sq.mul_(sBeta2).addcmul_(grad, grad.is_complex() ? grad.conj() : grad, sOneMinusBeta2);
                using var sSqrtBias2 = Math.Sqrt(biasCorrection2).ToScalar();
                Tensor denom;
                if (amsgrad)
                {
                    var previous = state.max_exp_avg_sq;
                    state.max_exp_avg_sq = torch.maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                    previous.Dispose();
                    denom = state.max_exp_avg_sq.sqrt().div_(sSqrtBias2).add_(sEps, HeldScalars.One);
                }
                else
                {
                    denom = state.exp_avg_sq.sqrt().div_(sSqrtBias2).add_(sEps, HeldScalars.One); // in place on sqrt's fresh tensor: the same kernel
                }
                using var sStep = (-(lr / biasCorrection1)).ToScalar();
                param.addcdiv_(state.exp_avg, denom, sStep);
            }
        }, closure);
    }
}

/// <summary>
/// Adam's moment updates and denominator on contiguous host tensors in managed passes, with the roundings of libtorch's
/// CPU kernels that <see cref="HeldAdam"/> otherwise calls one by one (measured against them, float32 and float64,
/// vector bodies and tails: <c>HeldAdamTests</c>): m·β₁ then a fused multiply-add of g·(1 − β₁) (<c>mul_</c>,
/// <c>add_</c> with α); v·β₂ then a fused multiply-add of ((1 − β₂)·g)·g (<c>addcmul_</c>); √v / √(1 − β₂ᵗ) + ε
/// (<c>div_</c>, <c>add_</c>), the constants in the tensor's dtype. Two passes instead of six kernel calls per parameter.
/// </summary>
internal static class AdamMoments
{
    /// <summary>Updates m and v in place from g when all three are contiguous host tensors of one floating dtype and size; false (nothing changed) otherwise.</summary>
    public static bool TryUpdate(Tensor g, Tensor m, Tensor v, double beta1, double beta2)
    {
        var dtype = g.dtype;
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64)) return false;
        foreach (var t in new[] { g, m, v })
            if (t.device_type != DeviceType.CPU || t.dtype != dtype || !t.is_contiguous() || t.requires_grad) return false;
        long n = g.numel();
        if (m.numel() != n || v.numel() != n || n * g.ElementSize > int.MaxValue) return false;
        if (dtype == ScalarType.Float32)
            Update(Span<float>(g), Span<float>(m), Span<float>(v), (float)beta1, (float)(1 - beta1), (float)beta2, (float)(1 - beta2));
        else
            Update(Span<double>(g), Span<double>(m), Span<double>(v), beta1, 1 - beta1, beta2, 1 - beta2);
        return true;
    }

    /// <summary>d ← d / <paramref name="sqrtBias2"/> + <paramref name="eps"/> in place (d is sqrt's fresh result).</summary>
    public static void Denominator(Tensor d, double sqrtBias2, double eps)
    {
        if (d.dtype == ScalarType.Float32)
        {
            var s = Span<float>(d);
            float b = (float)sqrtBias2, e = (float)eps;
            for (int i = 0; i < s.Length; i++) s[i] = s[i] / b + e;
        }
        else
        {
            var s = Span<double>(d);
            for (int i = 0; i < s.Length; i++) s[i] = s[i] / sqrtBias2 + eps;
        }
    }

    private static System.Span<T> Span<T>(Tensor t) where T : unmanaged => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(t.bytes);

    private static void Update<T>(System.Span<T> g, System.Span<T> m, System.Span<T> v, T b1, T c1, T b2, T c2)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int i = 0; i < g.Length; i++)
        {
            T gi = g[i];
            m[i] = T.FusedMultiplyAdd(gi, c1, m[i] * b1);
            v[i] = T.FusedMultiplyAdd(c2 * gi, gi, v[i] * b2);
        }
    }
}
