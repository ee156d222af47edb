using Ship.Core.Memory;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ship.Training.Optimizers;

/// <summary>
/// TorchSharp's AdamW (decoupled weight decay) with every number operand held for the duration of its native call — for
/// the reason given on <see cref="HeldAdam"/>: TorchSharp 0.107's <c>AdamW.step</c> passes 1 − lr·λ, β₁, 1 − β₁, β₂,
/// 1 − β₂, √(1 − β₂ᵗ), ε, the step size and an implicit α = 1 as temporary Scalars that a collection on another thread
/// can free mid-call. Same operations in the same order on the same state (<see cref="AdamW.State"/>), so parameters,
/// <c>state_dict</c> and schedulers equal <see cref="AdamW"/> bit for bit.
/// </summary>
public sealed class HeldAdamW : AdamW
{
    /// <summary>Creates the optimizer over one group of parameters (the arguments of <c>torch.optim.AdamW</c>).</summary>
    public HeldAdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 0, bool amsgrad = false, bool maximize = false)
        : base(parameters, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize)
    {
    }

    /// <summary>Creates the optimizer over parameter groups (the arguments of <c>torch.optim.AdamW</c>).</summary>
    public HeldAdamW(IEnumerable<ParamGroup> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 0, bool amsgrad = false, bool maximize = false)
        : base(parameters, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize)
    {
    }

    /// <summary>Sets every parameter's gradient to zero in place (as <see cref="torch.optim.Optimizer.zero_grad"/>), with a held zero: one native call per parameter, no tensor made beyond the gradient's handle.</summary>
    public override void zero_grad() => HeldScalars.ZeroGradients(_parameter_groups.SelectMany(g => g.Parameters));

    /// <summary>One AdamW update of every parameter with a gradient (as <see cref="AdamW.step"/>), its Scalars held.</summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        return _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
            double eps = options.eps!.Value, lr = options.LearningRate!.Value;
            bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
            // Held for the whole group: `using` keeps each Scalar reachable until every call that reads it has returned.
            using var sDecay = (1 - lr * weightDecay).ToScalar();
            using var sBeta1 = beta1.ToScalar();
            using var sOneMinusBeta1 = (1 - beta1).ToScalar();
            using var sBeta2 = beta2.ToScalar();
            using var sOneMinusBeta2 = (1 - beta2).ToScalar();
            using var sEps = eps.ToScalar();
            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                var grad = param.grad;
                if (grad is null) continue;
                if (maximize) grad = -grad;
                state.step += 1;
                // Decoupled decay: applied to the weights, also when λ = 0 (a multiplication by 1, as TorchSharp does).
                param.mul_(sDecay);
                double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                state.exp_avg.mul_(sBeta1).add_(grad, sOneMinusBeta1);
                state.exp_avg_sq.mul_(sBeta2).addcmul_(grad, grad, sOneMinusBeta2);
                using var sSqrtBias2 = Math.Sqrt(biasCorrection2).ToScalar();
                Tensor denom;
                if (amsgrad)
                {
                    var previous = state.max_exp_avg_sq;
                    state.max_exp_avg_sq = torch.maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                    previous.Dispose();
                    denom = state.max_exp_avg_sq.sqrt().div(sSqrtBias2).add_(sEps, HeldScalars.One);
                }
                else
                {
                    denom = state.exp_avg_sq.sqrt().div(sSqrtBias2).add_(sEps, HeldScalars.One);
                }
                using var sStep = (-(lr / biasCorrection1)).ToScalar();
                param.addcdiv_(state.exp_avg, denom, sStep);
            }
        }, closure);
    }
}
