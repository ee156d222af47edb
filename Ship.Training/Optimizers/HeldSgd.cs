using Ship.Core.Memory;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ship.Training.Optimizers;

/// <summary>
/// TorchSharp's SGD (momentum, dampening, Nesterov, weight decay, maximize) with every number operand held for the
/// duration of its native call — for the reason given on <see cref="HeldAdam"/>: TorchSharp 0.107 passes temporary
/// Scalars that a collection on another thread can free mid-call. Same operations in the same order on the same state
/// (<see cref="SGD.State"/>), so parameters, <c>state_dict</c> and schedulers equal <see cref="SGD"/> bit for bit.
/// </summary>
public sealed class HeldSgd : SGD
{
    /// <summary>Creates the optimizer over one group of parameters (the arguments of <c>torch.optim.SGD</c>).</summary>
    public HeldSgd(IEnumerable<Parameter> parameters, double lr, double momentum = 0.0, double dampening = 0,
        double weight_decay = 0, bool nesterov = false, bool maximize = false)
        : base(parameters, lr, momentum, dampening, weight_decay, nesterov, maximize)
    {
    }

    /// <summary>Creates the optimizer over parameter groups (the arguments of <c>torch.optim.SGD</c>).</summary>
    public HeldSgd(IEnumerable<SGD.ParamGroup> parameters, double lr, double momentum = 0.0, double dampening = 0,
        double weight_decay = 0, bool nesterov = false, bool maximize = false)
        : base(parameters, lr, momentum, dampening, weight_decay, nesterov, maximize)
    {
    }

    /// <summary>Sets every parameter's gradient to zero in place (as <see cref="torch.optim.Optimizer.zero_grad"/>), with a held zero: one native call per parameter, no tensor made beyond the gradient's handle.</summary>
    public override void zero_grad() => HeldScalars.ZeroGradients(_parameter_groups.SelectMany(g => g.Parameters));

    /// <summary>One SGD update of every parameter with a gradient (as <see cref="SGD.step"/>), its Scalars held.</summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        return _step<SGD.ParamGroup>(group =>
        {
            var options = group.Options;
            double momentum = options.momentum!.Value, dampening = options.dampening!.Value;
            double weightDecay = options.weight_decay!.Value, lr = options.LearningRate!.Value;
            bool nesterov = options.nesterov!.Value, maximize = options.maximize!.Value;
            // Held for the whole group: `using` keeps each Scalar reachable until every call that reads it has returned.
            using var sWeightDecay = weightDecay.ToScalar();
            using var sMomentum = momentum.ToScalar();
            using var sOneMinusDampening = (1 - dampening).ToScalar();
            using var sAlpha = (maximize ? lr : -lr).ToScalar();
            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                var grad = param.grad;
                if (grad is null) continue;
                if (weightDecay != 0) grad = grad.add(param, sWeightDecay);
                if (momentum != 0)
                {
                    var buf = state.momentum_buffer;
                    if (buf is null)
                    {
                        buf = grad.clone().detach().DetachFromDisposeScope();
                        state.momentum_buffer = buf;
                    }
                    else
                    {
                        buf.mul_(sMomentum).add_(grad, sOneMinusDampening);
                    }
                    grad = nesterov ? grad.add(buf, sMomentum) : buf;
                }
                param.add_(grad, sAlpha);
            }
        }, closure);
    }
}
