using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// A final state of a run with gradients carries that run's autograd graph (for Continue). When the next Run resets
/// the state, the old tensor — which a caller may still hold through Get — must keep its value but let go of the
/// graph, or every training batch leaves its activations to the garbage collector.
/// </summary>
public class StateGraphReleaseTests
{
    [TestCase(true)]
    [TestCase(false)]
    public void AStateReplacedByAResetKeepsItsValueButDropsItsGraph(bool timeBatching)
    {
        var net = new Network { Dt = 1e-3, Steps = 6, BatchSize = 2, DType = ScalarType.Float64, TimeBatching = timeBatching, SpikeFunction = new SurrogateSpikes(new FastSigmoid(10)) };
        net.Add("I", new TensorInput(3));
        net.Add("W", new Dense(torch.full(3, 4, 0.4, dtype: ScalarType.Float64)), "I", "L");
        net.Add("L", new Lif(4, tau: 5e-3, threshold: 0.5));
        net.Add("V", new Dense(torch.full(4, 2, 0.3, dtype: ScalarType.Float64)), "L", "R");
        net.Add("R", new LeakyIntegrator(2, tau: 5e-3));
        net.MarkOutput("R");
        net.Initialize();
        net["W"].Get("w").requires_grad_(true);
        net.TrackGradients = true;
        var x = torch.ones(new long[] { 2, 6, 3 }, dtype: ScalarType.Float64);
        net.Run(x);
        var oldL = net["L"].Get("u");
        var oldR = net["R"].Get("u");
        Assert.That(oldL.requires_grad && oldR.requires_grad, Is.True, "after a run with gradients the final states carry the graph (precondition)");
        var valueL = oldL.detach().clone();
        var valueR = oldR.detach().clone();

        net.Run(x);

        Assert.That(oldL.IsInvalid || oldR.IsInvalid, Is.False, "a state a caller holds is not freed");
        Assert.That(oldL.requires_grad || oldR.requires_grad, Is.False, "the replaced states no longer hold the previous run's graph");
        Assert.That(oldL.allclose(valueL, 0, 0) && oldR.allclose(valueR, 0, 0), Is.True, "their values are unchanged");
        Assert.That(net["R"].Get("u").requires_grad, Is.True, "the new run's final state carries its own graph");
    }
}
