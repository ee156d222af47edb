using System.Diagnostics;
using System.Globalization;
using Ship.Devices.Energy;
using TorchSharp;

namespace Ship.Bench;

/// Overhead of the hardware ledger (issue #14, docs/energy.md) on benchmark A's network: the same runs with and without a
/// ledger attached, alternated so slow drifts of the machine hit both, per step and as a percentage.
internal static class LedgerOverhead
{
    public sealed record Row(string Mode, int N, double Without, double With, int Pairs, double OthersLoad)
    {
        public double OverheadPct => 100 * (With / Without - 1);
    }

    public static IReadOnlyList<Row> Run(Options o)
    {
        int n = o.Ns.Length == 1 ? o.Ns[0] : 512;
        var rows = new List<Row>();
        Console.WriteLine("mode,N,batch,steps,without_s,with_s,per_step_without_us,per_step_with_us,overhead_pct,pairs,others_load");
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
            using var ledger = new HardwareLedger();
            double Once()
            {
                var sw = Stopwatch.StartNew();
                using var scope = torch.NewDisposeScope();
                using var y = net.Run(x)["L"];
                return sw.Elapsed.TotalSeconds;
            }
            Once();
            net.AddObserver(ledger);
            Once();
            net.RemoveObserver(ledger);
            var without = new List<double>();
            var with = new List<double>();
            var clock = Stopwatch.StartNew();
            while (without.Count < Math.Max(7, o.MinRuns) || clock.Elapsed.TotalSeconds < o.MinTime)
            {
                without.Add(Once());
                net.AddObserver(ledger);
                with.Add(Once());
                net.RemoveObserver(ledger);
                if (without.Count >= 200) break;
            }
            var row = new Row(mode, n, Median(without), Median(with), without.Count, Measure.OthersLoad(s0, Measure.CpuSample()));
            rows.Add(row);
            Console.WriteLine(string.Join(',', $"\"{row.Mode}\"", n, o.Batch, o.Steps, row.Without.ToString("F6", CultureInfo.InvariantCulture),
                row.With.ToString("F6", CultureInfo.InvariantCulture), (1e6 * row.Without / o.Steps).ToString("F2", CultureInfo.InvariantCulture),
                (1e6 * row.With / o.Steps).ToString("F2", CultureInfo.InvariantCulture), row.OverheadPct.ToString("F1", CultureInfo.InvariantCulture),
                row.Pairs, row.OthersLoad.ToString("F2", CultureInfo.InvariantCulture)));
        }
        return rows;
    }

    private static double Median(List<double> v)
    {
        var s = v.OrderBy(t => t).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }
}
