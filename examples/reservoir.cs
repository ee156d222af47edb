#:project ../Ship.Core/Ship.Core.csproj
#:project ../Ship.Devices/Ship.Devices.csproj
#:project ../Ship.Datasets/Ship.Datasets.csproj
#:project ../Ship.Training/Ship.Training.csproj
#:project ../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// A liquid-state machine in the style of SHIP's sections 4.2–4.3 (Gemo et al. 2023), on the embedded 8x8 digits.
//  - Input: each image is read as time series: with --scan rows (default) the 8 rows are 8 channels whose values
//    run along the row in time; with --scan columns the 8 columns are the channels and time runs down the image.
//    Each pixel lasts 5 ms; the series are put on the 1 ms grid by linear interpolation and encoded with
//    send-on-delta (up/down channels, 2 bits: changes of up to 3δ go out in one step), as SHIP encodes ECG.
//  - Reservoir: a 3-D grid of refractory LIF neurons, 20 % of them inhibitory (chosen at random), connected with
//    probability P = k·exp(−D²/λ²) per pair type (EE, EI, IE, II with their own k, Maass et al. 2002's
//    "minipillar" as in SHIP); excitatory sources excite, inhibitory ones inhibit.
//  - Readout: first-order synapses from every reservoir neuron into 10 leaky integrators; the class is the integrator
//    with the highest peak. Only the readout weights are trained (surrogate gradients, Trainables.Of); the input
//    and reservoir weights stay as drawn.
// The same readout trained on the input spikes alone (no reservoir) is the baseline.
//
//   dotnet run examples/reservoir.cs -- [--quick] [--out <folder>] [--scan rows|columns]

using System.Diagnostics;
using System.Globalization;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Datasets.Batching;
using Ship.Datasets.Embedded;
using Ship.Datasets.Encoders;
using Ship.Devices.Geometry;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Plots;
using Ship.Training;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;
using CoreParameter = Ship.Core.Parameters.Parameter;

var (quick, outDir, scan) = Cli.Parse(args, "reservoir");
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
// Small tensors: one thread avoids waking (and, on a shared runner, fighting over) the others; several times faster here.
torch.set_num_threads(1);

// ---- settings -------------------------------------------------------------------------------------------------
int side = quick ? 4 : 6;                          // grid side: 4³ = 64 or 6³ = 216 neurons (SHIP: 6 x 6 x 6)
int epochs = quick ? 2 : 20;
const double inhibitoryFraction = 0.2;
const double dt = 1e-3;                            // s
const double pixelTime = 5e-3;                     // s per pixel of the time series
const int tail = 20;                               // silent steps after the image: the reservoir keeps ringing
const double delta = 0.1;                          // send-on-delta threshold (pixels normalized to 0..1)
const int bits = 2;
const double lambda = 2.0;                         // connection length scale, in grid spacings
// Pair type (source → target): probability at zero distance k (SHIP's minipillar values), and the charge one spike
// delivers in threshold units (SHIP's ratios 3 : 6 : −2 : −2, scaled by 0.05).
var pairs = new (string Tag, bool FromE, bool ToE, double K, double Charge)[]
{
    ("EE", true, true, 0.45, 0.15),
    ("EI", true, false, 0.30, 0.30),
    ("IE", false, true, 0.60, -0.10),
    ("II", false, false, 0.15, -0.10),
};
const double inputProbability = 0.5;               // each input line reaches half of the neurons…
const double inputCharge = 0.3;                    // …with a charge uniform in ±0.3·2^digit per spike
const double tauE = 4e-3, tauI = 8e-3, tauIn = 8e-3, tauOut = 8e-3;   // synaptic τ by source type (SHIP's values)
const double tauReservoir = 65e-3, tRef = 2e-3, tauReadout = 65e-3;
const int batchSize = 64;
const double lr = 1e-2;
const double readoutStd = 0.05;                    // initial readout weights ~ N(0, 0.05²)
const long seed = 11;
Ship.Core.IO.Provenance.Write(outDir, new Dictionary<string, long> { ["split_structure_network_loader"] = seed }, new { quick, scan });   // provenance.json

// ---- data: images → time series → send-on-delta spikes ----------------------------------------------------
var (train, test) = Digits.Split(testFraction: 0.2, seed: seed, normalize: true);
torch.Tensor Encode(torch.Tensor images)
{
    var img = images.reshape(-1, 8, 8);                                         // [n, row, column]
    var series = scan == "rows" ? img.transpose(1, 2) : img;                  // [n, time, channel]
    var grid = Resample.Linear(series, sampleRate: 1 / pixelTime, dt: dt);     // [n, steps, 8]
    var spikes = SendOnDelta.Encode(grid, delta, bits);                        // [n, steps, 8·2·bits]
    return torch.nn.functional.pad(spikes, new long[] { 0, 0, 0, tail });      // silence at the end
}
var xTrain = Encode(train.Inputs);
var xTest = Encode(test.Inputs);
int steps = (int)xTrain.shape[1], inputs = (int)xTrain.shape[2];

// ---- the reservoir's geometry -----------------------------------------------------------------------------------
var grid3 = Layout.Grid3D(side, side, side);
int n = grid3.Count;
var structure = new torch.Generator(unchecked((ulong)seed));                   // which neurons are inhibitory
var perm = torch.randperm(n, generator: structure);
int nI = (int)Math.Round(inhibitoryFraction * n), nE = n - nI;
var idxI = perm[..nI].sort().Values;
var idxE = perm[nI..].sort().Values;
var layoutE = new Layout(grid3.Positions.index_select(0, idxE));
var layoutI = new Layout(grid3.Positions.index_select(0, idxI));

// Input weights, drawn from the network's generator: each line reaches a neuron with probability p, with a charge
// uniform in ±inputCharge, times 2^j on the j-th digit of the send-on-delta code (so the code's value is summed).
Value InputWeights() => Value.Generated(c =>
{
    var mask = torch.rand(c.Shape, dtype: c.DType, generator: c.Rng).lt(inputProbability).to_type(c.DType);
    var w = torch.rand(c.Shape, dtype: c.DType, generator: c.Rng).mul(2).sub(1).mul(inputCharge);
    var digit = torch.arange(c.Shape[0]).remainder(bits).to_type(c.DType);   // rows: channel·2b + direction·b + digit
    return w.mul(mask).mul(torch.pow(2.0, digit).unsqueeze(1));
}, "sparse input weights");

// A first-order synapse per target whose weight is the total charge of one spike: I jumps by w·(1 − α) and decays
// with α = exp(−dt/τ), so Σ_k w·(1 − α)·α^k = w. τ is uniform within each synapse group (one per source type), so
// filtering the weighted sum per target equals SHIP's per-connection current (lS_1o) at a fraction of the cost.
FirstOrderPerTarget Synapse(Value w, double tau) => new(w, tau, 1 - Math.Exp(-dt / tau));

Network Build(bool withReservoir)
{
    var net = new Network(withReservoir ? "reservoir" : "baseline") { Dt = dt, Steps = steps, BatchSize = batchSize, Seed = seed };
    net.Add("In", new TensorInput(inputs));
    net.Add("O", new LeakyIntegrator(Digits.Classes, tau: tauReadout));
    net.MarkOutput("O");
    if (!withReservoir)
    {
        net.Add("InO", Synapse(Init.Normal(0, readoutStd), tauOut), "In", "O");
        return net;
    }
    net.Add("E", new Refractory(new Lif(nE, tau: tauReservoir, threshold: 1.0), tRef));
    net.Add("I", new Refractory(new Lif(nI, tau: tauReservoir, threshold: 1.0), tRef));
    net.Add("InE", Synapse(InputWeights(), tauIn), "In", "E");
    net.Add("InI", Synapse(InputWeights(), tauIn), "In", "I");
    foreach (var p in pairs)
        net.Add(p.Tag, Synapse(
            DistanceConnectivity.Weights(p.FromE ? layoutE : layoutI, p.ToE ? layoutE : layoutI, p.K, lambda, p.Charge,
                excludeSelf: p.FromE == p.ToE),
            p.FromE ? tauE : tauI), p.FromE ? "E" : "I", p.ToE ? "E" : "I");
    net.Add("EO", Synapse(Init.Normal(0, readoutStd), tauOut), "E", "O");
    net.Add("IO", Synapse(Init.Normal(0, readoutStd), tauOut), "I", "O");
    net.MarkOutput("E", "I");
    return net;
}

(double Accuracy, List<double> PerEpoch, IReadOnlyList<double> Loss, Trainer T) Train(Network net, string[] readout)
{
    // Only the readout weights learn; Trainables.Of picks them by group tag and parameter name.
    var trainable = readout.SelectMany(tag => Trainables.Of(net, tag, "w")).ToList();
    var trainer = new Trainer(net, new MaxOverTime("O"), new NllLoss(), ps => torch.optim.Adam(ps, lr: lr), trainable);
    var loader = new DenseLoader(xTrain, train.Labels, batchSize, shuffle: true, dropLast: true, seed: seed);
    var perEpoch = new List<double>();
    var sw = Stopwatch.StartNew();
    for (int e = 0; e < epochs; e++)
    {
        double sum = 0;
        int count = 0;
        foreach (var b in loader)
            using (b)
            {
                sum += trainer.TrainBatch(b.X, b.Y);
                count++;
            }
        net.BatchSize = (int)test.Count;
        perEpoch.Add(trainer.Accuracy(xTest, test.Labels));
        net.BatchSize = batchSize;
        Console.WriteLine($"  {net.Name} epoch {e + 1,2}: loss {sum / count:0.000}, test accuracy {perEpoch[^1]:P1}  ({sw.Elapsed.TotalSeconds:0} s)");
    }
    return (perEpoch[^1], perEpoch, trainer.LossHistory, trainer);
}

Console.WriteLine($"reservoir {side}x{side}x{side} = {n} LIF ({nE} excitatory, {nI} inhibitory); {inputs} input lines, {steps} steps of {dt * 1e3} ms");
var reservoir = Build(withReservoir: true);
var res = Train(reservoir, new[] { "EO", "IO" });
var baselineNet = Build(withReservoir: false);
var baseline = Train(baselineNet, new[] { "InO" });

// ---- what the reservoir looks like ----------------------------------------------------------------------------
var files = new List<FigureFiles>();
var w = new Dictionary<string, torch.Tensor>();
foreach (var p in pairs) w[p.Tag] = reservoir[p.Tag].Variable("w").Value.detach();
// Full recurrent matrix, excitatory neurons first: rows = sources, columns = targets.
var full = torch.cat(new[] { torch.cat(new[] { w["EE"], w["EI"] }, 1), torch.cat(new[] { w["IE"], w["II"] }, 1) }, 0);
files.Add(MatrixPlots.Heatmap(outDir, "recurrent-weights", full, "Charge per spike (threshold units)",
    $"Source neuron (0–{nE - 1} excitatory)", "Target neuron"));
// Connection probability against distance, measured on the drawn matrices, next to P = k·exp(−D²/λ²).
var probability = new List<LineData>();
var counts = new List<string>();
foreach (var p in pairs)
{
    var d2 = Distances.Squared(p.FromE ? layoutE : layoutI, p.ToE ? layoutE : layoutI);
    var connected = w[p.Tag].ne(0);
    var valid = p.FromE == p.ToE ? torch.eye(d2.shape[0]).eq(0) : torch.ones_like(connected);   // no self-connections
    var d2v = PlotData.ToDoubles(d2.masked_select(valid));
    var cv = PlotData.ToDoubles(connected.masked_select(valid).to_type(torch.ScalarType.Float64));
    var bins = d2v.Select((v, i) => (D2: Math.Round(v), C: cv[i])).GroupBy(q => q.D2).OrderBy(g => g.Key).Where(g => g.Count() >= 20).ToArray();
    probability.Add(new LineData($"{p.Tag} measured", bins.Select(b => Math.Sqrt(b.Key)).ToArray(), bins.Select(b => b.Average(q => q.C)).ToArray()));
    probability.Add(new LineData($"{p.Tag} k·exp(−D²/λ²)", bins.Select(b => Math.Sqrt(b.Key)).ToArray(), bins.Select(b => p.K * Math.Exp(-b.Key / (lambda * lambda))).ToArray()));
    counts.Add($"{p.Tag} {cv.Sum():0} ({cv.Sum() / (p.ToE ? nE : nI):0.0} per target)");
}
files.Add(LinePlots.Lines(outDir, "connection-probability", probability, "Distance (grid spacings)", "Connection probability"));

// One test sample through the reservoir.
reservoir.BatchSize = 1;
var one = reservoir.Run(xTest[..1]);
files.Add(SpikePlots.Raster(outDir, "input-raster", xTest[..1], one.Times, group: "send-on-delta line"));
files.Add(SpikePlots.Raster(outDir, "excitatory-raster", one, "E"));
files.Add(SpikePlots.Raster(outDir, "inhibitory-raster", one, "I"));
var series = (scan == "rows" ? test.Inputs[0].reshape(8, 8) : test.Inputs[0].reshape(8, 8).t());   // [channel, time]
var pixelMs = Enumerable.Range(0, 8).Select(i => i * pixelTime * 1e3).ToArray();
files.Add(LinePlots.Lines(outDir, "input-series", Enumerable.Range(0, 8).Select(c =>
    new LineData($"{(scan == "rows" ? "row" : "column")} {c}", pixelMs, PlotData.ToDoubles(series[c]))).ToArray(),
    "Time (ms)", "Pixel value (0–1)"));
// Mean reservoir activity on the test set.
reservoir.BatchSize = (int)test.Count;
var all = reservoir.Run(xTest);
double rateE = all["E"].mean().item<float>() / dt, rateI = all["I"].mean().item<float>() / dt;

files.Add(TrainingPlots.Curve(outDir, "training-curve", res.Loss, res.PerEpoch,
    lossX: Enumerable.Range(1, res.Loss.Count).Select(i => (double)i * epochs / res.Loss.Count).ToArray(),
    accuracyX: Enumerable.Range(1, epochs).Select(i => (double)i).ToArray(), lossTitle: "Training loss (NLL)", accuracyTitle: "Test accuracy"));
files.Add(LinePlots.Lines(outDir, "accuracy", new[]
{
    new LineData("reservoir + readout", Enumerable.Range(1, epochs).Select(i => (double)i).ToArray(), res.PerEpoch),
    new LineData("readout on the input spikes", Enumerable.Range(1, epochs).Select(i => (double)i).ToArray(), baseline.PerEpoch),
}, "Epoch", "Test accuracy"));

// ---- summary ----------------------------------------------------------------------------------------------------
var report = new List<string>
{
    "Reservoir (liquid-state machine) on the 8x8 digits (Ship.NET example reservoir.cs)",
    $"data: {Digits.Credit}",
    $"input: images read by {scan} as 8 time series, {pixelTime * 1e3} ms per pixel, send-on-delta δ = {delta}, {bits} bits → {inputs} lines, {steps} steps of {dt * 1e3} ms",
    $"reservoir: {side}x{side}x{side} grid, {nE} excitatory + {nI} inhibitory refractory LIF (τ = {tauReservoir * 1e3} ms, t_ref = {tRef * 1e3} ms, thr = 1)",
    $"connectivity P = k·exp(−D²/λ²), λ = {lambda}: " + string.Join("; ", pairs.Select(p => $"{p.Tag} k = {p.K}, charge {p.Charge}")),
    $"connections drawn: {string.Join(", ", counts)}",
    $"activity on the test set: excitatory {rateE:0.0} Hz, inhibitory {rateI:0.0} Hz",
    $"readout: {n} → 10 leaky integrators (τ = {tauReadout * 1e3} ms), max over time, NLL; only EO and IO weights trained ({epochs} epochs, Adam lr {lr})",
    $"test accuracy per epoch (reservoir): {string.Join(", ", res.PerEpoch.Select(a => a.ToString("0.000")))}",
    $"test accuracy per epoch (readout on input only): {string.Join(", ", baseline.PerEpoch.Select(a => a.ToString("0.000")))}",
    $"found: test accuracy {res.Accuracy:P1} with the reservoir, {baseline.Accuracy:P1} with the same readout on the input spikes alone ({test.Count} test samples)",
};
File.WriteAllLines(Path.Combine(outDir, "summary.txt"), report);
foreach (var line in report) Console.WriteLine(line);
Console.WriteLine($"wrote {files.Count} figures (PNG, SVG, CSV) and summary.txt to {Path.GetFullPath(outDir)}");

/// <summary>The options of this example.</summary>
static class Cli
{
    public static (bool Quick, string Out, string Scan) Parse(string[] args, string name)
    {
        bool quick = false;
        string outDir = Path.Combine("examples-output", name), scan = "rows";
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--quick") quick = true;
            else if (args[i] == "--out" && i + 1 < args.Length) outDir = args[++i];
            else if (args[i] == "--scan" && i + 1 < args.Length && args[i + 1] is "rows" or "columns") scan = args[++i];
            else
            {
                Console.Error.WriteLine($"usage: dotnet run examples/{name}.cs -- [--quick] [--out <folder>] [--scan rows|columns]  (bad argument '{args[i]}')");
                Environment.Exit(2);
            }
        }
        Directory.CreateDirectory(outDir);
        return (quick, outDir, scan);
    }
}
