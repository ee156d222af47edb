using NUnit.Framework;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Wrappers;

/// Surrogate gradients flow through every wrapper, alone and stacked, and tracking them never changes the spikes.
public class WrapperGradientTests
{
    private static Group Wrap(string kind, Group lif) => kind switch
    {
        "Refractory" => new Refractory(lif, 3e-3),
        "WinnerTakeAll" => new WinnerTakeAll(lif),
        "SharedRefractory" => new SharedRefractory(lif, 2e-3),
        "Delay" => new Delay(lif, 2e-3),
        "Delay(Refractory(WinnerTakeAll))" => new Delay(new Refractory(new WinnerTakeAll(lif), 2e-3), 1e-3),
        _ => throw new ArgumentException(kind),
    };

    [TestCase("Refractory")]
    [TestCase("WinnerTakeAll")]
    [TestCase("SharedRefractory")]
    [TestCase("Delay")]
    [TestCase("Delay(Refractory(WinnerTakeAll))")]
    public void GradientReachesTheInputWeightsThroughTheWrapper(string kind)
    {
        (Tensor Spikes, Tensor? Grad) RunOnce(bool track)
        {
            var net = new Network { Steps = 40, BatchSize = 2, Seed = 4, TrackGradients = track };
            net.Add("I", new TensorInput(3));
            net.Add("S", new Dense(Init.Uniform(0.2, 0.9)), "I", "L");
            net.Add("L", Wrap(kind, new Lif(4, tau: 8e-3, threshold: 0.8)));
            net.MarkOutput("L");
            net.Initialize();
            var w = net["S"].Variable("w");
            if (track)
            {
                w.Tensor = new TorchSharp.Modules.Parameter(w.Value.detach().clone(), requires_grad: true);
                net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
            }
            var x = torch.rand(new long[] { 2, 40, 3 }, generator: new torch.Generator(6)).lt(0.5).to_type(ScalarType.Float32);
            var y = net.Run(x)["L"];
            if (!track) return (y, null);
            y.mul(torch.linspace(0.5, 1.5, 40).reshape(1, 40, 1)).sum().backward();
            return (y.detach(), w.Value.grad);
        }
        var (plain, _) = RunOnce(false);
        var (tracked, grad) = RunOnce(true);
        Assert.That(tracked.data<float>().ToArray(), Is.EqualTo(plain.data<float>().ToArray()), "tracking gradients does not change the spikes");
        Assert.That(plain.sum().item<float>(), Is.GreaterThan(0), "the wrapped neurons fire");
        Assert.That(grad, Is.Not.Null);
        var g = grad!.data<float>().ToArray();
        Assert.That(g.All(float.IsFinite));
        Assert.That(g.Any(v => v != 0), "a non-zero gradient reaches the weights");
    }
}
