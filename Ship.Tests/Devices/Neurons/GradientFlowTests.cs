using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Spikes;
using Ship.Devices.Dendrites;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Neurons;

/// <summary>The beyond-SHIP models must let gradients through (no detached outputs, no unsafe in-place ops).</summary>
public class GradientFlowTests
{
    /// <summary>Heaviside forward, sigmoid derivative backward (straight-through), as a trainer would install.</summary>
    private sealed class StraightThrough : ISpikeFunction
    {
        public Tensor Fire(Tensor v, Tensor thr)
        {
            var soft = v.sub(thr).mul(5).sigmoid();
            return soft.add(v.ge(thr).to_type(v.dtype).sub(soft).detach());
        }
    }

    private static double GradSumAbs(Func<Network> build, int n, int steps, double scale)
    {
        var net = build();
        net.TrackGradients = true;
        net.SpikeFunction = new StraightThrough();
        net.MarkOutput("N");
        net.Initialize();
        // Inputs are fed detached; gradients reach the weights of the synapse "S" in front of the model.
        var w = net["S"].Get("w").requires_grad_(true);
        var x = torch.rand(new long[] { 2, steps, n }, dtype: ScalarType.Float64, generator: new torch.Generator(3)).mul_(scale);
        var y = net.Run(x)["N"];
        y.sum().backward();
        var g = w.grad;
        Assert.That(g, Is.Not.Null);
        Assert.That(g!.isfinite().all().item<bool>(), Is.True);
        return g.abs().sum().item<double>();
    }

    [Test]
    public void GradientsFlowThroughIzhikevich()
    {
        double s = GradSumAbs(() =>
        {
            var net = new Network { Dt = 1e-4, Steps = 400, BatchSize = 2, DType = ScalarType.Float64 };
            net.Add("I", new TensorInput(3));
            net.Add("S", new Dense(torch.eye(3, dtype: ScalarType.Float64)), "I", "N");
            net.Add("N", new Izhikevich(3, IzhikevichPreset.Chattering, substeps: 2));
            return net;
        }, 3, 400, 20);
        Assert.That(s, Is.GreaterThan(0));
    }

    [Test]
    public void GradientsFlowThroughAdaptiveLif()
    {
        double s = GradSumAbs(() =>
        {
            var net = new Network { Dt = 1e-3, Steps = 100, BatchSize = 2, DType = ScalarType.Float64 };
            net.Add("I", new TensorInput(3));
            net.Add("S", new Dense(torch.eye(3, dtype: ScalarType.Float64)), "I", "N");
            net.Add("N", new AdaptiveLif(3));
            return net;
        }, 3, 100, 0.6);
        Assert.That(s, Is.GreaterThan(0));
    }

    [TestCase(DendriteNonlinearity.Sigmoid)]
    [TestCase(DendriteNonlinearity.Power)]
    [TestCase(DendriteNonlinearity.Relu)]
    [TestCase(DendriteNonlinearity.Tanh)]
    public void GradientsFlowThroughDendritesIntoASoma(DendriteNonlinearity f)
    {
        double s = GradSumAbs(() =>
        {
            var net = new Network { Dt = 1e-3, Steps = 60, BatchSize = 2, DType = ScalarType.Float64 };
            net.Add("I", new TensorInput(4));
            net.Add("S", new Dense(torch.eye(4, dtype: ScalarType.Float64)), "I", "D");
            net.Add("D", new DendriticIntegrator(2, 2, f, threshold: 0.1));
            net.Add("L", new Identity(), "D", "N");
            net.Add("N", new Lif(2, threshold: 1.0));
            return net;
        }, 4, 60, 1.0);
        Assert.That(s, Is.GreaterThan(0));
    }
}
