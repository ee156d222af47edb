using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// Random draws from a network's generator, always made on the host and then moved to the target device: the same seed
/// gives the same numbers on CPU and GPU, and TorchSharp's CUDA generators (which crash against some CUDA builds of
/// libtorch) are never needed.
/// </summary>
public static class Draw
{
    /// <summary>Uniform draws on [0, 1) of the given shape and dtype, on <paramref name="device"/>.</summary>
    public static Tensor Rand(long[] shape, ScalarType dtype, Device device, torch.Generator rng) =>
        OnDevice(torch.rand(shape, dtype: dtype, device: CPU, generator: rng), device);

    /// <summary>Standard normal draws of the given shape and dtype, on <paramref name="device"/>.</summary>
    public static Tensor Randn(long[] shape, ScalarType dtype, Device device, torch.Generator rng) =>
        OnDevice(torch.randn(shape, dtype: dtype, device: CPU, generator: rng), device);

    private static Tensor OnDevice(Tensor t, Device device) => device.type == DeviceType.CPU ? t : t.to(device);
}
