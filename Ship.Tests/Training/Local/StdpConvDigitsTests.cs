using NUnit.Framework;
using Ship.Datasets.Embedded;
using Ship.Datasets.Encoders;
using Ship.Training.Local;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Training.Local;

/// <summary>A short run of examples/stdp-conv-digits.cs (16 maps, one epoch: about 10 s on 2 cores).</summary>
public class StdpConvDigitsTests
{
    private const int Steps = 16;

    private static Tensor Encode(Tensor images)
    {
        var on = images.div(Digits.MaxPixel);
        var raster = TimeToFirstSpike.Linear(torch.cat(new[] { on, on.neg().add(1) }, 1), Steps, dt: 1e-3, xMax: 1);
        return FirstSpike.TimesFromRaster(raster).view(-1, 2, 8, 8);
    }

    [Test]
    public void StdpFeaturesReachEightyPercentWithALinearReadoutAndBeatRandomWeights()
    {
        int threads = torch.get_num_threads();
        torch.set_num_threads(1);
        try
        {
            var (train, test) = Digits.Split(testFraction: 0.2, seed: 0);
            var trainTimes = Encode(train.Inputs);
            var testTimes = Encode(test.Inputs);
            var layer = new FirstSpikeConvolution(2, 16, 5, 15.0, padding: 2, seed: 0);
            var stdp = new WinnerStdp(layer, 0.004, 0.003, winners: 3, inhibitionRadius: 1, growEvery: 500, maxAPlus: 0.15);

            double Accuracy(int window)
            {
                using var scope = torch.NewDisposeScope();
                var fTrain = FirstSpike.Earliness(FirstSpike.Pool(layer.Forward(trainTimes, Steps).Times, window), Steps);
                var fTest = FirstSpike.Earliness(FirstSpike.Pool(layer.Forward(testTimes, Steps).Times, window), Steps);
                return RidgeClassifier.Fit(fTrain, train.Labels, Digits.Classes).Accuracy(fTest, test.Labels);
            }

            double globalBefore = Accuracy(8);
            double convergenceBefore = stdp.Convergence;
            var perm = torch.randperm(trainTimes.shape[0], generator: new torch.Generator(1)).data<long>().ToArray();
            long learned = 0;
            foreach (var i in perm)
            {
                using var scope = torch.NewDisposeScope();
                learned += stdp.Learn(trainTimes[TensorIndex.Slice(i, i + 1)], Steps);
            }
            Assert.That(learned, Is.GreaterThan(2 * perm.Length), "most images have several winners");
            Assert.That(stdp.Convergence, Is.LessThan(convergenceBefore - 0.01), "weights move towards 0 or 1");
            Assert.That(Accuracy(2), Is.GreaterThanOrEqualTo(0.80), "pooled 2x2 first-spike features, ridge readout");
            Assert.That(Accuracy(8), Is.GreaterThan(globalBefore + 0.10), "with one value per map, learned maps beat random ones");
        }
        finally
        {
            torch.set_num_threads(threads);
        }
    }
}
