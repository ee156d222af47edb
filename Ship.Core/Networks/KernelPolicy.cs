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
    /// <summary>Largest batch × width for which a network on a GPU runs a recurrence on the host (measured crossover on an H100).</summary>
    public long HostRecurrenceLimit { get; init; } = 16384;

    /// <summary>The default policy with the environment override applied: SHIP_CUDA_KERNELS=0 turns the CUDA kernels off (the only place it is read).</summary>
    public static KernelPolicy FromEnvironment() => new() { CudaKernels = Environment.GetEnvironmentVariable("SHIP_CUDA_KERNELS") != "0" };

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
}
