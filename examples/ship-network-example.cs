#:project ../Ship.Core/Ship.Core.csproj
#:project ../Ship.Devices/Ship.Devices.csproj
#:project ../Ship.Datasets/Ship.Datasets.csproj
#:project ../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// SHIP's network example (Gemo et al., Front. Neurosci. 2023, section 4.1, Fig. 8b), in Ship.NET.
// One refractory LIF neuron is simulated ten times side by side, its membrane time constant τ swept over the batch
// from 10 to 100 ms; each batch row starts from its own |N(0, 1)| membrane value, as in SHIP's script.
// Input (--input):
//   poisson  (default, SHIP's): three 20 Hz Poisson trains, the same for every row, through a first-order synapse
//            (τ_syn = 5 ms, w uniform in [0, 1), w_scale = 150);
//   constant: the same charge every step (--level, default 0.02), for which the firing rate has a closed form that
//            the script checks the simulation against.
// Outputs: membrane traces, spike rasters, and the firing rate against τ (rate-vs-tau.csv).
//
//   dotnet run examples/ship-network-example.cs -- [--quick] [--out <folder>] [--input poisson|constant] [--level <charge>]

using System.Globalization;
using Ship.Core.IO;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Datasets.Encoders;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Plots;
using TorchSharp;

var o = Cli.Parse(args, "ship-network-example");
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
// Small tensors: one thread avoids waking (and, on a shared runner, fighting over) the others; several times faster here.
torch.set_num_threads(1);
string outDir = o.Out;

// ---- settings (SHIP's values) -----------------------------------------------------------------------------
const double dt = 1e-4;                          // s
const double tRef = 10e-3;                       // refractory period (s)
double duration = o.Quick ? 0.3 : 2.0;           // s; SHIP runs 0.1 s, a longer run gives the rates more spikes
int steps = (int)Math.Round(duration / dt);
int shown = Math.Min(steps, (int)Math.Round(0.1 / dt));   // traces and rasters show SHIP's 100 ms
var taus = Enumerable.Range(1, 10).Select(i => i * 10e-3).ToArray();
int batch = taus.Length;
const long seed = 3000;
Ship.Core.IO.Provenance.Write(o.Out, new Dictionary<string, long> { ["network_input"] = seed }, o);   // provenance.json

// ---- the network ----------------------------------------------------------------------------------------------
var net = new Network("ship-4.1") { Dt = dt, Steps = steps, BatchSize = batch, Seed = seed };
var tauPerRow = torch.tensor(taus).reshape(batch, 1);          // [B, 1]: one τ per batch row
var lif = new Lif(1, tau: 10e-3, threshold: 1.0);
net.Add("N1", new Refractory(lif, tRef));
// The initial membrane |N(0, 1)|, one draw shared by every row (SHIP's lambda), from the network's generator.
net.Set("N1", "tau", tauPerRow)
   .Set("N1", "u", Value.Generated(c => torch.randn(new long[] { c.Shape[^1] }, dtype: c.DType, generator: c.Rng).abs_(), "|N(0, 1)|"));
torch.Tensor input;
if (o.Input == "poisson")
{
    net.Add("I", new TensorInput(3));
    net.Add("S1", new FirstOrder(tau: 5e-3, weightScale: 150.0), "I", "N1");   // w: uniform [0, 1) from the network's generator
    var gen = new torch.Generator(unchecked((ulong)seed));
    input = RateEncoder.Encode(torch.ones(1, 3), steps, dt, maxRate: 20, gen).expand(batch, steps, 3);
}
else
{
    net.Add("I", new TensorInput(1));
    net.Add("S1", new Identity(), "I", "N1");
    input = torch.full(new long[] { batch, steps, 1 }, o.Level);
}
net.MarkOutput("N1");
var u = net.Monitor("N1", "u");
var result = net.Run(input);
var spikes = result["N1"];                                   // [B, T, 1]
var times = result.Times;

// ---- firing rate against τ ------------------------------------------------------------------------------------
var counts = PlotData.ToDoubles(spikes.sum(new long[] { 1, 2 }));
var rates = counts.Select(c => c / duration).ToArray();
// Steady-state rate from inter-spike intervals (ignores the transient set by the random initial membrane).
var s = PlotData.ToDoubles(spikes[.., .., 0]);
double[] isiRate = new double[batch];
for (int b = 0; b < batch; b++)
{
    var at = Enumerable.Range(0, steps).Where(k => s[b * steps + k] != 0).ToArray();
    isiRate[b] = at.Length >= 3 ? (at.Length - 2) / ((at[^1] - at[1]) * dt) : double.NaN;
}
// With a constant charge c per step the firing period has a closed form: after a spike the neuron is held for
// m = round(t_ref/dt) steps (Lif's reset step included), then needs the first k with c·(1 − β^k)/(1 − β) ≥ thr.
double[]? predicted = null;
if (o.Input == "constant")
{
    int m = (int)Math.Round(tRef / dt);
    predicted = taus.Select(tau =>
    {
        double beta = Math.Exp(-dt / tau), v = 0;
        for (int k = 1; k < 1_000_000; k++)
        {
            v = v * beta + o.Level;
            if (v >= 1.0) return 1.0 / ((k + m) * dt);
        }
        return 0.0;
    }).ToArray();
}
var header = new List<string> { "tau_ms", "spikes", "rate_hz", "isi_rate_hz" };
if (predicted is not null) header.Add("predicted_rate_hz");
CsvTable.Write(Path.Combine(outDir, "rate-vs-tau.csv"), header, Enumerable.Range(0, batch).Select(b =>
{
    var row = new List<object> { taus[b] * 1e3, counts[b], rates[b], isiRate[b] };
    if (predicted is not null) row.Add(predicted[b]);
    return (IReadOnlyList<object>)row;
}));

// ---- plots ------------------------------------------------------------------------------------------------------
var files = new List<FigureFiles>();
var tMs = times.Take(shown).Select(t => t * 1e3).ToArray();
var uAll = u.Values;                                          // [B, T, 1]
var traces = new[] { 0, 3, 6, 9 }.Select(b =>
    new LineData($"τ = {taus[b] * 1e3:0} ms", tMs, PlotData.ToDoubles(uAll[b, ..shown, 0]))).ToArray();
files.Add(LinePlots.Lines(outDir, "membrane", traces, "Time (ms)", "Membrane u (threshold = 1)",
    options: new PlotOptions(Title: "One LIF neuron, τ swept over the batch")));
foreach (var b in new[] { 0, batch - 1 })
    files.Add(SpikePlots.MembraneTrace(outDir, $"membrane-tau-{taus[b] * 1e3:0}ms", times.Take(shown).ToArray(),
        PlotData.ToDoubles(uAll[b, ..shown, 0]), PlotData.ToDoubles(spikes[b, ..shown, 0]), threshold: 1.0));
// Raster with one line per batch row (τ = 10 ms at the bottom).
files.Add(SpikePlots.Raster(outDir, "raster", spikes[.., ..shown, 0].t(), times.Take(shown).ToArray(), group: "batch row, τ = 10·(row + 1) ms"));
if (o.Input == "poisson")
    files.Add(SpikePlots.Raster(outDir, "input-raster", input[0, ..shown], times.Take(shown).ToArray(), group: "Poisson input"));
var tauMs = taus.Select(t => t * 1e3).ToArray();
var rateLines = new List<LineData> { new("spike count / duration", tauMs, rates) };
if (predicted is not null)
{
    rateLines.Add(new LineData("from inter-spike intervals", tauMs, isiRate));
    rateLines.Add(new LineData("closed form", tauMs, predicted));
}
files.Add(LinePlots.Lines(outDir, "firing-rate", rateLines, "Membrane time constant τ (ms)", "Firing rate (Hz)"));

// ---- summary ----------------------------------------------------------------------------------------------------
var report = new List<string>
{
    "SHIP network example, section 4.1 (Ship.NET example ship-network-example.cs)",
    $"input: {(o.Input == "poisson" ? "3 × 20 Hz Poisson, first-order synapse τ = 5 ms, w_scale = 150" : $"constant charge {o.Level} per step")}; " +
    $"dt = {dt * 1e3} ms, {steps} steps ({duration} s), t_ref = {tRef * 1e3} ms, thr = 1",
    "tau_ms  spikes  rate_hz" + (predicted is null ? "" : "  isi_rate_hz  predicted_hz"),
};
for (int b = 0; b < batch; b++)
    report.Add($"{taus[b] * 1e3,6:0}  {counts[b],6:0}  {rates[b],7:0.0}" + (predicted is null ? "" : $"  {isiRate[b],11:0.00}  {predicted[b],12:0.00}"));
int first = Array.FindIndex(counts, c => c > 0);
report.Add(predicted is null
    ? $"found: firing rate goes from {rates[0]:0.0} Hz at τ = 10 ms to {rates[^1]:0.0} Hz at τ = 100 ms" +
      (first > 0 ? $" (silent below τ = {taus[first] * 1e3:0} ms)" : "")
    : $"found: steady-state rates (from inter-spike intervals) match the closed form within " +
      $"{Enumerable.Range(0, batch).Where(b => !double.IsNaN(isiRate[b])).Select(b => Math.Abs(isiRate[b] - predicted[b])).DefaultIfEmpty(double.NaN).Max():0.000} Hz");

File.WriteAllLines(Path.Combine(outDir, "summary.txt"), report);
foreach (var line in report) Console.WriteLine(line);
Console.WriteLine($"wrote {files.Count} figures (PNG, SVG, CSV), rate-vs-tau.csv and summary.txt to {Path.GetFullPath(outDir)}");

/// <summary>The options of this example.</summary>
sealed record Options(bool Quick, string Out, string Input, double Level);

/// <summary>Reads the command line.</summary>
static class Cli
{
    public static Options Parse(string[] args, string name)
    {
        var o = new Options(false, Path.Combine("examples-output", name), "poisson", 0.02);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--quick") o = o with { Quick = true };
            else if (args[i] == "--out" && i + 1 < args.Length) o = o with { Out = args[++i] };
            else if (args[i] == "--input" && i + 1 < args.Length && args[i + 1] is "poisson" or "constant") o = o with { Input = args[++i] };
            else if (args[i] == "--level" && i + 1 < args.Length && double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var l) && l > 0)
            {
                o = o with { Level = l, Input = "constant" };
                i++;
            }
            else
            {
                Console.Error.WriteLine($"usage: dotnet run examples/{name}.cs -- [--quick] [--out <folder>] [--input poisson|constant] [--level <charge per step>]  (bad argument '{args[i]}')");
                Environment.Exit(2);
            }
        }
        Directory.CreateDirectory(o.Out);
        return o;
    }
}
