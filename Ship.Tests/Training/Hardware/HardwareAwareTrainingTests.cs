using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.CustomModels;
using Ship.Training;
using Ship.Training.Hardware;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Training.Hardware;

public class HardwareAwareTrainingTests
{
    private static double[] D(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    /// <summary>Nearest of n levels on [−M, M] in double precision, ties up (the hardware's rule), written independently of the code.</summary>
    private static double Level(double w, int n, double m)
    {
        double step = 2 * m / (n - 1);
        double k = Math.Clamp(Math.Floor((w + m) / step + 0.5), 0, n - 1);
        return -m + k * step;
    }

    [Test]
    public void QuantizeMatchesTheLevelFormula()
    {
        var w = torch.tensor(new[] { -1.0, -0.9, -0.34, -0.3, 0.0, 0.2, 1.0 / 3, 0.5, 0.99, 1.0 }, ScalarType.Float64);
        foreach (int n in new[] { 2, 3, 4, 8 })
        {
            var q = D(HardwareAwareFunctional.Quantize(w, n, torch.tensor(1.0, ScalarType.Float64)));
            var expected = D(w).Select(v => Level(v, n, 1.0)).ToArray();
            Assert.That(q, Is.EqualTo(expected).Within(1e-12), $"{n} levels");
            Assert.That(q.Distinct().Count(), Is.LessThanOrEqualTo(n));
        }
    }

    [Test]
    public void StraightThroughGradientIsTheIdentity()
    {
        var w = torch.randn(new long[] { 5, 4 }, ScalarType.Float64, generator: new torch.Generator(3)).requires_grad_(true);
        var c = torch.randn(new long[] { 5, 4 }, ScalarType.Float64, generator: new torch.Generator(4));
        var m = HardwareAwareFunctional.Scale(w);
        var q = HardwareAwareFunctional.QuantizeStraightThrough(w, 4, m);
        // Forward: the quantized values; backward of sum(c ⊙ q): exactly c, as for the unquantized path sum(c ⊙ w).
        double mm = D(w).Max(Math.Abs);
        Assert.That(D(q), Is.EqualTo(D(w).Select(v => Level(v, 4, mm)).ToArray()).Within(1e-12));
        (q * c).sum().backward();
        Assert.That(D(w.grad!), Is.EqualTo(D(c)));
    }

    private static Network SmoothNet(Value w, long seed = 2)
    {
        // Input → dense → exponential integrator (no spikes, no rectification): gradients are exact and never zero.
        var net = new Network { Steps = 6, BatchSize = 3, DType = ScalarType.Float64, Seed = seed };
        net.Add("I", new TensorInput(4));
        net.Add("W", new Dense(w), "I", "E");
        net.Add("E", new ExponentialIntegrator(3, tau: 5e-3));
        net.MarkOutput("E");
        return net;
    }

    [Test]
    public void NetworkGradientThroughQuantizedWeightsEqualsThatOfTheUnquantizedPathAtTheQuantizedPoint()
    {
        var w0 = torch.randn(new long[] { 4, 3 }, ScalarType.Float64, generator: new torch.Generator(11));
        var x = torch.rand(new long[] { 3, 6, 4 }, ScalarType.Float64, generator: new torch.Generator(12));
        var target = torch.rand(new long[] { 3, 3 }, ScalarType.Float64, generator: new torch.Generator(13));
        double m = D(w0).Max(Math.Abs);
        var wq = torch.tensor(D(w0).Select(v => Level(v, 4, m)).ToArray(), ScalarType.Float64).reshape(4, 3);

        var hwNet = SmoothNet(w0.clone());
        HardwareAware.Attach(hwNet, new HardwareAwareOptions { Levels = 4 });
        var hw = new Trainer(hwNet, new MaxOverTime(), new MseLoss(), ps => torch.optim.SGD(ps, 0.0));
        double hwLoss = hw.TrainBatch(x, target);

        var plainNet = SmoothNet(wq.clone());
        var plain = new Trainer(plainNet, new MaxOverTime(), new MseLoss(), ps => torch.optim.SGD(ps, 0.0));
        double plainLoss = plain.TrainBatch(x, target);

        Assert.That(hwLoss, Is.EqualTo(plainLoss).Within(1e-12), "the forward pass uses the quantized weights");
        var g = D(hw.Parameters[0].grad!);
        Assert.That(g.Any(v => Math.Abs(v) > 1e-6), "a gradient reaches the latent weights");
        Assert.That(g, Is.EqualTo(D(plain.Parameters[0].grad!)).Within(1e-12), "straight-through: dL/dW = dL/dW_q");
        Assert.That(D(hw.Parameters[0]), Is.EqualTo(D(w0)), "the trained tensor stays the latent, unquantized W");
    }

    [Test]
    public void NoiseIsRedrawnEveryRunFromTheNetworksGenerator()
    {
        // The synapse is an output: feeding the identity matrix as one step shows its effective weights row by row.
        Tensor Effective(Network net)
        {
            var eye = torch.eye(4, dtype: ScalarType.Float64).unsqueeze(1);
            return net.Run(new Dictionary<string, Tensor> { ["I"] = eye })["W"].squeeze(1);
        }
        Network Build(long seed)
        {
            var net = new Network { Steps = 1, BatchSize = 4, DType = ScalarType.Float64, Seed = seed };
            net.Add("I", new TensorInput(4));
            net.Add("W", new Dense(torch.ones(4, 3, ScalarType.Float64)), "I", "E");
            net.Add("E", new ExponentialIntegrator(3));
            net.MarkOutput("W");
            HardwareAware.Attach(net, new HardwareAwareOptions { Noise = 0.1 });
            net.Initialize();
            return net;
        }
        var a = Build(5);
        var r1 = D(Effective(a));
        var r2 = D(Effective(a));
        var b = Build(5);
        var s1 = D(Effective(b));
        var s2 = D(Effective(b));
        var c = D(Effective(Build(6)));
        Assert.That(r1, Is.Not.EqualTo(r2), "each run (batch) draws new noise");
        Assert.That(s1, Is.EqualTo(r1), "the same seed gives the same first draw");
        Assert.That(s2, Is.EqualTo(r2), "and the same second draw: draws come from the network's generator");
        Assert.That(c, Is.Not.EqualTo(r1), "another seed, other noise");
        // One big matrix: the relative noise σ·M (M = 1 here) has the requested spread.
        var w = torch.ones(200, 200, ScalarType.Float64);
        var noisy = HardwareAwareFunctional.AddNoise(w, 0.1, torch.tensor(1.0, ScalarType.Float64), new torch.Generator(1));
        var dev = D(noisy - w);
        double mean = dev.Average(), sd = Math.Sqrt(dev.Sum(v => (v - mean) * (v - mean)) / (dev.Length - 1));
        Assert.That(mean, Is.EqualTo(0).Within(4 * 0.1 / Math.Sqrt(dev.Length)));
        Assert.That(sd, Is.EqualTo(0.1).Within(0.1 * 4 / Math.Sqrt(2.0 * dev.Length)));
    }

    [Test]
    public void PerStepNoiseMakesTheSynapseReadEveryStep()
    {
        var net = new Network { Steps = 3, BatchSize = 1, DType = ScalarType.Float64, Seed = 9 };
        net.Add("I", new TensorInput(1));
        net.Add("W", new Dense(torch.ones(1, 1, ScalarType.Float64)), "I", "E");
        net.Add("E", new ExponentialIntegrator(1));
        net.MarkOutput("W");
        var hw = HardwareAware.Attach(net, new HardwareAwareOptions { Noise = 0.2, Draw = NoiseDraw.PerStep });
        Assert.That(hw[0].ReadsVary, Is.True);
        var y = D(net.Run(torch.ones(1, 3, 1, ScalarType.Float64))["W"]);
        Assert.That(y.Distinct().Count(), Is.EqualTo(3), "three steps, three reads");
    }

    [Test]
    public void ClippingLimitsTheForwardWeightsAndZeroesTheGradientOutside()
    {
        var w = torch.tensor(new[] { -2.0, -0.5, 0.25, 0.9, 3.0 }, ScalarType.Float64).requires_grad_(true);
        var opts = new HardwareAwareOptions { Clip = 1.0 };
        var y = HardwareAwareWeights.Transform(w, opts, new torch.Generator(1));
        Assert.That(D(y), Is.EqualTo(new[] { -1.0, -0.5, 0.25, 0.9, 1.0 }));
        y.sum().backward();
        Assert.That(D(w.grad!), Is.EqualTo(new[] { 0.0, 1, 1, 1, 0 }));

        // Relative clipping: C = k·std(w), computed here with the n − 1 standard deviation.
        var v = new[] { -3.0, -1, 0, 1, 3, 10 };
        double mean = v.Average(), sd = Math.Sqrt(v.Sum(a => (a - mean) * (a - mean)) / (v.Length - 1));
        var rel = HardwareAwareWeights.Transform(torch.tensor(v, ScalarType.Float64), new HardwareAwareOptions { ClipSigmas = 1.0 }, new torch.Generator(1));
        Assert.That(D(rel), Is.EqualTo(v.Select(a => Math.Clamp(a, -sd, sd)).ToArray()).Within(1e-12));
    }

    [Test]
    public void ProjectionPutsTrainedWeightsBackInTheDeviceRange()
    {
        var net = SmoothNet(torch.tensor(new[] { -3.0, 0.5, 2.0, 0.1, -0.2, 0.7, 1.5, -1.5, 0.0, 0.3, 0.4, -0.9 }, ScalarType.Float64).reshape(4, 3));
        var hw = HardwareAware.Attach(net, new HardwareAwareOptions { Clip = 1.0 });
        net.Initialize();
        HardwareAware.ProjectAll(hw);
        var w = D(net["W"].Get("w"));
        Assert.That(w.Max(), Is.EqualTo(1.0));
        Assert.That(w.Min(), Is.EqualTo(-1.0));
        Assert.That(w[1], Is.EqualTo(0.5), "weights inside the range are untouched");
    }

    [Test]
    public void BadSettingsAreRejectedWithTheirName()
    {
        var s = new Dense();
        var e = Assert.Throws<Ship.Core.Errors.ParameterException>(() => new HardwareAwareWeights(s, new HardwareAwareOptions { Levels = 1 }));
        Assert.That(e!.Message, Does.Contain("levels"));
        e = Assert.Throws<Ship.Core.Errors.ParameterException>(() => new HardwareAwareWeights(s, new HardwareAwareOptions { Noise = -0.1 }));
        Assert.That(e!.Message, Does.Contain("noise"));
        e = Assert.Throws<Ship.Core.Errors.ParameterException>(() => new HardwareAwareWeights(s, new HardwareAwareOptions { Clip = 0 }));
        Assert.That(e!.Message, Does.Contain("clip"));
    }

    [Test]
    public void MatchingOptionsUseTheHardwareLevelNoise()
    {
        var o = HardwareAwareOptions.ForQuantizedLevels(4);
        // QuantizedLevels' default σ = (range/n)/6 with range 2M: relative to M that is 1/(3n).
        Assert.That(o.Noise * 1.0, Is.EqualTo(2.0 / 4 / 6).Within(1e-15));
        Assert.That(o.Levels, Is.EqualTo(4));
    }
}
