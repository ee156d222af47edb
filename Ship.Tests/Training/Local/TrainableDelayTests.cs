using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Training;
using Ship.Training.Local;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;
using static Ship.Tests.Training.Local.TripletStdpTests;

namespace Ship.Tests.Training.Local;

public class TrainableDelayTests
{
    /// <summary>Runs the synapse alone over x [B, T, Ns] and returns y [B, T, Nt] (graph kept when gradients are on).</summary>
    private static Tensor RunAlone(TrainableDelay syn, Tensor x, Tensor? delays = null)
    {
        int b = (int)x.shape[0], ns = (int)x.shape[2];
        if (!syn.IsBound)
        {
            syn.WithSizes(ns, (int)((TensorValue)syn.Delays.Spec).Tensor.shape[1]);
            syn.Bind(new SimulationContext(b, dtype: ScalarType.Float64));
        }
        if (delays is not null) syn.Delays.Tensor = delays;
        syn.PrepareTimeStep(1e-3);
        syn.ResetState();
        var ys = x.unbind(1).Select(xt => syn.Step(xt)).ToArray();
        return torch.stack(ys, 1);
    }

    private static TrainableDelay Make(double[,] delays, double[,] weights) =>
        new(torch.tensor(delays), torch.tensor(weights));

    /// <summary>y_t[j] = Σ_i w_ij((1 − f)x_{t−n}[i] + f·x_{t−n−1}[i]) in doubles.</summary>
    private static double[] Reference(double[] x, int b, int steps, int ns, double[,] d, double[,] w)
    {
        int nt = d.GetLength(1);
        double X(int r, int t, int i) => t < 0 ? 0 : x[(r * steps + t) * ns + i];
        var y = new double[b * steps * nt];
        for (int r = 0; r < b; r++)
            for (int t = 0; t < steps; t++)
                for (int j = 0; j < nt; j++)
                {
                    double s = 0;
                    for (int i = 0; i < ns; i++)
                    {
                        int n = (int)Math.Floor(d[i, j]);
                        double f = d[i, j] - n;
                        s += w[i, j] * ((1 - f) * X(r, t - n, i) + f * X(r, t - n - 1, i));
                    }
                    y[(r * steps + t) * nt + j] = s;
                }
        return y;
    }

    [Test]
    public void FractionalDelaysInterpolateBetweenNeighbouringShifts()
    {
        var d = new[,] { { 0.0, 2.25 }, { 1.5, 3.9 }, { 0.7, 1.0 } };
        var w = new[,] { { 0.5, -1.2 }, { 0.8, 0.3 }, { -0.4, 1.1 } };
        var x = torch.rand(new long[] { 2, 12, 3 }, dtype: ScalarType.Float64, generator: new torch.Generator(4));
        var y = RunAlone(Make(d, w), x);
        Assert.That(Flat(y), Is.EqualTo(Reference(Flat(x), 2, 12, 3, d, w)).Within(1e-13));
    }

    [Test]
    public void WholeDelaysEqualTheHeterogeneousDelaySynapse()
    {
        var d = new[,] { { 0.0, 2.0 }, { 3.0, 1.0 } };
        var w = new[,] { { 0.5, -1.2 }, { 0.8, 0.3 } };
        var x = torch.rand(new long[] { 2, 10, 2 }, dtype: ScalarType.Float64, generator: new torch.Generator(6)).lt(0.4).to_type(ScalarType.Float64);
        var y = RunAlone(Make(d, w), x);
        var het = new HeterogeneousDelay(torch.tensor(d), torch.tensor(w));
        het.WithSizes(2, 2);
        het.Bind(new SimulationContext(2, dtype: ScalarType.Float64));
        het.PrepareTimeStep(1e-3);
        het.ResetState();
        var yh = torch.stack(x.unbind(1).Select(xt => het.Step(xt)).ToArray(), 1);
        Assert.That(Flat(y), Is.EqualTo(Flat(yh)).Within(1e-14));
    }

    [Test]
    public void DelayGradientAgreesWithFiniteDifferences()
    {
        var d0 = new[,] { { 1.3, 2.7 }, { 0.4, 3.2 } };
        var w = new[,] { { 0.9, -0.6 }, { 0.7, 1.3 } };
        const int b = 2, steps = 14;
        var g = new torch.Generator(9);
        var x = torch.rand(new long[] { b, steps, 2 }, dtype: ScalarType.Float64, generator: g);
        var c = torch.randn(new long[] { b, steps, 2 }, dtype: ScalarType.Float64, generator: g);
        var syn = Make(d0, w);

        var leaf = torch.tensor(d0).requires_grad_(true);
        var loss = RunAlone(syn, x, leaf).mul(c).sum();
        loss.backward();
        var grad = Flat(leaf.grad!);

        // Central differences of the same loss in doubles (the reference), one delay at a time.
        double L(double[,] d) => Reference(Flat(x), b, steps, 2, d, w).Zip(Flat(c), (yv, cv) => yv * cv).Sum();
        const double h = 1e-5;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
            {
                var up = (double[,])d0.Clone(); up[i, j] += h;
                var dn = (double[,])d0.Clone(); dn[i, j] -= h;
                double fd = (L(up) - L(dn)) / (2 * h);
                Assert.That(grad[i * 2 + j], Is.EqualTo(fd).Within(1e-3 * Math.Max(1.0, Math.Abs(fd))), $"dL/dd[{i},{j}]");
                Assert.That(Math.Abs(fd), Is.GreaterThan(1e-3), "the check is not trivially zero");
            }
    }

    [Test]
    public void AContinuationAfterTheDelaysGrewKeepsItsQueueAndUsesTheNewDelays()
    {
        // y_t = (1 − f)·x_{t−n} + f·x_{t−n−1}: d = 0.5 for steps 0–4, then an optimizer moves it to 2.5 before the
        // continuation (which prepares the group first): the spike at t = 5 arrives as 0.5 at t = 7 and 0.5 at t = 8.
        var syn = Make(new[,] { { 0.5 } }, new[,] { { 1.0 } });
        syn.WithSizes(1, 1);
        syn.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        syn.PrepareTimeStep(1e-3);
        syn.ResetState();
        var x = new double[10];
        x[1] = 1.0;
        x[5] = 1.0;
        var y = new List<double>();
        for (int k = 0; k < 10; k++)
        {
            if (k == 5)
            {
                syn.Delays.Value.add_(2.0);
                syn.PrepareTimeStep(1e-3);
                Assert.That(syn.MaxSteps, Is.EqualTo(2), "the whole part is re-read at the preparation");
            }
            y.Add(syn.Step(torch.full(1, 1, x[k], dtype: ScalarType.Float64)).item<double>());
        }
        Assert.That(y, Is.EqualTo(new[] { 0, 0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5, 0 }).Within(1e-15));
    }

    [Test]
    public void WholeStepsMoveBetweenRunsAndNegativeDelaysActAsZero()
    {
        var syn = Make(new[,] { { 0.5 } }, new[,] { { 1.0 } });
        var x = torch.zeros(new long[] { 1, 8, 1 }, dtype: ScalarType.Float64);
        x[0, 1, 0] = 1.0;
        Assert.That(Flat(RunAlone(syn, x)), Is.EqualTo(new[] { 0, 0.5, 0.5, 0, 0, 0, 0, 0 }).Within(1e-15));
        // An optimizer moves the delay in place across a whole step: the next run uses the new whole part.
        syn.Delays.Value.add_(2.0);
        Assert.That(Flat(RunAlone(syn, x)), Is.EqualTo(new[] { 0, 0, 0, 0.5, 0.5, 0, 0, 0 }).Within(1e-15));
        Assert.That(syn.MinSteps, Is.EqualTo(2));
        syn.Delays.Value.sub_(4.0);
        Assert.That(Flat(RunAlone(syn, x)), Is.EqualTo(new[] { 0, 1.0, 0, 0, 0, 0, 0, 0 }).Within(1e-15));
    }

    [Test]
    public void TrainerLearnsDelaysThatMakeTwoSpikesCoincide()
    {
        // Input 0 spikes at step 3, input 1 at step 9; a slow leaky integrator peaks highest when both arrive together,
        // i.e. when d0 − d1 = 6. Maximizing the peak by gradient on the delays alone must move d0 − d1 towards 6.
        const int steps = 30;
        var net = new Network { Dt = 1e-3, Steps = steps, BatchSize = 1, DType = ScalarType.Float64, Seed = 3 };
        net.Add("I", new TensorInput(2));
        net.Add("D", new TrainableDelay(torch.tensor(new[,] { { 2.5 }, { 2.5 } }), 1.0), "I", "O");
        net.Add("O", new LeakyIntegrator(1, tau: 4e-3));
        net.MarkOutput("O");
        var x = torch.zeros(new long[] { 1, steps, 2 }, dtype: ScalarType.Float64);
        x[0, 3, 0] = 1.0; x[0, 9, 1] = 1.0;
        var trainer = new Trainer(net, new MaxOverTime("O"), new CustomLoss("-peak", (s, _) => s.sum().neg()),
            ps => torch.optim.Adam(ps, lr: 0.1), Trainables.Of(net, "D", "delay"));
        double Gap() { var d = Flat(net["D"].Get("delay")); return d[0] - d[1]; }
        double gap0 = Gap();
        double first = -trainer.TrainBatch(x, torch.zeros(1));
        for (int k = 0; k < 60; k++) trainer.TrainBatch(x, torch.zeros(1));
        double last = -trainer.TrainBatch(x, torch.zeros(1));
        Assert.That(gap0, Is.EqualTo(0.0));
        Assert.That(Math.Abs(Gap() - 6), Is.LessThan(1.0), $"learned gap {Gap():F3} steps");
        Assert.That(last, Is.GreaterThan(first * 1.3), "the peak grew");
    }
}
