using Ship.Core.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Kernels;

/// <summary>
/// The fused T-step LIF recurrence as CUDA kernels (one thread per batch row × neuron walks all steps), forward and
/// backward, compiled at run time with NVRTC where a GPU machine has it. It replaces about 8 kernel launches per step
/// forward and as many backward by one launch per segment. The arithmetic is the per-step model's, operation for
/// operation, compiled without fused multiply-add, so spikes and gradients equal the step-by-step model's.
/// </summary>
public static class LifCuda
{
    private const string Source = """
        template <typename T>
        __device__ void fwd(const T* x, T* s, T* u, T* g, const T* beta, const T* thr, T* us, T* mk, long long rows, int steps, long long n, int save)
        {
            long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
            if (i >= rows * n) return;
            long long b = i / n, j = i - b * n;
            T uu = u[i], gg = g[i], be = beta[i], th = thr[i];
            for (int t = 0; t < steps; t++)
            {
                long long off = (b * steps + t) * n + j;
                T v = uu * be;
                v = v + x[off];
                T kept = v >= (T)0 ? v : (T)0;
                T nu = kept * gg;
                T sp = nu >= th ? (T)1 : (T)0;
                s[off] = sp;
                if (save) { us[off] = nu; mk[off] = v >= (T)0 ? gg : (T)0; }
                uu = nu;
                gg = (T)1 - sp;
            }
            u[i] = uu;
            g[i] = gg;
        }

        template <typename T>
        __device__ void bwd(const T* go, const T* sg, const T* mk, const T* beta, T* dx, T* cy, long long rows, int steps, long long n)
        {
            long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
            if (i >= rows * n) return;
            long long b = i / n, j = i - b * n;
            T be = beta[i], carry = cy[i];
            for (int t = steps - 1; t >= 0; t--)
            {
                long long off = (b * steps + t) * n + j;
                T d = go[off] * sg[off];
                d = d + carry;
                T dm = d * mk[off];
                dx[off] = dm;
                carry = dm * be;
            }
            cy[i] = carry;
        }

        extern "C" __global__ void lif_fwd_f32(const float* x, float* s, float* u, float* g, const float* beta, const float* thr, float* us, float* mk, long long rows, int steps, long long n, int save)
        { fwd<float>(x, s, u, g, beta, thr, us, mk, rows, steps, n, save); }
        extern "C" __global__ void lif_fwd_f64(const double* x, double* s, double* u, double* g, const double* beta, const double* thr, double* us, double* mk, long long rows, int steps, long long n, int save)
        { fwd<double>(x, s, u, g, beta, thr, us, mk, rows, steps, n, save); }
        extern "C" __global__ void lif_bwd_f32(const float* go, const float* sg, const float* mk, const float* beta, float* dx, float* cy, long long rows, int steps, long long n)
        { bwd<float>(go, sg, mk, beta, dx, cy, rows, steps, n); }
        extern "C" __global__ void lif_bwd_f64(const double* go, const double* sg, const double* mk, const double* beta, double* dx, double* cy, long long rows, int steps, long long n)
        { bwd<double>(go, sg, mk, beta, dx, cy, rows, steps, n); }
        """;

    private const int Block = 256;

    // Compiled once per process on first use; afterwards it only reads, so networks cannot affect each other through it.
    private static readonly Lazy<(CudaModule? Module, string Why)> Compiled = new(() =>
    {
        var m = CudaModule.TryCompile(Source, "ship_lif.cu", out var why);
        return (m, why);
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Whether the fused kernels compiled for <paramref name="device"/> (a CUDA device with the driver and NVRTC).
    /// Whether a network uses them is the kernel policy's decision (<see cref="Ship.Core.Networks.KernelPolicy"/>, which
    /// also reads the SHIP_CUDA_KERNELS=0 override), taken through <see cref="LifSequence.Choose"/>.
    /// </summary>
    public static bool IsAvailable(Device device) => device.type == DeviceType.CUDA && Compiled.Value.Module is not null;

    /// <summary>Why the kernels are or are not available (the NVRTC/driver outcome), for diagnostics and benchmark logs.</summary>
    public static string Status => Compiled.Value.Why;

    /// <summary>Forward over x [B, T, N] on the GPU: spikes, and (when <paramref name="save"/>) the membrane and gradient mask per step.</summary>
    internal static (Tensor Spikes, Tensor UFinal, Tensor GFinal, Tensor? U, Tensor? Mask) Forward(Tensor x, LifSequence.Args a, bool save)
    {
        var module = Compiled.Value.Module ?? throw new InvalidOperationException($"LIF CUDA kernels unavailable: {Compiled.Value.Why}");
        x = x.detach().contiguous();
        long b = x.Sizes()[0], t = x.Sizes()[1], n = x.Sizes()[2];
        var spikes = torch.empty_like(x);
        var u = a.U0.detach().clone();
        var g = a.G0.detach().clone();
        var beta = a.Beta.detach().contiguous();
        var thr = a.Thr.detach().contiguous();
        Tensor? us = save ? torch.empty_like(x) : null, mask = save ? torch.empty_like(x) : null;
        string fn = x.dtype == ScalarType.Float32 ? "lif_fwd_f32" : "lif_fwd_f64";
        module.Launch(fn, b * n, Block, x, spikes, u, g, beta, thr, us ?? spikes, mask ?? spikes, b, checked((int)t), n, save ? 1 : 0);
        return (spikes, u, g, us, mask);
    }

    /// <summary>Backward on the GPU: ∂L/∂x and ∂L/∂U0 from ∂L/∂spikes, ∂L/∂U_final (null: none), the surrogate slope per step, the gradient mask and β.</summary>
    internal static (Tensor Dx, Tensor DU0) Backward(Tensor gradOut, Tensor? gradU, Tensor sg, Tensor mask, Tensor beta)
    {
        var module = Compiled.Value.Module ?? throw new InvalidOperationException($"LIF CUDA kernels unavailable: {Compiled.Value.Why}");
        var go = gradOut.contiguous();
        var sgc = sg.contiguous();
        var betac = beta.contiguous();
        var dx = torch.empty_like(mask);
        long b = mask.Sizes()[0], t = mask.Sizes()[1], n = mask.Sizes()[2];
        var carry = gradU is null ? torch.zeros(new long[] { b, n }, dtype: mask.dtype, device: mask.device) : gradU.to_type(mask.dtype).contiguous().clone();
        string fn = mask.dtype == ScalarType.Float32 ? "lif_bwd_f32" : "lif_bwd_f64";
        module.Launch(fn, b * n, Block, go, sgc, mask, betac, dx, carry, b, checked((int)t), n);
        return (dx, carry);
    }
}
