using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Training.Hardware;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Training;

/// <summary>
/// The evaluator frees the states its own earlier chunks made (<see cref="Network.FreeingReplacedStates"/>), and only
/// those: a state the caller read from their own run before the evaluation stays valid with its value, the network's
/// states after it are live (the last chunk's are not freed), its accuracy is what a plain loop of runs gives, and the
/// flag is off again afterwards.
/// </summary>
public class FreeingScopeBoundaryTests
{
    private static Network Net()
    {
        var net = new Network { Dt = 1e-3, Steps = 10, BatchSize = 4, Seed = 5, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(6));
        net.Add("IH", new Dense(Init.Uniform(0, 0.6)), "I", "H");
        net.Add("H", new Lif(12, tau: 10e-3, threshold: 1.0));
        net.Add("HO", new Dense(Init.Normal(0, 0.3)), "H", "O");
        net.Add("O", new LeakyIntegrator(3, tau: 20e-3));
        net.MarkOutput("O");
        net.Initialize();
        return net;
    }

    [TestCase(true)]
    [TestCase(false)]
    public void TheEvaluatorLeavesTheCallersStatesAndItsLastChunksStatesAlive(bool timeBatching)
    {
        var net = Net();
        net.TimeBatching = timeBatching;
        var g = new torch.Generator(17);
        var inputs = torch.rand(new long[] { 11, 10, 6 }, generator: g, dtype: ScalarType.Float64).lt(0.4).to_type(ScalarType.Float64);
        var labels = torch.tensor(new long[] { 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1 });

        net.Run(inputs.narrow(0, 0, 4));
        var held = net["H"].Get("u");
        var value = held.detach().clone();

        double accuracy = HardwareEvaluator.Accuracy(net, new MaxOverTime("O"), inputs, labels);

        Assert.That(held.IsInvalid, Is.False, "the caller's state from before the evaluation is not freed");
        Assert.That(held.allclose(value, 0, 0), Is.True, "nor changed");
        Assert.That(net.FreeReplacedStates, Is.False, "the evaluator's scope has ended");
        Assert.That(net["H"].Get("u").IsInvalid || net["O"].Get("u").IsInvalid, Is.False, "the last chunk's states are live");
        Assert.DoesNotThrow(() => net.Continue(inputs.narrow(0, 0, 4).narrow(1, 0, 3)), "and the last chunk's run continues");

        // The accuracy, recomputed with plain runs on a fresh twin (three chunks of 4; the last padded with zeros).
        var twin = Net();
        twin.TimeBatching = timeBatching;
        long correct = 0;
        for (int start = 0; start < 11; start += 4)
        {
            int size = Math.Min(4, 11 - start);
            var x = inputs.narrow(0, start, size);
            if (size < 4) x = torch.cat(new[] { x, torch.zeros(new long[] { 4 - size, 10, 6 }, dtype: ScalarType.Float64) }, 0);
            var y = twin.Run(x).Outputs["O"];
            var scores = y.amax(new long[] { 1 }).narrow(0, 0, size);
            correct += scores.argmax(1).eq(labels.narrow(0, start, size)).sum().item<long>();
        }
        Assert.That(accuracy, Is.EqualTo(correct / 11.0));
    }
}
