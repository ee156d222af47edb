using Ship.Core.Memory;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Kernels;

/// <summary>
/// The time-batched dense product y = x·W over a whole block, x [B, T, Ns] and W [Ns, Nt] on the host, with its
/// [B, T, ·] blocks (y, and ∂L/∂x backward) in the network's <see cref="BlockPool"/>. Without gradients it is one GEMM
/// into a pooled block; while recording, one autograd node whose backward makes the same products as libtorch's
/// <c>addmm</c> backward (∂L/∂W = xᵀ·∂L/∂y, ∂L/∂x = ∂L/∂y·Wᵀ), so values are identical, without the full-size copy of
/// ∂L/∂y that autograd makes for a product written into a view of a preallocated block.
/// </summary>
public static class DenseSequence
{
    /// <summary>x·W for contiguous host x [B, T, Ns] and W [Ns, Nt], written into a pooled block (<paramref name="blocks"/> null: libtorch's allocator).</summary>
    public static Tensor Product(Tensor x, Tensor w, BlockPool? blocks)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        if (torch.is_grad_enabled() && (x.requires_grad || w.requires_grad)) return DenseSequenceFunction.apply(x, w, blocks!);
        return Into(x, w, blocks);
    }

    /// <summary>The product itself (no graph): one GEMM over the folded [B·T, Ns] rows, into an uninitialized block (β = 0 ignores its contents).</summary>
    internal static Tensor Into(Tensor x, Tensor w, BlockPool? blocks)
    {
        long b = x.shape[0], t = x.shape[1];
        var shape = new[] { b, t, w.shape[1] };
        var y = HostTensors.Block(blocks, shape, x.dtype, x.device);
        using var x2 = x.view(b * t, x.shape[2]);
        using var y2 = y.view(b * t, w.shape[1]);
        y2.addmm_(x2, w, beta: 0, alpha: 1);
        return y;
    }
}

/// <summary>Autograd node of <see cref="DenseSequence.Product"/>: inputs x [B, T, Ns] and W [Ns, Nt], output x·W [B, T, Nt].</summary>
public sealed class DenseSequenceFunction : torch.autograd.SingleTensorFunction<DenseSequenceFunction>
{
    /// <inheritdoc />
    public override string Name => "ShipDenseSequence";

    /// <inheritdoc />
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var w = (Tensor)vars[1];
        var blocks = vars[2] as BlockPool;
        // ∂L/∂W needs x, ∂L/∂x needs W: save each only when the other input's gradient is wanted.
        ctx.save_for_backward(new List<Tensor> { w.requires_grad ? x : null!, x.requires_grad ? w : null! });
        ctx.save_data("blocks", blocks!);
        ctx.save_data("dx", x.requires_grad);
        ctx.save_data("dw", w.requires_grad);
        return DenseSequence.Into(x, w, blocks);
    }

    /// <inheritdoc />
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        // Backward runs on libtorch's autograd thread, outside every scope of the caller: free what is made here.
        using var b = Ship.Core.Autograd.BackwardScope.Begin(gradOutput);
        var saved = ctx.get_saved_variables();
        var blocks = ctx.get_data("blocks") as BlockPool;
        bool needDx = (bool)ctx.get_data("dx"), needDw = (bool)ctx.get_data("dw");
        long bs = gradOutput.shape[0], t = gradOutput.shape[1], nt = gradOutput.shape[2];
        var g2 = gradOutput.reshape(bs * t, nt);
        Tensor? dx = null, dw = null;
        if (needDw)
        {
            // As libtorch's addmm backward for a row-major W: xᵀ·∂L/∂y.
            var x = saved[0];
            dw = x.reshape(bs * t, x.shape[2]).t().mm(g2);
        }
        if (needDx)
        {
            // As libtorch's addmm backward for row-major x: ∂L/∂y·Wᵀ, written into a pooled block (mm is addmm with β = 0, α = 1).
            var w = saved[1];
            var shape = new[] { bs, t, w.shape[0] };
            dx = HostTensors.Block(blocks, shape, gradOutput.dtype, gradOutput.device);
            dx.view(bs * t, w.shape[0]).addmm_(g2, w.t(), beta: 0, alpha: 1);
        }
        return new List<Tensor> { dx is null ? null! : b.Return(dx), dw is null ? null! : b.Return(dw), null! };
    }
}
