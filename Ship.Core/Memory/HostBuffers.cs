using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Memory;

/// <summary>
/// Large host tensors that the time-batched paths fill once per run ([batch, steps, N] currents, spikes, saved state).
/// glibc serves blocks above 32 MB with fresh pages and returns them on free, so every run first-touches them again at
/// one page fault per 4 KiB — at N = 2048 that cost more than the arithmetic (docs/benchmarks.md). Asking the kernel
/// for transparent huge pages on such blocks (<c>madvise(MADV_HUGEPAGE)</c>, honoured when THP is in "madvise" or
/// "always" mode) turns 512 faults into one. Values are untouched: this only changes how the pages are mapped.
/// </summary>
public static class HostBuffers
{
    /// <summary>Blocks from glibc's largest mmap threshold up are advised; smaller ones come back from its heap already mapped.</summary>
    public const long AdviseFromBytes = 32L << 20;

    private const int MadvHugePage = 14;

    /// <summary>An uninitialized tensor; on a Linux host, large ones are backed by huge pages where the kernel allows.</summary>
    public static Tensor Empty(long[] shape, ScalarType dtype, Device device)
    {
        var t = torch.empty(shape, dtype: dtype, device: device);
        TryAdviseHugePages(t);
        return t;
    }

    /// <summary>As <see cref="Empty"/>, with the shape, dtype and device of <paramref name="like"/>.</summary>
    public static Tensor EmptyLike(Tensor like) => Empty(like.Sizes(), like.dtype, like.device);

    /// <summary>
    /// Advises huge pages for a contiguous host tensor of at least <see cref="AdviseFromBytes"/>; true when the kernel
    /// accepted the advice, false when it does not apply (small, not on the host, not Linux, THP off).
    /// </summary>
    public static bool TryAdviseHugePages(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (!OperatingSystem.IsLinux() || t.device.type != DeviceType.CPU || !t.is_contiguous()) return false;
        long bytes = t.numel() * t.ElementSize;
        if (bytes < AdviseFromBytes) return false;
        return TryAdviseHugePages(NativeTensor.DataPointer(t), bytes);
    }

    /// <summary>Advises huge pages for <paramref name="bytes"/> of host memory at <paramref name="data"/>; false where it does not apply.</summary>
    internal static bool TryAdviseHugePages(IntPtr data, long bytes)
    {
        if (!OperatingSystem.IsLinux()) return false;
        long start = (long)data;
        if (start == 0) return false;
        // madvise wants a page-aligned start; the few bytes before the block belong to the same mapping.
        long aligned = start & ~4095L;
        try { return Madvise((IntPtr)aligned, (UIntPtr)(ulong)(bytes + (start - aligned)), MadvHugePage) == 0; }
        catch (DllNotFoundException) { return false; }
        catch (EntryPointNotFoundException) { return false; }
    }

    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static extern int Madvise(IntPtr addr, UIntPtr length, int advice);
}
