using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Kernels;

/// <summary>
/// First-order filtering of presynaptic trains along time, F_t = A ⊙ F_{t−1} + X_t with F_{−1} = 0 and A per source
/// [Ns] (or one value), in one managed pass (SIMD over sources) with its exact backward
/// (G_t = ∂L/∂F_t + A ⊙ G_{t+1}, ∂L/∂X_t = G_t). By linearity a leaky synapse whose decay does not vary along targets is
/// this filter followed by one matrix product with the weights: O(Ns) per step instead of O(Ns·Nt).
/// </summary>
public static class LeakyFilter
{
    /// <summary>The backend for a filter over batch × sources = <paramref name="rowsTimesWidth"/> under the context's kernel policy (host only: there is no CUDA form).</summary>
    public static Ship.Core.Networks.KernelChoice Choose(Ship.Core.Networks.SimulationContext ctx, long rowsTimesWidth)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        return ctx.Kernels.ChooseRecurrence(ctx.Device, rowsTimesWidth, cudaCompiled: false);
    }

    /// <summary>Filters x [B, T, Ns] with decay a [Ns] (contiguous, same dtype); differentiable with respect to x.</summary>
    public static Tensor Apply(Tensor x, Tensor a) =>
        torch.is_grad_enabled() && x.requires_grad ? LeakyFilterFunction.apply(x, a.detach().contiguous()) : Run(x, a.detach().contiguous(), reverse: false);

    internal static Tensor Run(Tensor x, Tensor a, bool reverse)
    {
        // Host pass (also for GPU tensors): one copy each way instead of a kernel launch per step.
        var device = x.device;
        var xc = x.detach().to(CPU).contiguous();
        var ac = a.to(CPU).contiguous();
        var f = torch.empty_like(xc);
        long b = xc.Sizes()[0], t = xc.Sizes()[1], n = xc.Sizes()[2];
        if (xc.dtype != ScalarType.Float32 && xc.dtype != ScalarType.Float64)
            throw new NotSupportedException($"LeakyFilter supports float32 and float64, got {xc.dtype}.");
        LifSequence.ForEachRowRange(b, t * n, (from, to) =>
        {
            if (xc.dtype == ScalarType.Float32) Kernel<float>(xc, ac, f, from, to, t, n, reverse);
            else Kernel<double>(xc, ac, f, from, to, t, n, reverse);
        });
        return f.to(device);
    }

    // Batch rows [bFrom, bTo): the tensors' addresses are read once per range (each read is a few native calls).
    private static void Kernel<T>(Tensor xt, Tensor at, Tensor ft, long bFrom, long bTo, long t, long n, bool reverse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = MemoryMarshal.Cast<byte, T>(xt.bytes);
        var a = MemoryMarshal.Cast<byte, T>(at.bytes);
        var f = MemoryMarshal.Cast<byte, T>(ft.bytes);
        var acc = new T[n];
        int w = Vector<T>.Count;
        for (long bi = bFrom; bi < bTo; bi++)
        {
            Array.Clear(acc);
            for (long s = 0; s < t; s++)
            {
                long ti = reverse ? t - 1 - s : s;
                int off = (int)((bi * t + ti) * n);
                int j = 0;
                for (; j + w <= n; j += w)
                {
                    var v = new Vector<T>(acc, j) * new Vector<T>(a.Slice(j)) + new Vector<T>(x.Slice(off + j));
                    v.CopyTo(acc, j);
                    v.CopyTo(f.Slice(off + j));
                }
                for (; j < n; j++)
                {
                    acc[j] = acc[j] * a[j] + x[off + j];
                    f[off + j] = acc[j];
                }
            }
        }
    }
}

/// <summary>Autograd node of <see cref="LeakyFilter"/>: the backward of a linear recurrence is the same recurrence run backwards.</summary>
public sealed class LeakyFilterFunction : torch.autograd.SingleTensorFunction<LeakyFilterFunction>
{
    /// <inheritdoc />
    public override string Name => "ShipLeakyFilter";

    /// <inheritdoc />
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var a = (Tensor)vars[1];
        ctx.save_for_backward(new List<Tensor> { a });
        return LeakyFilter.Run((Tensor)vars[0], a, reverse: false);
    }

    /// <inheritdoc />
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        using var b = Ship.Core.Autograd.BackwardScope.Begin(gradOutput);
        var a = ctx.get_saved_variables()[0];
        return new List<Tensor> { b.Return(LeakyFilter.Run(gradOutput, a, reverse: true)), null! };
    }
}
