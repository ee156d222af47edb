using Ship.Core.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Kernels;

/// <summary>What every link of a fused chain (<see cref="Ship.Core.Groups.IChainGroup"/>) needs from the network, asked in one place.</summary>
internal static class ChainLinks
{
    /// <summary>Why no group of the network behind <paramref name="ctx"/> can be a chain link in the coming run, or null.</summary>
    public static string? Refusal(SimulationContext ctx)
    {
        if (!ctx.Kernels.FusedChains) return "fused chains are off (kernel policy)";
        if (ctx.Device.type != DeviceType.CPU) return $"fused chains run on the host, the network is on {ctx.Device.type}";
        if (ctx.Precision.Storage is { } storage) return $"outputs are rounded to {storage} each step";
        if (ctx.DType is not (ScalarType.Float32 or ScalarType.Float64)) return $"fused chains support float32 and float64, not {ctx.DType}";
        return null;
    }
}
