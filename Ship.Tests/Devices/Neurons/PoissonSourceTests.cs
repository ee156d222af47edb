using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Devices.DeviceTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Neurons;

public class PoissonSourceTests
{
    private static Network Net(PoissonSource p, int batch, int steps, double dt, long seed)
    {
        var net = new Network { Dt = dt, Steps = steps, BatchSize = batch, Seed = seed };
        net.Add("P", p);
        net.Add("S", new Identity(), "P", "L");
        net.Add("L", new LeakyIntegrator(p.ComponentCount));
        net.MarkOutput("P");
        return net;
    }

    [Test]
    public void PerComponentRatesLieWithinBinomialBounds()
    {
        const double dt = 1e-3;
        const int batch = 2, steps = 400, per = 200;
        double[] rates = { 0, 20, 100, 500, 1000 };
        var rate = torch.tensor(rates.SelectMany(r => Enumerable.Repeat(r, per)).ToArray());
        var net = Net(new PoissonSource(rates.Length * per), batch, steps, dt, seed: 42);
        net.Set("P", "rate", rate);
        var y = net.Run().Single;
        Assert.That(D(y).All(v => v == 0 || v == 1), "spikes are 0/1");
        var counts = D(y.sum(new long[] { 0, 1 }));
        for (int g = 0; g < rates.Length; g++)
        {
            double n = (double)batch * steps * per, p = rates[g] * dt;
            double count = counts.Skip(g * per).Take(per).Sum();
            double sd = Math.Sqrt(n * p * (1 - p));
            // Five standard deviations of the binomial count: a false failure has probability below 1e-6.
            Assert.That(count, Is.InRange(n * p - 5 * sd, n * p + 5 * sd), $"rate {rates[g]} Hz: {count} spikes in {n} trials");
        }
        Assert.That(counts.Take(per).Sum(), Is.EqualTo(0), "rate 0 never fires");
        Assert.That(counts.Skip(4 * per).Sum(), Is.EqualTo((double)batch * steps * per), "rate·dt = 1 fires every step");
    }

    [Test]
    public void SpikeProbabilityScalesWithDt()
    {
        const int batch = 4, steps = 500, n = 100;
        foreach (var dt in new[] { 1e-3, 0.25e-3 })
        {
            var y = Net(new PoissonSource(n, rate: 200), batch, steps, dt, seed: 3).Run().Single;
            double trials = (double)batch * steps * n, p = 200 * dt;
            double count = D(y.sum()).Single();
            double sd = Math.Sqrt(trials * p * (1 - p));
            Assert.That(count, Is.InRange(trials * p - 5 * sd, trials * p + 5 * sd), $"dt {dt}: p = rate·dt");
        }
    }

    [Test]
    public void DrawsAreReproducibleBySeedAndDifferAcrossSeeds()
    {
        Tensor Draw(long seed) => Net(new PoissonSource(50, 300), 2, 100, 1e-3, seed).Run().Single;
        var a = Draw(7);
        var b = Draw(7);
        var c = Draw(8);
        Assert.That(Same(a, b), Is.True, "same seed, same spikes");
        Assert.That(Same(a, c), Is.False, "another seed, other spikes");
        Assert.That(Same(a[0], a[1]), Is.False, "batch rows draw independently");
    }

    [Test]
    public void RateTimesDtAboveOneIsRejected()
    {
        var net = Net(new PoissonSource(3, rate: 1500), 1, 10, 1e-3, 0);
        var ex = Assert.Throws<ParameterException>(() => net.Run());
        Assert.That((ex!.Group, ex.Parameter), Is.EqualTo(("P", "rate")));
        Assert.That(net.Run(schedule: Ship.Core.Clocks.Schedule.Fixed(0.5e-3, 10)).Single.shape, Is.EqualTo(new long[] { 1, 10, 3 }),
            "a smaller dt makes the same rate valid");
    }

    [Test]
    public void NegativeRateIsRejectedAndInputIsRefused()
    {
        var bad = new PoissonSource(2, rate: -1);
        Assert.That(Assert.Throws<ParameterException>(() => bad.Bind(new SimulationContext(1)))!.Parameter, Is.EqualTo("rate"));

        var net = new Network { Steps = 2 };
        net.Add("I", new TensorInput(2));
        net.Add("S", new Identity(), "I", "P");
        net.Add("P", new PoissonSource(2));
        var ex = Assert.Throws<NetworkConfigurationException>(() => net.Run(torch.zeros(1, 2, 2)));
        Assert.That(ex!.Message, Does.Contain("'P'"));
    }
}
