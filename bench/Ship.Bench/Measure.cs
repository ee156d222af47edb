using System.Diagnostics;

namespace Ship.Bench;

/// Timing and memory helpers shared by the benchmarks.
internal static class Measure
{
    /// One warm-up call, then at least minRuns timed calls and more while the total is under minTime (at most maxRuns); the median.
    public static (double Median, int Runs) Time(Action f, int minRuns, double minTime, int maxRuns = 100, Action? sync = null)
    {
        f();
        sync?.Invoke();
        var times = new List<double>();
        while ((times.Count < minRuns || times.Sum() < minTime) && times.Count < maxRuns)
        {
            var sw = Stopwatch.StartNew();
            f();
            sync?.Invoke();
            times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        int n = times.Count;
        return (n % 2 == 1 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]), n);
    }

    /// Resets the kernel's peak-RSS counter of this process (Linux: "5" to clear_refs), so the next peak is this benchmark's.
    public static void ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// Peak resident memory of this process in MiB since the last reset (VmHWM), or NaN off Linux.
    public static double PeakRssMiB() => ReadStatus("VmHWM:");

    /// Current resident memory in MiB (VmRSS), or NaN off Linux.
    public static double RssMiB() => ReadStatus("VmRSS:");

    private static double ReadStatus(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return double.Parse(line[key.Length..].Trim().Split(' ')[0]) / 1024.0;
        }
        catch (IOException) { }
        return double.NaN;
    }

    /// Share of all cores used by other processes over an interval, so a contended measurement can be flagged.
    public static (long Total, long Idle, long Self) CpuSample()
    {
        var f = File.ReadAllText("/proc/stat").Split('\n')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
        long total = f.Sum(), idle = f[3] + (f.Length > 4 ? f[4] : 0);
        var p = Process.GetCurrentProcess();
        return (total, idle, (long)(p.TotalProcessorTime.TotalSeconds * 100));
    }

    /// Fraction of the machine's CPU used by other processes between two samples (0 = quiet).
    public static double OthersLoad((long Total, long Idle, long Self) a, (long Total, long Idle, long Self) b)
    {
        double busy = (b.Total - b.Idle) - (a.Total - a.Idle), total = b.Total - a.Total, self = b.Self - a.Self;
        return total <= 0 ? double.NaN : Math.Clamp((busy - self) / total, 0, 1);
    }
}
