#:project ../Ship.Core/Ship.Core.csproj
#:project ../Ship.Training/Ship.Training.csproj
#:project ../Ship.Datasets/Ship.Datasets.csproj
#:project ../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// STDP-trained convolutional features on the 8x8 digits, in SpykeTorch's setting (Kheradpisheh et al. 2018):
// rank-order input, one spike per neuron, pointwise inhibition, k winners per image learn by simplified STDP.
// A linear readout (closed-form ridge) and a nearest-class-mean readout are fitted on pooled first-spike features of
// the seeded 80 % split and tested on the 20 %. Reports the accuracy of the same pipeline with the untrained (random)
// weights for comparison. Outputs: the accuracy comparison, the learned kernels, summary.txt.
//
//   dotnet run examples/stdp-conv-digits.cs -- [--quick] [--out <folder>] [--epochs 2] [--seed 0] [--features 32] …
//
// --quick is the CI setting (one epoch). Exit code 1 when the ridge accuracy is below 80 %, 2 for a bad argument.
using System.Diagnostics;
using System.Globalization;
using Ship.Datasets.Embedded;
using Ship.Datasets.Encoders;
using Ship.Plots;
using Ship.Training.Local;
using TorchSharp;
using static TorchSharp.torch;

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var known = new[] { "--quick", "--out", "--epochs", "--seed", "--features", "--winners", "--radius", "--pool", "--threshold", "--threads" };
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--quick") continue;
    if (known.Contains(args[i]) && i + 1 < args.Length) { i++; continue; }
    Usage($"unknown or incomplete argument '{args[i]}'");
}
bool quick = args.Contains("--quick");
string outDir = Arg("--out", Path.Combine("examples-output", "stdp-conv-digits"));
int epochs = Arg("--epochs", quick ? 1 : 2), seed = Arg("--seed", 0), features = Arg("--features", 32), winners = Arg("--winners", 3);
int radius = Arg("--radius", 1), pool = Arg("--pool", 2);
double threshold = Arg("--threshold", 15.0);
const int Steps = 16, Kernel = 5;
Directory.CreateDirectory(outDir);
// One thread by default: STDP learns image by image, and tiny operations only lose time to thread hand-offs.
torch.set_num_threads(Arg("--threads", 1));
Ship.Core.IO.Provenance.Write(outDir, new Dictionary<string, long> { ["split"] = 0, ["kernels"] = seed, ["order"] = seed + 1 },
    new { quick, epochs, features, winners, radius, pool, threshold });   // provenance.json

var clock = Stopwatch.StartNew();
var (train, test) = Digits.Split(testFraction: 0.2, seed: 0);
Tensor Encode(Tensor images)
{
    // Two channels, as SpykeTorch's on/off filters: ink (x/16) and background (1 − x/16); brighter fires earlier.
    var on = images.div(Digits.MaxPixel);
    var raster = TimeToFirstSpike.Linear(torch.cat(new[] { on, on.neg().add(1) }, 1), Steps, dt: 1e-3, xMax: 1);
    return FirstSpike.TimesFromRaster(raster).view(-1, 2, 8, 8);
}
var trainTimes = Encode(train.Inputs);
var testTimes = Encode(test.Inputs);

var layer = new FirstSpikeConvolution(2, features, Kernel, threshold, padding: Kernel / 2, seed: seed);
var stdp = new WinnerStdp(layer, aPlus: 0.004, aMinus: 0.003, winners: winners, inhibitionRadius: radius, growEvery: 500, maxAPlus: 0.15);

(double Ridge, double Ncm) Evaluate(int window)
{
    // Earliest spike of each feature map in each window x window region, as (T − t)/T (0: no spike).
    Tensor Features(Tensor times)
    {
        var output = layer.Forward(times, Steps);
        return FirstSpike.Earliness(FirstSpike.Pool(output.Times, window), Steps);
    }
    var fTrain = Features(trainTimes);
    var fTest = Features(testTimes);
    var ridge = RidgeClassifier.Fit(fTrain, train.Labels, Digits.Classes, lambda: 1.0);
    var ncm = NearestClassMean.Fit(fTrain, train.Labels, Digits.Classes);
    return (ridge.Accuracy(fTest, test.Labels), ncm.Accuracy(fTest, test.Labels));
}

var (ridge0, ncm0) = Evaluate(pool);
var (globalRidge0, globalNcm0) = Evaluate(8);
var order = new torch.Generator((ulong)seed + 1);
for (int epoch = 0; epoch < epochs; epoch++)
{
    var perm = torch.randperm(trainTimes.shape[0], generator: order);
    long learned = 0;
    foreach (var i in perm.data<long>().ToArray())
    {
        using var scope = torch.NewDisposeScope();
        learned += stdp.Learn(trainTimes[TensorIndex.Slice(i, i + 1)], Steps);
    }
    Console.WriteLine($"epoch {epoch + 1}: {learned} winners learned, a+ = {stdp.APlus:g3}, convergence C = {stdp.Convergence:F4}");
}
var (ridge, ncm) = Evaluate(pool);
var (globalRidge, globalNcm) = Evaluate(8);
var report = new List<string>
{
    "STDP convolutional features on the 8x8 digits (Ship.NET example stdp-conv-digits.cs)",
    $"{features} maps {Kernel}x{Kernel}, {epochs} epoch(s), seed {seed}, tested on {test.Count} digits:",
    $"  pooled {pool}x{pool}: STDP weights ridge {ridge:P1}, nearest class mean {ncm:P1} | untrained weights ridge {ridge0:P1}, nearest class mean {ncm0:P1}",
    $"  global pooling: STDP weights ridge {globalRidge:P1}, nearest class mean {globalNcm:P1} | untrained weights ridge {globalRidge0:P1}, nearest class mean {globalNcm0:P1}",
    $"wall time {clock.Elapsed.TotalSeconds:F1} s",
    ridge >= 0.80 ? "target met: >= 80 % with a linear readout" : "TARGET MISSED: < 80 % with a linear readout",
};
// Readouts are categories: markers per readout, STDP next to untrained weights.
var files = new List<FigureFiles>
{
    TrainingPlots.PerCategory(outDir, "accuracy", new[] { $"ridge {pool}x{pool}", $"NCM {pool}x{pool}", "ridge global", "NCM global" },
        new (string, IReadOnlyList<double>)[]
        {
            ("STDP weights", new[] { ridge, ncm, globalRidge, globalNcm }),
            ("untrained weights", new[] { ridge0, ncm0, globalRidge0, globalNcm0 }),
        }, "readout", "Readout (pooling)", "Test accuracy",
        options: new PlotOptions(Title: $"Test accuracy on {test.Count} digits, {features} maps, {epochs} epoch(s) of STDP")),
    // Learned kernels of the ink channel: one row per map, the k·k weights of the kernel along the row.
    MatrixPlots.Heatmap(outDir, "kernels", layer.Weight[.., 0].reshape(features, Kernel * Kernel).to_type(ScalarType.Float64),
        "Weight", "Feature map", $"Kernel weight (row-major {Kernel}x{Kernel}, ink channel)"),
};
File.WriteAllLines(Path.Combine(outDir, "summary.txt"), report);
foreach (var line in report) Console.WriteLine(line);
Console.WriteLine($"wrote {files.Count} figures (PNG, SVG, CSV) and summary.txt to {Path.GetFullPath(outDir)}");
return ridge >= 0.80 ? 0 : 1;

T Arg<T>(string name, T fallback) where T : IParsable<T>
{
    int at = Array.IndexOf(args, name);
    if (at < 0) return fallback;
    if (at + 1 < args.Length && T.TryParse(args[at + 1], CultureInfo.InvariantCulture, out var value)) return value;
    string expected = typeof(T) == typeof(double) ? "a number" : typeof(T) == typeof(int) ? "a whole number" : "a value";
    Usage($"{name} needs {expected}, got '{(at + 1 < args.Length ? args[at + 1] : "")}'");
    return fallback;
}

static void Usage(string problem)
{
    Console.Error.WriteLine($"usage: dotnet run examples/stdp-conv-digits.cs -- [--quick] [--out <folder>] [--epochs N] [--seed N] [--features N] [--winners N] [--radius N] [--pool N] [--threshold X] [--threads N]  ({problem})");
    Environment.Exit(2);
}
