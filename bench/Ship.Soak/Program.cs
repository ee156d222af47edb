using System.Diagnostics;
using System.Globalization;
using Ship.Core.Clocks;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;

// Soak benchmark: the large network (Poisson 500 → 4 × [first-order synapse → LIF 500]) run for a long time without
// monitors (time-batched as by default, then step by step), as one long call, then with one monitor (in memory, then
// streamed to disk). Samples process RSS and live native tensors (TorchSharp's Tensor.TotalCount, also after a full
// garbage collection) so that any growth per step shows; then measures the cost of the finite guard.
Ship.Core.Native.TorchSharpLoad.EnsureLoaded(); // first touch of TorchSharp: libtorch's threads wait passively (OpenMpWaitPolicy)
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var o = Options.Parse(args);
torch.set_num_threads(o.Threads);
Directory.CreateDirectory(o.Out);
var log = new StreamWriter(Path.Combine(o.Out, "soak.csv")) { AutoFlush = true };
log.WriteLine("phase,step,rss_mib,live_tensors,live_tensors_after_gc,seconds");
var clock = Stopwatch.StartNew();
Console.WriteLine($"# Ship.NET soak: TorchSharp {typeof(torch).Assembly.GetName().Version}, threads {torch.get_num_threads()}, batch {o.Batch}, " +
                  $"{o.Steps} unmonitored + {o.Monitored} monitored steps, {o.Call} steps per call");

// Activity check: the layers fire (a silent network would be trivially cheap).
var activity = Large(o.Batch);
activity.MarkOutput("L1", "L2", "L3", "L4");
var spikes = activity.Run(schedule: Schedule.Fixed(1e-3, 500));
Console.WriteLine("# mean rates: " + string.Join(", ", Enumerable.Range(1, 4).Select(k => $"L{k} {spikes[$"L{k}"].mean().item<float>() / 1e-3:F1} Hz")));

var results = new List<(string Phase, List<Row> Rows, double MsPerStep)>();

// Unmonitored, driven by Continue calls (the way a long study is run), sampled after every call.
foreach (var batching in o.StepwiseOnly ? new[] { false } : new[] { true, false })
{
    string phase = batching ? "unmonitored-batched" : "unmonitored-stepwise";
    var net = Large(o.Batch, batching: batching);
    net.Run(schedule: Schedule.Fixed(1e-3, o.Warmup));
    var rows = Calls(phase, net, o.Steps);
    results.Add((phase, rows, MsPerStep(rows)));
    if (!batching)
    {
        // One monitor on the last layer's membrane: in memory (its records grow by design), then streamed to disk.
        var inMemory = net.Monitor("L4", "u");
        var mem = Calls("monitor-in-memory", net, o.Monitored);
        results.Add(("monitor-in-memory", mem, MsPerStep(mem)));
        net.RemoveMonitor(inMemory);
        var streamDir = Path.Combine(o.Out, "soak-stream");
        var streamed = net.Monitor("L4", "u").StreamTo(streamDir, chunkSteps: 1000);
        var str = Calls("monitor-streamed", net, o.Monitored);
        results.Add(("monitor-streamed", str, MsPerStep(str)));
        Console.WriteLine($"# streamed {Directory.GetFiles(streamDir).Sum(f => new FileInfo(f).Length) / 1048576.0:F1} MiB to {streamDir}");
        net.RemoveMonitor(streamed);
    }
}

// The same length as ONE call (whole-segment groups compute in blocks of SequenceBlockSteps), sampled from another thread.
if (o.Single)
{
    var net = Large(o.Batch);
    net.Run(schedule: Schedule.Fixed(1e-3, o.Warmup));
    var rows = new List<Row>();
    using var stop = new CancellationTokenSource();
    var sampler = Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            lock (rows) rows.Add(new Row("single-call", (long)(clock.Elapsed.TotalSeconds * 1000), Rss(), torch.Tensor.TotalCount, -1, clock.Elapsed.TotalSeconds));
            try { await Task.Delay(TimeSpan.FromSeconds(o.SampleSeconds), stop.Token); } catch (TaskCanceledException) { }
        }
    });
    net.Continue(schedule: Schedule.Fixed(1e-3, o.Steps));
    stop.Cancel();
    sampler.Wait();
    rows.Add(Sample("single-call", net, gc: true));
    foreach (var r in rows) log.WriteLine(r.Csv());
    results.Add(("single-call (step = ms)", rows, double.NaN));
}

Console.WriteLine();
Console.WriteLine("phase,at,step,rss_mib,live_tensors,live_after_gc");
foreach (var (phase, rows, _) in results)
{
    var withGc = rows.Where(r => r.LiveAfterGc >= 0).ToList();
    foreach (var (label, r) in new[] { ("start", rows[0]), ("middle", rows[rows.Count / 2]), ("end", rows[^1]) })
        Console.WriteLine($"{phase},{label},{r.Step},{r.RssMiB:F1},{r.Live},{(r.LiveAfterGc >= 0 ? r.LiveAfterGc.ToString() : "")}");
}
foreach (var (phase, rows, ms) in results.Where(r => !double.IsNaN(r.MsPerStep)))
{
    var second = rows.Skip(rows.Count / 2).ToList();
    var gcs = rows.Where(r => r.LiveAfterGc >= 0).Select(r => r.LiveAfterGc).ToList();
    Console.WriteLine($"# {phase}: {ms:F3} ms/step; RSS slope over the second half {Slope(second) * 1024:F3} KiB/step; " +
                      $"live tensors after GC {gcs.Min()}..{gcs.Max()}");
}
Console.WriteLine($"# in-memory monitor records: {o.Batch * 500 * 4 / 1024.0:F2} KiB/step");

// Finite guard cost: off and on, interleaved repetitions (a load change on a shared machine hits both alike), medians.
if (o.GuardSteps > 0)
{
    foreach (var (dense, batching) in new[] { (false, true), (false, false), (true, false) })
    {
        var g = Large(o.Batch, dense, batching);
        g.Run(schedule: Schedule.Fixed(1e-3, 200));
        var offTimes = new List<double>();
        var onTimes = new List<double>();
        for (int k = 0; k <= o.GuardRepeats; k++)
            foreach (var guarded in new[] { false, true })
            {
                g.CheckFinite = guarded;
                var sw = Stopwatch.StartNew();
                g.Continue(schedule: Schedule.Fixed(1e-3, o.GuardSteps));
                if (k > 0) (guarded ? onTimes : offTimes).Add(sw.Elapsed.TotalSeconds / o.GuardSteps); // k = 0 warms both paths up
            }
        double off = Median(offTimes), on = Median(onTimes);
        long values = g.Groups.Sum(x => (long)o.Batch * x.OutputSize + x.AllVariables.OfType<StateVariable>().Sum(v => v.Value.numel()));
        string kind = $"{(dense ? "dense" : "first-order")} synapses, {(batching ? "time-batched" : "step by step")}";
        Console.WriteLine($"# finite guard, {kind}: off {off * 1e3:F3} ms/step, on {on * 1e3:F3} ms/step, {(on / off - 1) * 100:+0.0;-0.0} % " +
                          $"({(on - off) * 1e6:F1} µs/step; {values} output and state values)");
        log.WriteLine($"guard-off {kind},{o.GuardSteps},,,,{off}");
        log.WriteLine($"guard-on {kind},{o.GuardSteps},,,,{on}");
    }
}
Console.WriteLine($"# total {clock.Elapsed.TotalSeconds:F0} s");

List<Row> Calls(string phase, Network net, int steps)
{
    var rows = new List<Row> { Sample(phase, net, gc: true) };
    int calls = (steps + o.Call - 1) / o.Call, every = Math.Max(1, calls / 10);
    for (int c = 0; c < calls; c++)
    {
        net.Continue(schedule: Schedule.Fixed(1e-3, Math.Min(o.Call, steps - c * o.Call)));
        rows.Add(Sample(phase, net, gc: (c + 1) % every == 0 || c == calls - 1));
    }
    return rows;
}

Row Sample(string phase, Network net, bool gc)
{
    long live = torch.Tensor.TotalCount, afterGc = -1;
    if (gc)
    {
        for (int k = 0; k < 3; k++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        afterGc = torch.Tensor.TotalCount;
    }
    var row = new Row(phase, net.Context.StepIndex, Rss(), live, afterGc, clock.Elapsed.TotalSeconds);
    log.WriteLine(row.Csv());
    return row;
}

static double MsPerStep(List<Row> rows) =>
    rows.Count > 1 ? (rows[^1].Seconds - rows[0].Seconds) / (rows[^1].Step - rows[0].Step) * 1e3 : double.NaN;

static double Median(List<double> x)
{
    x.Sort();
    return x[x.Count / 2];
}

static Network Large(int batch, bool dense = false, bool batching = true)
{
    var net = new Network("soak") { Dt = 1e-3, Steps = 1000, BatchSize = batch, Seed = 0, TimeBatching = batching };
    net.Add("P", new PoissonSource(500, rate: 100));
    string source = "P";
    for (int k = 1; k <= 4; k++)
    {
        if (dense) net.Add($"S{k}", new Dense(Init.Uniform(0, 0.01)), source, $"L{k}");
        else net.Add($"S{k}", new FirstOrder(Init.Uniform(0, 1), tau: 5e-3, weightScale: 1.5), source, $"L{k}");
        net.Add($"L{k}", new Lif(500, tau: 10e-3));
        source = $"L{k}";
    }
    return net;
}

static double Rss()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            return double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
    return double.NaN;
}

// Least-squares slope of RSS (MiB) per step.
static double Slope(IReadOnlyList<Row> rows)
{
    if (rows.Count < 2) return double.NaN;
    double mx = rows.Average(r => (double)r.Step), my = rows.Average(r => r.RssMiB);
    double sxy = rows.Sum(r => (r.Step - mx) * (r.RssMiB - my)), sxx = rows.Sum(r => (r.Step - mx) * (r.Step - mx));
    return sxx == 0 ? double.NaN : sxy / sxx;
}

internal sealed record Row(string Phase, long Step, double RssMiB, long Live, long LiveAfterGc, double Seconds)
{
    public string Csv() => $"{Phase},{Step},{RssMiB:F2},{Live},{(LiveAfterGc >= 0 ? LiveAfterGc.ToString() : "")},{Seconds:F2}";
}

internal sealed class Options
{
    public int Steps = 100_000, Monitored = 10_000, Call = 1000, Warmup = 2000, Batch = 1, Threads = Environment.ProcessorCount;
    public int GuardSteps = 500, GuardRepeats = 7;
    public double SampleSeconds = 0.5;
    public bool Single = true, StepwiseOnly;
    public string Out = Path.Combine("bench", "results");

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--steps": o.Steps = int.Parse(Next()); break;
                case "--monitored": o.Monitored = int.Parse(Next()); break;
                case "--call": o.Call = int.Parse(Next()); break;
                case "--warmup": o.Warmup = int.Parse(Next()); break;
                case "--batch": o.Batch = int.Parse(Next()); break;
                case "--threads": o.Threads = int.Parse(Next()); break;
                case "--guard-steps": o.GuardSteps = int.Parse(Next()); break;
                case "--guard-repeats": o.GuardRepeats = int.Parse(Next()); break;
                case "--no-single": o.Single = false; break;
                case "--stepwise-only": o.StepwiseOnly = true; break;
                case "--out": o.Out = Next(); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        return o;
    }
}
