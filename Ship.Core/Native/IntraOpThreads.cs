using System.Runtime.InteropServices;
using TorchSharp;

namespace Ship.Core.Native;

/// <summary>
/// Changes libtorch's intra-op thread count for the calling thread only, for the length of a scope.
/// <para>
/// What <c>torch.set_num_threads(n)</c> changes (libtorch 2.10, <c>at::set_num_threads</c> in
/// aten/src/ATen/ParallelOpenMP.cpp): (1) a process-wide atomic, read by every thread that has not touched ATen's
/// parallel code yet when it first does (<c>lazy_init_num_threads</c>, once per thread); (2) <c>omp_set_num_threads</c>,
/// the OpenMP nthreads ICV of the calling thread only — the size of the team every <c>at::parallel_for</c> of that
/// thread opens (<c>#pragma omp parallel</c> without a clause) and what <c>torch.get_num_threads()</c>
/// (<c>omp_get_max_threads</c>) answers on it; (3) <c>mkl_set_num_threads_local</c>, MKL's thread-local count for the
/// calling thread's GEMMs, and <c>mkl_set_dynamic(false)</c> (process-wide, the same value every time); (4) the
/// process-wide pthreadpool used by XNNPACK/QNNPACK; (5) a clear of oneDNN's process-wide primitive cache. Restoring it
/// afterwards with <c>set_num_threads</c> would leave (1) and (4) at this thread's value, not at whatever another thread
/// set, and a thread started inside the scope would keep the scope's count for life: process-wide state that a run
/// must not change.
/// </para>
/// <para>
/// This scope therefore changes only (2) and (3), the two per-thread settings, by calling the same native functions
/// directly (resolved in libtorch_cpu and its libgomp), and restores both exactly on dispose (MKL returns the previous
/// thread-local value). Another thread, and the process-wide atomic, are never touched. Where the functions cannot be
/// resolved (another libtorch build) <see cref="Enter"/> changes nothing and says so (<see cref="Available"/>).
/// </para>
/// </summary>
public static class IntraOpThreads
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetIntFn(int value);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int SetIntReturnFn(int value);

    // Resolved once per process: the addresses of native functions in libraries that stay loaded, not a setting.
    private static readonly Lazy<(SetIntFn? Omp, SetIntReturnFn? MklLocal)> Natives = new(Resolve);

    /// <summary>The intra-op thread count of the calling thread (<c>torch.get_num_threads()</c>).</summary>
    public static int Current => torch.get_num_threads();

    /// <summary>Whether the per-thread native setters were found (libtorch_cpu's OpenMP and MKL); without them <see cref="Enter"/> changes nothing.</summary>
    public static bool Available => Natives.Value.Omp is not null;

    /// <summary>
    /// Sets the calling thread's intra-op thread count to <paramref name="threads"/> until the returned scope is
    /// disposed (on the same thread), which restores the previous OpenMP and MKL settings of this thread. Null when
    /// nothing changes (the count is already <paramref name="threads"/>, or <see cref="Available"/> is false).
    /// </summary>
    public static IDisposable? Enter(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        int before = torch.get_num_threads(); // also runs ATen's once-per-thread initialization first, so it cannot undo ours later
        if (before == threads) return null;
        var (omp, mkl) = Natives.Value;
        if (omp is null) return null;
        omp(threads);
        int mklBefore = mkl?.Invoke(threads) ?? 0;
        return new Scope(Environment.CurrentManagedThreadId, before, mklBefore, omp, mkl);
    }

    private sealed class Scope(int thread, int ompBefore, int mklBefore, SetIntFn omp, SetIntReturnFn? mkl) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            // The settings belong to the thread that entered: restoring them from another thread would change that one's.
            if (Environment.CurrentManagedThreadId != thread)
                throw new InvalidOperationException($"An intra-op thread scope entered on managed thread {thread} was disposed on thread {Environment.CurrentManagedThreadId}.");
            _done = true;
            omp(ompBefore);
            mkl?.Invoke(mklBefore);
        }
    }

    private static (SetIntFn?, SetIntReturnFn?) Resolve()
    {
        TorchSharpLoad.EnsureLoaded();
        _ = torch.get_num_threads();
        foreach (var name in new[] { "libtorch_cpu.so", "libtorch_cpu.dylib", "torch_cpu.dll" })
        {
            // Already loaded by TorchSharp: the loader returns that copy (matched by its soname), and a symbol lookup
            // through its handle also searches the libraries it depends on (its bundled libgomp).
            if (!NativeLibrary.TryLoad(name, out var lib)) continue;
            if (!NativeLibrary.TryGetExport(lib, "omp_set_num_threads", out var omp)) continue;
            SetIntReturnFn? mkl = NativeLibrary.TryGetExport(lib, "MKL_Set_Num_Threads_Local", out var m)
                ? Marshal.GetDelegateForFunctionPointer<SetIntReturnFn>(m) : null;
            return (Marshal.GetDelegateForFunctionPointer<SetIntFn>(omp), mkl);
        }
        return (null, null);
    }
}
