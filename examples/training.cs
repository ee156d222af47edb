#:project ../Ship.Core/Ship.Core.csproj
#:project ../Ship.Devices/Ship.Devices.csproj
#:project ../Ship.Datasets/Ship.Datasets.csproj
#:project ../Ship.Training/Ship.Training.csproj
#:project ../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// Training a two-layer spiking network on the embedded 8x8 digits with surrogate gradients.
// Each image becomes 64 Poisson-like spike trains (rate coding: a pixel of value x fires with probability
// x·500 Hz·dt per step), then 64 inputs → dense → LIF hidden layer → dense → LIF output layer (10 neurons, one per digit).
// The class is the output neuron that spikes most; the loss is cross-entropy on the spike counts.
// Outputs: the training curve, the test confusion matrix, rasters of one test sample, summary.txt.
//
//   dotnet run examples/training.cs -- [--quick] [--out <folder>]

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
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;

var (quick, outDir) = Cli.Parse(args, "training");
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
// Small tensors: one thread avoids waking (and, on a shared runner, fighting over) the others; several times faster here.
torch.set_num_threads(1);

// ---- settings -------------------------------------------------------------------------------------------------
int hidden = quick ? 64 : 128;
int epochs = quick ? 2 : 15;
const int steps = 20;                  // time steps per sample
const double dt = 1e-3;                // s
const int batchSize = 64;
const double maxRate = 500;          // Hz, the rate of a white pixel
const double lr = 1e-2;
const long seed = 1;
Ship.Core.IO.Provenance.Write(outDir, new Dictionary<string, long> { ["split_encoding_loader_network"] = seed }, new { quick });   // provenance.json

// ---- data: digits → spike trains ----------------------------------------------------------------------------
var (train, test) = Digits.Split(testFraction: 0.2, seed: seed, normalize: true);
// Encoded once, from the encoder's own seeded generator (never torch's global one): the same seed, the same trains.
var encoding = new torch.Generator(unchecked((ulong)seed));
var xTrain = RateEncoder.Encode(train.Inputs, steps, dt, maxRate, encoding);   // [n, steps, 64]
var xTest = RateEncoder.Encode(test.Inputs, steps, dt, maxRate, encoding);
var loader = new DenseLoader(xTrain, train.Labels, batchSize, shuffle: true, dropLast: true, seed: seed);

// ---- the network ----------------------------------------------------------------------------------------------
var net = new Network("digits") { Dt = dt, Steps = steps, BatchSize = batchSize, Seed = seed };
net.Add("I", new TensorInput(Digits.Pixels));
net.Add("W1", new Dense(Init.Normal(0.0, 0.5)), "I", "H");
net.Add("H", new Lif(hidden, tau: 20e-3, threshold: 1.0));
net.Add("W2", new Dense(Init.Normal(0.0, 0.3)), "H", "O");
net.Add("O", new Lif(Digits.Classes, tau: 20e-3, threshold: 1.0));
net.MarkOutput("O", "H");

var trainer = new Trainer(net, new SpikeCount("O"), new CrossEntropyLoss(),
    ps => new HeldAdam(ps, lr: lr), surrogate: new FastSigmoid(5));

// Accuracy on a whole set at once: the batch size changes for it, trained weights stay (they are pinned).
double Evaluate(torch.Tensor x, torch.Tensor y)
{
    net.BatchSize = (int)x.shape[0];
    double acc = trainer.Accuracy(x, y);
    net.BatchSize = batchSize;
    return acc;
}

// ---- training -------------------------------------------------------------------------------------------------
var epochAccuracy = new List<double>();
var sw = Stopwatch.StartNew();
Console.WriteLine($"training {epochs} epochs of {loader.BatchesPerEpoch} batches ({train.Count} train / {test.Count} test samples)");
for (int e = 0; e < epochs; e++)
{
    double sum = 0;
    int n = 0;
    foreach (var batch in loader)
        using (batch)
        {
            sum += trainer.TrainBatch(batch.X, batch.Y);
            n++;
        }
    epochAccuracy.Add(Evaluate(xTest, test.Labels));
    Console.WriteLine($"epoch {e + 1,2}: loss {sum / n:0.000}, test accuracy {epochAccuracy[^1]:P1}  ({sw.Elapsed.TotalSeconds:0} s)");
}
double trainAccuracy = Evaluate(xTrain, train.Labels);

// ---- plots ------------------------------------------------------------------------------------------------------
var files = new List<FigureFiles>();
int perEpoch = loader.BatchesPerEpoch;
var lossX = Enumerable.Range(1, trainer.LossHistory.Count).Select(i => (double)i / perEpoch).ToArray();
files.Add(TrainingPlots.Curve(outDir, "training-curve", trainer.LossHistory, epochAccuracy,
    lossX: lossX, accuracyX: Enumerable.Range(1, epochs).Select(i => (double)i).ToArray(),
    lossTitle: "Training loss (cross-entropy)", accuracyTitle: "Test accuracy"));

// Confusion matrix on the test set: row = true digit, column = predicted digit.
net.BatchSize = (int)test.Count;
var predicted = trainer.Predict(xTest).argmax(1);
var confusion = torch.zeros(Digits.Classes, Digits.Classes);
var truth = test.Labels;
for (int i = 0; i < test.Count; i++) confusion[truth[i].item<long>(), predicted[i].item<long>()] += 1;
files.Add(MatrixPlots.Heatmap(outDir, "confusion", confusion, "Test samples", "True digit", "Predicted digit"));

// Spikes of the first test sample through the network.
net.BatchSize = 1;
var one = net.Run(xTest[..1]);
files.Add(SpikePlots.Raster(outDir, "input-raster", xTest[..1], one.Times, group: "pixel"));
files.Add(SpikePlots.Raster(outDir, "hidden-raster", one, "H"));
files.Add(SpikePlots.Raster(outDir, "output-raster", one, "O"));

// ---- summary ----------------------------------------------------------------------------------------------------
var report = new List<string>
{
    "Training on the 8x8 digits (Ship.NET example training.cs)",
    $"data: {Digits.Credit}",
    $"network: 64 inputs (rate coding up to {maxRate} Hz, {steps} steps of {dt * 1e3} ms) → dense → {hidden} LIF → dense → 10 LIF (τ = 20 ms, thr = 1)",
    $"training: {epochs} epochs × {perEpoch} batches of {batchSize}, Adam lr {lr}, cross-entropy on spike counts, fast-sigmoid surrogate (slope 5)",
    $"test accuracy per epoch: {string.Join(", ", epochAccuracy.Select(a => a.ToString("0.000")))}",
    $"found: test accuracy {epochAccuracy[^1]:P1} ({test.Count} samples), train accuracy {trainAccuracy:P1}, in {sw.Elapsed.TotalSeconds:0} s",
    $"first test sample: digit {truth[0].item<long>()}, predicted {predicted[0].item<long>()}, output spike counts " +
    $"[{string.Join(", ", PlotData.ToDoubles(one["O"].sum(1)[0]).Select(c => c.ToString("0")))}]",
};
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
