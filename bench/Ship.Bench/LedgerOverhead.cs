using System.Diagnostics;
using System.Globalization;
using Ship.Core.Groups;
using Ship.Core.Networks.Observers;
using Ship.Devices.Energy;
using TorchSharp;

namespace Ship.Bench;

/// Overhead of the hardware ledger (issue #14, docs/energy.md) on benchmark A's network: the same runs with and without a
/// ledger attached, alternated so slow drifts of the machine hit both, per step and as a percentage; besides, the time
/// spent inside the ledger's own callbacks (a direct measure, less sensitive to the machine's noise than a difference).
internal static class LedgerOverhead
{
    public sealed record Row(string Mode, int N, double Without, double With, double PairRatio, double Inside, int Pairs, double OthersLoad)
    {
        /// Thread CPU time (s) of a run without the ledger and inside the ledger's callbacks (medians): with one thread,
        /// all of libtorch's work runs on the calling thread, and CPU time does not count the time the thread waited
        /// for a core — the figure that survives a loaded machine.
        public double CpuWithout { get; init; }
        /// See <see cref="CpuWithout"/>.
        public double CpuInside { get; init; }
        /// Thread CPU time (s) of a whole run with the ledger (median): besides its callbacks, what it costs inside the
        /// kernels (the LIF recurrence's counting) and in the run's caches.
        public double CpuWith { get; init; }
        /// Median over the pairs of the thread CPU time with / without − 1, in %: the whole overhead, in a measure that
        /// survives a loaded machine with THREADS=1.
        public double CpuPairOverheadPct { get; init; }
        /// Ledger CPU time as a share of the run's CPU time.
        public double CpuInsidePct => 100 * CpuInside / CpuWithout;
        /// Overhead from the medians of the runs without and with the ledger.
        public double OverheadPct => 100 * (With / Without - 1);
        /// Median over the alternated pairs of (with / without − 1).
        public double PairOverheadPct => 100 * (PairRatio - 1);
        /// Median time inside the ledger's callbacks as a share of the median run without it.
        public double InsidePct => 100 * Inside / Without;
    }

    public static IReadOnlyList<Row> Run(Options o)
    {
        int n = o.Ns.Length == 1 ? o.Ns[0] : 512;
        var rows = new List<Row>();
        Console.WriteLine("mode,N,batch,steps,without_s,with_s,per_step_without_us,per_step_with_us,overhead_pct,pair_median_overhead_pct,inside_ledger_s,inside_ledger_pct,cpu_without_s,cpu_inside_ledger_s,cpu_inside_ledger_pct,pairs,others_load,cpu_with_s,cpu_pair_median_overhead_pct");
        foreach (var (mode, timeBatching, graph) in new[]
        {
            ("benchmark A forward (time-batched, with graph)", true, true),
            ("inference, time-batched", true, false),
            ("inference, stepped (TimeBatching off)", false, false),
        })
        {
            var s0 = Measure.CpuSample();
            var (net, _) = BenchmarkA.BuildNetwork(n, o, timeBatching);
            net.TrackGradients = graph;
            using var x = BenchmarkA.Input(n, o);
            // LEDGER_PASSES=1: the tensor-pass counting (the former ledger, the reference of the tests) instead of counting in the kernels.
            using var ledger = new HardwareLedger { CountInKernels = Environment.GetEnvironmentVariable("LEDGER_PASSES") != "1" };
            var timed = new TimedObserver(ledger);
            double lastCpu = 0;
            double Once()
            {
                double cpu0 = ThreadCpu.Now();
                var sw = Stopwatch.StartNew();
                using (var scope = torch.NewDisposeScope())
                using (var y = net.Run(x)["L"]) { }
                double wall = sw.Elapsed.TotalSeconds;
                lastCpu = ThreadCpu.Now() - cpu0;
                return wall;
            }
            Once();
            net.AddObserver(timed);
            Once();
            net.RemoveObserver(timed);
            var without = new List<double>();
            var with = new List<double>();
            var inside = new List<double>();
            var cpuWithout = new List<double>();
            var cpuInside = new List<double>();
            var cpuWith = new List<double>();
            var clock = Stopwatch.StartNew();
            while (without.Count < Math.Max(5, o.MinRuns) || clock.Elapsed.TotalSeconds < o.MinTime)
            {
                without.Add(Once());
                cpuWithout.Add(lastCpu);
                net.AddObserver(timed);
                timed.Reset();
                with.Add(Once());
                inside.Add(timed.Total);
                cpuWith.Add(lastCpu);
                cpuInside.Add(timed.Cpu);
                net.RemoveObserver(timed);
                if (without.Count >= 200) break;
            }
            var ratios = without.Zip(with, (a, b) => b / a).ToList();
            var row = new Row(mode, n, Median(without), Median(with), Median(ratios), Median(inside), without.Count, Measure.OthersLoad(s0, Measure.CpuSample()))
            {
                CpuWithout = Median(cpuWithout),
                CpuInside = Median(cpuInside),
                CpuWith = Median(cpuWith),
                CpuPairOverheadPct = 100 * (Median(cpuWithout.Zip(cpuWith, (a, b) => b / a).ToList()) - 1),
            };
            rows.Add(row);
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Join(',', $"\"{row.Mode}\"", n, o.Batch, o.Steps, row.Without.ToString("F6", inv), row.With.ToString("F6", inv),
                (1e6 * row.Without / o.Steps).ToString("F2", inv), (1e6 * row.With / o.Steps).ToString("F2", inv), row.OverheadPct.ToString("F1", inv),
                row.PairOverheadPct.ToString("F1", inv), row.Inside.ToString("F6", inv), row.InsidePct.ToString("F1", inv),
                row.CpuWithout.ToString("F6", inv), row.CpuInside.ToString("F6", inv), row.CpuInsidePct.ToString("F1", inv),
                row.Pairs, row.OthersLoad.ToString("F2", inv), row.CpuWith.ToString("F6", inv), row.CpuPairOverheadPct.ToString("F1", inv)));
        }
        return rows;
    }

    private static double Median(List<double> v)
    {
        var s = v.OrderBy(t => t).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    /// Forwards to an observer and adds up the time spent in its callbacks.
    private sealed class TimedObserver : IRunObserver
    {
        private readonly IRunObserver _inner;
        public TimedObserver(IRunObserver inner) => _inner = inner;
        public double Total { get; private set; }
        public double Cpu { get; private set; }
        public void Reset() => Total = Cpu = 0;
        public bool NeedsStepOutput(Group group) => _inner.NeedsStepOutput(group);
        public bool NeedsStepState(Group group) => _inner.NeedsStepState(group);
        public bool Watches(Group group) => _inner.Watches(group);
        public void OnRunStart(RunStartView run) => Timed(() => _inner.OnRunStart(run));
        public void OnStep(StepView step) => Timed(() => _inner.OnStep(step));
        public void OnBlockEnd(BlockView block) => Timed(() => _inner.OnBlockEnd(block));
        public void OnRunEnd(bool completed) => Timed(() => _inner.OnRunEnd(completed));
        private void Timed(Action a)
        {
            double c = ThreadCpu.Now();
            long t = Stopwatch.GetTimestamp();
            a();
            Total += Stopwatch.GetElapsedTime(t).TotalSeconds;
            Cpu += ThreadCpu.Now() - c;
        }
    }
}

/// CPU time of the calling thread (s), from clock_gettime(CLOCK_THREAD_CPUTIME_ID) on Linux; NaN elsewhere.
internal static class ThreadCpu
{
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct Timespec { public long Sec; public long Nsec; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec ts);

    public static double Now()
    {
        if (!OperatingSystem.IsLinux()) return double.NaN;
        return ClockGetTime(3, out var ts) == 0 ? ts.Sec + ts.Nsec * 1e-9 : double.NaN; // 3 = CLOCK_THREAD_CPUTIME_ID
    }
}
