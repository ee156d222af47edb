using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>Where a fused kernel of the kernels layer (Ship.Devices.Kernels) runs.</summary>
public enum KernelBackend
{
    /// <summary>No fused kernel serves the request: the plan steps the group with its per-step torch operations.</summary>
    None,
    /// <summary>The managed host recurrence (SIMD over the width), also for a network on a GPU while the copies are small.</summary>
    Host,
    /// <summary>A fused CUDA kernel compiled with NVRTC, on the network's GPU.</summary>
    Cuda,
}

/// <summary>The policy's answer for one fused recurrence: the backend, and in words why (printed by the plan).</summary>
/// <param name="Backend">Where the kernel runs, or <see cref="KernelBackend.None"/>.</param>
/// <param name="Reason">Why this backend (or why none).</param>
public sealed record KernelChoice(KernelBackend Backend, string Reason)
{
    /// <summary>Whether a fused kernel serves the request.</summary>
    public bool Fused => Backend != KernelBackend.None;
}

/// <summary>
/// Which fused kernels a network may use, decided once per network (on its context) instead of inside each model:
/// a model answers only whether its maths allows a fused form (<see cref="Groups.ISequenceGroup.SequenceRefusal"/>);
/// the kernels layer asks this policy which backend serves it (<see cref="ChooseRecurrence"/>).
/// </summary>
public sealed record KernelPolicy
{
    /// <summary>Whether fused CUDA kernels may run on a CUDA device (where NVRTC compiles them).</summary>
    public bool CudaKernels { get; init; } = true;
    /// <summary>
    /// Whether the plan may run a chain of whole-block groups, each the only reader of the one before, inside one
    /// autograd node (<see cref="ExecutionPlan.Chains"/>); the same numbers either way (off: one node per group, to compare).
    /// </summary>
    public bool FusedChains { get; init; } = true;
    /// <summary>
    /// Whether <see cref="Network.RunAndBackward"/> may have fused chains write their calls on a tape instead of recording
    /// an autograd node each (<see cref="Network.TapeRefusal"/> says when it can); the same gradients either way (off: the
    /// autograd nodes, to compare).
    /// </summary>
    public bool ChainTape { get; init; } = true;
    /// <summary>Largest batch × width for which a network on a GPU runs a recurrence on the host (measured crossover on an H100).</summary>
    public long HostRecurrenceLimit { get; init; } = 16384;

    /// <summary>
    /// Intra-op threads for this network's runs (and a trainer's backward and optimizer step), never more than the
    /// caller set with <c>torch.set_num_threads</c>; null (the default) lets <see cref="ChooseThreads"/> decide from the
    /// work of the run. Results do not depend on it (docs/benchmarks.md "Threads").
    /// </summary>
    public int? IntraOpThreads { get; init; }
    /// <summary>
    /// Estimated multiply-adds of one run (<see cref="RunWork"/>) from which a run keeps the caller's intra-op threads;
    /// below it the run uses one thread: the per-operation cost of waking and joining a second thread then outweighs
    /// the split arithmetic. On the quiet 2-core machine the main job's training (~7.7·10⁶ per batch) ran 1.75× slower
    /// at 2 threads than at 1, and its test pass over 359 samples (~8.7·10⁷) took 0.007–0.011 s against 0.006 s: hence
    /// 2^28 (~2.7·10⁸), with benchmark A at N = 256 (~3.3·10⁸) and above, GEMM-dominated, on the caller's threads.
    /// </summary>
    public long ParallelWorkThreshold { get; init; } = 1L << 28;

    /// <summary>
    /// The default policy with the environment overrides applied (the only place they are read): SHIP_CUDA_KERNELS=0
    /// turns the CUDA kernels off; SHIP_INTRAOP_THREADS=N sets <see cref="IntraOpThreads"/> (a positive integer).
    /// </summary>
    public static KernelPolicy FromEnvironment()
    {
        int? threads = null;
        if (Environment.GetEnvironmentVariable("SHIP_INTRAOP_THREADS") is { Length: > 0 } text)
        {
            if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < 1)
                throw new Errors.ShipException($"Environment variable SHIP_INTRAOP_THREADS: expected a positive integer (intra-op threads per run), got '{text}'.");
            threads = n;
        }
        return new() { CudaKernels = Environment.GetEnvironmentVariable("SHIP_CUDA_KERNELS") != "0", IntraOpThreads = threads };
    }

    /// <summary>Whether a recurrence over <paramref name="rowsTimesWidth"/> values per step may run on the host for a network on <paramref name="device"/>.</summary>
    public bool HostRecurrence(Device device, long rowsTimesWidth) => device.type == DeviceType.CPU || rowsTimesWidth <= HostRecurrenceLimit;

    /// <summary>
    /// The backend of a fused recurrence over <paramref name="rowsTimesWidth"/> values per step for a network on
    /// <paramref name="device"/>: the CUDA kernel where the policy allows it and it compiled for the device
    /// (<paramref name="cudaCompiled"/>), else the host recurrence where <see cref="HostRecurrence"/> allows it, else none.
    /// </summary>
    public KernelChoice ChooseRecurrence(Device device, long rowsTimesWidth, bool cudaCompiled)
    {
        if (device.type == DeviceType.CUDA && CudaKernels && cudaCompiled) return new(KernelBackend.Cuda, "fused CUDA kernel");
        if (device.type == DeviceType.CPU) return new(KernelBackend.Host, "host recurrence (SIMD)");
        string cuda = device.type != DeviceType.CUDA ? $"no CUDA kernel on {device.type}"
            : !CudaKernels ? "CUDA kernels are off (policy or SHIP_CUDA_KERNELS=0)" : "no CUDA kernel compiled for this device";
        if (rowsTimesWidth <= HostRecurrenceLimit) return new(KernelBackend.Host, $"host recurrence: batch × width = {rowsTimesWidth} ≤ {HostRecurrenceLimit}, {cuda}");
        return new(KernelBackend.None, $"batch × width = {rowsTimesWidth} is above the host-recurrence limit of {HostRecurrenceLimit} and {cuda}");
    }

    /// <summary>
    /// The estimated multiply-adds of a run of <paramref name="steps"/> steps over <paramref name="batch"/> samples:
    /// per sample and step, input × output of every synapse (a dense product; an upper bound for sparser ones) plus the
    /// width of every other group (its elementwise update). A size measure for <see cref="ChooseThreads"/>, not a count.
    /// </summary>
    public static long RunWork(IEnumerable<Groups.Group> groups, long batch, long steps)
    {
        ArgumentNullException.ThrowIfNull(groups);
        long perStep = 0;
        foreach (var g in groups)
            perStep += g.Kind == Groups.GroupKind.Synapse ? (long)g.InputSize * g.OutputSize : g.OutputSize;
        return perStep * Math.Max(batch, 0) * Math.Max(steps, 0);
    }

    /// <summary>
    /// How many intra-op threads a run of <paramref name="work"/> estimated multiply-adds uses on <paramref name="device"/>
    /// when the caller allows <paramref name="callerThreads"/>: the user's <see cref="IntraOpThreads"/> (capped at the
    /// caller's), else one thread below <see cref="ParallelWorkThreshold"/> on the CPU, else the caller's; with the reason.
    /// </summary>
    public ThreadChoice ChooseThreads(Device device, long work, int callerThreads)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(callerThreads, 1);
        if (IntraOpThreads is { } user)
        {
            if (user < 1) throw new Errors.ShipException($"Kernel policy: IntraOpThreads must be at least 1 (or null for automatic), got {user}.");
            return user <= callerThreads
                ? new(user, $"set by the kernel policy ({user}; the caller allows {callerThreads})")
                : new(callerThreads, $"the kernel policy asks for {user}, capped at the caller's {callerThreads}");
        }
        if (callerThreads == 1) return new(1, "the caller's setting (1)");
        if (device.type != DeviceType.CPU) return new(callerThreads, $"the caller's {callerThreads}: the network runs on {device.type}");
        return work < ParallelWorkThreshold
            ? new(1, $"1 of the caller's {callerThreads}: ~{work:N0} multiply-adds per run is below {ParallelWorkThreshold:N0}, where a second thread costs more than it splits")
            : new(callerThreads, $"the caller's {callerThreads}: ~{work:N0} multiply-adds per run is at least {ParallelWorkThreshold:N0}");
    }
}

/// <summary>The policy's answer for the intra-op threads of a run, and in words why (printed by the plan).</summary>
/// <param name="Threads">Intra-op threads the run uses (at most the caller's).</param>
/// <param name="Reason">Why this many.</param>
public sealed record ThreadChoice(int Threads, string Reason);
