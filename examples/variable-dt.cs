#:project ../Ship.Core/Ship.Core.csproj
#:project ../Ship.Devices/Ship.Devices.csproj
#:project ../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// Variable time step inference: a coarse dt where nothing happens, a fine dt around the burst of spikes.
// Three refractory LIF neurons receive a piecewise-constant current; the run uses dt = 1 ms, then 0.1 ms while
// the current is strong, then 1 ms again (a Schedule). The same network is run again at a fixed 0.1 ms as the
// reference, and the two are compared: the variable run needs far fewer steps for nearly the same spike times.
//
//   dotnet run examples/variable-dt.cs -- [--quick] [--out <folder>]

using System.Diagnostics;
using System.Globalization;
using Ship.Core.Clocks;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Plots;
using TorchSharp;

var (quick, outDir) = Cli.Parse(args, "variable-dt");
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
// Small tensors: one thread avoids waking (and, on a shared runner, fighting over) the others; several times faster here.
torch.set_num_threads(1);
Ship.Core.IO.Provenance.Write(outDir, new Dictionary<string, long> { ["network"] = 1 }, new { quick });   // provenance.json

// ---- settings -------------------------------------------------------------------------------------------------
const double tau = 20e-3;                  // membrane time constant (s)
const double tRef = 2e-3;                  // refractory period (s), counted in absolute time under any dt
double[] gains = { 0.8, 1.0, 1.25 };       // input weight of each neuron
double quiet = 30, strong = 200;           // current (threshold units per second); 1/τ = 50 is the firing limit
// Segments: (dt, steps). The strong current is on exactly during the fine segment.
var schedule = quick
    ? new Schedule((1e-3, 20), (0.1e-3, 200), (1e-3, 20))
    : new Schedule((1e-3, 40), (0.1e-3, 300), (1e-3, 60));
double fineDt = 0.1e-3;
double strongFrom = schedule.Segments[0].Dt * schedule.Segments[0].Steps;
double strongTo = strongFrom + schedule.Segments[1].Dt * schedule.Segments[1].Steps;
double Current(double t) => t >= strongFrom && t < strongTo ? strong : quiet;

// ---- the network ----------------------------------------------------------------------------------------------
var net = new Network("variable-dt") { Dt = 1e-3, BatchSize = 1, Seed = 1, DType = torch.ScalarType.Float64 };
net.Add("I", new TensorInput(1));
net.Add("W", new Dense(torch.tensor(gains, dtype: torch.ScalarType.Float64).reshape(1, gains.Length)), "I", "L");
net.Add("L", new Refractory(new Lif(gains.Length, tau: tau, threshold: 1.0), tRef));
net.MarkOutput("L");
var u = net.Monitor("L", "u");
var drive = net.Monitor("W");   // the charge each neuron receives per step

// The input is the charge delivered during each step. For a current I that is constant over the step, the exact
// solution of du/dt = −u/τ + I over dt adds I·τ·(1 − e^(−dt/τ)) to u·e^(−dt/τ), which is what Lif computes when
// given that charge: the membrane is then exact at any dt, and the only dt effect left is when spikes are seen.
torch.Tensor Charges(Schedule s)
{
    var x = new double[s.TotalSteps];
    double t = 0;
    int k = 0;
    foreach (var seg in s.Segments)
        for (int i = 0; i < seg.Steps; i++, k++)
        {
            x[k] = Current(t + seg.Dt / 2) * tau * (1 - Math.Exp(-seg.Dt / tau));
            t += seg.Dt;
        }
    return torch.tensor(x, dtype: torch.ScalarType.Float64).reshape(1, s.TotalSteps, 1);
}

net.Run(Charges(schedule), schedule);               // warm-up, so the timings below compare like with like
var sw = Stopwatch.StartNew();
var result = net.Run(Charges(schedule), schedule);
double variableMs = sw.Elapsed.TotalMilliseconds;
var times = result.Times;                            // end of every step (s), across all segments
var uVar = u.Values.clone();                         // [1, steps, 3]; monitors are cleared by the next Run
var driveVar = drive.Values.clone();
var spikesVar = result["L"].clone();
var dts = net.Timeline.Dts.ToArray();
u.ToCsv(Path.Combine(outDir, "membrane-long.csv"));  // every record of the monitor: step, time_s, batch, index, value

var reference = Schedule.Fixed(fineDt, (int)Math.Round(schedule.Duration / fineDt));
sw.Restart();
var refResult = net.Run(Charges(reference), reference);
double referenceMs = sw.Elapsed.TotalMilliseconds;
var refTimes = refResult.Times;
var uRef = u.Values.clone();
var spikesRef = refResult["L"].clone();

// ---- what happened ----------------------------------------------------------------------------------------------
double[] SpikeTimes(torch.Tensor spikes, IReadOnlyList<double> t, int neuron)
{
    var s = PlotData.ToDoubles(spikes[0, .., neuron]);
    return Enumerable.Range(0, s.Length).Where(k => s[k] != 0).Select(k => t[k]).ToArray();
}
// Membrane difference at the instants both runs share (every variable-dt step end is a multiple of 0.1 ms).
double maxDu = 0, maxDuAt = 0;
var refIndex = refTimes.Select((t, k) => (t, k)).ToDictionary(p => Math.Round(p.t / fineDt), p => p.k);
var uVarD = PlotData.ToDoubles(uVar);
var uRefD = PlotData.ToDoubles(uRef);
int n = gains.Length;
for (int k = 0; k < times.Length; k++)
    if (refIndex.TryGetValue(Math.Round(times[k] / fineDt), out var j))
        for (int i = 0; i < n; i++)
        {
            double d = Math.Abs(uVarD[k * n + i] - uRefD[j * n + i]);
            if (d > maxDu) (maxDu, maxDuAt) = (d, times[k]);
        }

var report = new List<string>
{
    "Variable-dt inference (Ship.NET example variable-dt.cs)",
    $"schedule: {schedule}  ({schedule.TotalSteps} steps, {schedule.Duration * 1e3:0.#} ms)",
    $"reference: {reference}",
    $"neurons: Refractory(Lif) τ = {tau * 1e3} ms, thr = 1, t_ref = {tRef * 1e3} ms, input gains [{string.Join(", ", gains)}]",
    $"current: {quiet}/s, {strong}/s from {strongFrom * 1e3:0.#} to {strongTo * 1e3:0.#} ms",
    $"steps: variable {schedule.TotalSteps} vs fixed {reference.TotalSteps} ({(double)reference.TotalSteps / schedule.TotalSteps:0.0}x fewer); wall time {variableMs:0} ms vs {referenceMs:0} ms",
};
double worstShift = 0;
for (int i = 0; i < n; i++)
{
    var a = SpikeTimes(spikesVar, times, i);
    var b = SpikeTimes(spikesRef, refTimes, i);
    double shift = a.Length == b.Length && a.Length > 0 ? a.Zip(b).Max(p => Math.Abs(p.First - p.Second)) : double.NaN;
    if (a.Length == b.Length) worstShift = Math.Max(worstShift, a.Length > 0 ? shift : 0);
    else worstShift = double.PositiveInfinity;
    report.Add($"neuron {i}: {a.Length} spikes (reference {b.Length}); first at {(a.Length > 0 ? $"{a[0] * 1e3:0.0} ms" : "-")}, " +
               $"largest spike-time difference {(double.IsNaN(shift) ? "n/a" : $"{shift * 1e3:0.000} ms")}");
}
report.Add($"largest |u_variable − u_reference| at shared instants: {maxDu:0.000e+0}, at {maxDuAt * 1e3:0.0} ms" +
           (maxDu < 1e-9 ? " (identical up to rounding)"
            : maxDuAt > strongTo ? " (in a coarse step: a refractory period ending inside a 1 ms step frees the neuron for the whole step)" : ""));
report.Add(double.IsFinite(worstShift)
    ? $"found: same spike counts; spike times agree within {worstShift * 1e3:0.000} ms while using {schedule.TotalSteps} instead of {reference.TotalSteps} steps"
    : "found: the spike counts differ between the variable and the fixed run");

// ---- plots: monitors against the timeline, segment boundaries marked ---------------------------------------
var boundaries = new List<double>();
var labels = new List<string>();
double edge = 0;
foreach (var seg in schedule.Segments)
{
    boundaries.Add(edge * 1e3);
    labels.Add($"dt = {seg.Dt * 1e3:0.###} ms");
    edge += seg.Dt * seg.Steps;
}
double[] Ms(IReadOnlyList<double> t) => t.Select(v => v * 1e3).ToArray();
double[] Column(torch.Tensor values, int neuron) => PlotData.ToDoubles(values[0, .., neuron]);

var files = new List<FigureFiles>();
FigureFiles Marked(FigureFiles f)
{
    Figure.MarkX(f.Model, boundaries, labels);
    return Figure.Redraw(f);
}
var membrane = new List<LineData>();
for (int i = 0; i < n; i++) membrane.Add(new LineData($"neuron {i}", Ms(times), Column(uVar, i)));
files.Add(Marked(LinePlots.Lines(outDir, "membrane", membrane, "Time (ms)", "Membrane u (threshold = 1)")));
// The two curves coincide almost everywhere: Versus draws the reference wide and pale underneath and the variable-dt
// run thin, dashed and with a marker at every step on top, so both stay visible where they overlap.
var versus = LinePlots.Versus(outDir, "membrane-vs-reference",
    new LineData("fixed 0.1 ms (reference)", Ms(refTimes), Column(uRef, n - 1)),
    new LineData("variable dt", Ms(times), Column(uVar, n - 1)),
    "Time (ms)", $"Membrane u of neuron {n - 1}");
files.Add(Marked(versus));
files.Add(Marked(LinePlots.Lines(outDir, "input-charge", new[] { new LineData("charge per step", Ms(times), Column(driveVar, 0)) },
    "Time (ms)", "Input charge per step (neuron 0)")));
// dt is constant over each step: drawn as a step over [t_k − dt_k, t_k), not as a line between step ends.
var stepEdges = new[] { 0.0 }.Concat(Ms(times)).ToArray();
files.Add(Marked(LinePlots.Steps(outDir, "dt", "dt", stepEdges, dts.Select(d => d * 1e3).ToArray(), "Time (ms)", "Step length dt (ms)")));
files.Add(Marked(SpikePlots.Raster(outDir, "raster", spikesVar, times, group: "L")));

File.WriteAllLines(Path.Combine(outDir, "summary.txt"), report);
foreach (var line in report) Console.WriteLine(line);
Console.WriteLine($"wrote {files.Count} figures (PNG, SVG, CSV) and summary.txt to {Path.GetFullPath(outDir)}");

/// <summary>The two options every example takes.</summary>
static class Cli
{
    public static (bool Quick, string Out) Parse(string[] args, string name)
    {
        bool quick = false;
        string outDir = Path.Combine("examples-output", name);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--quick") quick = true;
            else if (args[i] == "--out" && i + 1 < args.Length) outDir = args[++i];
            else
            {
                Console.Error.WriteLine($"usage: dotnet run examples/{name}.cs -- [--quick] [--out <folder>]  (unknown argument '{args[i]}')");
                Environment.Exit(2);
            }
        }
        Directory.CreateDirectory(outDir);
        return (quick, outDir);
    }
}
