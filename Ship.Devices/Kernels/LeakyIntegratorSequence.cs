using System.Numerics;
using System.Runtime.InteropServices;
using Ship.Core.Networks;
using Ship.Devices.Neurons;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Kernels;

/// <summary>
/// The whole T-step leaky-integrator recurrence u_t = max(0, u_(t−1)·β + x_t) of a group in one pass on the host, SIMD
/// over neurons, forward and backward (a custom autograd node): the same numbers as T calls of
/// <see cref="LeakyIntegratorFunctional.Step"/> (same operation order), at one node instead of three per step. A read-out
/// layer trained through time (max over time of its membrane) then costs one call each way instead of ~10 per step.
/// </summary>
public static class LeakyIntegratorSequence
{
    /// <summary>The backend the kernel policy gives this recurrence (host only: there is no CUDA form of it yet).</summary>
    public static KernelChoice Choose(SimulationContext ctx, long rowsTimesWidth)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        return ctx.Kernels.ChooseRecurrence(ctx.Device, rowsTimesWidth, cudaCompiled: false);
    }

    /// <summary>
    /// Runs the recurrence over x [B, T, N] (null: no input) from u0 [B, N] with decay β [B, N]: returns the membranes
    /// [B, T, N] (the output) and the final membrane [B, N]. While recording gradients the output is one autograd node
    /// whose inputs are x and u0, and the final membrane is its last step, so gradients reach earlier blocks.
    /// </summary>
    public static (Tensor Output, Tensor U) Run(Tensor? x, Tensor u0, Tensor beta, int steps)
    {
        ArgumentNullException.ThrowIfNull(u0);
        ArgumentNullException.ThrowIfNull(beta);
        var us = u0.Sizes();
        long b = us[0], n = us[1];
        var input = x ?? torch.zeros(new long[] { b, steps, n }, dtype: u0.dtype, device: u0.device);
        var be = KernelBeta(beta, b, n);
        var y = torch.is_grad_enabled() && (input.requires_grad || u0.requires_grad)
            ? LeakyIntegratorSequenceFunction.apply(input, u0, be)
            : Forward(input, u0, be, save: false).Output;
        using var last = y.select(1, steps - 1);
        return (y, last.clone());
    }

    /// <summary>
    /// β as the kernels read it: per neuron ([N]), per batch row and neuron ([B, N]) or one for all (0-dim: a constant τ)
    /// as it is; other shapes expanded to a contiguous [B, N].
    /// </summary>
    internal static Tensor KernelBeta(Tensor beta, long b, long n)
    {
        int dim = (int)beta.dim();
        bool asIs = beta.is_contiguous() && (dim == 0 || dim == 1 && beta.Sizes()[0] == n || dim == 2 && beta.Sizes()[0] == b && beta.Sizes()[1] == n);
        return asIs ? beta : beta.expand(b, n).contiguous();
    }

    /// <summary>Forward on the host: membranes [B, T, N] and, when <paramref name="save"/>, the mask 1[v ≥ 0] the backward needs.</summary>
    internal static (Tensor Output, Tensor? Mask) Forward(Tensor x, Tensor u0, Tensor beta, bool save)
    {
        var device = x.device;
        var dtype = x.dtype;
        var xc = HostTensors.Contiguous(x, dtype, out bool ox);
        var uc = HostTensors.Contiguous(u0, dtype, out bool ou);
        var bc = HostTensors.Contiguous(beta, dtype, out bool ob);
        var xs = x.Sizes();
        long b = xs[0], t = xs[1], n = xs[2];
        var y = torch.empty(x.Sizes(), dtype);
        var mask = save ? torch.empty(x.Sizes(), dtype) : null;
        bool perRow = bc.dim() == 2;
        if (dtype == ScalarType.Float32) ForwardKernel<float>(xc, uc, bc, perRow, y, mask, b, t, n);
        else ForwardKernel<double>(xc, uc, bc, perRow, y, mask, b, t, n);
        HostTensors.Release(xc, ox);
        HostTensors.Release(uc, ou);
        HostTensors.Release(bc, ob);
        if (device.type == DeviceType.CPU) return (y, mask);
        using (y) using (mask) return (y.to(device), mask?.to(device));
    }

    private static void ForwardKernel<T>(Tensor xt, Tensor u0t, Tensor betat, bool perRow, Tensor yt, Tensor? maskt, long b, long t, long n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = MemoryMarshal.Cast<byte, T>(xt.bytes);
        var u0 = MemoryMarshal.Cast<byte, T>(u0t.bytes);
        var beta = BetaRow(MemoryMarshal.Cast<byte, T>(betat.bytes), n, out var rented);
        var y = MemoryMarshal.Cast<byte, T>(yt.bytes);
        var mk = maskt is null ? Span<T>.Empty : MemoryMarshal.Cast<byte, T>(maskt.bytes);
        bool save = maskt is not null;
        int w = Vector<T>.Count;
        var zero = Vector<T>.Zero;
        var one = Vector<T>.One;
        for (long bi = 0; bi < b; bi++)
        {
            int row = (int)(bi * n), brow = perRow ? row : 0;
            for (long ti = 0; ti < t; ti++)
            {
                int off = (int)((bi * t + ti) * n);
                // The running membrane is the previous step's output (u0 before the first step): no state copy.
                var prev = ti == 0 ? u0.Slice(row, (int)n) : y.Slice(off - (int)n, (int)n);
                int j = 0;
                for (; j + w <= n; j += w)
                {
                    // u·β, then + x, then max 0: the per-step model's order, so results are bit-identical.
                    var v = new Vector<T>(prev.Slice(j)) * new Vector<T>(beta.Slice(brow + j)) + new Vector<T>(x.Slice(off + j));
                    var keep = Vector.GreaterThanOrEqual(v, zero);
                    Vector.ConditionalSelect(keep, v, zero).CopyTo(y.Slice(off + j));
                    if (save) Vector.ConditionalSelect(keep, one, zero).CopyTo(mk.Slice(off + j));
                }
                for (; j < n; j++)
                {
                    T v = prev[j] * beta[brow + j] + x[off + j];
                    y[off + j] = v >= T.Zero ? v : T.Zero;
                    if (save) mk[off + j] = v >= T.Zero ? T.One : T.Zero;
                }
            }
        }
        if (rented is not null) System.Buffers.ArrayPool<T>.Shared.Return(rented);
    }

    /// <summary>
    /// β as a row of N values: as it is, or a single β (0-dim) copied N times into an array of the shared pool (return
    /// <paramref name="rented"/> after use), so a constant τ costs no expanded tensor per run. The same products either way.
    /// </summary>
    private static Span<T> BetaRow<T>(Span<T> beta, long n, out T[]? rented) where T : unmanaged
    {
        rented = null;
        if (beta.Length >= n) return beta;
        rented = System.Buffers.ArrayPool<T>.Shared.Rent((int)n);
        var row = rented.AsSpan(0, (int)n);
        row.Fill(beta[0]);
        return row;
    }

    /// <summary>
    /// ∂L/∂x [B, T, N] and ∂L/∂u0 [B, N] from ∂L/∂y [B, T, N] (the final membrane's gradient is that of y's last step, or
    /// <paramref name="gradU"/> [B, N] added to it when given: the carry starts from it, as autograd would add it to the
    /// last step's gradient).
    /// </summary>
    internal static (Tensor Dx, Tensor DU0) Backward(Tensor gradOut, Tensor mask, Tensor beta, Tensor? gradU = null)
    {
        var device = gradOut.device;
        var dtype = mask.dtype;
        var go = HostTensors.Contiguous(gradOut, dtype, out bool og);
        var mc = HostTensors.Contiguous(mask, dtype, out bool om);
        var bc = HostTensors.Contiguous(beta, dtype, out bool ob);
        var ms = mask.Sizes();
        long b = ms[0], t = ms[1], n = ms[2];
        var dx = torch.empty(mc.Sizes(), dtype);
        Tensor du0;
        if (gradU is null) du0 = torch.zeros(new long[] { b, n }, dtype);
        else
        {
            var gu = HostTensors.Contiguous(gradU, dtype, out bool owned);
            du0 = owned ? gu : gu.clone();
        }
        bool perRow = bc.dim() == 2;
        if (dtype == ScalarType.Float32) BackwardKernel<float>(go, mc, bc, perRow, dx, du0, b, t, n);
        else BackwardKernel<double>(go, mc, bc, perRow, dx, du0, b, t, n);
        HostTensors.Release(go, og);
        HostTensors.Release(mc, om);
        HostTensors.Release(bc, ob);
        if (device.type == DeviceType.CPU) return (dx, du0);
        using (dx) using (du0) return (dx.to(device), du0.to(device));
    }

    private static void BackwardKernel<T>(Tensor got, Tensor maskt, Tensor betat, bool perRow, Tensor dxt, Tensor du0t, long b, long t, long n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var go = MemoryMarshal.Cast<byte, T>(got.bytes);
        var mk = MemoryMarshal.Cast<byte, T>(maskt.bytes);
        var beta = BetaRow(MemoryMarshal.Cast<byte, T>(betat.bytes), n, out var rented);
        var dx = MemoryMarshal.Cast<byte, T>(dxt.bytes);
        // The carry starts as ∂L/∂u after the last step (zeros, or the final membrane's own gradient) and ends as ∂L/∂u0.
        var carry = MemoryMarshal.Cast<byte, T>(du0t.bytes);
        int w = Vector<T>.Count;
        for (long bi = 0; bi < b; bi++)
        {
            int row = (int)(bi * n), brow = perRow ? row : 0;
            for (long ti = t - 1; ti >= 0; ti--)
            {
                int off = (int)((bi * t + ti) * n);
                int j = 0;
                // δ_t = (∂L/∂y_t + carry)·m_t;  ∂L/∂x_t = δ_t;  carry ← δ_t·β (ends as ∂L/∂u0).
                for (; j + w <= n; j += w)
                {
                    var d = (new Vector<T>(go.Slice(off + j)) + new Vector<T>(carry.Slice(row + j))) * new Vector<T>(mk.Slice(off + j));
                    d.CopyTo(dx.Slice(off + j));
                    (d * new Vector<T>(beta.Slice(brow + j))).CopyTo(carry.Slice(row + j));
                }
                for (; j < n; j++)
                {
                    T d = (go[off + j] + carry[row + j]) * mk[off + j];
                    dx[off + j] = d;
                    carry[row + j] = d * beta[brow + j];
                }
            }
        }
        if (rented is not null) System.Buffers.ArrayPool<T>.Shared.Return(rented);
    }
}

/// <summary>Autograd node of the fused leaky-integrator sequence: inputs (currents, initial membrane, decay), output the membranes [B, T, N].</summary>
public sealed class LeakyIntegratorSequenceFunction : torch.autograd.SingleTensorFunction<LeakyIntegratorSequenceFunction>
{
    /// <inheritdoc />
    public override string Name => "ShipLeakyIntegratorSequence";

    /// <inheritdoc />
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var u0 = (Tensor)vars[1];
        var beta = (Tensor)vars[2];
        var (y, mask) = LeakyIntegratorSequence.Forward(x, u0, beta, save: true);
        // Saved in the graph (not held by managed objects), so they live exactly as long as the graph does.
        ctx.save_for_backward(new List<Tensor> { mask!, beta });
        return y;
    }

    /// <inheritdoc />
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        // Backward runs outside every scope of the caller: free what is made here.
        using var b = Ship.Core.Autograd.BackwardScope.Begin(gradOutput);
        var saved = ctx.get_saved_variables();
        var (dx, du0) = LeakyIntegratorSequence.Backward(gradOutput, saved[0], saved[1]);
        return new List<Tensor> { b.Return(dx), b.Return(du0), null! };
    }
}
