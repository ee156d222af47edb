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
        var xs = x.Sizes();
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

    /// <summary>
    /// Whether <paramref name="bias"/> is a host tensor of zeros that records no gradient: adding it is then skipped (a
    /// pass over the whole [B, T, Nt] block that changes no value; only a −0 current stays −0 instead of becoming +0).
    /// </summary>
    public static bool IsZeroBias(Tensor bias)
    {
        ArgumentNullException.ThrowIfNull(bias);
        if (bias.device_type != DeviceType.CPU || bias.requires_grad || !bias.is_contiguous()) return false;
        if (bias.dtype == ScalarType.Float32) return !System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bias.bytes).ContainsAnyExcept(0f);
        if (bias.dtype == ScalarType.Float64) return !System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(bias.bytes).ContainsAnyExcept(0d);
        return false;
    }

    /// <summary>Largest output width for which <see cref="Transposed"/> applies.</summary>
    public const int NarrowOutputs = 32;

    /// <summary>
    /// The product itself (no graph), into an uninitialized block (β = 0 ignores its contents): one GEMM over the folded
    /// [B·T, Ns] rows into a [B, T, Nt] block, or for a narrow output (<see cref="Transposed"/>) its transpose, into an
    /// [Nt, B·T] block.
    /// </summary>
    /// <param name="x">Input [B, T, Ns], contiguous, on the host.</param>
    /// <param name="w">Weights [Ns, Nt].</param>
    /// <param name="blocks">The network's pool, or null for libtorch's allocator.</param>
    internal static Tensor Into(Tensor x, Tensor w, BlockPool? blocks)
    {
        // Each shape read is a native call that allocates: read once.
        var xs = x.Sizes();
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

/// <summary>
/// A dense synapse as a link of a fused chain: the forward of <see cref="DenseSequence.Product"/> plus the bias, and
/// the backward of <see cref="DenseSequenceFunction"/> (the same products on the same operands, so the same numbers).
/// </summary>
internal sealed class DenseLink : Ship.Core.Groups.ChainLink
{
    private readonly Tensor _w, _bias;
    private readonly BlockPool? _blocks;
    private readonly long _ns, _nt;
    private readonly Tensor[] _inputs;
    private bool _savedX, _savedW, _transposed;
    private long _b, _t;

    /// <summary>A link computing x·W + b for weights <paramref name="w"/> [Ns, Nt] (as read for this block).</summary>
    public DenseLink(Tensor w, Tensor bias, BlockPool? blocks, long ns, long nt)
    {
        _w = w;
        _bias = bias;
        _blocks = blocks;
        _ns = ns;
        _nt = nt;
        _inputs = new[] { w };
    }

    /// <inheritdoc />
    public override IReadOnlyList<Tensor> Inputs => _inputs;

    /// <inheritdoc />
    public override Tensor Forward(Tensor x, List<Tensor>? saved, bool inputNeedsGrad)
    {
        // As the unfused synapse: an input that is not contiguous (a batch's input narrowed to one block) is copied first.
        _transposed = DenseSequence.Transposed(_ns, _nt);
        var xc = HostTensors.Contiguous(x, x.dtype, out bool owned);
        var xs = xc.Sizes();
        _b = xs[0];
        _t = xs[1];
        var y = DenseSequence.Into(xc, _w, _blocks);
        Tensor y3 = y;
        if (_transposed)
        {
            // The [Nt, B·T] product turned row-major with the bias added in one managed pass (the same sums as the
            // unfused permuted view plus the bias, and the next link reads it as it is, without a converted copy).
            if (TransposeAddBias(y, _bias, _b * _t, _nt, _blocks) is { } rows)
            {
                y.Dispose();
                y3 = rows.view(_b, _t, _nt);
                rows.Dispose();
            }
            else
            {
                using (y)
                using (var yv = y.view(_nt, _b, _t))
                    y3 = yv.permute(1, 2, 0);
                y3.Plus_(_bias);
            }
        }
        else if (!DenseSequence.IsZeroBias(_bias)) y3.Plus_(_bias);
        if (saved is not null)
        {
            // As the unfused node: x for ∂L/∂W, W for ∂L/∂x, each only when that gradient will be asked for.
            _savedX = _w.requires_grad;
            _savedW = inputNeedsGrad;
            if (_savedX) saved.Add(xc);
            if (_savedW) saved.Add(_w);
        }
        // A converted copy that was saved is freed with the block's scope, after the graph took its own reference.
        if (!_savedX) HostTensors.Release(xc, owned);
        return y3;
    }

    /// <summary>
    /// yᵀ [Nt, rows] → y + b as a row-major [rows, Nt] block of the pool, for a contiguous host yᵀ and a bias of one value
    /// or one per output; null for other layouts (the caller then takes the torch path).
    /// </summary>
    private static Tensor? TransposeAddBias(Tensor yt, Tensor bias, long rows, long nt, BlockPool? blocks)
    {
        if (yt.device_type != DeviceType.CPU || bias.device_type != DeviceType.CPU || bias.dtype != yt.dtype || !bias.is_contiguous() || rows * nt > int.MaxValue) return null;
        long nb = bias.numel();
        if (nb != 1 && nb != nt) return null;
        var y = HostTensors.Block(blocks, new[] { rows, nt }, yt.dtype, yt.device);
        if (yt.dtype == ScalarType.Float32) TransposeAddBias<float>(yt, bias, y, (int)rows, (int)nt, nb == 1);
        else if (yt.dtype == ScalarType.Float64) TransposeAddBias<double>(yt, bias, y, (int)rows, (int)nt, nb == 1);
        else
        {
            y.Dispose();
            return null;
        }
        return y;
    }

    private static void TransposeAddBias<T>(Tensor ytt, Tensor biast, Tensor yt, int rows, int nt, bool one)
        where T : unmanaged, System.Numerics.INumber<T>
    {
        var src = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(ytt.bytes);
        var b = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(biast.bytes);
        var dst = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(yt.bytes);
        for (int j = 0; j < nt; j++)
        {
            var col = src.Slice(j * rows, rows);
            T bj = one ? b[0] : b[j];
            for (int r = 0; r < rows; r++) dst[r * nt + j] = col[r] + bj;
        }
    }

    /// <inheritdoc />
    public override void Commit(IReadOnlyList<Tensor> gradStates) { }

    /// <inheritdoc />
    public override Tensor? Backward(Tensor dy, IReadOnlyList<Tensor> dStates, IReadOnlyList<Tensor> saved, bool needDx, Tensor?[] dInputs)
    {
        int k = 0;
        var x = _savedX ? saved[k++] : null;
        var w = _savedW ? saved[k++] : null;
        long rows = _b * _t;
        bool transposed = _transposed;
        // ∂L/∂y as the unfused node receives it: [B·T, Nt], or for a narrow output ∂L/∂yᵀ [Nt, B·T] made contiguous (what
        // autograd's view backward makes), so the products below see the same operands.
        using var g2v = dy.reshape(rows, _nt);
        using var gt = transposed ? g2v.t().contiguous() : null;
        using var gtt = gt?.t();
        var g2 = gtt ?? g2v;
        if (x is not null)
        {
            using var x2 = x.reshape(rows, _ns);
            if (transposed)
            {
                using var one = Ship.Core.Native.IntraOpThreads.Enter(1);
                using var dwt = gt!.mm(x2);
                dInputs[0] = dwt.t();
            }
            else
            {
                using var xt = x2.t();
                dInputs[0] = xt.mm(g2);
            }
        }
        if (!needDx || w is null) return null;
        var dx = HostTensors.Block(_blocks, new[] { _b, _t, _ns }, dy.dtype, dy.device);
        using var dx2 = dx.view(rows, _ns);
        using var wt = w.t();
        dx2.addmm_(g2, wt, beta: 0, alpha: 1);
        return dx;
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
        var xs = x.Sizes();
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
        // A transposed output's gradient arrives contiguous after an in-place bias (autograd copies the slices back) but as
        // a transposed view without it: made contiguous either way, so the products below, and the fused chain's, see one
        // layout (the BLAS rounds differently for another layout).
        if (transposed && !gradOutput.is_contiguous()) gradOutput = gradOutput.contiguous();
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
