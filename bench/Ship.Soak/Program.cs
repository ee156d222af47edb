using System.Diagnostics;
using System.Globalization;
using Ship.Core.Clocks;
using Ship.Core.Monitors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;

// Soak benchmark: the large network (Poisson 500 → 4 × [first-order synapse → LIF 500]) for a long unmonitored run,
// then with one monitor (in memory, then streamed to disk). Prints process RSS and live native tensors along the way,
// so growth per step shows; then the cost of the finite guard.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var o = Options.Parse(args);
torch.set_num_threads(o.Threads);
Directory.CreateDirectory(o.Out);
var log = new StreamWriter(Path.Combine(o.Out, "soak.csv")) { AutoFlush = true };
log.WriteLine("phase,step,rss_mib,live_tensors,live_tensors_after_gc,seconds");
Console.WriteLine($"# Ship.NET soak: TorchSharp {typeof(torch).Assembly.GetName().Version}, threads {torch.get_num_threads()}, batch {o.Batch}, " +
                  $"{o.Steps} unmonitored + {o.Monitored} monitored steps, {o.Call} steps per call");

// Activity check: the layers fire (a silent network would be trivially cheap).
var activity = Large(o.Batch);
activity.MarkOutput("L1", "L2", "L3", "L4");
var spikes = activity.Run(schedule: Schedule.Fixed(1e-3, 500));
Console.WriteLine("# mean rates: " + string.Join(", ", Enumerable.Range(1, 4).Select(k => $"L{k} {spikes[$"L{k}"].mean().item<float>() / 1e-3:F1} Hz")));

var net = Large(o.Batch);
var clock = Stopwatch.StartNew();
net.Run(schedule: Schedule.Fixed(1e-3, o.Warmup));
Sample("warm-up", net, log, clock, gc: true);

// Phase 1: unmonitored, as Continue calls (the way a long study is driven), sampled after every call.
var phase1 = new List<Row>();
for (int done = 0; done < o.Steps; done += o.Call)
{
    net.Continue(schedule: Schedule.Fixed(1e-3, Math.Min(o.Call, o.Steps - done)));
    bool gc = (done / o.Call) % Math.Max(1, o.Steps / o.Call / 10) == 0 || done + o.Call >= o.Steps;
    phase1.Add(Sample("unmonitored", net, log, clock, gc));
}
double perStep1 = phase1.Count > 1 ? (phase1[^1].Seconds - phase1[0].Seconds) / (net.Context.StepIndex - phase1[0].Step) : double.NaN;

// Phase 1b: the same length as ONE call (whole-segment groups compute in blocks), sampled from another thread.
var single = new List<Row>();
if (o.Single)
{
    var again = Large(o.Batch);
    again.Run(schedule: Schedule.Fixed(1e-3, o.Warmup));
    using var stop = new CancellationTokenSource();
    var sampler = Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            lock (single) single.Add(new Row("single-call", -1, Rss(), torch.Tensor.TotalCount, -1, clock.Elapsed.TotalSeconds));
            try { await Task.Delay(TimeSpan.FromSeconds(o.SampleSeconds), stop.Token); } catch (TaskCanceledException) { }
        }
    });
    again.Continue(schedule: Schedule.Fixed(1e-3, o.Steps));
    stop.Cancel();
    sampler.Wait();
    foreach (var r in single) log.WriteLine(r.Csv());
    Sample("single-call-end", again, log, clock, gc: true);
}

// Phase 2: one in-memory monitor (its records grow by design: batch·500 floats a step), then the same streamed to disk.
var inMemory = net.Monitor("L4", "u");
var phase2 = new List<Row>();
for (int done = 0; done < o.Monitored; done += o.Call)
{
    net.Continue(schedule: Schedule.Fixed(1e-3, Math.Min(o.Call, o.Monitored - done)));
    phase2.Add(Sample("monitor-in-memory", net, log, clock, gc: done + o.Call >= o.Monitored || done == 0));
}
net.RemoveMonitor(inMemory);
var streamDir = Path.Combine(o.Out, "soak-stream");
var streamed = net.Monitor("L4", "u").StreamTo(streamDir, chunkSteps: 1000);
var phase3 = new List<Row>();
for (int done = 0; done < o.Monitored; done += o.Call)
{
    net.Continue(schedule: Schedule.Fixed(1e-3, Math.Min(o.Call, o.Monitored - done)));
    phase3.Add(Sample("monitor-streamed", net, log, clock, gc: done + o.Call >= o.Monitored || done == 0));
}
long streamedBytes = Directory.GetFiles(streamDir).Sum(f => new FileInfo(f).Length);
net.RemoveMonitor(streamed);

Console.WriteLine();
Console.WriteLine("phase,at,step,rss_mib,live_tensors,live_after_gc");
void Report(string phase, IReadOnlyList<Row> rows)
{
    if (rows.Count == 0) return;
    foreach (var (label, r) in new[] { ("start", rows[0]), ("middle", rows[rows.Count / 2]), ("end", rows[^1]) })
        Console.WriteLine($"{phase},{label},{r.Step},{r.RssMiB:F1},{r.Live},{(r.LiveAfterGc >= 0 ? r.LiveAfterGc.ToString() : "")}");
}
Report("unmonitored", phase1);
Report("single-call", single);
Report("monitor-in-memory", phase2);
Report("monitor-streamed", phase3);
Console.WriteLine($"# unmonitored: {perStep1 * 1e3:F3} ms/step; RSS slope over the second half {Slope(phase1.Skip(phase1.Count / 2).ToList()) * 1e3:F3} KiB/step");
Console.WriteLine($"# in-memory monitor: RSS slope {Slope(phase2) * 1024:F2} KiB/step (records: {o.Batch * 500 * 4 / 1024.0:F2} KiB/step)");
Console.WriteLine($"# streamed monitor: RSS slope {Slope(phase3) * 1024:F2} KiB/step, {streamedBytes / 1048576.0:F1} MiB on disk");

// Finite guard cost: the same network, off and on; with per-connection currents (first-order synapses, 4 × 250,000
// state values) and with dense synapses (states per neuron only).
if (o.GuardSteps > 0)
{
    foreach (var dense in new[] { false, true })
    {
        var g = Large(o.Batch, dense);
        g.Run(schedule: Schedule.Fixed(1e-3, 500));
        // Interleaved off/on repetitions, so a load change on a shared machine hits both alike; medians per setting.
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
        double baseline = Median(offTimes), on = Median(onTimes);
        long checkedValues = g.Groups.Sum(x => (long)o.Batch * x.OutputSize + x.AllVariables.OfType<Ship.Core.Parameters.StateVariable>().Sum(v => v.Value.numel()));
        string kind = dense ? "dense synapses" : "first-order synapses";
        Console.WriteLine($"# finite guard, {kind}: off {baseline * 1e3:F3} ms/step, on {on * 1e3:F3} ms/step, +{(on / baseline - 1) * 100:F1} % " +
                          $"({(on - baseline) * 1e6:F1} µs/step; {checkedValues} values checked per step)");
        log.WriteLine($"guard-off-{(dense ? "dense" : "first-order")},{o.GuardSteps},,,,{baseline}");
        log.WriteLine($"guard-on-{(dense ? "dense" : "first-order")},{o.GuardSteps},,,,{on}");
    }
}

static double Median(List<double> x)
{
    x.Sort();
    return x[x.Count / 2];
}

static Network Large(int batch, bool dense = false)
{
    var net = new Network("soak") { Dt = 1e-3, Steps = 1000, BatchSize = batch, Seed = 0 };
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

static Row Sample(string phase, Network net, StreamWriter log, Stopwatch clock, bool gc)
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
    public int GuardSteps = 1000, GuardRepeats = 7;
    public double SampleSeconds = 1;
    public bool Single = true;
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
                case "--out": o.Out = Next(); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        return o;
    }
}
