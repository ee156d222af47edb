// A Ship.NET study, created by `dotnet new ship-study`. Eight copies of a small network run side by side (the batch),
// each fed Poisson spikes at another rate; the study plots the output rate against the input rate, one raster and
// one membrane trace, each as PNG + SVG + the CSV of the plotted numbers, and writes provenance.json.
//
//   dotnet run -- [--out <folder>]        (default folder: study-output)

using System.Globalization;
using Ship.Core.IO;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Plots;
using TorchSharp;

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
torch.set_num_threads(1);   // small tensors: one thread is faster than several
string outDir = args.Length == 2 && args[0] == "--out" ? args[1] : "study-output";

// ---- settings ----------------------------------------------------------------------------------------------------
const int inputs = 20, neurons = 4, steps = 500;
const double dt = 1e-3;                                         // s
const long seed = 1, inputSeed = 42;
double[] ratesHz = { 10, 20, 30, 40, 50, 60, 70, 80 };          // one batch row per input rate
Provenance.Write(outDir, new Dictionary<string, long> { ["network"] = seed, ["input"] = inputSeed },
    new { inputs, neurons, steps, dt, ratesHz });

// ---- the network: inputs → dense synapse → LIF ---------------------------------------------------------------------
var net = new Network("study") { Dt = dt, Steps = steps, BatchSize = ratesHz.Length, Seed = seed };
net.Add("I", new TensorInput(inputs));
net.Add("W", new Dense(Init.Uniform(0, 0.3)), source: "I", target: "L");
net.Add("L", new Lif(neurons, tau: 20e-3, threshold: 1.0));
net.MarkOutput("L");
var u = net.Monitor("L", "u");

// Poisson input: each input fires in a step with probability rate·dt.
var rng = new torch.Generator((ulong)inputSeed);
var p = torch.tensor(ratesHz).mul(dt).reshape(ratesHz.Length, 1, 1);
var input = torch.rand(new long[] { ratesHz.Length, steps, inputs }, generator: rng, dtype: torch.ScalarType.Float64)
    .lt(p).to_type(torch.ScalarType.Float32);
var result = net.Run(input);

// ---- results -----------------------------------------------------------------------------------------------------
var spikes = result["L"];                                        // [batch, steps, neurons]
double seconds = steps * dt;
var outRates = spikes.sum(new long[] { 1, 2 }).to_type(torch.ScalarType.Float64).div(neurons * seconds).data<double>().ToArray();
LinePlots.Lines(outDir, "output-rate", new[] { new LineData("LIF population", ratesHz, outRates) },
    "Input rate per channel (Hz)", "Output rate per neuron (Hz)");
int shown = 2;                                                   // the 30 Hz row: sparse enough to read
SpikePlots.Raster(outDir, "raster", result, "L", batchRow: shown);
SpikePlots.MembraneTrace(outDir, "membrane", u, spikes, batchRow: shown, neuron: 0);

for (int i = 0; i < ratesHz.Length; i++) Console.WriteLine($"input {ratesHz[i],3} Hz → output {outRates[i],6:F1} Hz");
Console.WriteLine($"wrote output-rate, raster and membrane (PNG, SVG, CSV) and provenance.json to {Path.GetFullPath(outDir)}");
