#:project ../Ship.Core/Ship.Core.csproj
#:project ../Ship.Devices/Ship.Devices.csproj
#:project ../Ship.Datasets/Ship.Datasets.csproj
#:project ../Ship.Training/Ship.Training.csproj
#:project ../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// An Izhikevich network trained with surrogate gradients, in the shape of SHIP's section 4.2.2 (Gemo et al. 2023,
// Braille reading): input → recurrent layer L0 of Izhikevich neurons → layer L1 of Izhikevich neurons → leaky
// read-out, every connection a second-order synapse (a double-exponential current, SHIP's lS_2o). The Braille
// recordings are not reachable here; the task is the one of recurrent-lif.cs: each 8x8 digit read one row per 5 ms,
// the 8 columns as channels, encoded send-on-delta. All weights are trained end to end through time (BPTT); the
// Izhikevich spike is v ≥ 30 mV, differentiated with a fast-sigmoid surrogate on v − 30 mV.
// The same read-out trained on the input lines alone is the baseline.
//
//   dotnet run examples/izhikevich-network.cs -- [--quick] [--out <folder>] [--epochs N]

using System.Diagnostics;
using System.Globalization;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Datasets.Batching;
using Ship.Datasets.Embedded;
using Ship.Datasets.Encoders;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Plots;
using Ship.Training;
using Ship.Training.Optimizers;
using Ship.Training.Hardware;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;

var (quick, outDir, epochsOption) = Cli.Parse(args, "izhikevich-network");
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
// Small tensors: one thread avoids waking (and, on a shared runner, fighting over) the others; several times faster here.
torch.set_num_threads(1);

// ---- settings -------------------------------------------------------------------------------------------------
int n0 = quick ? 16 : 32, n1 = quick ? 16 : 32;    // recurrent layer L0, second layer L1 (SHIP: 125 and 128)
int epochs = epochsOption ?? (quick ? 2 : 10);
int trainLimit = quick ? 256 : int.MaxValue;
const double dt = 1e-3;                            // s
const double rowTime = 5e-3;                       // s per row of the image
const int tail = 10;                               // silent steps after the last row
const double delta = 0.1;                          // send-on-delta threshold
const int bits = 2;
const int substeps = 2;                            // Euler sub-steps of 0.5 ms (SHIP's 4.2.2 runs at dt = 0.5 ms)
const double tau1 = 8e-3, tau2 = 4e-3;             // second-order synapse (SHIP's defaults): one spike delivers w·w_scale·(τ1 − τ2)
// w_scale per synapse: with τ1 − τ2 = 4 ms a weight of 1 moves v by about w_scale·4e-3 mV per presynaptic spike.
const double scaleIn = 6000, scaleRec = 1500, scale01 = 15000, scaleOut = 600;
const double scaleOutInput = 100;                  // the baseline's read-out from the 32 busy input lines: 1000 saturates it
// Initial weights N(mean, σ²) (σ of L0 → L1 divided by √n0): a small positive mean gets about two thirds of L1 firing
// at the start while keeping the responses sample-specific (measured on 200 test digits: L0 32 Hz, L1 15 Hz, spike
// counts varying by 40 % across samples). With zero means L1 was almost silent and no gradient reached the first
// layers; with larger means every neuron fired on every digit alike. Training then moves all weights freely.
const double meanIn = 0.1, mean01 = 0.05, stdIn = 0.5, std01 = 1.0;
const double tauReadout = 20e-3;
const double surrogateSlope = 0.2;                 // per mV: the surrogate's width is a few mV around v_peak
const int batchSize = 32;
const double lr = 5e-3;
const long seed = 1;
Ship.Core.IO.Provenance.Write(outDir, new Dictionary<string, long> { ["split_network_loader"] = seed }, new { quick, epochs });   // provenance.json

// ---- data (as in recurrent-lif.cs) ----------------------------------------------------------------------------
var (train, test) = Digits.Split(testFraction: 0.2, seed: seed, normalize: true);
torch.Tensor Encode(torch.Tensor images)
{
    var series = images.reshape(-1, 8, 8);                                      // [n, row = time, column = channel]
    var grid = Resample.Linear(series, sampleRate: 1 / rowTime, dt: dt);
    var spikes = SendOnDelta.Encode(grid, delta, bits);
    return torch.nn.functional.pad(spikes, new long[] { 0, 0, 0, tail });
}
var xAll = Encode(train.Inputs);
int nTrain = (int)Math.Min(trainLimit, xAll.shape[0]);
var xTrain = xAll[..nTrain];
var yTrain = train.Labels[..nTrain];
var xTest = Encode(test.Inputs);
int steps = (int)xTrain.shape[1], inputs = (int)xTrain.shape[2];

SecondOrder Syn(double std, double scale, double mean = 0) => new(Init.Normal(mean, std), tau1, tau2, scale);

Network Build(bool izhikevich, int batch)
{
    var net = new Network(izhikevich ? "izhikevich" : "input-only") { Dt = dt, Steps = steps, BatchSize = batch, Seed = seed };
    net.Add("I", new TensorInput(inputs));
    net.Add("out", new LeakyIntegrator(Digits.Classes, tau: tauReadout));
    net.MarkOutput("out");
    if (!izhikevich)
    {
        net.Add("S_out", Syn(0.3, scaleOutInput), "I", "out");
        return net;
    }
    net.Add("L0", new Izhikevich(n0, IzhikevichPreset.RegularSpiking, substeps));
    net.Add("L1", new Izhikevich(n1, IzhikevichPreset.RegularSpiking, substeps));
    net.Add("S0", Syn(stdIn, scaleIn, meanIn), "I", "L0");
    net.Add("S2", Syn(0.5 / Math.Sqrt(n0), scaleRec), "L0", "L0");     // the recurrent synapse of L0
    net.Add("S1", Syn(std01 / Math.Sqrt(n0), scale01, mean01), "L0", "L1");
    net.Add("S3", Syn(1.0 / Math.Sqrt(n1), scaleOut), "L1", "out");
    net.MarkOutput("L0", "L1");
    return net;
}

(Trainer T, Network Net, List<double> PerEpoch) Train(bool izhikevich)
{
    var net = Build(izhikevich, batchSize);
    var trainer = new Trainer(net, new MaxOverTime("out"), new CrossEntropyLoss(), ps => new HeldAdam(ps, lr: lr),
        surrogate: new FastSigmoid(surrogateSlope));
    var loader = new DenseLoader(xTrain, yTrain, batchSize, shuffle: true, dropLast: true, seed: seed);
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
        perEpoch.Add(HardwareEvaluator.Accuracy(net, trainer.Readout, xTest, test.Labels));
        Console.WriteLine($"  {net.Name,-10} epoch {e + 1,2}: loss {sum / count:0.000}, test accuracy {perEpoch[^1]:P1}  ({sw.Elapsed.TotalSeconds:0} s)");
    }
    return (trainer, net, perEpoch);
}

Console.WriteLine($"{inputs} input lines, {steps} steps of {dt * 1e3} ms; {nTrain} train / {test.Count} test samples; L0 {n0} (recurrent), L1 {n1} Izhikevich neurons");
var izh = Train(izhikevich: true);
var baseline = Train(izhikevich: false);

// ---- plots ------------------------------------------------------------------------------------------------------
var files = new List<FigureFiles>();
var epochX = Enumerable.Range(1, epochs).Select(i => (double)i).ToArray();
files.Add(TrainingPlots.Curve(outDir, "training-curve", izh.T.LossHistory, izh.PerEpoch,
    lossX: Enumerable.Range(1, izh.T.LossHistory.Count).Select(i => (double)i * epochs / izh.T.LossHistory.Count).ToArray(),
    accuracyX: epochX, lossTitle: "Training loss (cross-entropy)", accuracyTitle: "Test accuracy"));
files.Add(LinePlots.Lines(outDir, "accuracy", new[]
{
    new LineData("Izhikevich network", epochX, izh.PerEpoch),
    new LineData("read-out on the input lines", epochX, baseline.PerEpoch),
}, "Epoch", "Test accuracy"));

// One test sample through the trained network (same weights, batch of one).
var net = izh.Net;
net.BatchSize = 1;
var v0 = net.Monitor("L0", "v");
var uo = net.Monitor("out", "u");
torch.Tensor one0;
RunResult one;
using (torch.no_grad()) one = net.Run(xTest[..1]);
files.Add(SpikePlots.Raster(outDir, "input-raster", xTest[..1], one.Times, group: "send-on-delta line"));
files.Add(SpikePlots.Raster(outDir, "l0-raster", one, "L0"));
files.Add(SpikePlots.Raster(outDir, "l1-raster", one, "L1"));
one0 = one["L0"][0].sum(dim: 0);   // spikes per neuron (a bare sum(0) binds to sum(ScalarType) and sums everything)
int busiest = (int)one0.argmax().item<long>();
// v in mV (the model's unit), v_peak = 30 mV as the threshold line; legend and CSV name it "v" (Izhikevich's u is its recovery variable).
files.Add(SpikePlots.MembraneTrace(outDir, "membrane-l0", one.Times, PlotData.ToDoubles(v0.Values[0].select(1, busiest)),
    PlotData.ToDoubles(one["L0"][0].select(1, busiest)), threshold: 30, yTitle: "Membrane potential v of the busiest L0 neuron (mV)", variable: "v"));
var ms = one.Times.Select(t => t * 1e3).ToArray();
long label0 = test.Labels[0].item<long>();
files.Add(LinePlots.Lines(outDir, "membrane-readout", Enumerable.Range(0, Digits.Classes).Select(c =>
    new LineData(c == label0 ? $"digit {c} (label)" : $"digit {c}", ms, PlotData.ToDoubles(uo.Values[0].select(1, c)))).ToArray(),
    "Time (ms)", "Read-out membrane u (a.u.)"));
net.BatchSize = (int)test.Count;
net.RemoveMonitor(v0);
net.RemoveMonitor(uo);
RunResult all;
using (torch.no_grad()) all = net.Run(xTest);
double rate0 = all["L0"].mean().item<float>() / dt, rate1 = all["L1"].mean().item<float>() / dt;

// ---- summary ----------------------------------------------------------------------------------------------------
var report = new List<string>
{
    "Izhikevich network trained with surrogate gradients on the 8x8 digits read row by row (Ship.NET example izhikevich-network.cs)",
    $"data: {Digits.Credit}",
    $"input: 8 rows × {rowTime * 1e3} ms, the 8 columns as channels, send-on-delta δ = {delta}, {bits} bits → {inputs} lines, + {tail} silent steps = {steps} steps of {dt * 1e3} ms; {nTrain} train / {test.Count} test samples",
    $"network: {inputs} → L0 {n0} Izhikevich (regular spiking, {substeps} Euler sub-steps per step) with a recurrent synapse → L1 {n1} Izhikevich → 10 leaky integrators (τ = {tauReadout * 1e3} ms), max over time",
    $"synapses: second order, τ1 = {tau1 * 1e3} ms, τ2 = {tau2 * 1e3} ms, w_scale {scaleIn} (input), {scaleRec} (recurrent), {scale01} (L0 → L1), {scaleOut} (read-out; {scaleOutInput} in the input-only baseline); initial means {meanIn} (input), {mean01} (L0 → L1), 0 otherwise",
    $"training: {epochs} epochs, batches of {batchSize}, Adam lr {lr}, cross-entropy, fast-sigmoid surrogate (slope {surrogateSlope} per mV on v − v_peak)",
    $"test accuracy per epoch (Izhikevich): {string.Join(", ", izh.PerEpoch.Select(a => a.ToString("0.000")))}",
    $"test accuracy per epoch (read-out on the input lines): {string.Join(", ", baseline.PerEpoch.Select(a => a.ToString("0.000")))}",
    $"activity on the test set: L0 {rate0:0.0} Hz, L1 {rate1:0.0} Hz",
    $"found: test accuracy {izh.PerEpoch[^1]:P1} with the Izhikevich network, {baseline.PerEpoch[^1]:P1} with the read-out on the input lines alone ({test.Count} test samples)",
};
File.WriteAllLines(Path.Combine(outDir, "summary.txt"), report);
foreach (var line in report) Console.WriteLine(line);
Console.WriteLine($"wrote {files.Count} figures (PNG, SVG, CSV) and summary.txt to {Path.GetFullPath(outDir)}");

/// <summary>The options of this example.</summary>
static class Cli
{
    public static (bool Quick, string Out, int? Epochs) Parse(string[] args, string name)
    {
        bool quick = false;
        string outDir = Path.Combine("examples-output", name);
        int? epochs = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--quick") quick = true;
            else if (args[i] == "--out" && i + 1 < args.Length) outDir = args[++i];
            else if (args[i] == "--epochs" && i + 1 < args.Length && int.TryParse(args[i + 1], out var e) && e >= 1) { epochs = e; i++; }
            else
            {
                Console.Error.WriteLine($"usage: dotnet run examples/{name}.cs -- [--quick] [--out <folder>] [--epochs N]  (bad argument '{args[i]}')");
                Environment.Exit(2);
            }
        }
        Directory.CreateDirectory(outDir);
        return (quick, outDir, epochs);
    }
}
