using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Memory;

/// <summary>
/// Host memory for a network's large time-batched blocks ([batch, steps, N] currents, spikes, the state the backward
/// reads, input gradients), reused from run to run. glibc serves such blocks from fresh pages or from its heap depending
/// on what it trimmed in between, so the same forward cost 20 or 80 ms at N = 512 (7–9 µs per first touch of a page on
/// the benchmark VM, docs/benchmarks.md); a block this pool hands out a second time is already mapped.
/// <para>
/// Safe by construction: a block is a tensor over pool memory whose storage libtorch frees through a deleter, and only
/// that deleter returns the block to the pool — when no tensor, view, autograd graph or saved-for-backward reference
/// to its storage is left. A block the caller still holds, or that the backward will read, is never handed out again.
/// The deleter may run on any thread (libtorch's autograd thread, the finalizer thread), so the pool is thread-safe.
/// </para>
/// <para>
/// One pool per network (its <see cref="Networks.SimulationContext.Blocks"/>): networks never share blocks. It keeps at
/// most as many free bytes as were ever in use at once (a run's peak), evicting the longest-unused blocks first, and
/// releases them when disposed (the network's <see cref="Networks.Network.Dispose"/>); blocks still in use then free
/// themselves when their tensors go. A pool nobody disposes releases its free blocks when it is collected.
/// </para>
/// </summary>
public sealed class BlockPool : IDisposable
{
    /// <summary>Smallest block served from the pool (bytes); smaller ones come from libtorch's allocator as usual.</summary>
    public const long DefaultMinBytes = 64L << 10;

    // Header before every block's data: the pool's weak handle (the deleter finds its pool through it) and the address
    // Marshal.AllocHGlobal returned (to free an orphan whose pool was collected).
    private const int HeaderBytes = 64;
    private const long SmallAlignment = 64, HugeAlignment = 2L << 20;
    private const long HugeFromBytes = HostBuffers.AdviseFromBytes;

    private delegate void StorageDeleter(IntPtr data);

    // The deleter libtorch calls when a block's storage is freed: one immutable delegate for the process (no state).
    private static readonly StorageDeleter Deleter = OnStorageFreed;
    private static readonly IntPtr DeleterPointer = Marshal.GetFunctionPointerForDelegate(Deleter);

    private readonly object _lock = new();
    private readonly Dictionary<IntPtr, Block> _out = new();
    private readonly List<Block> _free = new(); // least recently returned first
    private readonly long _minBytes;
    private bool _disposed, _engaged;
    private long _freeBytes, _outBytes, _highWater;

    /// <summary>
    /// Creates an empty pool serving host blocks of at least <paramref name="minBytes"/> bytes; a pool made not
    /// <paramref name="engaged"/> serves from libtorch's allocator until <see cref="Engage"/> (a network engages its
    /// pool after its first call, so a network run once holds no memory past its run).
    /// </summary>
    public BlockPool(long minBytes = DefaultMinBytes, bool engaged = true)
    {
        if (minBytes < 1) throw new ArgumentOutOfRangeException(nameof(minBytes), minBytes, "the smallest pooled block must be at least 1 byte");
        _minBytes = minBytes;
        _engaged = engaged;
    }

    /// <summary>Whether requests are served from the pool (see <see cref="Engage"/>).</summary>
    public bool IsEngaged { get { lock (_lock) return _engaged; } }

    /// <summary>Serves later requests from the pool (no effect once disposed).</summary>
    public void Engage()
    {
        lock (_lock) _engaged = true;
    }

    /// <summary>Releases the free blocks of a pool nobody disposed (blocks in use free themselves).</summary>
    ~BlockPool() => Release();

    /// <summary>Blocks taken from the operating system so far (each a first touch of its pages).</summary>
    public long BlocksAllocated { get; private set; }
    /// <summary>Blocks handed out again from the free list so far.</summary>
    public long BlocksReused { get; private set; }
    /// <summary>Blocks currently held by tensors (handed out and not yet freed by libtorch).</summary>
    public int BlocksInUse { get { lock (_lock) return _out.Count; } }
    /// <summary>Blocks kept for reuse.</summary>
    public int BlocksFree { get { lock (_lock) return _free.Count; } }
    /// <summary>Bytes kept for reuse.</summary>
    public long FreeBytes { get { lock (_lock) return _freeBytes; } }
    /// <summary>Whether <see cref="Dispose"/> ran: later requests are served by libtorch's allocator.</summary>
    public bool IsDisposed { get { lock (_lock) return _disposed; } }

    /// <summary>
    /// An uninitialized tensor. Contiguous host tensors of at least the pool's minimum size come from the pool (a
    /// block freed by an earlier run when one of that size is free); others, and all once the pool is disposed, from
    /// <see cref="HostBuffers.Empty"/>.
    /// </summary>
    public Tensor Empty(long[] shape, ScalarType dtype, Device device)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(device);
        long elements = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(shape), string.Join(",", shape), "dimensions must be non-negative");
            elements *= d;
        }
        long bytes = elements * ElementSize(dtype);
        if (device.type != DeviceType.CPU || bytes < _minBytes || bytes <= 0) return HostBuffers.Empty(shape, dtype, device);
        var block = Take(bytes);
        if (block is null) return HostBuffers.Empty(shape, dtype, device);
        IntPtr handle;
        var dims = GCHandle.Alloc(shape, GCHandleType.Pinned);
        try
        {
            handle = TensorNew(block.Data, DeleterPointer, dims.AddrOfPinnedObject(), shape.Length, (sbyte)dtype, (sbyte)dtype, 0, 0, false);
        }
        finally { dims.Free(); }
        if (handle == IntPtr.Zero)
        {
            // libtorch refused the blob; the block never became a storage, so it is put back by hand.
            Return(block.Data);
            return HostBuffers.Empty(shape, dtype, device);
        }
        return torch.Tensor.UnsafeCreateTensor(handle);
    }

    /// <summary>As <see cref="Empty"/>, with the shape, dtype and device of <paramref name="like"/>.</summary>
    public Tensor EmptyLike(Tensor like)
    {
        ArgumentNullException.ThrowIfNull(like);
        return Empty(like.Sizes(), like.dtype, like.device);
    }

    /// <summary>Frees every free block now (blocks in use stay valid and return to the pool as usual).</summary>
    public void Trim()
    {
        List<Block> drop;
        lock (_lock)
        {
            drop = new List<Block>(_free);
            _free.Clear();
            _freeBytes = 0;
        }
        foreach (var b in drop) b.Free();
    }

    /// <summary>Frees the free blocks and stops pooling: blocks in use free themselves when their tensors are freed.</summary>
    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    private void Release()
    {
        lock (_lock) _disposed = true;
        Trim();
    }

    /// <summary>A free block of exactly this rounded size (the most recently returned), or a new one; null when disposed or out of memory.</summary>
    private Block? Take(long bytes)
    {
        long size = (bytes + 4095) & ~4095L;
        lock (_lock)
        {
            if (_disposed || !_engaged) return null;
            for (int k = _free.Count - 1; k >= 0; k--)
                if (_free[k].Bytes == size)
                {
                    var b = _free[k];
                    _free.RemoveAt(k);
                    _freeBytes -= size;
                    Lend(b);
                    BlocksReused++;
                    return b;
                }
        }
        var fresh = Block.Allocate(size, this);
        if (fresh is null) return null;
        lock (_lock)
        {
            if (_disposed) { fresh.Free(); return null; }
            Lend(fresh);
            BlocksAllocated++;
        }
        return fresh;
    }

    private void Lend(Block b)
    {
        _out.Add(b.Data, b);
        _outBytes += b.Bytes;
        _highWater = Math.Max(_highWater, _outBytes);
    }

    /// <summary>The deleter's work: the block at <paramref name="data"/> is no longer referenced by any storage.</summary>
    private void Return(IntPtr data)
    {
        List<Block>? drop = null;
        Block? orphan = null;
        lock (_lock)
        {
            if (!_out.Remove(data, out var b)) return;
            _outBytes -= b.Bytes;
            if (_disposed) orphan = b;
            else
            {
                _free.Add(b);
                _freeBytes += b.Bytes;
                // Keep no more than the most ever in use at once: blocks of sizes no run asks for any more go first.
                while (_freeBytes > _highWater && _free.Count > 0)
                {
                    (drop ??= new()).Add(_free[0]);
                    _freeBytes -= _free[0].Bytes;
                    _free.RemoveAt(0);
                }
            }
        }
        orphan?.Free();
        if (drop is not null) foreach (var d in drop) d.Free();
    }

    private static void OnStorageFreed(IntPtr data)
    {
        // Runs inside libtorch (any thread): an exception must not cross back into native code.
        try
        {
            var handle = GCHandle.FromIntPtr(Marshal.ReadIntPtr(data, -HeaderBytes));
            if (handle.Target is BlockPool pool) pool.Return(data);
            else Block.FreeOrphan(data);
        }
        catch (Exception)
        {
            // Nothing sensible to do on a libtorch thread; the block is leaked rather than the process aborted.
        }
    }

    private static long ElementSize(ScalarType t) => t switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.ComplexFloat64 => 16,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "no element size known for this dtype"),
    };

    /// <summary>One block of host memory: [base … header | data …], data aligned, the header just before it.</summary>
    private sealed class Block
    {
        private Block(IntPtr @base, IntPtr data, long bytes, GCHandle owner)
        {
            Base = @base;
            Data = data;
            Bytes = bytes;
            Owner = owner;
        }

        public IntPtr Base { get; }
        public IntPtr Data { get; }
        public long Bytes { get; }
        private GCHandle Owner { get; }

        public static Block? Allocate(long bytes, BlockPool pool)
        {
            long align = bytes >= HugeFromBytes ? HugeAlignment : SmallAlignment;
            IntPtr @base;
            try { @base = Marshal.AllocHGlobal((IntPtr)(bytes + align + HeaderBytes)); }
            catch (OutOfMemoryException) { return null; }
            long data = ((long)@base + HeaderBytes + align - 1) & ~(align - 1);
            // A weak handle: a pool nobody holds can still be collected while libtorch holds some of its blocks.
            var owner = GCHandle.Alloc(pool, GCHandleType.Weak);
            Marshal.WriteIntPtr((IntPtr)data, -HeaderBytes, GCHandle.ToIntPtr(owner));
            Marshal.WriteIntPtr((IntPtr)data, -HeaderBytes + IntPtr.Size, @base);
            if (align == HugeAlignment) HostBuffers.TryAdviseHugePages((IntPtr)data, bytes);
            return new Block(@base, (IntPtr)data, bytes, owner);
        }

        public void Free()
        {
            Owner.Free();
            Marshal.FreeHGlobal(Base);
        }

        /// <summary>A block whose pool was collected: its header says how to free it.</summary>
        public static void FreeOrphan(IntPtr data)
        {
            GCHandle.FromIntPtr(Marshal.ReadIntPtr(data, -HeaderBytes)).Free();
            Marshal.FreeHGlobal(Marshal.ReadIntPtr(data, -HeaderBytes + IntPtr.Size));
        }
    }

    [DllImport("LibTorchSharp", EntryPoint = "THSTensor_new")]
    private static extern IntPtr TensorNew(IntPtr data, IntPtr deleter, IntPtr sizes, int dims, sbyte scalarType, sbyte dtype, int deviceType, int deviceIndex,
        [MarshalAs(UnmanagedType.U1)] bool requiresGrad);
}
