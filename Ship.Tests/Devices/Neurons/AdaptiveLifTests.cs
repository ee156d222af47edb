using NUnit.Framework;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Neurons;

public class AdaptiveLifTests
{
    private static double[] Flat(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    [Test]
    public void MatchesReferenceRecurrence()
    {
        const int b = 2, n = 3, steps = 400;
        const double dt = 1e-3;
        double[] tau = { 10e-3, 20e-3, 5e-3 }, thr0 = { 1.0, 0.8, 1.2 }, tauA = { 100e-3, 300e-3, 50e-3 }, bA = { 0.3, 0.1, 0.5 };
        var net = new Network { Dt = dt, Steps = steps, BatchSize = b, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(n));
        net.Add("S", new Identity(), "I", "A");
        var g = net.Add("A", new AdaptiveLif(n));
        g.Set("tau", torch.tensor(tau)).Set("thr0", torch.tensor(thr0)).Set("tau_a", torch.tensor(tauA)).Set("b", torch.tensor(bA));
        net.MarkOutput("A");
        var mu = net.Monitor("A", "u");
        var ma = net.Monitor("A", "a");
        var mt = net.Monitor("A", "thr");
        var x = torch.rand(new long[] { b, steps, n }, dtype: ScalarType.Float64, generator: new torch.Generator(5)).mul_(0.6);
        var spikes = Flat(net.Run(x)["A"]);
        var us = Flat(mu.Values); var As = Flat(ma.Values); var ts = Flat(mt.Values); var xs = Flat(x);

        // Reference: thr = thr0 + b·a; u = g·max(0, β u + x); s = u ≥ thr; a = ρ a + s; g = 1 − s.
        int count = 0;
        for (int r = 0; r < b; r++)
            for (int j = 0; j < n; j++)
            {
                double beta = Math.Exp(-dt / tau[j]), rho = Math.Exp(-dt / tauA[j]);
                double u = 0, a = 0, gate = 1;
                for (int t = 0; t < steps; t++)
                {
                    int k = (r * steps + t) * n + j;
                    double thr = thr0[j] + bA[j] * a;
                    u = gate * Math.Max(0, beta * u + xs[k]);
                    double s = u >= thr ? 1 : 0;
                    a = rho * a + s;
                    gate = 1 - s;
                    count += (int)s;
                    Assert.That(spikes[k], Is.EqualTo(s), $"spike b{r} n{j} t{t}");
                    Assert.That(us[k], Is.EqualTo(u).Within(1e-9), $"u b{r} n{j} t{t}");
                    Assert.That(As[k], Is.EqualTo(a).Within(1e-9), $"a b{r} n{j} t{t}");
                    Assert.That(ts[k], Is.EqualTo(thr).Within(1e-9), $"thr b{r} n{j} t{t}");
                }
            }
        Assert.That(count, Is.GreaterThan(20), "the comparison covers many spikes");
    }

    [Test]
    public void WithoutAdaptationItIsExactlyALif()
    {
        const int steps = 300;
        var x = torch.rand(new long[] { 1, steps, 4 }, generator: new torch.Generator(2)).mul_(0.5);
        float[] Run(Group neuron)
        {
            var net = new Network { Dt = 1e-3, Steps = steps };
            net.Add("I", new TensorInput(4));
            net.Add("S", new Identity(), "I", "N");
            net.Add("N", neuron);
            net.MarkOutput("N");
            return net.Run(x)["N"].data<float>().ToArray();
        }
        var lif = Run(new Lif(4, 10e-3, 1.0));
        var alif = Run(new AdaptiveLif(4, 10e-3, 1.0, adaptation: 0.0));
        Assert.That(lif.Sum(), Is.GreaterThan(5));
        Assert.That(alif, Is.EqualTo(lif));
    }

    [Test]
    public void AdaptationSlowsFiringUnderConstantDrive()
    {
        const int steps = 1000;
        var net = new Network { Dt = 1e-3, Steps = steps, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(1));
        net.Add("S", new Identity(), "I", "N");
        net.Add("N", new AdaptiveLif(1, 10e-3, 1.0, tauAdaptation: 200e-3, adaptation: 0.5));
        net.MarkOutput("N");
        var s = Flat(net.Run(torch.full(new long[] { 1, steps, 1 }, 0.4, dtype: ScalarType.Float64))["N"]);
        var times = Enumerable.Range(0, steps).Where(k => s[k] == 1).ToList();
        var isi = times.Zip(times.Skip(1), (a, b) => b - a).ToList();
        Assert.That(isi.Count, Is.GreaterThan(5));
        Assert.That(isi.Last(), Is.GreaterThan(isi.First()), "intervals lengthen as the threshold rises");
        // Without adaptation this drive fires every k* + 1 steps (the LIF closed form); adaptation can only lengthen that.
        double beta = Math.Exp(-1e-3 / 10e-3);
        int kStar = 1;
        while (0.4 * (1 - Math.Pow(beta, kStar)) / (1 - beta) < 1.0) kStar++;
        Assert.That(times[0], Is.EqualTo(kStar - 1), "before the first spike a = 0, so it comes when a LIF's would");
        Assert.That(isi.Min(), Is.GreaterThanOrEqualTo(kStar + 1));
    }

    [Test]
    public void IsAnIntegrationGate()
    {
        var g = new AdaptiveLif(3);
        Assert.That(g, Is.InstanceOf<IIntegrationGate>());
        Assert.That(((IIntegrationGate)g).Integrate.Name, Is.EqualTo("integrate"));
    }
}
