using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// Which fused kernels a network may use, decided once per network (on its context) instead of inside each model:
/// models ask the policy, and answer themselves only whether the maths allows a fused form.
/// </summary>
public sealed record KernelPolicy
{
    /// <summary>Whether fused CUDA kernels may run on a CUDA device (where NVRTC compiles them).</summary>
    public bool CudaKernels { get; init; } = true;
    /// <summary>Largest batch × width for which a network on a GPU runs a recurrence on the host (measured crossover on an H100).</summary>
    public long HostRecurrenceLimit { get; init; } = 16384;

    /// <summary>The default policy with the environment override applied: SHIP_CUDA_KERNELS=0 turns the CUDA kernels off.</summary>
    public static KernelPolicy FromEnvironment() => new() { CudaKernels = Environment.GetEnvironmentVariable("SHIP_CUDA_KERNELS") != "0" };

    /// <summary>Whether a recurrence over <paramref name="rowsTimesWidth"/> values per step may run on the host for a network on <paramref name="device"/>.</summary>
    public bool HostRecurrence(Device device, long rowsTimesWidth) => device.type == DeviceType.CPU || rowsTimesWidth <= HostRecurrenceLimit;
}
