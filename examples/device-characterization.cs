#:project ../Ship.Core/Ship.Core.csproj
#:project ../Ship.Devices/Ship.Devices.csproj
#:project ../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// Device characterization of a memristive preset, as a lab would measure a chip:
//  1. pulse programming: every device starts at the bottom of the preset's window, gets a train of potentiation
//     pulses then a train of depression pulses; conductance vs pulse number, mean ± σ over devices;
//  2. retention: devices programmed to several levels are read at elapsed times from 1 s to a day or more;
//     conductance distribution per level over log time, and the weight each level then represents.
// Presets (MemristivePresets.Names, the same names as the CLI's --device-preset): rram (SHIP's HfO2 RRAM drift fit,
// 50–120 µS, the default) or pcm (aihwkit's PCM model). Conductances are siemens in the API; plots and the summary show µS.
// The presets model drift, not pulses, so the pulse response (soft bounds with device-to-device and cycle-to-cycle
// variability) is attached on the preset's own conductance window.
//
//   dotnet run examples/device-characterization.cs -- [--quick] [--out <folder>] [--preset rram|pcm]

using System.Globalization;
using Ship.Core.Networks;
using Ship.Devices.Memristive;
using Ship.Plots;
using TorchSharp;

var (quick, outDir, presetName) = Cli.Parse(args, "device-characterization");
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
// Small tensors: one thread avoids waking (and, on a shared runner, fighting over) the others; several times faster here.
torch.set_num_threads(1);

// ---- settings -------------------------------------------------------------------------------------------------
int devices = quick ? 64 : 512;                 // devices per measurement
int pulses = quick ? 60 : 150;                  // pulses per train
int levels = 8;                                 // programmed levels for the retention study
double[] times = quick
    ? new[] { 1.0, 10, 100, 1e3, 1e4, 1e5 }
    : Enumerable.Range(0, 21).Select(i => Math.Pow(10, i / 4.0)).ToArray();   // 1 s … 10^5 s (27.8 h)
const long seed = 7;
Ship.Core.IO.Provenance.Write(outDir, new Dictionary<string, long> { ["chip"] = seed }, new { quick, preset = presetName });   // provenance.json

DeviceArray Preset() => MemristivePresets.ByName(presetName);
const double uS = 1e6;                          // siemens → µS, for the text report only
// Every draw (device parameters, pulse noise, drift spread) comes from this context's generator: one seed, one chip.
var ctx = new SimulationContext(batchSize: 1, seed: seed);

// ---- 1. pulse programming -------------------------------------------------------------------------------------
var probe = Preset();
var window = WindowOf(probe.Mapping);
double width = window.Gmax - window.Gmin;
var response = new SoftBoundsPulses(
    dwMin: width / 40, wMin: window.Gmin, wMax: window.Gmax, reference: (window.Gmin + window.Gmax) / 2,
    dwMinSpread: 0.3, wMinSpread: 0.02, wMaxSpread: 0.05, cycleNoise: 0.2);
var pulsed = Preset().WithPulses(response);
// All-zero weights program every device at the bottom of the window (Gmin) before the first pulse.
pulsed.Program(torch.zeros(1, devices, dtype: torch.ScalarType.Float64), ctx);
var up = pulsed.ApplyPulses(pulses, PulseDirection.Potentiation, ctx);      // [pulses + 1, D, 1, devices]
var down = pulsed.ApplyPulses(pulses, PulseDirection.Depression, ctx);
// One row per physical device (both devices of each pair), one column per pulse (row 0 of a trace is "before").
torch.Tensor PerDevice(torch.Tensor trace) => trace[1..].reshape(pulses, -1).t();
var upDev = PerDevice(up);
var downDev = PerDevice(down);
var files = new List<FigureFiles>
{
    DevicePlots.PulseResponse(outDir, "pulse-response", upDev, downDev, Spread.Std,
        options: new PlotOptions(Title: $"{probe.Name}: soft-bounds pulses on {window.Gmin * uS:0.#}–{window.Gmax * uS:0.#} µS")),
};
var upMean = PlotData.ToDoubles(upDev.mean(new long[] { 0 }));
var endSpread = PlotData.ToDoubles(upDev[.., -1].std());
int halfway = Array.FindIndex(upMean, g => g >= window.Gmin + width / 2) + 1;

// ---- 2. retention (drift) of programmed levels ---------------------------------------------------------------
// Row l of the weight matrix holds `devices` copies of weight l/(levels − 1): the mapping spreads them over the window.
var targets = torch.arange(levels, dtype: torch.ScalarType.Float64).div(levels - 1);
var w = targets.unsqueeze(1).expand(levels, devices).contiguous();
var drifting = Preset();
drifting.Program(w, ctx);
var g = new List<torch.Tensor>();              // per time: conductance of the programmed device [levels, devices]
var read = new List<torch.Tensor>();           // per time: the weight the pair represents [levels, devices]
foreach (var t in times)
{
    drifting.ElapsedTime = t;
    g.Add(drifting.ReadConductances(ctx)[0]);
    read.Add(drifting.Read(ctx).to_type(torch.ScalarType.Float64));
}
var gLevels = torch.stack(g, 1);               // [levels, times, devices]
var programmed = PlotData.ToDoubles(drifting.State.Target[0, .., 0]);   // the conductance each level aims at
var labels = programmed.Select(p => $"{p * uS:0.#} µS").ToArray();
files.Add(DevicePlots.DriftDistribution(outDir, "drift", gLevels, times, labels, Spread.Std,
    options: new PlotOptions(Title: $"{probe.Name}: conductance after programming, mean ± σ over {devices} devices")));
var readLevels = torch.stack(read, 1);         // [levels, times, devices]
var weightBands = Enumerable.Range(0, levels).Select(l => new BandData($"w = {l}/{levels - 1}", times,
    PlotData.ToRows(readLevels[l], "read weights [times, devices]"))).ToArray();
files.Add(LinePlots.Bands(outDir, "weight-drift", weightBands, "Elapsed time (s)", "Weight read back (a.u.)", Spread.Std, logX: true,
    options: new PlotOptions(Title: "Weight each level represents (differential read), mean ± σ")));

// ---- summary ----------------------------------------------------------------------------------------------------
var report = new List<string>
{
    "Device characterization (Ship.NET example device-characterization.cs)",
    $"preset: {probe.Name} ({presetName}); mapping {probe.Mapping.GetType().Name}, window {window.Gmin * uS:0.#}–{window.Gmax * uS:0.#} µS; " +
    $"non-idealities: {string.Join(", ", probe.NonIdealities.Select(e => e.GetType().Name))}",
    $"pulses: SoftBoundsPulses dw_min = {response.DwMin * uS:0.###} µS, d2d spread 30 %, c2c noise 20 %; {pulses} up then {pulses} down on {upDev.shape[0]} devices",
    $"  mean after {pulses} up pulses: {upMean[^1] * uS:0.0} µS (σ {endSpread[0] * uS:0.00} µS); half the window reached after {halfway} pulses",
    $"  mean after {pulses} down pulses: {PlotData.ToDoubles(downDev.mean(new long[] { 0 }))[^1] * uS:0.0} µS",
    $"retention: {levels} levels × {devices} devices, read at {times.Length} times from {times[0]:g3} s to {times[^1]:g3} s",
};
var gD = PlotData.ToDoubles(gLevels);
int nt = times.Length;
for (int l = 0; l < levels; l++)
{
    double[] At(int ti) => gD.AsSpan((l * nt + ti) * devices, devices).ToArray();
    var first = At(0);
    var last = At(nt - 1);
    double mean0 = first.Average(), mean1 = last.Average();
    double sd1 = Math.Sqrt(last.Sum(v => (v - mean1) * (v - mean1)) / (last.Length - 1));
    report.Add($"  level {labels[l],8}: mean {mean0 * uS:0.00} µS at {times[0]:g3} s → {mean1 * uS:0.00} µS (σ {sd1 * uS:0.00}) at {times[^1]:g3} s");
}
var wRead = PlotData.ToDoubles(readLevels[.., -1].mean(new long[] { 1 }));
report.Add($"found: after {times[^1]:g3} s the levels read as weights [{string.Join(", ", wRead.Select(v => v.ToString("0.000")))}] " +
           $"(programmed [{string.Join(", ", PlotData.ToDoubles(targets).Select(v => v.ToString("0.000")))}])");

File.WriteAllLines(Path.Combine(outDir, "summary.txt"), report);
foreach (var line in report) Console.WriteLine(line);
Console.WriteLine($"wrote {files.Count} figures (PNG, SVG, CSV) and summary.txt to {Path.GetFullPath(outDir)}");

// The conductance window of the mappings the presets use.
static ConductanceRange WindowOf(ConductanceMapping m) => m switch
{
    DifferentialReferenceMapping d => d.Range,
    SymmetricDifferentialMapping s => s.Range,
    _ => throw new ArgumentException($"{m.GetType().Name} has no fixed conductance window"),
};

/// <summary>The options of this example.</summary>
static class Cli
{
    public static (bool Quick, string Out, string Preset) Parse(string[] args, string name)
    {
        bool quick = false;
        string outDir = Path.Combine("examples-output", name), preset = "rram";
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--quick") quick = true;
            else if (args[i] == "--out" && i + 1 < args.Length) outDir = args[++i];
            else if (args[i] == "--preset" && i + 1 < args.Length) preset = args[++i];
            else
            {
                Console.Error.WriteLine($"usage: dotnet run examples/{name}.cs -- [--quick] [--out <folder>] [--preset rram|pcm]  (unknown argument '{args[i]}')");
                Environment.Exit(2);
            }
        }
        // Checked before anything is written, so a bad name leaves no empty output folder behind.
        if (!MemristivePresets.Names.Contains(preset) || preset == "ideal")
        {
            Console.Error.WriteLine($"--preset: unknown device preset '{preset}'; this example characterizes rram or pcm (known presets: {string.Join(", ", MemristivePresets.Names)}).");
            Environment.Exit(2);
        }
        Directory.CreateDirectory(outDir);
        return (quick, outDir, preset);
    }
}
