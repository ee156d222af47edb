using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Kernels;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Devices.DeviceTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Neurons;

public class LeakyIntegratorTests
{
    [Test]
    public void ConstantInputFollowsClosedFormAndConvergesToXOverOneMinusBeta()
    {
        const double dt = 1e-3;
        const int steps = 300;
        double[] tau = { 1e-3, 2e-3, 5e-3 }, x = { 0.2, 0.5, 1.0 };
        var g = new LeakyIntegrator(3);
        g.Set("tau", torch.tensor(tau));
        g.Bind(new SimulationContext(2, dtype: ScalarType.Float64));
        g.PrepareTimeStep(dt);
        g.ResetState();
        var input = torch.tensor(x).unsqueeze(0).expand(2, 3);
        double[] last = Array.Empty<double>();
        for (int k = 1; k <= steps; k++)
        {
            var u = D(g.Step(input));
            for (int j = 0; j < 3; j++)
            {
                double beta = Math.Exp(-dt / tau[j]);
                double expected = x[j] * (1 - Math.Pow(beta, k)) / (1 - beta);
                Assert.That(u[j], Is.EqualTo(expected).Within(1e-9).Percent, $"step {k}, neuron {j}");
                Assert.That(u[3 + j], Is.EqualTo(u[j]), "batch rows with the same input agree");
            }
            last = u;
        }
        for (int j = 0; j < 3; j++)
            Assert.That(last[j], Is.EqualTo(x[j] / (1 - Math.Exp(-dt / tau[j]))).Within(1e-6).Percent, "fixed point x / (1 − β)");
    }

    [Test]
    public void SequenceFormFollowsClosedFormAndItsGradientIsTheGeometricSum()
    {
        // Whole-block form: u_t = x(1 − β^t)/(1 − β) for a constant x ≥ 0 from u0 = 0; with L = Σ_t u_t every step is
        // above the floor, so ∂L/∂x_t = Σ_(k≥t) β^(k−t) = (1 − β^(T−t)) / (1 − β) (t from 0) and ∂L/∂u0 = β(1 − β^T)/(1 − β).
        const double dt = 1e-3, tau = 4e-3, xv = 0.3;
        const int steps = 12;
        double beta = Math.Exp(-dt / tau);
        var x = torch.full(new long[] { 2, steps, 3 }, xv, dtype: ScalarType.Float64).requires_grad_(true);
        var u0 = torch.zeros(new long[] { 2, 3 }, dtype: ScalarType.Float64).requires_grad_(true);
        var b = torch.full(new long[] { 2, 3 }, beta, dtype: ScalarType.Float64);
        var (y, last) = LeakyIntegratorSequence.Run(x, u0, b, steps);
        var yv = y.detach().data<double>().ToArray();
        for (int t = 0; t < steps; t++)
            Assert.That(yv[t * 3 + 1], Is.EqualTo(xv * (1 - Math.Pow(beta, t + 1)) / (1 - beta)).Within(1e-12), $"step {t + 1}");
        Assert.That(last.detach().data<double>()[0], Is.EqualTo(yv[(steps - 1) * 3]), "the final membrane is the last step");
        y.sum().backward();
        var gx = x.grad!.data<double>().ToArray();
        for (int t = 0; t < steps; t++)
            Assert.That(gx[t * 3 + 2], Is.EqualTo((1 - Math.Pow(beta, steps - t)) / (1 - beta)).Within(1e-12), $"dL/dx at step {t}");
        Assert.That(u0.grad!.data<double>()[4], Is.EqualTo(beta * (1 - Math.Pow(beta, steps)) / (1 - beta)).Within(1e-12), "dL/du0");
    }

    [Test]
    public void ANetworkEndingInALeakyIntegratorRunsItAsOneWholeBlock()
    {
        var net = new Network { Dt = 1e-3, Steps = 5, BatchSize = 1 };
        net.Add("I", new TensorInput(2));
        net.Add("W", new Dense(0.5), "I", "R");
        net.Add("R", new LeakyIntegrator(2, tau: 4e-3));
        net.MarkOutput("R");
        net.Run(torch.ones(1, 5, 2));
        Assert.That(net.SequenceGroups, Does.Contain("R"), "the fused recurrence serves the read-out");
    }

    [Test]
    public void MembraneIsFlooredAtZero()
    {
        var g = new LeakyIntegrator(2, tau: 4e-3);
        g.Set("u", 0.5);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        g.PrepareTimeStep(1e-3);
        g.ResetState();
        var u = D(g.Step(torch.tensor(new[] { -0.1, -1.0 }).unsqueeze(0)));
        double beta = Math.Exp(-1e-3 / 4e-3);
        Assert.That(u[0], Is.EqualTo(0.5 * beta - 0.1).Within(1e-12), "above the floor: plain leaky update");
        Assert.That(u[1], Is.EqualTo(0.0), "below the floor: clamped at 0");
    }

    [Test]
    public void DecayPerStepFollowsDt()
    {
        const double tau = 3e-3, dt = 1e-3;
        foreach (var (h, n) in new[] { (dt, 10), (dt / 2, 20) })
        {
            var g = new LeakyIntegrator(1, tau);
            g.Set("u", 1.0);
            g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
            g.PrepareTimeStep(h);
            g.ResetState();
            double u = 1;
            for (int k = 1; k <= n; k++)
            {
                double next = D(g.Step(null))[0];
                Assert.That(next / u, Is.EqualTo(Math.Exp(-h / tau)).Within(1e-10), $"dt {h}, step {k}: decay factor");
                u = next;
            }
            Assert.That(u, Is.EqualTo(Math.Exp(-n * h / tau)).Within(1e-10), $"dt {h}: u(t) = exp(−t/τ) at t = {n * h}");
        }
    }

    [Test]
    public void InANetworkOutputIsTheMembraneAtEveryStep()
    {
        const double dt = 1e-3, tau = 2e-3;
        const int steps = 30, b = 2;
        var w = torch.tensor(new[] { 0.5, -0.25, 1.0, 0.75 }).reshape(2, 2);
        var net = new Network { Dt = dt, Steps = steps, BatchSize = b, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(2));
        net.Add("S", new Dense(w), "I", "L");
        net.Add("L", new LeakyIntegrator(2, tau));
        net.MarkOutput("L");
        var mon = net.Monitor("L", "u");
        var x = torch.rand(new long[] { b, steps, 2 }, dtype: ScalarType.Float64, generator: new torch.Generator(11));
        var y = D(net.Run(x).Single);
        var u = D(mon.Values);
        var xs = D(x);
        var W = D(w);
        double beta = Math.Exp(-dt / tau);
        for (int r = 0; r < b; r++)
        {
            var state = new double[2];
            for (int k = 0; k < steps; k++)
                for (int j = 0; j < 2; j++)
                {
                    double inp = At(xs, steps, 2, r, k, 0) * W[j] + At(xs, steps, 2, r, k, 1) * W[2 + j];
                    state[j] = Math.Max(0, beta * state[j] + inp);
                    // Outputs are stacked after the run: an output aliased to a state modified in place would show later values.
                    Assert.That(At(y, steps, 2, r, k, j), Is.EqualTo(state[j]).Within(1e-12), $"output, batch {r}, step {k}, neuron {j}");
                    Assert.That(At(u, steps, 2, r, k, j), Is.EqualTo(state[j]).Within(1e-12), $"monitored u, batch {r}, step {k}, neuron {j}");
                }
        }
    }
}
