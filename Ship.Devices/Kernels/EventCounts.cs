using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Kernels;

/// <summary>
/// Events (non-zero outputs) of one neuron group, counted on the host where the data already is: by the kernel that
/// writes them (the fused LIF recurrence, through <see cref="IEventCountingGroup"/>) or by one managed read pass over a
/// host block (<see cref="Count"/>), instead of several tensor passes. Keeps what the hardware ledger's NeuroBench
/// counts need and nothing per step: events per sample and neuron, the part of them in steps whose outputs are not all
/// 0 or 1 (multiply-accumulates rather than accumulates), and the (sample, step) pairs with an event. Counts are
/// exact integers: partial sums are kept in the block's dtype for fewer than 2^23 steps and added into float64.
/// </summary>
public sealed class EventCounts
{
    private const long ExactSteps = 1L << 23; // a float32 partial count of ones stays exact below 2^24

    private readonly double[] _perSample, _total, _nonBinary, _active;

    /// <summary>
    /// Empty counts for <paramref name="batch"/> samples of <paramref name="n"/> neurons; <paramref name="perSample"/>:
    /// whether <see cref="Count"/> keeps its events per sample (else per neuron only, one memory stream fewer; a
    /// kernel always adds per sample).
    /// </summary>
    public EventCounts(int batch, int n, bool perSample = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        Batch = batch;
        N = n;
        _perSample = new double[(long)batch * n];
        _total = new double[n];
        KeepsPerSample = perSample;
        _nonBinary = new double[n];
        _active = new double[batch];
    }

    /// <summary>Samples.</summary>
    public int Batch { get; }
    /// <summary>Neurons.</summary>
    public int N { get; }
    /// <summary>Whether <see cref="Count"/> keeps events per sample (<see cref="PerSample"/>) rather than per neuron (<see cref="Unattributed"/>).</summary>
    public bool KeepsPerSample { get; }
    /// <summary>Events per sample and neuron [Batch · N] (row-major), over the counted steps (all of them when <see cref="KeepsPerSample"/>).</summary>
    public ReadOnlySpan<double> PerSample { get { Flush(); return _perSample; } }
    /// <summary>Events per neuron [N], summed over samples, that <see cref="Count"/> did not attribute to samples (zeros when <see cref="KeepsPerSample"/>).</summary>
    public ReadOnlySpan<double> Unattributed { get { Flush(); return _total; } }
    /// <summary>Events per neuron [N], summed over samples, in steps whose outputs were not all 0 or 1.</summary>
    public ReadOnlySpan<double> NonBinary { get { Flush(); return _nonBinary; } }
    /// <summary>(Sample, step) pairs with at least one event.</summary>
    public double ActivePairs => _active.Sum();
    /// <summary>Steps counted.</summary>
    public long Steps { get; private set; }
    /// <summary>Steps counted by a kernel while it computed them (a part of <see cref="Steps"/>).</summary>
    public long KernelSteps { get; private set; }

    /// <summary>Forgets every count.</summary>
    public void Clear()
    {
        Array.Clear(_perSample);
        Array.Clear(_total);
        Array.Clear(_nonBinary);
        Array.Clear(_active);
        if (_acc is not null) Array.Clear(_acc);
        if (_nbAcc is not null) Array.Clear(_nbAcc);
        _pending = 0;
        Steps = KernelSteps = 0;
    }

    /// <summary>Whether <see cref="Count"/> reads <paramref name="y"/> on the host as it is (a float32/float64 CPU tensor).</summary>
    public static bool CanCount(Tensor y) => y.device.type == DeviceType.CPU && y.dtype is ScalarType.Float32 or ScalarType.Float64;

    /// <summary>
    /// Counts a block <paramref name="y"/> [Batch, T, N] or one step [Batch, N] (a float32/float64 CPU tensor; see
    /// <see cref="CanCount"/>) in one read pass: NeuroBench decides per step, over the whole batch, whether every output
    /// is 0 or 1; NaN counts as an event and makes its step non-binary (as the tensor passes do).
    /// </summary>
    public void Count(Tensor y)
    {
        if (!CanCount(y)) throw new ArgumentException($"expected a float32 or float64 CPU tensor, got {y.dtype} on {y.device}.", nameof(y));
        if (y.dim() is not (2 or 3) || y.Sizes()[0] != Batch || y.Sizes()[^1] != N)
            throw new ArgumentException($"expected [{Batch}, T, {N}] or [{Batch}, {N}], got [{string.Join(", ", y.Sizes())}].", nameof(y));
        using var c = y.is_contiguous() ? null : y.contiguous();
        CountContiguous(c ?? y, y.dim() == 2 ? 1 : y.Sizes()[1]);
    }

    /// <summary>
    /// Counts <paramref name="t"/> steps of a contiguous float32/float64 CPU block [Batch, t, N] (the checks of
    /// <see cref="Count"/> done by the caller). A large block is split by steps over as many workers as libtorch has
    /// intra-op threads (each with counts of its own, added up after); at 1 thread it runs on the caller alone.
    /// </summary>
    internal void CountContiguous(Tensor y, long t)
    {
        if (t == 0) return;
        bool single = y.dtype == ScalarType.Float32;
        int workers = (long)Batch * t * N >= 1 << 18 ? (int)Math.Min(t, torch.get_num_threads()) : 1;
        if (workers > 1)
        {
            long per = (t + workers - 1) / workers;
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, k =>
            {
                long from = k * per, to = Math.Min(t, from + per);
                for (long t0 = from; t0 < to; t0 += ExactSteps)
                {
                    long end = Math.Min(to, t0 + ExactSteps);
                    if (single) CountPart<float>(y, t, t0, end);
                    else CountPart<double>(y, t, t0, end);
                }
            });
        }
        else
        {
            var bytes = y.bytes;
            for (long t0 = 0; t0 < t; t0 += ExactSteps)
            {
                long len = Math.Min(ExactSteps, t - t0);
                if (single) CountPending<float>(bytes, t, t0, len);
                else CountPending<double>(bytes, t, t0, len);
            }
        }
        Steps += t;
    }

    // Work space of the block's dtype, kept across calls: pending events per sample and neuron [Batch · N] (or per neuron
    // [N]), and per neuron in non-binary steps [N] (added into float64 before they could stop being exact), this step's
    // events per neuron [N].
    private Array? _acc, _nbAcc, _stepCounts;
    private long _pending;

    /// <summary>Counts steps [t0, t0 + len) into the pending work space (the caller's thread only).</summary>
    private void CountPending<T>(Span<byte> bytes, long t, long t0, long len) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (_acc is not T[] acc)
        {
            Flush();
            _acc = acc = new T[KeepsPerSample ? (long)Batch * N : N];
            _nbAcc = new T[N];
            _stepCounts = new T[N];
        }
        CountSteps(MemoryMarshal.Cast<byte, T>(bytes), Batch, N, KeepsPerSample, t, t0, t0 + len, acc, (T[])_nbAcc!, (T[])_stepCounts!, _active);
        _pending += len;
        if (_pending >= ExactSteps) Flush();
    }

    /// <summary>One worker's share, steps [from, to) (fewer than 2^23): counted into work space of its own, then added to the totals under a lock.</summary>
    private void CountPart<T>(Tensor y, long t, long from, long to) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var acc = new T[KeepsPerSample ? (long)Batch * N : N];
        var nbAcc = new T[N];
        var active = new double[Batch];
        CountSteps(MemoryMarshal.Cast<byte, T>(y.bytes), Batch, N, KeepsPerSample, t, from, to, acc, nbAcc, new T[N], active);
        lock (_perSample)
        {
            var dst = KeepsPerSample ? _perSample : _total;
            for (int i = 0; i < acc.Length; i++) dst[i] += double.CreateTruncating(acc[i]);
            for (int i = 0; i < N; i++) _nonBinary[i] += double.CreateTruncating(nbAcc[i]);
            for (int b = 0; b < Batch; b++) _active[b] += active[b];
        }
    }

    /// <summary>
    /// The pass: steps [from, to) of y [batch, t, n] add their events to <paramref name="acc"/> (per sample and neuron when
    /// <paramref name="keep"/>, else per neuron), the events of non-binary steps to <paramref name="nbAcc"/>, and the
    /// (sample, step) pairs with an event to <paramref name="active"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // called once per block: optimized from the first call, not after 30
    private static void CountSteps<T>(ReadOnlySpan<T> y, int batch, int n, bool keep, long t, long from, long to, T[] acc, T[] nbAcc, T[] stepCounts, double[] active)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector<T>.Count;
        var zero = Vector<T>.Zero;
        var one = Vector<T>.One;
        for (long ti = from; ti < to; ti++)
        {
            Array.Clear(stepCounts);
            var odd = Vector<T>.Zero; // all-ones lanes where an output was neither 0 nor 1
            bool oddTail = false;
            for (int b = 0; b < batch; b++)
            {
                var row = y.Slice((int)(((long)b * t + ti) * n), n);
                var a = keep ? acc.AsSpan(b * n, n) : Span<T>.Empty;
                var any = Vector<T>.Zero;
                bool anyTail = false;
                int j = 0;
                for (; j + w <= n; j += w)
                {
                    var x = new Vector<T>(row.Slice(j));
                    var isZero = Vector.Equals(x, zero);
                    var e = Vector.ConditionalSelect(isZero, zero, one);
                    if (keep) (new Vector<T>(a.Slice(j)) + e).CopyTo(a.Slice(j));
                    (new Vector<T>(stepCounts, j) + e).CopyTo(stepCounts, j);
                    any |= e;
                    odd |= ~(isZero | Vector.Equals(x, one));
                }
                for (; j < n; j++)
                {
                    T x = row[j];
                    if (x == T.Zero) continue; // NaN is not zero: an event
                    if (keep) a[j] += T.One;
                    stepCounts[j] += T.One;
                    anyTail = true;
                    if (x != T.One) oddTail = true;
                }
                if (anyTail || any != zero) active[b]++;
            }
            if (!keep)
            {
                int j = 0;
                for (; j + w <= n; j += w) (new Vector<T>(acc, j) + new Vector<T>(stepCounts, j)).CopyTo(acc, j);
                for (; j < n; j++) acc[j] += stepCounts[j];
            }
            if (oddTail || odd != zero)
            {
                int j = 0;
                for (; j + w <= n; j += w) (new Vector<T>(nbAcc, j) + new Vector<T>(stepCounts, j)).CopyTo(nbAcc, j);
                for (; j < n; j++) nbAcc[j] += stepCounts[j];
            }
        }
    }

    /// <summary>Adds the pending partial counts into the float64 totals.</summary>
    private void Flush()
    {
        if (_pending == 0) return;
        switch (_acc)
        {
            case float[] f:
                for (int i = 0; i < f.Length; i++) (KeepsPerSample ? _perSample : _total)[i] += f[i];
                var nf = (float[])_nbAcc!;
                for (int i = 0; i < nf.Length; i++) _nonBinary[i] += nf[i];
                break;
            case double[] d:
                for (int i = 0; i < d.Length; i++) (KeepsPerSample ? _perSample : _total)[i] += d[i];
                var nd = (double[])_nbAcc!;
                for (int i = 0; i < nd.Length; i++) _nonBinary[i] += nd[i];
                break;
        }
        if (_acc is not null) Array.Clear(_acc);
        if (_nbAcc is not null) Array.Clear(_nbAcc);
        _pending = 0;
    }

    /// <summary>
    /// Non-zero elements per row of a 2-D contiguous float32/float64 CPU tensor (NaN counts as non-zero), in one read;
    /// null for any other tensor (the caller reduces it with tensor operations).
    /// </summary>
    public static double[]? NonZerosPerRow(Tensor w)
    {
        if (!CanCount(w) || w.dim() != 2 || !w.is_contiguous()) return null;
        int rows = (int)w.Sizes()[0], cols = (int)w.Sizes()[1];
        var result = new double[rows];
        if (rows == 0 || cols == 0) return result;
        if (w.dtype == ScalarType.Float32) NonZerosPerRow<float>(w.bytes, rows, cols, result);
        else NonZerosPerRow<double>(w.bytes, rows, cols, result);
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NonZerosPerRow<T>(Span<byte> bytes, int rows, int cols, double[] result) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var w = MemoryMarshal.Cast<byte, T>(bytes);
        int v = Vector<T>.Count;
        var zero = Vector<T>.Zero;
        var one = Vector<T>.One;
        for (int i = 0; i < rows; i++)
        {
            var row = w.Slice(i * cols, cols);
            var acc = zero; // per lane at most cols / v ones: exact in float32 below 2^24 columns
            int j = 0;
            for (; j + v <= cols; j += v) acc += Vector.ConditionalSelect(Vector.Equals(new Vector<T>(row.Slice(j)), zero), zero, one);
            double n = double.CreateTruncating(Vector.Sum(acc));
            for (; j < cols; j++) if (row[j] != T.Zero) n++;
            result[i] = n;
        }
    }

    /// <summary>
    /// Adds the events a kernel counted in batch row <paramref name="row"/> while it computed a block of it:
    /// <paramref name="perNeuron"/> [N] spikes per neuron and <paramref name="activeSteps"/> steps with a spike. Every
    /// output of such a kernel is 0 or 1. Rows may be added from different threads at once (each touches its own row).
    /// </summary>
    internal void AddKernelRow<T>(long row, ReadOnlySpan<T> perNeuron, long activeSteps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dst = _perSample.AsSpan((int)(row * N), N);
        for (int j = 0; j < N; j++) dst[j] += double.CreateTruncating(perNeuron[j]);
        _active[row] += activeSteps;
    }

    /// <summary>Records that a kernel counted <paramref name="t"/> more steps of every row (after its rows were added).</summary>
    internal void AddKernelSteps(long t)
    {
        Steps += t;
        KernelSteps += t;
    }
}

/// <summary>
/// A group whose fused kernel can count its own events while it writes them (opt-in: the hardware ledger sets
/// <see cref="EventSink"/> for a run and clears it after; null, the default, costs nothing).
/// </summary>
public interface IEventCountingGroup
{
    /// <summary>Where the group's kernel adds the events of every block it computes on the host, or null for none.</summary>
    EventCounts? EventSink { get; set; }
}
