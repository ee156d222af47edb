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
        var y = torch.is_grad_enabled() && (x.requires_grad || w.requires_grad) ? DenseSequenceFunction.apply(x, w, blocks!) : Into(x, w, blocks);
        if (y.dim() == 3) return y;
        // The [Nt, B·T] result seen as [B, T, Nt]. The view is made here, outside the autograd node: an output of a custom
        // node that is itself a view could not be changed in place (the bias is added in place).
        var xs = x.shape;
        using (y)
        using (var y3 = y.view(y.size(0), xs[0], xs[1]))
            return y3.permute(1, 2, 0);
    }

    /// <summary>
    /// Whether a product with <paramref name="ns"/> inputs and <paramref name="nt"/> outputs is computed transposed,
    /// yᵀ = Wᵀ·xᵀ into an [Nt, B·T] block (and ∂L/∂Wᵀ = ∂L/∂yᵀ·x): the BLAS (MKL, column-major) is slow when its result's
    /// leading dimension is a few columns that are not a multiple of its vector width — measured with batch 32 × 25
    /// steps, 128 → 10: 98 µs for y = x·W against 31 µs transposed, and 115 against 31 µs for ∂L/∂W; from about 64
    /// outputs both layouts cost the same (docs/benchmarks.md, Training). A narrow read-out layer is the common case.
    /// </summary>
    public static bool Transposed(long ns, long nt) => nt <= NarrowOutputs && nt < ns;

    /// <summary>Largest output width for which <see cref="Transposed"/> applies.</summary>
    public const int NarrowOutputs = 32;

    /// <summary>
    /// The product itself (no graph), into an uninitialized block (β = 0 ignores its contents): one GEMM over the folded
    /// [B·T, Ns] rows into a [B, T, Nt] block, or for a narrow output (<see cref="Transposed"/>) its transpose, into an
    /// [Nt, B·T] block.
    /// </summary>
    internal static Tensor Into(Tensor x, Tensor w, BlockPool? blocks)
    {
        // Each shape read is a native call that allocates: read once.
        var xs = x.shape;
        long b = xs[0], t = xs[1], ns = xs[2], nt = w.size(1);
        using var x2 = x.view(b * t, ns);
        if (Transposed(ns, nt))
        {
            var yt = HostTensors.Block(blocks, new[] { nt, b * t }, x.dtype, x.device);
            // One thread: with more, the BLAS may split the sum over Ns between threads, and results would then depend
            // on the thread count (they must not: docs/benchmarks.md, "Threads"); a narrow product gains little from them.
            using (Ship.Core.Native.IntraOpThreads.Enter(1))
            using (var wt = w.t())
            using (var xt = x2.t())
                yt.addmm_(wt, xt, beta: 0, alpha: 1);
            return yt;
        }
        var y = HostTensors.Block(blocks, new[] { b, t, nt }, x.dtype, x.device);
        using var y2 = y.view(b * t, nt);
        y2.addmm_(x2, w, beta: 0, alpha: 1);
        return y;
    }
}

/// <summary>Autograd node of <see cref="DenseSequence.Product"/>: inputs x [B, T, Ns] and W [Ns, Nt], output x·W [B, T, Nt], or (x·W)ᵀ [Nt, B·T] for a narrow output (<see cref="DenseSequence.Transposed"/>).</summary>
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
        var xs = x.shape;
        ctx.save_data("b", xs[0]);
        ctx.save_data("t", xs[1]);
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
        // The output was [B, T, Nt], or [Nt, B·T] for a narrow output (DenseSequence.Transposed).
        bool transposed = gradOutput.dim() == 2;
        long nt = gradOutput.size(transposed ? 0 : 2);
        long bs = (long)ctx.get_data("b"), t = (long)ctx.get_data("t");
        // ∂L/∂y as [B·T, Nt] (for the transposed output, a view of ∂L/∂yᵀ).
        var g2 = transposed ? gradOutput.t() : gradOutput.reshape(bs * t, nt);
        Tensor? dx = null, dw = null;
        if (needDw)
        {
            // As libtorch's addmm backward for a row-major W: xᵀ·∂L/∂y; for a narrow output its transpose ∂L/∂yᵀ·x
            // (DenseSequence.Transposed), handed back as a [Ns, Nt] view.
            var x = saved[0];
            var x2 = x.reshape(bs * t, x.size(2));
            if (transposed)
            {
                // One thread, as the forward (the sum over B·T rows must not be split by the thread count).
                using var one = Ship.Core.Native.IntraOpThreads.Enter(1);
                dw = gradOutput.mm(x2).t();
            }
            else dw = x2.t().mm(g2);
        }
        if (needDx)
        {
            // As libtorch's addmm backward for row-major x: ∂L/∂y·Wᵀ, written into a pooled block (mm is addmm with β = 0, α = 1).
            var w = saved[1];
            long ns = w.size(0);
            dx = HostTensors.Block(blocks, new[] { bs, t, ns }, gradOutput.dtype, gradOutput.device);
            dx.view(bs * t, ns).addmm_(g2, w.t(), beta: 0, alpha: 1);
        }
        return new List<Tensor> { dx is null ? null! : b.Return(dx), dw is null ? null! : b.Return(dw), null! };
    }
}
