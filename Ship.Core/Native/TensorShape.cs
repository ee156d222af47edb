using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Native;

/// <summary>
/// A tensor's sizes and strides read one dimension at a time. TorchSharp's <c>shape</c>, <c>size()</c> and
/// <c>stride()</c> return their array through a pinned allocation whose wrapper is always finalized: about 30 such
/// reads per training batch of the main job left 30 finalizable objects, each pinned until its finalizer ran, and made
/// every young-generation collection promote them. A few plain native reads cost less (docs/benchmarks.md, Training).
/// Ship.Core, Ship.Devices, Ship.Training and Ship.Datasets (the run and training paths) read shapes only through these;
/// <c>ShapeReadTests</c> keeps it so.
/// </summary>
public static class TensorShape
{
    /// <summary>The sizes of <paramref name="t"/>'s dimensions (what <c>t.shape</c> returns).</summary>
    public static long[] Sizes(this Tensor t)
    {
        int n = (int)t.dim();
        if (n == 0) return [];
        var sizes = new long[n];
        for (int i = 0; i < n; i++) sizes[i] = t.size(i);
        return sizes;
    }

    /// <summary>The strides of <paramref name="t"/>'s dimensions, in elements (what <c>t.stride()</c> returns).</summary>
    public static long[] Strides(this Tensor t)
    {
        int n = (int)t.dim();
        if (n == 0) return [];
        var strides = new long[n];
        for (int i = 0; i < n; i++) strides[i] = t.stride(i);
        return strides;
    }
}
