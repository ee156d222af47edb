using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Dendrites;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Dendrites;

public class DendriticIntegratorTests
{
    private static double[] Flat(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    private static double F(DendriteNonlinearity f, double d, double g, double th, double p) => f switch
    {
        DendriteNonlinearity.Linear => g * (d - th),
        DendriteNonlinearity.Relu => g * Math.Max(0, d - th),
        DendriteNonlinearity.Sigmoid => 1 / (1 + Math.Exp(-g * (d - th))),
        DendriteNonlinearity.Tanh => Math.Tanh(g * (d - th)),
        DendriteNonlinearity.Power => g * Math.Pow(Math.Max(0, d - th), p),
        _ => throw new ArgumentOutOfRangeException(nameof(f)),
    };

    [TestCase(DendriteNonlinearity.Linear)]
    [TestCase(DendriteNonlinearity.Relu)]
    [TestCase(DendriteNonlinearity.Sigmoid)]
    [TestCase(DendriteNonlinearity.Tanh)]
    [TestCase(DendriteNonlinearity.Power)]
    public void MatchesReference(DendriteNonlinearity f)
    {
        const int b = 2, n = 2, k = 3, steps = 50;
        const double dt = 1e-3;
        double[] tau = { 5e-3, 0, 20e-3, 10e-3, 2e-3, 0 }; // τ_d = 0: memoryless branches
        double[] gain = { 1, 2, 0.5, 1.5, 1, 3 }, theta = { 0, 0.3, -0.2, 0.5, 0.1, 0 }, power = { 2, 3, 1.5, 2, 1, 2.5 };
        var g = new DendriticIntegrator(n, k, f);
        g.Bind(new SimulationContext(b, dtype: ScalarType.Float64));
        g.Set("tau", torch.tensor(tau)).Set("gain", torch.tensor(gain)).Set("theta", torch.tensor(theta)).Set("power", torch.tensor(power));
        g.PrepareTimeStep(dt);
        g.ResetState();
        Assert.That(g.InputSize, Is.EqualTo(n * k));
        Assert.That(g.OutputSize, Is.EqualTo(n));

        var x = torch.randn(new long[] { steps, b, n * k }, dtype: ScalarType.Float64, generator: new torch.Generator(9)).mul_(0.5);
        var d = new double[b, n * k];
        for (int t = 0; t < steps; t++)
        {
            var xt = x[t];
            var y = Flat(g.Step(xt));
            var xs = Flat(xt);
            var ds = Flat(g.Get("d"));
            for (int r = 0; r < b; r++)
                for (int i = 0; i < n; i++)
                {
                    double sum = 0;
                    for (int j = 0; j < k; j++)
                    {
                        int c = i * k + j; // neuron-major columns
                        double beta = tau[c] == 0 ? 0 : Math.Exp(-dt / tau[c]);
                        d[r, c] = beta * d[r, c] + xs[r * n * k + c];
                        Assert.That(ds[r * n * k + c], Is.EqualTo(d[r, c]).Within(1e-12), $"branch {c}, batch {r}, step {t}");
                        sum += F(f, d[r, c], gain[c], theta[c], power[c]);
                    }
                    Assert.That(y[r * n + i], Is.EqualTo(sum).Within(1e-10), $"neuron {i}, batch {r}, step {t}");
                }
        }
    }

    [Test]
    public void FeedsASomaThroughAnIdentityLink()
    {
        const int steps = 40, n = 2, k = 3;
        var net = new Network { Dt = 1e-3, Steps = steps, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(4));
        var w = torch.rand(new long[] { 4, n * k }, dtype: ScalarType.Float64, generator: new torch.Generator(4));
        net.Add("S", new Dense(w), "I", "D");
        net.Add("D", new DendriticIntegrator(n, k, DendriteNonlinearity.Power, tau: 5e-3, threshold: 0.2));
        net.Add("L", new Identity(), "D", "Soma");
        net.Add("Soma", new Lif(n, tau: 20e-3, threshold: 1e9));
        var md = net.Monitor("D");
        var mu = net.Monitor("Soma", "u");
        var x = torch.rand(new long[] { 1, steps, 4 }, dtype: ScalarType.Float64, generator: new torch.Generator(8));
        net.Run(x);
        Assert.That(net["S"].TargetCount, Is.EqualTo(n * k), "the synapse feeds every branch");

        // Soma reference: u = max(0, β u + y) with y the dendrites' output.
        var y = Flat(md.Values);
        var u = Flat(mu.Values);
        double beta = Math.Exp(-1e-3 / 20e-3);
        var state = new double[n];
        for (int t = 0; t < steps; t++)
            for (int i = 0; i < n; i++)
            {
                state[i] = Math.Max(0, beta * state[i] + y[t * n + i]);
                Assert.That(u[t * n + i], Is.EqualTo(state[i]).Within(1e-10));
            }
        Assert.That(y.Max(), Is.GreaterThan(0), "the branches crossed their threshold");
    }

    [Test]
    public void BadSettingsRaiseTypedErrors()
    {
        Assert.Throws<ParameterException>(() => new DendriticIntegrator(0, 3));
        Assert.Throws<ParameterException>(() => new DendriticIntegrator(2, 0));
        var g = new DendriticIntegrator(2, 2, DendriteNonlinearity.Power, power: 0.5);
        var ex = Assert.Throws<ParameterException>(() => g.Bind(new SimulationContext(1)));
        Assert.That(ex!.Parameter, Is.EqualTo("power"));
    }
}
