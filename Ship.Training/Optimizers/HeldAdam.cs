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
