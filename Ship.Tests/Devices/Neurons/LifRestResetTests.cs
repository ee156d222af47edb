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

public class LifRestResetTests
{
    private static List<int> Run(double u0, double ur, double x, int steps, double tau = 5e-3, double dt = 1e-3)
    {
        var net = new Network { Dt = dt, Steps = steps };
        net.Add("I", new TensorInput(1));
        net.Add("S", new Identity(), "I", "L");
        net.Add("L", new LifRestReset(1, tau, 1.0, u0, ur));
        net.MarkOutput("L");
        var spikes = D(net.Run(torch.full(1, steps, 1, x)).Single);
        Assert.That(spikes.All(v => v == 0 || v == 1), "spikes are 0/1");
        return Enumerable.Range(0, steps).Where(i => spikes[i] == 1).ToList();
    }

    [Test]
    public void SpikeTimesMatchClosedFormWithResetLevel()
    {
        const double u0 = 0.1, ur = 0.6, x = 0.2, tau = 5e-3, dt = 1e-3;
        const int steps = 80;
        var expected = LifRestTests.ClosedFormSpikes(u0, ur, 1.0, x, Math.Exp(-dt / tau), steps);
        Assert.That(expected.Take(3), Is.EqualTo(new[] { 8, 15, 22 }), "sanity: 9 steps from rest, then 6 from ur plus the reset step");
        Assert.That(Run(u0, ur, x, steps), Is.EqualTo(expected));
    }

    [Test]
    public void ResetLevelMatters()
    {
        const double u0 = 0.1, x = 0.2;
        const int steps = 80;
        var atRest = Run(u0, u0, x, steps);
        var high = Run(u0, 0.6, x, steps);
        // ur = u0 is SHIP's behaviour (it resets to u0 whatever ur is); a higher ur shortens every interval after the first.
        Assert.That(atRest, Is.EqualTo(LifRestTests.ClosedFormSpikes(u0, u0, 1.0, x, Math.Exp(-0.2), steps)));
        Assert.That(high.Count, Is.GreaterThan(atRest.Count));
        Assert.That(high[0], Is.EqualTo(atRest[0]), "the first spike comes from rest either way");
        Assert.That(high[1] - high[0], Is.LessThan(atRest[1] - atRest[0]));
    }

    [Test]
    public void AfterASpikeMembraneSitsAtResetThenRelaxesTowardRest()
    {
        const double u0 = 0.2, ur = 0.7, tau = 3e-3;
        foreach (var dt in new[] { 1e-3, 0.5e-3 })
        {
            const int steps = 12;
            var g = new LifRestReset(1, tau, 1.0, u0, ur);
            g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
            g.PrepareTimeStep(dt);
            g.ResetState();
            double beta = Math.Exp(-dt / tau);
            for (int k = 0; k < steps; k++)
            {
                var spike = D(g.Step(torch.full(1, 1, k == 0 ? 2.0 : 0.0, dtype: ScalarType.Float64)))[0];
                double u = D(g.Get("u"))[0];
                double expected = k switch
                {
                    0 => u0 + 2.0,                                    // from rest: u0 + x, above threshold
                    1 => ur,                                          // gated step: reset level, input dropped
                    _ => u0 + (ur - u0) * Math.Pow(beta, k - 1),      // relaxes toward rest with the step's decay factor
                };
                Assert.That(u, Is.EqualTo(expected).Within(1e-12), $"dt {dt}, step {k}");
                Assert.That(spike, Is.EqualTo(k == 0 ? 1.0 : 0.0), $"dt {dt}, step {k}: spike");
            }
        }
    }

    [Test]
    public void ClosedGateHoldsAtResetLevel()
    {
        var g = new LifRestReset(1, 1e-3, 1.0, 0.1, 0.4);
        g.Set("integrate", 0.0);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        g.PrepareTimeStep(1e-3);
        g.ResetState();
        Assert.That(((IIntegrationGate)g).Integrate, Is.SameAs(g.Integrate));
        g.Step(torch.full(1, 1, 3.0, dtype: ScalarType.Float64));
        Assert.That(D(g.Get("u"))[0], Is.EqualTo(0.4).Within(1e-12));
    }

    [Test]
    public void ResetLevelMustBeNonNegativeAndBelowThreshold()
    {
        var g = new LifRestReset(1, threshold: 1.0, reset: 1.2);
        g.Bind(new SimulationContext(1));
        var ex = Assert.Throws<ParameterException>(() => g.PrepareTimeStep(1e-3));
        Assert.That(ex!.Parameter, Is.EqualTo("ur"));
        var neg = new LifRestReset(1, reset: -0.5);
        Assert.That(Assert.Throws<ParameterException>(() => neg.Bind(new SimulationContext(1)))!.Parameter, Is.EqualTo("ur"));
    }
}
