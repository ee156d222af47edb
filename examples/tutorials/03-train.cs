#:project ../../Ship.Core/Ship.Core.csproj
#:project ../../Ship.Devices/Ship.Devices.csproj
#:project ../../Ship.Datasets/Ship.Datasets.csproj
#:project ../../Ship.Training/Ship.Training.csproj
#:project ../../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// Tutorial 3: training with surrogate gradients (docs/tutorials/03-train.md).
// Every code block of the tutorial is part of this file. Writes its files to --out (default examples-output/tutorial-03).

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

int at = Array.IndexOf(args, "--out");
string outDir = at >= 0 && at + 1 < args.Length ? args[at + 1] : Path.Combine("examples-output", "tutorial-03");
torch.set_num_threads(1);
Ship.Core.IO.Provenance.Write(outDir, new Dictionary<string, long> { ["network"] = 1 });   // provenance.json: version, commit, command line, seeds, time

// [data]
var (train, test) = Digits.Split(testFraction: 0.2, seed: 1, normalize: true);   // 1438 / 359 images, pixels in 0..1
var encoder = new torch.Generator(1);
var xTrain = RateEncoder.Encode(train.Inputs, steps: 20, dt: 1e-3, maxRate: 500, encoder);   // [1438, 20, 64]
var xTest = RateEncoder.Encode(test.Inputs, steps: 20, dt: 1e-3, maxRate: 500, encoder);
var loader = new DenseLoader(xTrain, train.Labels, batchSize: 64, shuffle: true, dropLast: true, seed: 1);
// [/data]

// [network]
var net = new Network("tutorial-3") { Dt = 1e-3, Steps = 20, BatchSize = 64, Seed = 1 };
net.Add("I", new TensorInput(64));
net.Add("IH", new Dense(Init.Normal(0, 0.5)), source: "I", target: "H");
net.Add("H", new Lif(64, tau: 20e-3));
net.Add("HO", new Dense(Init.Normal(0, 0.3)), source: "H", target: "O");
net.Add("O", new Lif(10, tau: 20e-3));
net.MarkOutput("O");
// [/network]

// [trainer]
var trainer = new Trainer(net,
    readout: new SpikeCount("O"),                       // score of a class = its output spike count
    loss: new CrossEntropyLoss(),
    optimizer: ps => new HeldAdam(ps, lr: 1e-2),
    trainable: Trainables.Weights(net),                 // the default: every synapse weight "w"
    surrogate: new FastSigmoid(5));
// [/trainer]

// [loop]
var accuracy = new List<double>();
for (int epoch = 1; epoch <= 3; epoch++)
{
    foreach (var batch in loader)
        using (batch) trainer.TrainBatch(batch.X, batch.Y);
    net.BatchSize = (int)test.Count;                    // evaluate the whole test set at once;
    accuracy.Add(trainer.Accuracy(xTest, test.Labels)); // trained weights are pinned, so they survive the resize
    net.BatchSize = 64;
    Console.WriteLine($"epoch {epoch}: last loss {trainer.LossHistory[^1]:0.000}, test accuracy {accuracy[^1]:P1}");
}
// [/loop]

// [plot]
var perEpoch = loader.BatchesPerEpoch;
var curve = TrainingPlots.Curve(outDir, "training-curve", trainer.LossHistory, accuracy,
    lossX: Enumerable.Range(1, trainer.LossHistory.Count).Select(i => (double)i / perEpoch).ToArray(),
    accuracyX: new[] { 1.0, 2, 3 });
Console.WriteLine($"wrote {curve.Png}");
// [/plot]

// [more]
// Train thresholds and time constants too: Trainables.Of picks parameters of a group by name.
var both = Trainables.Weights(net).Concat(Trainables.Of(net, "H", "thr", "tau")).ToList();
Console.WriteLine($"trainable: {string.Join(", ", both.Select(p => $"{p.Owner.Tag}.{p.Name}"))}");
// [/more]
