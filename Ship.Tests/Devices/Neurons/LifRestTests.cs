using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Devices.DeviceTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Neurons;

public class LifRestTests
{
    /// <summary>Spike steps of a LIF with rest u0, reset ur and constant input, from the closed form between spikes.</summary>
    internal static List<int> ClosedFormSpikes(double u0, double ur, double thr, double x, double beta, int steps, double margin = 1e-3)
    {
        // Between spikes, with d = u − u0 starting at d0: d_k = d0·β^k + x(1 − β^k)/(1 − β) after k integrating steps.
        var spikes = new List<int>();
        int s = -1;
        double d0 = 0;
        while (true)
        {
            int k = 1;
            Func<int, double> u = m => u0 + d0 * Math.Pow(beta, m) + x * (1 - Math.Pow(beta, m)) / (1 - beta);
            while (u(k) < thr) k++;
            Assert.That(u(k) - thr, Is.GreaterThan(margin), "test parameters must not sit on the threshold");
            Assert.That(thr - u(k - 1), Is.GreaterThan(margin), "test parameters must not sit on the threshold");
            s += k;
            if (s >= steps) return spikes;
            spikes.Add(s);
            s += 1; // the gated step after a spike
            d0 = ur - u0;
        }
    }

    [Test]
    public void SpikeTimesMatchClosedForm()
    {
        const double tau = 5e-3, dt = 1e-3, u0 = 0.3, x = 0.25, thr = 1.0;
        const int steps = 60;
        var net = new Network { Dt = dt, Steps = steps };
        net.Add("I", new TensorInput(1));
        net.Add("S", new Identity(), "I", "L");
        net.Add("L", new LifRest(1, tau, thr, u0));
        net.MarkOutput("L");
        var mon = net.Monitor("L", "u");
        var spikes = D(net.Run(torch.full(1, steps, 1, x)).Single);
        var u = D(mon.Values);

        var expected = ClosedFormSpikes(u0, u0, thr, x, Math.Exp(-dt / tau), steps);
        var actual = Enumerable.Range(0, steps).Where(i => spikes[i] == 1).ToList();
        Assert.That(expected[0], Is.EqualTo(3), "sanity: four integrating steps from rest reach the threshold");
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(spikes.All(v => v == 0 || v == 1), "spikes are 0/1");
        foreach (var s in expected.Where(s => s + 1 < steps))
            Assert.That(u[s + 1], Is.EqualTo(u0).Within(1e-6), $"the step after the spike at {s} holds u at u0 and drops the input");
    }

    [Test]
    public void MembraneStartsAtRestUnlessSetAndSettingZeroReproducesShip()
    {
        const double tau = 2e-3, dt = 1e-3, u0 = 0.4;
        foreach (var start in new double?[] { null, 0.0 })
        {
            var g = new LifRest(1, tau, 1.0, u0);
            if (start is { } s0) g.Set("u", s0);
            g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
            g.PrepareTimeStep(dt);
            g.ResetState();
            double beta = Math.Exp(-dt / tau);
            for (int k = 1; k <= 8; k++)
            {
                g.Step(null);
                double u = D(g.Get("u"))[0];
                // From u(0): u_k = u0 + (u(0) − u0)·β^k; at rest it stays at u0, from 0 (SHIP's start) it rises to u0.
                double expected = u0 + ((start ?? u0) - u0) * Math.Pow(beta, k);
                Assert.That(u, Is.EqualTo(expected).Within(1e-12), $"start {(start is null ? "default" : "0")}, step {k}");
            }
        }
    }

    [Test]
    public void ClosedGateHoldsRestAndDropsInput()
    {
        var g = new LifRest(2, 1e-3, 1.0, 0.2);
        g.Set("integrate", torch.tensor(new[] { 0.0, 1.0 }));
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        g.PrepareTimeStep(1e-3);
        g.ResetState();
        Assert.That(((IIntegrationGate)g).Integrate.Name, Is.EqualTo("integrate"));
        var spikes = D(g.Step(torch.tensor(new[] { 5.0, 0.5 }).unsqueeze(0)));
        var u = D(g.Get("u"));
        Assert.That(u[0], Is.EqualTo(0.2).Within(1e-12), "gate closed: held at u0, input dropped");
        Assert.That(spikes[0], Is.EqualTo(0.0), "the dropped input cannot make it fire");
        Assert.That(u[1], Is.EqualTo(0.2 + 0.5).Within(1e-12), "gate open: from rest, u0 + x");
        Assert.That(D(g.Get("integrate")), Is.EqualTo(new[] { 1.0, 1.0 }), "no spike: both integrate next step");
    }

    [Test]
    public void DecayTowardRestFollowsDt()
    {
        const double tau = 4e-3, dt = 1e-3, u0 = 0.2;
        foreach (var (h, n) in new[] { (dt, 6), (dt / 2, 12) })
        {
            var g = new LifRest(1, tau, 1.0, u0);
            g.Set("u", 0.9);
            g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
            g.PrepareTimeStep(h);
            g.ResetState();
            for (int k = 1; k <= n; k++) g.Step(null);
            double u = D(g.Get("u"))[0];
            Assert.That(u, Is.EqualTo(u0 + 0.7 * Math.Exp(-n * h / tau)).Within(1e-12), $"dt {h}: u − u0 decays as exp(−t/τ)");
        }
    }

    [Test]
    public void RestMustBeNonNegativeAndBelowThreshold()
    {
        var net = new Network { Steps = 3 };
        net.Add("I", new TensorInput(1));
        net.Add("S", new Identity(), "I", "L");
        net.Add("L", new LifRest(1, threshold: 1.0, rest: 1.0));
        var ex = Assert.Throws<ParameterException>(() => net.Run(torch.zeros(1, 3, 1)));
        Assert.That((ex!.Group, ex.Parameter), Is.EqualTo(("L", "u0")));

        var neg = new LifRest(1, rest: -0.1);
        var ex2 = Assert.Throws<ParameterException>(() => neg.Bind(new SimulationContext(1)));
        Assert.That(ex2!.Parameter, Is.EqualTo("u0"));
    }
}
