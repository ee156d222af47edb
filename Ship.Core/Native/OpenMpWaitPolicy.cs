using System.Runtime.InteropServices;

namespace Ship.Core.Native;

/// <summary>
/// Makes libtorch's OpenMP threads sleep when they wait instead of spinning, unless the user chose a policy. libtorch's
/// bundled libgomp lets a thread that reaches a barrier spin for about 300,000 iterations before sleeping; when another
/// process keeps a core busy, the spinning threads take the time slices the working thread needs, and every parallel
/// region waits for the scheduler: training the main job's network at 2 intra-op threads took 44–54 s against 3–5 s at
/// 1 thread on the loaded machine, and 1.3–2.6 s at 2 threads with <c>OMP_WAIT_POLICY=PASSIVE</c> (issue 18,
/// docs/benchmarks.md "Threads"). libgomp reads the policy once, when libtorch loads, from the native environment,
/// which .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not change on Unix: hence
/// <c>setenv</c> before the first touch of TorchSharp (<see cref="TorchSharpLoad.Cpu"/>). A process-wide setting by
/// nature, like the thread count itself; it changes no result, only how idle threads wait.
/// </summary>
public static class OpenMpWaitPolicy
{
    /// <summary>The variables that, when set by the user, are left alone.</summary>
    public static readonly IReadOnlyList<string> UserVariables = new[] { "OMP_WAIT_POLICY", "GOMP_SPINCOUNT" };

    /// <summary>
    /// Sets <c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment when neither of <see cref="UserVariables"/> is set
    /// (Linux only); true when it set it. Effective only before libtorch is loaded; harmless after.
    /// </summary>
    public static bool ApplyBeforeTorchLoads()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            foreach (var name in UserVariables)
                if (GetEnv(name) != IntPtr.Zero) return false;
            return SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0) == 0;
        }
        catch (DllNotFoundException) { return false; }
        catch (EntryPointNotFoundException) { return false; }
    }

    /// <summary>The value of <paramref name="name"/> in the native environment (what libgomp reads), or null.</summary>
    public static string? NativeValue(string name)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var p = GetEnv(name);
        return p == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(p);
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
