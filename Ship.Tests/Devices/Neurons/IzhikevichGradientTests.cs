using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Neurons;

/// <summary>
/// Training an Izhikevich layer (examples/izhikevich-network.cs) needs its surrogate gradients to be the ones of the
/// published equations. The reference here is the model written out in the test: Izhikevich (2003) forward Euler with
/// sub-steps, the reset from the detached spike (as documented on <see cref="IzhikevichFunctional.Step"/>), a step fires
/// if any sub-step fired (s1 + s2 − s1·s2), and the spike as H(x) + G(x) − G(x) detached, where G(x) = x/(1 + k|x|)
/// is the antiderivative of the fast-sigmoid surrogate 1/(1 + k|x|)², so autograd gives exactly that surrogate.
/// </summary>
public class IzhikevichGradientTests
{
    private const int Steps = 80, Batch = 2, Inputs = 3, Neurons = 2, Substeps = 2;
    private const double Dt = 1e-3, Slope = 0.2;

    private static Tensor Weights() => torch.tensor(new double[] { 30, 5, 10, 25, 18, 12 }, dtype: ScalarType.Float64).reshape(Inputs, Neurons);

    private static Tensor Input() =>
        torch.rand(new long[] { Batch, Steps, Inputs }, dtype: ScalarType.Float64, generator: new torch.Generator(7)).lt(0.35).to_type(ScalarType.Float64);

    private static Tensor StepWeights() => torch.linspace(0.2, 1.0, Steps, dtype: ScalarType.Float64).reshape(1, Steps, 1);

    /// <summary>The published model stepped by hand with the surrogate as an antiderivative; returns (spikes [batch, steps, N], dL/dw).</summary>
    private static (Tensor Spikes, Tensor Grad) Reference(IzhikevichPreset p)
    {
        var w = Weights().requires_grad_(true);
        var x = Input();
        double h = Dt * 1000 / Substeps;
        var v = torch.full(new long[] { Batch, Neurons }, -65.0, dtype: ScalarType.Float64);
        var u = v.mul(p.B);
        var outs = new List<Tensor>();
        for (int t = 0; t < Steps; t++)
        {
            var current = x[.., t, ..].matmul(w);
            Tensor? fired = null;
            for (int k = 0; k < Substeps; k++)
            {
                var vn = v + h * (0.04 * v * v + 5 * v + 140 - u + current);
                var un = u + h * p.A * (p.B * v - u);
                var z = vn - 30;
                var g = z / (z.abs() * Slope + 1);
                var s = z.ge(0).to_type(ScalarType.Float64) + (g - g.detach());   // exactly 0/1 forward
                var sd = s.detach();
                v = vn - (vn - p.C) * sd;
                u = un + p.D * sd;
                fired = fired is null ? s : fired + s - fired * s;
            }
            outs.Add(fired!);
        }
        var spikes = torch.stack(outs, 1);
        (spikes * StepWeights()).sum().backward();
        return (spikes.detach(), w.grad!.clone());
    }

    private static (Tensor Spikes, Tensor Grad) Ship(IzhikevichPreset p)
    {
        var net = new Network { Dt = Dt, Steps = Steps, BatchSize = Batch, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(Inputs));
        net.Add("S", new Dense(Weights()), "I", "N");
        net.Add("N", new Izhikevich(Neurons, p, substeps: Substeps));
        net.MarkOutput("N");
        net.TrackGradients = true;
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(Slope));
        net.Initialize();
        var w = net["S"].Get("w").requires_grad_(true);
        var y = net.Run(Input())["N"];
        (y * StepWeights()).sum().backward();
        return (y.detach(), w.grad!.clone());
    }

    [Test]
    public void SurrogateGradientsMatchTheEquationsWrittenOut([Values("RS", "CH", "FS")] string preset)
    {
        var p = preset switch { "RS" => IzhikevichPreset.RegularSpiking, "CH" => IzhikevichPreset.Chattering, _ => IzhikevichPreset.FastSpiking };
        var (refSpikes, refGrad) = Reference(p);
        var (spikes, grad) = Ship(p);
        Assert.That(refSpikes.sum().item<double>(), Is.GreaterThan(3), "the reference fires, so the spike path is exercised");
        Assert.That(spikes.eq(refSpikes).all().item<bool>(), Is.True, "same spikes as the equations");
        double max = refGrad.abs().max().item<double>();
        Assert.That(max, Is.GreaterThan(0));
        var d = (grad - refGrad).abs().max().item<double>();
        Assert.That(d, Is.LessThanOrEqualTo(1e-9 * max), $"max |Δ dL/dw| {d} against max |dL/dw| {max}");
    }

    [Test]
    public void SecondOrderSynapseIntoIzhikevichGetsAGradientThroughTheSurrogate()
    {
        // The example's shape: second-order synapse → Izhikevich. A weight that makes a neuron fire must have a gradient.
        var net = new Network { Dt = Dt, Steps = Steps, BatchSize = Batch, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(Inputs));
        net.Add("S", new SecondOrder(Weights(), tau1: 8e-3, tau2: 4e-3, weightScale: 60.0), "I", "N");
        net.Add("N", new Izhikevich(Neurons, IzhikevichPreset.RegularSpiking, substeps: Substeps));
        net.MarkOutput("N");
        net.TrackGradients = true;
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(Slope));
        net.Initialize();
        var w = net["S"].Get("w").requires_grad_(true);
        var y = net.Run(Input())["N"];
        Assert.That(y.sum().item<double>(), Is.GreaterThan(0), "the neurons fire");
        y.sum().backward();
        Assert.That(w.grad, Is.Not.Null);
        Assert.That(w.grad!.isfinite().all().item<bool>(), Is.True);
        // More input weight → earlier and more spikes: the summed spike count rises with every weight.
        Assert.That(w.grad!.gt(0).all().item<bool>(), Is.True, $"dΣs/dw should be positive everywhere, got min {w.grad!.min().item<double>()}");
    }
}
