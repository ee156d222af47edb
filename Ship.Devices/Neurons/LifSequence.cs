using System.Numerics;
using System.Runtime.InteropServices;
using Ship.Core.Memory;
using Ship.Core.Spikes;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Neurons;

/// <summary>
/// The whole T-step LIF recurrence of a group in one pass over the state in managed code, SIMD over neurons (what
/// SpikingJelly's fused CUDA kernels do, for the CPU). Forward and backward (a custom autograd node with the surrogate
/// derivative) give the same numbers as T calls of <see cref="LifFunctional.Step"/>, at two native calls instead of
/// about a dozen per step.
/// </summary>
public static class LifSequence
{
    /// <summary>What the autograd node needs besides the input: initial state, parameters, surrogate; it returns the final state.</summary>
    public sealed class Args
    {
        /// <summary>Initial membrane [B, N], contiguous.</summary>
        public required Tensor U0 { get; init; }
        /// <summary>Initial integrate gate [B, N], contiguous.</summary>
        public required Tensor G0 { get; init; }
        /// <summary>Decay β [B, N], contiguous.</summary>
        public required Tensor Beta { get; init; }
        /// <summary>Threshold [B, N], contiguous.</summary>
        public required Tensor Thr { get; init; }
        /// <summary>Surrogate derivative used backward (null: no gradient is needed).</summary>
        public ISurrogate? Surrogate { get; init; }
        /// <summary>Membrane after the last step.</summary>
        public Tensor? UFinal { get; set; }
        /// <summary>Integrate gate after the last step.</summary>
        public Tensor? GFinal { get; set; }
    }

    /// <summary>Runs the recurrence over x [B, T, N]; returns the spikes [B, T, N] and sets the final state in <paramref name="args"/>.</summary>
    public static Tensor Run(Tensor x, Args args)
    {
        if (args.Surrogate is not null && torch.is_grad_enabled() && x.requires_grad)
            return LifSequenceFunction.apply(x, args);
        var (spikes, _, _) = Forward(x, args, save: false);
        return spikes;
    }

    internal static (Tensor Spikes, Tensor? U, Tensor? Mask) Forward(Tensor x, Args a, bool save)
    {
        // On a GPU with NVRTC the recurrence is one fused kernel; otherwise it runs on the host, which on a GPU replaces
        // ~10 kernel launches per step by two copies per segment.
        if (LifCuda.IsAvailable(x.device)) return LifCuda.Forward(x, a, save);
        var device = x.device;
        x = x.detach().to(CPU).contiguous();
        long b = x.shape[0], t = x.shape[1], n = x.shape[2];
        var spikes = HostBuffers.EmptyLike(x);
        var u = a.U0.detach().to(CPU).clone();
        var g = a.G0.detach().to(CPU).clone();
        var beta = a.Beta.detach().to(CPU).contiguous();
        var thr = a.Thr.detach().to(CPU).contiguous();
        Tensor? us = save ? HostBuffers.EmptyLike(x) : null, mask = save ? HostBuffers.EmptyLike(x) : null;
        ForEachBatchRow(b, t * n, bi =>
        {
            if (x.dtype == ScalarType.Float32) ForwardKernel<float>(x, spikes, u, g, beta, thr, us, mask, bi, t, n);
            else ForwardKernel<double>(x, spikes, u, g, beta, thr, us, mask, bi, t, n);
        });
        a.UFinal = u.to(device);
        a.GFinal = g.to(device);
        return (spikes.to(device), us, mask);
    }

    /// <summary>Batch rows are independent recurrences: large segments use all cores, small ones avoid the scheduling cost.</summary>
    internal static void ForEachBatchRow(long rows, long workPerRow, Action<long> body)
    {
        if (rows > 1 && rows * workPerRow >= 1 << 18) Parallel.For(0L, rows, body);
        else for (long r = 0; r < rows; r++) body(r);
    }

    private static void ForwardKernel<T>(Tensor xt, Tensor st, Tensor ut, Tensor gt, Tensor betat, Tensor thrt, Tensor? ust, Tensor? maskt, long bi, long t, long n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = MemoryMarshal.Cast<byte, T>(xt.bytes);
        var s = MemoryMarshal.Cast<byte, T>(st.bytes);
        var u = MemoryMarshal.Cast<byte, T>(ut.bytes);
        var g = MemoryMarshal.Cast<byte, T>(gt.bytes);
        var beta = MemoryMarshal.Cast<byte, T>(betat.bytes);
        var thr = MemoryMarshal.Cast<byte, T>(thrt.bytes);
        var us = ust is null ? Span<T>.Empty : MemoryMarshal.Cast<byte, T>(ust.bytes);
        var mk = maskt is null ? Span<T>.Empty : MemoryMarshal.Cast<byte, T>(maskt.bytes);
        bool save = ust is not null;
        int w = Vector<T>.Count;
        var one = Vector<T>.One;
        var zero = Vector<T>.Zero;
        {
            int row = (int)(bi * n);
            for (long ti = 0; ti < t; ti++)
            {
                int off = (int)((bi * t + ti) * n);
                int j = 0;
                for (; j + w <= n; j += w)
                {
                    var vu = new Vector<T>(u.Slice(row + j));
                    var vg = new Vector<T>(g.Slice(row + j));
                    // Same operation order as the per-step model (u·β, + x, max 0, · gate), so results are bit-identical.
                    var v = vu * new Vector<T>(beta.Slice(row + j)) + new Vector<T>(x.Slice(off + j));
                    var nonNeg = Vector.GreaterThanOrEqual(v, zero);
                    var uu = Vector.ConditionalSelect(nonNeg, v, zero) * vg;
                    var spike = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(uu, new Vector<T>(thr.Slice(row + j))), one, zero);
                    spike.CopyTo(s.Slice(off + j));
                    if (save)
                    {
                        uu.CopyTo(us.Slice(off + j));
                        Vector.ConditionalSelect(nonNeg, vg, zero).CopyTo(mk.Slice(off + j));
                    }
                    uu.CopyTo(u.Slice(row + j));
                    (one - spike).CopyTo(g.Slice(row + j));
                }
                for (; j < n; j++)
                {
                    T v = u[row + j] * beta[row + j] + x[off + j];
                    T uu = (v >= T.Zero ? v : T.Zero) * g[row + j];
                    T spike = uu >= thr[row + j] ? T.One : T.Zero;
                    s[off + j] = spike;
                    if (save)
                    {
                        us[off + j] = uu;
                        mk[off + j] = v >= T.Zero ? g[row + j] : T.Zero;
                    }
                    u[row + j] = uu;
                    g[row + j] = T.One - spike;
                }
            }
        }
    }

    internal static Tensor Backward(Tensor gradOut, Tensor sg, Tensor mask, Tensor beta)
    {
        if (LifCuda.IsAvailable(mask.device)) return LifCuda.Backward(gradOut, sg, mask, beta);
        var device = gradOut.device;
        // The gradient of a sum (the usual loss) is one value broadcast with zero strides: read that value instead of
        // materializing a [B, T, N] copy, whose first touch costs more than the whole recurrence.
        bool broadcast = gradOut.numel() > 0 && gradOut.stride().All(st => st == 0);
        using var first = broadcast ? gradOut.as_strided(new long[] { 1 }, new long[] { 1 }) : null;
        var go = broadcast ? first!.to(CPU).contiguous() : gradOut.to(CPU).contiguous();
        var sgc = sg.to(CPU).contiguous();
        var betac = beta.to(CPU).contiguous();
        var dx = HostBuffers.EmptyLike(mask);
        long b = mask.shape[0], t = mask.shape[1], n = mask.shape[2];
        ForEachBatchRow(b, t * n, bi =>
        {
            if (mask.dtype == ScalarType.Float32) BackwardKernel<float>(go, broadcast, sgc, mask, betac, dx, bi, t, n);
            else BackwardKernel<double>(go, broadcast, sgc, mask, betac, dx, bi, t, n);
        });
        return dx.to(device);
    }

    private static void BackwardKernel<T>(Tensor got, bool broadcast, Tensor sgt, Tensor maskt, Tensor betat, Tensor dxt, long bi, long t, long n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var go = MemoryMarshal.Cast<byte, T>(got.bytes);
        T go0 = go[0];
        var vgo0 = new Vector<T>(go0);
        var sg = MemoryMarshal.Cast<byte, T>(sgt.bytes);
        var mk = MemoryMarshal.Cast<byte, T>(maskt.bytes);
        var beta = MemoryMarshal.Cast<byte, T>(betat.bytes);
        var dx = MemoryMarshal.Cast<byte, T>(dxt.bytes);
        var carry = new T[n];
        int w = Vector<T>.Count;
        {
            int row = (int)(bi * n);
            for (long ti = t - 1; ti >= 0; ti--)
            {
                int off = (int)((bi * t + ti) * n);
                int j = 0;
                // δu_t = ∂L/∂s_t · g(u_t − thr) + carry;  ∂L/∂x_t = δu_t · m_t;  carry ← δu_t · m_t · β  (m_t = gate · 1[v_t ≥ 0]).
                for (; j + w <= n; j += w)
                {
                    var d = (broadcast ? vgo0 : new Vector<T>(go.Slice(off + j))) * new Vector<T>(sg.Slice(off + j)) + new Vector<T>(carry, j);
                    var dm = d * new Vector<T>(mk.Slice(off + j));
                    dm.CopyTo(dx.Slice(off + j));
                    (dm * new Vector<T>(beta.Slice(row + j))).CopyTo(carry, j);
                }
                for (; j < n; j++)
                {
                    T d = (broadcast ? go0 : go[off + j]) * sg[off + j] + carry[j];
                    T dm = d * mk[off + j];
                    dx[off + j] = dm;
                    carry[j] = dm * beta[row + j];
                }
            }
        }
    }
}

/// <summary>Autograd node of the fused LIF sequence: input currents in, spikes out, surrogate gradient back to the currents.</summary>
public sealed class LifSequenceFunction : torch.autograd.SingleTensorFunction<LifSequenceFunction>
{
    /// <inheritdoc />
    public override string Name => "ShipLifSequence";

    /// <inheritdoc />
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var a = (LifSequence.Args)vars[1];
        var (spikes, u, mask) = LifSequence.Forward(x, a, save: true);
        // Saved in the graph (not held by the managed Args), so they live exactly as long as the graph does.
        ctx.save_for_backward(new List<Tensor> { u!, mask!, a.Beta, a.Thr });
        ctx.save_data("surrogate", a.Surrogate!);
        return spikes;
    }

    /// <inheritdoc />
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        // Backward runs on libtorch's autograd thread, outside every scope of the caller: free what is made here.
        using var b = Ship.Core.Autograd.BackwardScope.Begin(gradOutput);
        var saved = ctx.get_saved_variables();
        var surrogate = (ISurrogate)ctx.get_data("surrogate");
        Tensor u = saved[0], mask = saved[1], beta = saved[2], thr = saved[3];
        var sg = surrogate.Derivative(u.sub(thr.to(u.device).unsqueeze(1)));
        var dx = LifSequence.Backward(gradOutput, sg, mask, beta);
        return new List<Tensor> { b.Return(dx), null! };
    }
}
