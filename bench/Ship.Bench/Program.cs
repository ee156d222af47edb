using System.Globalization;
using Ship.Bench;
using Ship.Core.IO;
using TorchSharp;

Ship.Core.Native.TorchSharpLoad.EnsureLoaded(); // first touch of TorchSharp: libtorch's threads wait passively (OpenMpWaitPolicy)
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var o = Options.Parse(args);
if (o.Device.type == DeviceType.CUDA) torch.InitializeDeviceType(DeviceType.CUDA);
torch.set_num_threads(o.Threads);
var machine = $"{Environment.ProcessorCount} cores; {o.Device}";
Console.WriteLine($"# Ship.NET bench, TorchSharp {typeof(torch).Assembly.GetName().Version}, device {o.Device}, threads {torch.get_num_threads()}, batch {o.Batch}, steps {o.Steps}");
Directory.CreateDirectory(o.Out);
string tag = o.Device.type == DeviceType.CUDA ? "gpu" : "cpu";

if (o.Which == "train") { Environment.ExitCode = TrainingBench.Run(o); return; }
if (o.Which == "train-profile") { Environment.ExitCode = TrainingProfile.Run(o); return; }
if (o.Which == "train-run") { Environment.ExitCode = TrainingBench.RunChildMode(o); return; }
if (o.Which == "diag") { Diag.Run(o.Device); return; }
if (o.Which == "gpucheck") { Environment.ExitCode = GpuCheck.Run(o); return; }
if (o.Which == "replot")
{
    // Redraws benchmark-A-<tag>.csv files (e.g. figures taken on another machine) as PNG/SVG next to them.
    foreach (var csv in Directory.GetFiles(o.Out, "benchmark-A-*.csv").Where(f => !f.EndsWith("-plot.csv")))
    {
        var lines = File.ReadAllLines(csv);
        var head = lines[0].Split(',');
        var data = lines.Skip(1).Select(l => l.Split(',')).ToArray();
        double[] Col(string c) { int i = Array.IndexOf(head, c); return data.Select(r => i < 0 ? double.NaN : Peers.D(r[i])).ToArray(); }
        var ns = Col("N");
        var machineName = data.Length > 0 ? data[0][^1].Trim('"') : "";
        BenchPlots.TimesVsN(o.Out, Path.GetFileNameWithoutExtension(csv) + "-plot", $"Benchmark A ({machineName})", new[]
        {
            ("Ship.NET forward", ns, Col("forward_s")), ("Ship.NET backward", ns, Col("backward_s")), ("GEMM bound", ns, Col("gemm_s")),
            ("SHIP forward", ns, Col("ship_forward_s")), ("SHIP backward", ns, Col("ship_backward_s")),
        });
        Console.WriteLine($"replotted {csv}");
    }
    return;
}
if (o.Which == "case") { Diag.Case(o.Device, o.Ns[0]); return; }
if (o.Which is "profile" or "profileB") { foreach (var n in o.Ns) Profile.Run(n, o); return; }
if (o.Which == "memA") { BenchmarkA.PeakOnce(o.Ns[0], o); return; }
if (o.Which == "crossbar") { BenchmarkCrossbar.Run(o); return; }
if (o.Which == "precision") { PrecisionStudy.Run(o); return; } // reduced storage vs float32 spikes (docs/precision.md)
if (o.Which == "ab") { Environment.ExitCode = AbCompare.Run(o); return; } // old-vs-new A/B (docs/benchmarks.md)
if (o.Which == "ledger") { LedgerOverhead.Run(o); return; } // hardware ledger overhead (docs/energy.md)

if (o.Which is "A" or "all")
{
    // peak_rss_mib: peak resident memory of a fresh process running one forward + backward; base_rss_mib: resident
    // memory of that process just before the forward (runtime, libtorch, weights and input).
    Console.WriteLine("framework,N,forward_s,backward_s,gemm_s,peak_rss_mib,base_rss_mib,spike_rate,others_load");
    var rows = new List<BenchmarkA.Row>();
    foreach (var n in o.Ns)
    {
        var r = BenchmarkA.Run(n, o);
        rows.Add(r);
        Console.WriteLine($"Ship.NET,{r.N},{r.ForwardS:F6},{r.BackwardS:F6},{r.GemmS:F6},{r.PeakMiB:F1},{r.BaseMiB:F1},{r.SpikeRate:F4},{r.OthersLoad:F2}");
    }
    var peer = new Dictionary<int, (double F, double B)>();
    var peerMem = new Dictionary<int, (double Peak, double Base)>();
    if (o.Peer)
    {
        var dev = o.Device.type == DeviceType.CUDA ? "cuda" : "cpu";
        // SHIP's memory is measured like Ship.NET's: one forward + backward in a fresh process per N.
        foreach (var r in rows) peerMem[r.N] = Peers.ShipPeakA(r.N, o.Batch, o.Steps, o.Threads, dev);
        foreach (var line in Peers.Run("ship_fwdbwd.py", new[] { "--device", dev, "--ns", string.Join(',', o.Ns), "--extra-ns", "", "--min-time", o.MinTime.ToString(CultureInfo.InvariantCulture), "--quiet-wait", "0" }, 3600))
            if (line.Length >= 4 && int.TryParse(line[1], out var n)) peer[n] = (Peers.D(line[2]), Peers.D(line[3]));
        Console.WriteLine("N,ship_forward_s,ship_backward_s,forward_speedup,backward_speedup,gemm_ratio(forward/gemm),peak_rss_mib,ship_peak_rss_mib,ship_base_rss_mib");
        foreach (var r in rows)
            if (peer.TryGetValue(r.N, out var p))
            {
                var m = peerMem.TryGetValue(r.N, out var pm) ? pm : (Peak: double.NaN, Base: double.NaN);
                Console.WriteLine($"{r.N},{p.F:F6},{p.B:F6},{p.F / r.ForwardS:F2},{p.B / r.BackwardS:F2},{r.ForwardS / r.GemmS:F2},{r.PeakMiB:F1},{m.Peak:F1},{m.Base:F1}");
            }
    }
    var ns = rows.Select(r => (double)r.N).ToArray();
    double[] Peer(Func<(double F, double B), double> f) => rows.Select(r => peer.TryGetValue(r.N, out var p) ? f(p) : double.NaN).ToArray();
    BenchPlots.TimesVsN(o.Out, $"benchmark-A-{tag}-plot", $"Benchmark A ({machine}): input → dense → LIF, batch {o.Batch}, {o.Steps} steps", new[]
    {
        ("Ship.NET forward", ns, rows.Select(r => r.ForwardS).ToArray()),
        ("Ship.NET backward", ns, rows.Select(r => r.BackwardS).ToArray()),
        ("GEMM bound", ns, rows.Select(r => r.GemmS).ToArray()),
        ("SHIP forward", ns, Peer(p => p.F)),
        ("SHIP backward", ns, Peer(p => p.B)),
    });
    CsvTable.Write(Path.Combine(o.Out, $"benchmark-A-{tag}.csv"),
        new[] { "N", "forward_s", "backward_s", "gemm_s", "peak_rss_mib", "base_rss_mib", "spike_rate", "ship_forward_s", "ship_backward_s", "ship_peak_rss_mib", "ship_base_rss_mib", "others_load", "machine" },
        rows.Select(r => (IReadOnlyList<object>)new object[] { r.N, r.ForwardS, r.BackwardS, r.GemmS, r.PeakMiB, r.BaseMiB, r.SpikeRate,
            peer.TryGetValue(r.N, out var p) ? p.F : double.NaN, peer.TryGetValue(r.N, out var q) ? q.B : double.NaN,
            peerMem.TryGetValue(r.N, out var m) ? m.Peak : double.NaN, peerMem.TryGetValue(r.N, out var mb) ? mb.Base : double.NaN, r.OthersLoad, machine }));
}

if (o.Which is "B" or "all")
{
    int n = o.Ns.Length == 1 ? o.Ns[0] : 500;
    var firing = BenchmarkB.FiringScales(n, o.Device);
    var rowsB = new[] { BenchmarkB.Run("ship-settings", n, new[] { 1.0, 1.0, 1.0, 1.0 }, 3, o.Device), BenchmarkB.Run("firing", n, firing, 3, o.Device) };
    Console.WriteLine("variant,N,weight_scales,total_s,run_s,rate_N1_hz,rate_N2_hz,rate_N3_hz,rate_O_hz");
    foreach (var r in rowsB)
        Console.WriteLine($"{r.Variant},{r.N},{string.Join('/', r.WeightScales.Select(v => v.ToString("G4")))},{r.TotalS:F4},{r.RunS:F4},{string.Join(',', r.RatesHz.Select(v => v.ToString("F1")))}");
    var peerB = new Dictionary<string, double>();
    if (o.Peer)
    {
        foreach (var line in Peers.Run("large_net.py", new[] { "--ns", n.ToString(), "--reps", "3", "--engines", "ship,brian2-cython" }, 3600))
            if (line.Length >= 5 && !line[0].StartsWith("engine")) peerB[line[0]] = Peers.D(line[3]);
        if (peerB.TryGetValue("ship", out var ship)) Console.WriteLine($"speedup vs SHIP (total, SHIP settings): {ship / rowsB[0].TotalS:F2}");
        if (peerB.TryGetValue("brian2-cython", out var brian)) Console.WriteLine($"speedup vs Brian2 cython (total, firing variant): {brian / rowsB[1].TotalS:F2}");
    }
    CsvTable.Write(Path.Combine(o.Out, $"benchmark-B-{tag}.csv"),
        new[] { "variant", "N", "weight_scales", "total_s", "run_s", "rate_N1_hz", "rate_N2_hz", "rate_N3_hz", "rate_O_hz", "ship_total_s", "brian2_cython_total_s", "machine" },
        rowsB.Select(r => (IReadOnlyList<object>)new object[] { r.Variant, r.N, string.Join('/', r.WeightScales.Select(v => v.ToString("G4"))), r.TotalS, r.RunS, r.RatesHz[0], r.RatesHz[1], r.RatesHz[2], r.RatesHz[3],
            peerB.GetValueOrDefault("ship", double.NaN), peerB.GetValueOrDefault("brian2-cython", double.NaN), machine }));
}
