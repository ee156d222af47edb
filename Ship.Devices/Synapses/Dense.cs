using Ship.Core.Persistence;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Synapses;

/// <summary>
/// Stateless dense synapse (SHIP's wireS): y = x·W + b, W of shape [Ns, Nt], b per target.
/// W defaults to uniform draws on [0, 1) from the network's generator, as in SHIP.
/// </summary>
[ShipModel("Dense")]
public sealed class Dense : WeightedSynapse, IChainGroup, IShipModel<Dense, WeightedSynapse.WeightedSettings>
{
    /// <inheritdoc />
    public WeightedSynapse.WeightedSettings GetSettings() => SynapseSettings();

    /// <inheritdoc />
    public static Dense FromSettings(WeightedSynapse.WeightedSettings settings) => Restore(new Dense(), settings);

    /// <summary>Creates a dense synapse; weights and bias may be set later with Set("w", …) and Set("bias", …).</summary>
    public Dense(Value? weights = null, Value? bias = null) : base(weights)
    {
        Bias = Param("bias", Extent.Component, bias ?? 0.0, Constraint.Finite);
    }

    /// <summary>Bias per target.</summary>
    public Parameter Bias { get; }

    /// <inheritdoc />
    public string? SequenceRefusal => ChangesDuringRun ? "the weights change within the run (plasticity or per-step device reads)" : null;

    /// <inheritdoc />
    public Tensor StepSequence(Tensor? input, int steps)
    {
        var x = input!;
        var w = Weights;
        if (x.device.type != DeviceType.CPU || w.dim() != 2 || x.dim() != 3)
            return x.matmul(w).Plus_(Bias.Value);
        // A strided block (a batch's input narrowed to one block of steps) is copied first: matmul would compute it as one
        // product per batch row (bmm) unless W records a gradient, rounding otherwise than the one product of a contiguous
        // block (and than the fused chain's link, which reads the same copy).
        if (!x.is_contiguous()) x = x.contiguous();
        // The same GEMM as matmul (which folds [B, T, Ns] to [B·T, Ns] and calls mm), written into a block of the
        // network's pool: a block an earlier run freed is already mapped, where a fresh one costs a page fault per 4 KiB.
        var y = Kernels.DenseSequence.Product(x, w, Context.Blocks);
        // A zero bias changes no value: the pass over the block is skipped (as the fused chain's link does).
        return Kernels.DenseSequence.IsZeroBias(Bias.Value) ? y : y.Plus_(Bias.Value);
    }

    /// <inheritdoc />
    public string? LinkRefusal =>
        Kernels.ChainLinks.Refusal(Context)
        ?? (WeightDevice is not null ? "its weights are read from a device"
            : W.Value.dim() != 2 ? "its weights are not one [inputs, outputs] matrix"
            : Bias.Value.requires_grad ? "its bias is trained: the link has no gradient for it"
            : null);

    /// <inheritdoc />
    public ChainLink OpenLink() => new Kernels.DenseLink(Weights, Bias.Value, Context.Blocks, InputSize, OutputSize);

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        // One read per step: a device whose reads vary draws fresh noise on every read of Weights.
        var w = Weights;
        return w.dim() == 2
            ? input!.matmul(w).Plus_(Bias.Value)
            : input!.unsqueeze(1).matmul(w).squeeze(1).Plus_(Bias.Value);
    }
}
