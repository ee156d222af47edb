using System.Numerics;
using System.Runtime.InteropServices;
using Ship.Core.Memory;
using Ship.Core.Networks;
using Ship.Core.Spikes;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Kernels;

/// <summary>
/// The fused T-step LIF recurrence of the kernels layer: one autograd node (inputs: currents and initial membrane;
/// output: spikes, final membrane and final gate) whose forward and backward run on the backend the context's
/// <see cref="KernelPolicy"/> chose (<see cref="Choose"/>): the CUDA kernels of <see cref="LifCuda"/>, or the host
/// recurrence here, one pass over the state in managed code, SIMD over neurons (what SpikingJelly's fused CUDA kernels
/// do, for the CPU). The LIF update is written once per backend — the per-step torch form
/// (<see cref="Neurons.LifFunctional.Step"/>, the reference), the host kernel below and the CUDA kernel — each with the
/// same operation order, so all give the same numbers as T calls of the per-step form.
/// </summary>
public static class LifSequence
{
    /// <summary>What the recurrence needs besides the input and the initial membrane: initial gate, parameters, surrogate.</summary>
    public sealed class Args
    {
        /// <summary>Initial membrane [B, N], contiguous; an autograd input of the node, so gradients reach earlier blocks.</summary>
        public required Tensor U0 { get; init; }
        /// <summary>Initial integrate gate [B, N], contiguous (a flag: no gradient flows through it).</summary>
        public required Tensor G0 { get; init; }
        /// <summary>Decay β [B, N], contiguous (on the host also one row [N] for every batch row, or one value for all).</summary>
        public required Tensor Beta { get; init; }
        /// <summary>Threshold [B, N], contiguous (on the host also one row [N] for every batch row, or one value for all).</summary>
        public required Tensor Thr { get; init; }
        /// <summary>Surrogate derivative used backward (null: no gradient is needed).</summary>
        public ISurrogate? Surrogate { get; init; }
        /// <summary>The backend the kernel policy chose (<see cref="Choose"/>); the host recurrence unless it is <see cref="KernelBackend.Cuda"/>.</summary>
        public KernelBackend Backend { get; init; } = KernelBackend.Host;
        /// <summary>The network's pool for the [B, T, N] host blocks (spikes, saved membrane and mask, input gradient); null: libtorch's allocator.</summary>
        public BlockPool? Blocks { get; init; }
        /// <summary>Where the host recurrence adds the spikes it writes (the hardware ledger's counts), or null (the default) for none; the CUDA kernel leaves it untouched.</summary>
        public EventCounts? Counts { get; init; }
    }

    /// <summary>The backend for a LIF recurrence over batch × width = <paramref name="rowsTimesWidth"/> under the context's kernel policy.</summary>
    public static KernelChoice Choose(SimulationContext ctx, long rowsTimesWidth)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        return ctx.Kernels.ChooseRecurrence(ctx.Device, rowsTimesWidth, LifCuda.IsAvailable(ctx.Device));
    }

    /// <summary>
    /// Runs the recurrence over x [B, T, N] from (U0, G0): returns the spikes [B, T, N] and the final membrane and gate
    /// [B, N]. While recording gradients the spikes and the final membrane are outputs of one autograd node whose inputs
    /// are x and U0, so gradients flow across blocks and segments exactly as through T per-step calls.
    /// </summary>
    public static (Tensor Spikes, Tensor U, Tensor G) Run(Tensor x, Args args)
    {
        if (args.Surrogate is not null && torch.is_grad_enabled() && (x.requires_grad || args.U0.requires_grad))
        {
            // One packed output, flat [B·T·N + 2·B·N] = (spikes, final membrane, final gate): a single autograd output
            // always receives a defined gradient, whichever parts the loss uses. (Three outputs would avoid the zero
            // gradient autograd fills for the unused parts, but TorchSharp 0.107 keeps a per-output cache in the
            // caller's dispose scope that it reads for an unused output.) Flat, every part is a contiguous view: the
            // kernel writes the spikes in place and the next synapse reads them as they are.
            var xs = x.Sizes();
            long b = xs[0], t = xs[1], n = xs[2];
            long btn = b * t * n, bn = b * n;
            using var packed = LifSequenceFunction.apply(x, args.U0, args);
            using var ps = packed.narrow(0, 0, btn);
            using var pu = packed.narrow(0, btn, bn);
            using var pg = packed.narrow(0, btn + bn, bn);
            using var u2 = pu.view(b, n);
            using var gd = pg.detach();
            using var g2 = gd.view(b, n);
            return (ps.view(b, t, n), u2.clone(), g2.clone());
        }
        var (spikes, u, g, _, _) = Forward(x, args, save: false);
        return (spikes, u, g);
    }

    /// <summary>
    /// Whether the backward of a recurrence over <paramref name="x"/> recomputes the membrane and mask per batch row from
    /// the forward's inputs (host recurrence, fast sigmoid: its derivative is computed in the pass) instead of reading
    /// [B, T, N] blocks the forward saved: two blocks fewer written forward and one fewer read backward, the same numbers
    /// (the forward's own code computes them again).
    /// </summary>
    internal static bool Recomputes(Tensor x, Args a) =>
        a.Surrogate is FastSigmoid && x.device.type == DeviceType.CPU && !(a.Backend == KernelBackend.Cuda && LifCuda.IsAvailable(x.device));

    /// <summary>
    /// The tensors the backward needs, in the autograd graph's saved list: with <paramref name="recompute"/> the host input
    /// the kernel read (<paramref name="uOrX"/>), U0, G0, β and thr; else the membrane and mask per step, β and thr.
    /// </summary>
    internal static List<Tensor> SaveList(bool recompute, Tensor uOrX, Tensor? mask, Args a) =>
        recompute ? new List<Tensor> { uOrX, a.U0, a.G0, a.Beta, a.Thr } : new List<Tensor> { uOrX, mask!, a.Beta, a.Thr };

    /// <summary>The backward from the saved list of <see cref="SaveList"/>.</summary>
    internal static (Tensor Dx, Tensor DU0) BackwardFromSaved(Tensor? gradOut, Tensor? gradU, IReadOnlyList<Tensor> saved, bool recompute, ISurrogate surrogate, BlockPool? blocks) =>
        recompute
            ? BackwardRecomputing(gradOut, gradU, saved[0], saved[1], saved[2], saved[4], (FastSigmoid)surrogate, saved[3], blocks)
            : Backward(gradOut, gradU, saved[0], saved[3], surrogate, saved[1], saved[2], blocks);

    internal static (Tensor Spikes, Tensor UFinal, Tensor GFinal, Tensor? U, Tensor? Mask) Forward(Tensor x, Args a, bool save, Tensor? spikesInto = null, bool recompute = false)
    {
        // On a GPU with NVRTC the recurrence is one fused kernel; otherwise it runs on the host, which on a GPU replaces
        // ~10 kernel launches per step by two copies per segment.
        if (a.Backend == KernelBackend.Cuda && LifCuda.IsAvailable(x.device)) return LifCuda.Forward(x, a, save);
        var device = x.device;
        // Host tensors that are already contiguous and of the dtype are read as they are (a native call each saved).
        x = HostTensors.Contiguous(x, x.dtype, out bool ownX);
        var xs = x.Sizes();
        long b = xs[0], t = xs[1], n = xs[2];
        // The caller's contiguous host block for the spikes (the autograd node's packed output), else a block of the pool.
        var spikes = spikesInto is not null && device.type == DeviceType.CPU ? spikesInto : HostTensors.BlockLike(a.Blocks, x);
        var u = HostCopy(a.U0);
        var g = HostCopy(a.G0);
        var beta = HostTensors.Contiguous(a.Beta, x.dtype, out bool ownBeta);
        var thr = HostTensors.Contiguous(a.Thr, x.dtype, out bool ownThr);
        // Recomputing backward: nothing per step is kept but the input (returned in the membrane's place).
        bool keep = save && !recompute;
        Tensor? us = keep ? HostTensors.BlockLike(a.Blocks, x) : null, mask = keep ? HostTensors.BlockLike(a.Blocks, x) : null;
        // Per-row spike counts are kept in x's dtype during the call: exact below 2^24 steps (longer blocks are not counted here).
        var counts = a.Counts is { } c && c.Batch == b && c.N == n && t < 1L << 23 ? c : null;
        ForEachRowRange(b, t * n, (from, to) =>
        {
            if (x.dtype == ScalarType.Float32) ForwardKernel<float>(x, spikes, u, g, beta, thr, us, mask, from, to, t, n, counts);
            else ForwardKernel<double>(x, spikes, u, g, beta, thr, us, mask, from, to, t, n, counts);
        });
        counts?.AddKernelSteps(t);
        // The converted copies (a detached x while recording, a GPU network's host copies) are freed now, as the leaky
        // integrator's recurrence does, not left to the caller's scope or the finalizer.
        if (!(save && recompute)) HostTensors.Release(x, ownX);
        HostTensors.Release(beta, ownBeta);
        HostTensors.Release(thr, ownThr);
        if (save && recompute) return (spikes, u, g, x, null);
        if (device.type == DeviceType.CPU) return (spikes, u, g, us, mask);
        return (spikes.to(device), u.to(device), g.to(device), us, mask);
    }

    /// <summary>A host copy of its own (the recurrence writes it): one clone when the tensor is already on the host.</summary>
    private static Tensor HostCopy(Tensor t)
    {
        // A contiguous host tensor: a new tensor and a byte copy (one handle; a detached clone makes two).
        if (t.device_type == DeviceType.CPU && t.is_contiguous() && t.numel() * t.ElementSize <= int.MaxValue)
        {
            var copy = torch.empty(t.Sizes(), dtype: t.dtype);
            t.bytes.CopyTo(copy.bytes);
            return copy;
        }
        using var d = t.detach();
        if (d.device.type == DeviceType.CPU) return d.clone();
        using var h = d.to(CPU);
        return h.contiguous().clone();
    }

    /// <summary>
    /// Batch rows are independent recurrences: large segments use as many workers as libtorch has intra-op threads, small
    /// ones run inline. One budget for both pools: at 1 thread nothing runs beside the caller, and the recurrence never
    /// adds workers to the threads the caller allowed (it runs between libtorch's parallel operations, not during them).
    /// </summary>
    internal static void ForEachBatchRow(long rows, long workPerRow, Action<long> body) =>
        ForEachRowRange(rows, workPerRow, (from, to) => { for (long r = from; r < to; r++) body(r); });

    /// <summary>
    /// As <see cref="ForEachBatchRow"/>, a range of rows [from, to) per call: inline, one call over all rows; in parallel,
    /// one contiguous range per worker. A kernel then reads its tensors' addresses once per range, not once per row (each
    /// read is a few native calls). Rows are independent, so the split never changes a result.
    /// </summary>
    internal static void ForEachRowRange(long rows, long workPerRow, Action<long, long> body)
    {
        int workers = rows > 1 && rows * workPerRow >= 1 << 18 ? (int)Math.Min(rows, torch.get_num_threads()) : 1;
        if (workers <= 1)
        {
            body(0, rows);
            return;
        }
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, k => body(rows * k / workers, rows * (k + 1) / workers));
    }

    private static void ForwardKernel<T>(Tensor xt, Tensor st, Tensor ut, Tensor gt, Tensor betat, Tensor thrt, Tensor? ust, Tensor? maskt, long bFrom, long bTo, long t, long n, EventCounts? counts)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = MemoryMarshal.Cast<byte, T>(xt.bytes);
        var s = MemoryMarshal.Cast<byte, T>(st.bytes);
        var u = MemoryMarshal.Cast<byte, T>(ut.bytes);
        var g = MemoryMarshal.Cast<byte, T>(gt.bytes);
        var beta = RowOf(MemoryMarshal.Cast<byte, T>(betat.bytes), n, out var rentedBeta);
        var thr = RowOf(MemoryMarshal.Cast<byte, T>(thrt.bytes), n, out var rentedThr);
        var us = ust is null ? Span<T>.Empty : MemoryMarshal.Cast<byte, T>(ust.bytes);
        var mk = maskt is null ? Span<T>.Empty : MemoryMarshal.Cast<byte, T>(maskt.bytes);
        ForwardRows(x, s, u, g, beta, thr, us, mk, ust is not null, bFrom, bTo, t, n, counts);
        Return(rentedBeta);
        Return(rentedThr);
    }

    /// <summary>
    /// The forward recurrence over batch rows [bFrom, bTo) of spans laid out as the tensors ([B, T, N] blocks, [B, N]
    /// states; β and thr per row or one row [N]); with <paramref name="save"/> also the membrane and gate·1[v ≥ 0] per step.
    /// The one place the host LIF update is written (the backward's recomputation calls it too).
    /// </summary>
    private static void ForwardRows<T>(Span<T> x, Span<T> s, Span<T> u, Span<T> g, Span<T> beta, Span<T> thr, Span<T> us, Span<T> mk, bool save, long bFrom, long bTo, long t, long n, EventCounts? counts)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (long bi = bFrom; bi < bTo; bi++)
        {
            // Spans sized by the tensors (checked once per row); the loops below index them through references, without a
            // bounds check or a slice per vector.
            long rowEnd = (bi + 1) * n, blockEnd = (bi + 1) * t * n;
            // β and thr per batch row, or one row [N] for all (then read from its start).
            nuint brow = beta.Length == n ? 0 : (nuint)(bi * n), trow = thr.Length == n ? 0 : (nuint)(bi * n);
            if (rowEnd > u.Length || rowEnd > g.Length || brow + (nuint)n > (nuint)beta.Length || trow + (nuint)n > (nuint)thr.Length || blockEnd > x.Length || blockEnd > s.Length
                || save && (blockEnd > us.Length || blockEnd > mk.Length))
                throw new ArgumentException($"LIF recurrence: tensors smaller than [{bi + 1}, {t}, {n}].");
            ref T x0 = ref MemoryMarshal.GetReference(x);
            ref T s0 = ref MemoryMarshal.GetReference(s);
            ref T u0 = ref MemoryMarshal.GetReference(u);
            ref T g0 = ref MemoryMarshal.GetReference(g);
            ref T b0 = ref MemoryMarshal.GetReference(beta);
            ref T th0 = ref MemoryMarshal.GetReference(thr);
            ref T us0 = ref MemoryMarshal.GetReference(us);
            ref T mk0 = ref MemoryMarshal.GetReference(mk);
            int w = Vector<T>.Count;
            var one = Vector<T>.One;
            var zero = Vector<T>.Zero;
            var cnt = counts is null ? null : new T[n]; // spikes per neuron of this row, for the ledger
            long activeSteps = 0;
            {
                nuint row = (nuint)(bi * n);
                for (long ti = 0; ti < t; ti++)
                {
                    nuint off = (nuint)((bi * t + ti) * n);
                    int j = 0;
                    var any = zero;
                    bool anyTail = false;
                    for (; j + w <= n; j += w)
                    {
                        nuint rj = row + (nuint)j, oj = off + (nuint)j;
                        var vu = Vector.LoadUnsafe(ref u0, rj);
                        var vg = Vector.LoadUnsafe(ref g0, rj);
                        // Same operation order as the per-step model (u·β, + x, max 0, · gate), so results are bit-identical.
                        var v = vu * Vector.LoadUnsafe(ref b0, brow + (nuint)j) + Vector.LoadUnsafe(ref x0, oj);
                        var nonNeg = Vector.GreaterThanOrEqual(v, zero);
                        var uu = Vector.ConditionalSelect(nonNeg, v, zero) * vg;
                        var spike = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(uu, Vector.LoadUnsafe(ref th0, trow + (nuint)j)), one, zero);
                        spike.StoreUnsafe(ref s0, oj);
                        if (cnt is not null)
                        {
                            (new Vector<T>(cnt, j) + spike).CopyTo(cnt, j);
                            any |= spike;
                        }
                        if (save)
                        {
                            uu.StoreUnsafe(ref us0, oj);
                            Vector.ConditionalSelect(nonNeg, vg, zero).StoreUnsafe(ref mk0, oj);
                        }
                        uu.StoreUnsafe(ref u0, rj);
                        (one - spike).StoreUnsafe(ref g0, rj);
                    }
                    int rowi = (int)row, offi = (int)off;
                    for (; j < n; j++)
                    {
                        T v = u[rowi + j] * beta[(int)brow + j] + x[offi + j];
                        T uu = (v >= T.Zero ? v : T.Zero) * g[rowi + j];
                        T spike = uu >= thr[(int)trow + j] ? T.One : T.Zero;
                        s[offi + j] = spike;
                        if (cnt is not null && spike == T.One)
                        {
                            cnt[j] += T.One;
                            anyTail = true;
                        }
                        if (save)
                        {
                            us[offi + j] = uu;
                            mk[offi + j] = v >= T.Zero ? g[rowi + j] : T.Zero;
                        }
                        u[rowi + j] = uu;
                        g[rowi + j] = T.One - spike;
                    }
                    if (cnt is not null && (anyTail || any != zero)) activeSteps++;
                }
            }
            if (cnt is not null) counts!.AddKernelRow<T>(bi, cnt, activeSteps);
        }
    }

    /// <summary>
    /// A parameter as the kernels index it: as it is ([B, N] or one row [N]), or a single value (a 0-dim τ or thr, the
    /// usual case) copied N times into an array of the shared pool (give it back with <see cref="Return"/>), so no
    /// expanded tensor is made per run. The same values either way.
    /// </summary>
    private static Span<T> RowOf<T>(Span<T> values, long n, out T[]? rented) where T : unmanaged
    {
        rented = null;
        if (values.Length != 1 || n == 1) return values;
        rented = System.Buffers.ArrayPool<T>.Shared.Rent((int)n);
        var row = rented.AsSpan(0, (int)n);
        row.Fill(values[0]);
        return row;
    }

    private static void Return<T>(T[]? rented)
    {
        if (rented is not null) System.Buffers.ArrayPool<T>.Shared.Return(rented);
    }

    /// <summary>
    /// ∂L/∂x and ∂L/∂U0 from ∂L/∂spikes (<paramref name="gradOut"/>) and ∂L/∂U_final (<paramref name="gradU"/>), either
    /// null for none (zero), the membrane per step
    /// <paramref name="u"/> and the threshold [B, N]: the carry starts from ∂L/∂U_final. The host recurrence computes the
    /// fast sigmoid's derivative inside its pass (no [B, T, N] temporaries for u − thr and its transforms); other
    /// surrogates, and the CUDA kernel, read it from a tensor computed first with the same operations.
    /// </summary>
    internal static (Tensor Dx, Tensor DU0) Backward(Tensor? gradOut, Tensor? gradU, Tensor u, Tensor thr, ISurrogate surrogate, Tensor mask, Tensor beta, BlockPool? blocks = null)
    {
        // The forward's choice decides: its saved mask is on the GPU only when the CUDA kernel ran.
        if (mask.device.type == DeviceType.CUDA && LifCuda.IsAvailable(mask.device))
        {
            using var zero = gradOut is null ? torch.zeros_like(mask) : null;
            return LifCuda.Backward(gradOut ?? zero!, gradU, SurrogateOf(surrogate, u, thr), mask, beta);
        }
        var device = gradOut?.device ?? mask.device;
        var go = SpikeGradient(gradOut, mask.dtype, out bool broadcast, out var first);
        using var firstScope = first;
        // Fused: g(x) = 1 / (slope·|x| + 1)², x = u − thr, computed per element in the order of FastSigmoid.Derivative.
        bool fused = surrogate is FastSigmoid && u.device.type == DeviceType.CPU;
        double slope = surrogate is FastSigmoid fs ? fs.Slope : 0;
        var sgc = fused ? HostTensors.Contiguous(u, mask.dtype, out _) : HostTensors.Contiguous(SurrogateOf(surrogate, u, thr), mask.dtype, out _);
        var thrc = HostTensors.Contiguous(thr, mask.dtype, out _);
        var betac = HostTensors.Contiguous(beta, beta.dtype, out _);
        var dx = HostTensors.BlockLike(blocks, mask);
        var ms = mask.Sizes();
        long b = ms[0], t = ms[1], n = ms[2];
        var carry = CarryStart(gradU, b, n, mask.dtype);
        ForEachRowRange(b, t * n, (from, to) =>
        {
            if (mask.dtype == ScalarType.Float32) BackwardKernel(go, broadcast, sgc, fused, (float)slope, thrc, mask, betac, dx, carry, from, to, t, n);
            else BackwardKernel(go, broadcast, sgc, fused, slope, thrc, mask, betac, dx, carry, from, to, t, n);
        });
        if (device.type == DeviceType.CPU) return (dx, carry);
        return (dx.to(device), carry.to(device));
    }

    /// <summary>
    /// ∂L/∂x and ∂L/∂U0 as <see cref="Backward"/>, the membrane and mask per step recomputed row by row from the forward's
    /// host input <paramref name="x"/> [B, T, N], initial membrane <paramref name="u0"/> and gate <paramref name="g0"/> (<see cref="Recomputes"/>).
    /// </summary>
    internal static (Tensor Dx, Tensor DU0) BackwardRecomputing(Tensor? gradOut, Tensor? gradU, Tensor x, Tensor u0, Tensor g0, Tensor thr, FastSigmoid surrogate, Tensor beta, BlockPool? blocks)
    {
        var dtype = x.dtype;
        var go = SpikeGradient(gradOut, dtype, out bool broadcast, out var first);
        using var firstScope = first;
        var thrc = HostTensors.Contiguous(thr, dtype, out _);
        var betac = HostTensors.Contiguous(beta, dtype, out _);
        var u0c = HostTensors.Contiguous(u0, dtype, out _);
        var g0c = HostTensors.Contiguous(g0, dtype, out _);
        var dx = HostTensors.BlockLike(blocks, x);
        var xs = x.Sizes();
        long b = xs[0], t = xs[1], n = xs[2];
        var carry = CarryStart(gradU, b, n, dtype);
        double slope = surrogate.Slope;
        ForEachRowRange(b, t * n, (from, to) =>
        {
            if (dtype == ScalarType.Float32) BackwardKernel(go, broadcast, null, true, (float)slope, thrc, null, betac, dx, carry, from, to, t, n, x, u0c, g0c);
            else BackwardKernel(go, broadcast, null, true, slope, thrc, null, betac, dx, carry, from, to, t, n, x, u0c, g0c);
        });
        return (dx, carry);
    }

    /// <summary>
    /// ∂L/∂spikes as the backward kernel reads it: the gradient of a sum (the usual loss) is one value broadcast with zero
    /// strides, read as that value (<paramref name="broadcast"/>) instead of materializing a [B, T, N] copy whose first
    /// touch costs more than the whole recurrence; no gradient is a broadcast zero. <paramref name="temporary"/> is what
    /// the caller frees after the kernel ran (or null).
    /// </summary>
    private static Tensor SpikeGradient(Tensor? gradOut, ScalarType dtype, out bool broadcast, out Tensor? temporary)
    {
        broadcast = gradOut is null || gradOut.numel() > 0 && gradOut.Strides().All(st => st == 0);
        temporary = gradOut is null ? torch.zeros(1, dtype: dtype) : broadcast ? gradOut.as_strided(new long[] { 1 }, new long[] { 1 }) : null;
        return HostTensors.Contiguous(broadcast ? temporary! : gradOut!, dtype, out _);
    }

    /// <summary>The carry's start, a [B, N] tensor of its own the kernel updates in place: ∂L/∂u after the last step (the final membrane's own gradient, zeros without one); it ends as ∂L/∂U0.</summary>
    private static Tensor CarryStart(Tensor? gradU, long b, long n, ScalarType dtype)
    {
        if (gradU is null) return torch.zeros(new long[] { b, n }, dtype: dtype);
        var gu = HostTensors.Contiguous(gradU, dtype, out bool owned);
        return owned ? gu : gu.clone();
    }

    /// <summary>The surrogate's derivative at u − thr as a [B, T, N] tensor (the unfused path).</summary>
    private static Tensor SurrogateOf(ISurrogate surrogate, Tensor u, Tensor thr)
    {
        using var th = thr.to(u.device);
        // [B, N] → [B, 1, N]; one row [N] or one value broadcasts over [B, T, N] as it is.
        using var th1 = th.dim() <= 1 ? th.alias() : th.unsqueeze(1);
        var x = u.sub(th1);
        var g = surrogate.Derivative(x);
        // A user's surrogate may return its argument (changed in place): then it is the result, not a temporary.
        if (!ReferenceEquals(g, x)) x.Dispose();
        return g;
    }

    /// <summary>
    /// One batch row backward. <paramref name="sgt"/> is the surrogate derivative per step, or, when
    /// <paramref name="fused"/>, the membrane per step from which the fast sigmoid's derivative is computed here.
    /// </summary>
    private static void BackwardKernel<T>(Tensor got, bool broadcast, Tensor? sgt, bool fused, T slope, Tensor thrt, Tensor? maskt, Tensor betat, Tensor dxt, Tensor carryt, long bFrom, long bTo, long t, long n,
        Tensor? xt = null, Tensor? u0t = null, Tensor? g0t = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var go = MemoryMarshal.Cast<byte, T>(got.bytes);
        T go0 = go[0];
        var vgo0 = new Vector<T>(go0);
        var thr = RowOf(MemoryMarshal.Cast<byte, T>(thrt.bytes), n, out var rentedThr);
        var beta = RowOf(MemoryMarshal.Cast<byte, T>(betat.bytes), n, out var rentedBeta);
        var dx = MemoryMarshal.Cast<byte, T>(dxt.bytes);
        var carryAll = MemoryMarshal.Cast<byte, T>(carryt.bytes);
        // Recomputing (x, U0 and G0 given): the membrane and mask of one batch row at a time, by the forward's own code,
        // into row buffers that stay in the first-level cache, instead of [B, T, N] blocks written forward and read here.
        bool recompute = xt is not null;
        Span<T> sg, mk, x = default, u0 = default, g0 = default;
        T[]? rentedRows = null;
        if (recompute)
        {
            x = MemoryMarshal.Cast<byte, T>(xt!.bytes);
            u0 = MemoryMarshal.Cast<byte, T>(u0t!.bytes);
            g0 = MemoryMarshal.Cast<byte, T>(g0t!.bytes);
            int tn = (int)(t * n);
            rentedRows = System.Buffers.ArrayPool<T>.Shared.Rent(3 * tn + 2 * (int)n);
            sg = rentedRows.AsSpan(0, tn);
            mk = rentedRows.AsSpan(tn, tn);
            if (x.Length < bTo * t * n || u0.Length < bTo * n || g0.Length < bTo * n)
                throw new ArgumentException($"LIF recurrence backward: forward inputs smaller than [{bTo}, {t}, {n}].");
        }
        else
        {
            sg = MemoryMarshal.Cast<byte, T>(sgt!.bytes);
            mk = MemoryMarshal.Cast<byte, T>(maskt!.bytes);
        }
        for (long bi = bFrom; bi < bTo; bi++)
        {
            // The carry tensor is this call's own (zeros or a copy of ∂L/∂U_final): each row is updated in place.
            var carry = carryAll.Slice((int)(bi * n), (int)n);
            long rowEnd = (bi + 1) * n, blockEnd = (bi + 1) * t * n;
            nuint brow = beta.Length == n ? 0 : (nuint)(bi * n), trow = thr.Length == n ? 0 : (nuint)(bi * n);
            if (recompute)
            {
                int tn = (int)(t * n), ni = (int)n;
                var scratch = rentedRows.AsSpan(2 * tn, tn);
                var uRow = rentedRows.AsSpan(3 * tn, ni);
                var gRow = rentedRows.AsSpan(3 * tn + ni, ni);
                u0.Slice((int)(bi * n), ni).CopyTo(uRow);
                g0.Slice((int)(bi * n), ni).CopyTo(gRow);
                ForwardRows(x.Slice((int)(bi * t * n), tn), scratch, uRow, gRow, beta.Slice((int)brow, ni), thr.Slice((int)trow, ni), sg, mk, save: true, 0, 1, t, n, null);
            }
            // Spans sized by the tensors (checked once per row); the vector loop indexes them through references.
            long localEnd = recompute ? t * n : blockEnd;
            if (trow + (nuint)n > (nuint)thr.Length || brow + (nuint)n > (nuint)beta.Length || localEnd > sg.Length || localEnd > mk.Length || blockEnd > dx.Length || !broadcast && blockEnd > go.Length)
                throw new ArgumentException($"LIF recurrence backward: tensors smaller than [{bi + 1}, {t}, {n}].");
            ref T go0r = ref MemoryMarshal.GetReference(go);
            ref T sg0 = ref MemoryMarshal.GetReference(sg);
            ref T th0 = ref MemoryMarshal.GetReference(thr);
            ref T mk0 = ref MemoryMarshal.GetReference(mk);
            ref T b0 = ref MemoryMarshal.GetReference(beta);
            ref T dx0 = ref MemoryMarshal.GetReference(dx);
            ref T c0 = ref MemoryMarshal.GetReference(carry);
            int w = Vector<T>.Count;
            var one = Vector<T>.One;
            var vslope = new Vector<T>(slope);
            {
                for (long ti = t - 1; ti >= 0; ti--)
                {
                    nuint off = (nuint)((bi * t + ti) * n);
                    // The membrane and mask of this step: in the row buffers when recomputed, else in the saved blocks.
                    nuint soff = recompute ? (nuint)(ti * n) : off;
                    int j = 0;
                    // δu_t = ∂L/∂s_t · g(u_t − thr) + carry;  ∂L/∂x_t = δu_t · m_t;  carry ← δu_t · m_t · β  (m_t = gate · 1[v_t ≥ 0]).
                    for (; j + w <= n; j += w)
                    {
                        nuint oj = off + (nuint)j, sj = soff + (nuint)j;
                        Vector<T> g;
                        if (fused)
                        {
                            var a = Vector.Abs(Vector.LoadUnsafe(ref sg0, sj) - Vector.LoadUnsafe(ref th0, trow + (nuint)j)) * vslope + one;
                            g = one / (a * a);
                        }
                        else g = Vector.LoadUnsafe(ref sg0, sj);
                        var d = (broadcast ? vgo0 : Vector.LoadUnsafe(ref go0r, oj)) * g + Vector.LoadUnsafe(ref c0, (nuint)j);
                        var dm = d * Vector.LoadUnsafe(ref mk0, sj);
                        dm.StoreUnsafe(ref dx0, oj);
                        (dm * Vector.LoadUnsafe(ref b0, brow + (nuint)j)).StoreUnsafe(ref c0, (nuint)j);
                    }
                    int offi = (int)off, soffi = (int)soff;
                    for (; j < n; j++)
                    {
                        T g;
                        if (fused)
                        {
                            T a = T.Abs(sg[soffi + j] - thr[(int)trow + j]) * slope + T.One;
                            g = T.One / (a * a);
                        }
                        else g = sg[soffi + j];
                        T d = (broadcast ? go0 : go[offi + j]) * g + carry[j];
                        T dm = d * mk[soffi + j];
                        dx[offi + j] = dm;
                        carry[j] = dm * beta[(int)brow + j];
                    }
                }
            }
        }
        if (rentedRows is not null) System.Buffers.ArrayPool<T>.Shared.Return(rentedRows);
        Return(rentedBeta);
        Return(rentedThr);
    }
}

/// <summary>
/// Autograd node of the fused LIF sequence: inputs (currents, initial membrane), one packed flat output [B·T·N + 2·B·N] =
/// (spikes, final membrane, final gate); the surrogate gradient flows back to the currents and to the initial membrane
/// (the gate is a flag, its gradient is ignored).
/// </summary>
public sealed class LifSequenceFunction : torch.autograd.SingleTensorFunction<LifSequenceFunction>
{
    /// <inheritdoc />
    public override string Name => "ShipLifSequence";

    /// <inheritdoc />
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var a = (LifSequence.Args)vars[2];
        // The packed output is a block of the pool; on the host the recurrence writes the spikes straight into it.
        var xs = x.Sizes();
        long btn = xs[0] * xs[1] * xs[2], bn = xs[0] * xs[2];
        var shape = new[] { btn + 2 * bn };
        var packed = a.Blocks is { } pool ? pool.Empty(shape, x.dtype, x.device) : torch.empty(shape, dtype: x.dtype, device: x.device);
        using var ps = packed.narrow(0, 0, btn);
        using var sv = ps.view(xs);
        bool recompute = LifSequence.Recomputes(x, a);
        var (spikes, uFinal, gFinal, u, mask) = LifSequence.Forward(x, a, save: true, spikesInto: sv, recompute);
        // Saved in the graph (not held by managed objects), so they live exactly as long as the graph does: a pooled
        // block saved here goes back to the pool only when the graph is freed.
        ctx.save_for_backward(LifSequence.SaveList(recompute, u!, mask, a));
        ctx.save_data("recompute", recompute);
        ctx.save_data("surrogate", a.Surrogate!);
        ctx.save_data("blocks", a.Blocks!);
        if (!ReferenceEquals(spikes, sv))
        {
            // The CUDA kernel, or a GPU network's host recurrence, made its own spikes: one copy.
            sv.copy_(spikes);
            spikes.Dispose();
        }
        using (var pu = packed.narrow(0, btn, bn))
        using (var u2 = pu.view(uFinal.Sizes())) u2.copy_(uFinal);
        using (var pg = packed.narrow(0, btn + bn, bn))
        using (var g2 = pg.view(gFinal.Sizes())) g2.copy_(gFinal);
        uFinal.Dispose();
        gFinal.Dispose();
        return packed;
    }

    /// <inheritdoc />
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        // Backward runs on libtorch's autograd thread, outside every scope of the caller: free what is made here.
        using var b = Ship.Core.Autograd.BackwardScope.Begin(gradOutput);
        var saved = ctx.get_saved_variables();
        var surrogate = (ISurrogate)ctx.get_data("surrogate");
        var blocks = ctx.get_data("blocks") as BlockPool;
        bool recompute = ctx.get_data("recompute") is true;
        // The membrane per step, or the input: either is [B, T, N].
        var ms = saved[0].Sizes();
        long bs = ms[0], t = ms[1], n = ms[2];
        var gradSpikes = gradOutput.narrow(0, 0, bs * t * n).reshape(bs, t, n);
        var gradU = gradOutput.narrow(0, bs * t * n, bs * n).reshape(bs, n);
        var (dx, du0) = LifSequence.BackwardFromSaved(gradSpikes, gradU, saved, recompute, surrogate, blocks);
        return new List<Tensor> { b.Return(dx), b.Return(du0), null! };
    }
}
