using Ship.Core.Memory;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ship.Training.Optimizers;

/// <summary>
/// TorchSharp's RMSprop (momentum, centered, weight decay, maximize) with every number operand held for the duration of
/// its native call — for the reason given on <see cref="HeldAdam"/>: TorchSharp 0.107's <c>RMSProp.step</c> passes α,
/// 1 − α, ε, −1, −lr, the weight decay and implicit values of 1 as temporary Scalars that a collection on another
/// thread can free mid-call. Same operations in the same order on the same state (<see cref="RMSProp.State"/>), so
/// parameters, <c>state_dict</c> and schedulers equal <see cref="RMSProp"/> bit for bit.
/// </summary>
public sealed class HeldRMSprop : RMSProp
{
    private static readonly Scalar MinusOne = (-1).ToScalar(); // process lifetime: never finalized mid-call

    /// <summary>Creates the optimizer over one group of parameters (the arguments of <c>torch.optim.RMSProp</c>).</summary>
    public HeldRMSprop(IEnumerable<Parameter> parameters, double lr = 1e-3, double alpha = 0.99, double eps = 1e-8,
        double weight_decay = 0, double momentum = 0.0, bool centered = false, bool maximize = false)
        : base(parameters, lr, alpha, eps, weight_decay, momentum, centered, maximize)
    {
    }

    /// <summary>Creates the optimizer over parameter groups (the arguments of <c>torch.optim.RMSProp</c>).</summary>
    public HeldRMSprop(IEnumerable<ParamGroup> parameters, double lr = 1e-3, double alpha = 0.99, double eps = 1e-8,
        double weight_decay = 0, double momentum = 0.0, bool centered = false, bool maximize = false)
        : base(parameters, lr, alpha, eps, weight_decay, momentum, centered, maximize)
    {
    }

    /// <summary>Sets every parameter's gradient to zero in place (as <see cref="torch.optim.Optimizer.zero_grad"/>), with a held zero: one native call per parameter, no tensor made beyond the gradient's handle.</summary>
    public override void zero_grad() => HeldScalars.ZeroGradients(_parameter_groups.SelectMany(g => g.Parameters));

    /// <summary>One RMSprop update of every parameter with a gradient (as <see cref="RMSProp.step"/>), its Scalars held.</summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        return _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            bool maximize = options.maximize!.Value, centered = options.centered!.Value;
            double momentum = options.momentum!.Value, alpha = options.alpha!.Value, weightDecay = options.weight_decay!.Value;
            double eps = options.eps!.Value, lr = options.LearningRate!.Value;
            // Held for the whole group: `using` keeps each Scalar reachable until every call that reads it has returned.
            using var sWeightDecay = weightDecay.ToScalar();
            using var sAlpha = alpha.ToScalar();
            using var sOneMinusAlpha = (1 - alpha).ToScalar();
            using var sEps = eps.ToScalar();
            using var sMomentum = momentum.ToScalar();
            using var sMinusLr = (-lr).ToScalar();
            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                var grad = param.grad;
                if (grad is null) continue;
                if (maximize) grad = -grad;
                state.step += 1;
                if (weightDecay != 0) grad = grad.add(param, sWeightDecay);
                state.square_avg.mul_(sAlpha).addcmul_(grad, grad, sOneMinusAlpha);
                Tensor avg;
                if (centered)
                {
                    var gradAvg = state.grad_avg;
                    gradAvg.mul_(sAlpha).add_(grad, sOneMinusAlpha);
                    avg = state.square_avg.addcmul(gradAvg, gradAvg, MinusOne).sqrt_().add_(sEps, HeldScalars.One);
                }
                else
                {
                    avg = state.square_avg.sqrt().add_(sEps, HeldScalars.One);
                }
                if (momentum > 0)
                {
                    var buf = state.momentum_buffer;
                    buf.mul_(sMomentum).addcdiv_(grad, avg, HeldScalars.One);
                    param.add_(buf, sMinusLr);
                }
                else
                {
                    param.addcdiv_(grad, avg, sMinusLr);
                }
            }
        }, closure);
    }
}
