using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Neurons;
using TorchSharp;
using static Ship.Tests.Devices.DeviceTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Neurons;

/// <summary>The NIR-family neuron against closed forms and a brute-force integration of its differential equations.</summary>
public class CubaLifTests
{
    private static CubaLif Bound(CubaLif g, double dt, int batch = 1)
    {
        g.Bind(new SimulationContext(batch, dtype: ScalarType.Float64));
        g.PrepareTimeStep(dt);
        g.ResetState();
        return g;
    }

    [Test]
    public void LeakyIntegratorWithConstantInputFollowsTheExactSolution()
    {
        const double dt = 1e-3, tau = 4e-3, r = 2, vLeak = 0.3, x = 0.7;
        var g = Bound(new CubaLif(1, spiking: false, synapse: false, tauMem: tau, r: r, vLeak: vLeak), dt);
        var input = torch.full(1, 1, x, dtype: ScalarType.Float64);
        for (int k = 1; k <= 50; k++)
        {
            double v = D(g.Step(input))[0];
            // τ dv/dt = (v_leak − v) + r·x from v(0) = 0: v(t) = (v_leak + r·x)(1 − e^(−t/τ)).
            Assert.That(v, Is.EqualTo((vLeak + r * x) * (1 - Math.Exp(-k * dt / tau))).Within(1e-12), $"step {k}");
        }
    }

    [Test]
    public void InfiniteTauIsAPerfectIntegrator()
    {
        const double dt = 1e-3, r = 3, x = 0.25, thr = 0.05;
        var g = Bound(new CubaLif(1, spiking: true, synapse: false, tauMem: double.PositiveInfinity, r: r, vLeak: 5, threshold: thr, reset: 0), dt);
        var v = new List<double>();
        var s = new List<double>();
        for (int k = 0; k < 20; k++)
        {
            s.Add(D(g.Step(torch.full(1, 1, x, dtype: ScalarType.Float64)))[0]);
            v.Add(D(g.V.Value)[0]);
        }
        // dv/dt = r·x: +7.5e-4 per step (v_leak has no effect), first v ≥ 0.05 after ⌈0.05 / 7.5e-4⌉ = 67 steps: none in 20.
        for (int k = 0; k < 20; k++) Assert.That(v[k], Is.EqualTo((k + 1) * dt * r * x).Within(1e-15));
        Assert.That(s, Is.All.EqualTo(0.0));
    }

    [Test]
    public void IntegrateAndFireResetsInTheSpikingStep()
    {
        const double dt = 1e-3, r = 100, thr = 0.35, reset = -0.05;
        var g = Bound(new CubaLif(1, spiking: true, synapse: false, tauMem: double.PositiveInfinity, r: r, threshold: thr, reset: reset), dt);
        var trace = new List<(double S, double V)>();
        for (int k = 0; k < 10; k++) trace.Add((D(g.Step(torch.ones(1, 1, dtype: ScalarType.Float64)))[0], D(g.V.Value)[0]));
        // +0.1 per step: 0.1, 0.2, 0.3, 0.4 ≥ 0.35 fires and resets to −0.05, then 0.05, 0.15, 0.25, 0.35 fires, …
        Assert.That(trace.Select(t => t.S), Is.EqualTo(new double[] { 0, 0, 0, 1, 0, 0, 0, 1, 0, 0 }));
        Assert.That(trace[3].V, Is.EqualTo(reset));
        Assert.That(trace[4].V, Is.EqualTo(0.05).Within(1e-12));
    }

    // Forward-Euler integration of the two coupled equations with a tiny substep: an independent reference.
    private static double[] BruteForce(double tauSyn, double tauMem, double r, double vLeak, double wIn, double[] x, double dt)
    {
        const int sub = 20000;
        double h = dt / sub, i = 0, v = 0;
        var result = new double[x.Length];
        for (int k = 0; k < x.Length; k++)
        {
            for (int n = 0; n < sub; n++)
            {
                // Midpoint (RK2) keeps the reference error far below the tolerance.
                double di1 = (-i + wIn * x[k]) / tauSyn, dv1 = double.IsInfinity(tauMem) ? r * i : ((vLeak - v) + r * i) / tauMem;
                double im = i + 0.5 * h * di1, vm = v + 0.5 * h * dv1;
                double di2 = (-im + wIn * x[k]) / tauSyn, dv2 = double.IsInfinity(tauMem) ? r * im : ((vLeak - vm) + r * im) / tauMem;
                i += h * di2;
                v += h * dv2;
            }
            result[k] = v;
        }
        return result;
    }

    [TestCase(5e-3, 2e-3)]
    [TestCase(3e-3, 3e-3)]   // τ_syn = τ_mem: the limit form of the coupling
    [TestCase(2e-3, double.PositiveInfinity)]
    public void CurrentBasedLeakyIntegratorMatchesBruteForceIntegration(double tauSyn, double tauMem)
    {
        const double dt = 1e-3, r = 1.5, vLeak = 0.1, wIn = 0.8;
        double[] x = { 1, 0, 0, 2, 0, 0.5, 0, 0, 0, 0, 1, 1, 0, 0, 0 };
        var g = Bound(new CubaLif(1, spiking: false, synapse: true, tauMem: tauMem, tauSyn: tauSyn, r: r, vLeak: vLeak, weightIn: wIn), dt);
        var expected = BruteForce(tauSyn, tauMem, r, vLeak, wIn, x, dt);
        for (int k = 0; k < x.Length; k++)
        {
            double v = D(g.Step(torch.full(1, 1, x[k], dtype: ScalarType.Float64)))[0];
            Assert.That(v, Is.EqualTo(expected[k]).Within(1e-8), $"step {k}");
        }
    }

    [Test]
    public void NegativeOrNaNTauIsRefusedWithItsName()
    {
        var g = new CubaLif(2, tauMem: -1e-3);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        var e = Assert.Throws<ParameterException>(() => g.PrepareTimeStep(1e-3))!;
        Assert.That(e.Parameter, Is.EqualTo("tau_mem"));
    }

    [Test]
    public void RunsInANetworkWithTheSameResultAsStepping()
    {
        var net = new Network { Dt = 1e-3, Steps = 30, BatchSize = 2, DType = ScalarType.Float64 };
        net.Add("I", new Ship.Devices.Inputs.TensorInput(3));
        net.Add("N", new CubaLif(3, tauMem: 5e-3, tauSyn: 2e-3, r: 4, threshold: 0.5));
        net.Connect("I", "N");
        net.MarkOutput("N");
        var x = Spikes(2, 30, 3, ScalarType.Float64, (0, 0, 0), (0, 1, 0), (1, 3, 2), (1, 4, 2), (0, 10, 1));
        var y = net.Run(x)["N"];
        var g = Bound(new CubaLif(3, tauMem: 5e-3, tauSyn: 2e-3, r: 4, threshold: 0.5), 1e-3, batch: 2);
        var manual = torch.stack(Enumerable.Range(0, 30).Select(k => g.Step(x[.., k])).ToArray(), 1);
        Assert.That(Same(y, manual), Is.True);
        Assert.That(y.sum().item<double>(), Is.GreaterThan(0), "the spikes drive it over threshold");
    }
}
