using Ship.Core.Memory;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Kernels;

/// <summary>
/// Host views for the fused recurrences' managed kernels. A recurrence of a small layer costs less than the native calls
/// around it, so a tensor that is already a contiguous host tensor of the right dtype without a graph is used as it is
/// (no new handle); only the others are converted.
/// </summary>
internal static class HostTensors
{
    /// <summary>
    /// <paramref name="t"/> itself when it is a contiguous CPU tensor of <paramref name="dtype"/> that records no gradient,
    /// else a converted copy; <paramref name="owned"/> says whether the caller must dispose the result.
    /// </summary>
    public static Tensor Contiguous(Tensor t, ScalarType dtype, out bool owned)
    {
        owned = true;
        bool plain = t.device.type == DeviceType.CPU && t.dtype == dtype && t.is_contiguous();
        if (plain && !t.requires_grad)
        {
            owned = false;
            return t;
        }
        if (plain) return t.detach();
        // A strided host tensor of the dtype without a graph (e.g. a narrow product's transposed block): one copy.
        if (t.device.type == DeviceType.CPU && t.dtype == dtype && !t.requires_grad) return t.contiguous();
        using var d = t.detach();
        using var h = d.to(CPU);
        using var c = h.to_type(dtype);
        return c.contiguous();
    }

    /// <summary>An uninitialized host block: from the network's pool <paramref name="blocks"/> when there is one, else <see cref="HostBuffers.Empty"/>.</summary>
    public static Tensor Block(BlockPool? blocks, long[] shape, ScalarType dtype, Device device) =>
        blocks is not null ? blocks.Empty(shape, dtype, device) : HostBuffers.Empty(shape, dtype, device);

    /// <summary><see cref="Block"/> shaped like <paramref name="like"/> (its shape, dtype and device).</summary>
    public static Tensor BlockLike(BlockPool? blocks, Tensor like) => Block(blocks, like.Sizes(), like.dtype, like.device);

    /// <summary>Disposes <paramref name="t"/> when <paramref name="owned"/>.</summary>
    public static void Release(Tensor t, bool owned)
    {
        if (owned) t.Dispose();
    }
}
