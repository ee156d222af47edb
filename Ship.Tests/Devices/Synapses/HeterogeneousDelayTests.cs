using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;
using static Ship.Tests.Devices.Wrappers.WrapperReference;

namespace Ship.Tests.Devices.Synapses;

public class HeterogeneousDelayTests
{
    private const int Ns = 3, Nt = 4;

    private static double[,] RandomMatrix(int rows, int cols, int seed, double lo, double hi)
    {
        var rng = new Random(seed);
        var m = new double[rows, cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) m[i, j] = lo + (hi - lo) * rng.NextDouble();
        return m;
    }

    private static int[,] RandomSteps(int seed, int max)
    {
        var rng = new Random(seed);
        var d = new int[Ns, Nt];
        for (int i = 0; i < Ns; i++) for (int j = 0; j < Nt; j++) d[i, j] = rng.Next(0, max + 1);
        d[0, 0] = 0; d[Ns - 1, Nt - 1] = max; // both ends of the range occur
        return d;
    }

    private static Tensor Mat(double[,] m) => torch.tensor(m.Cast<double>().ToArray(), dtype: ScalarType.Float64).reshape(m.GetLength(0), m.GetLength(1));
    private static Tensor Mat(int[,] m) => torch.tensor(m.Cast<int>().Select(v => (long)v).ToArray()).reshape(m.GetLength(0), m.GetLength(1));

    /// <summary>y_t[j] = Σ_i w_ij · x_{t − d_ij}[i], x = 0 before step 0.</summary>
    private static double[,,] Reference(double[,,] x, double[,] w, int[,] d)
    {
        int B = x.GetLength(0), T = x.GetLength(1);
        var y = new double[B, T, Nt];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int j = 0; j < Nt; j++)
                    for (int i = 0; i < Ns; i++)
                        if (t - d[i, j] >= 0) y[b, t, j] += w[i, j] * x[b, t - d[i, j], i];
        return y;
    }

    private static Network Wire(HeterogeneousDelay syn, int batch)
    {
        var net = new Network { BatchSize = batch, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(Ns));
        net.Add("S", syn, "I", "L");
        net.Add("L", new Lif(Nt, 10e-3, 1e9));
        net.MarkOutput("S");
        return net;
    }

    [Test]
    public void DelaysInStepsMatchTheReference()
    {
        var w = RandomMatrix(Ns, Nt, 1, -1, 1);
        var d = RandomSteps(2, 6);
        var x = RandomInput(2, 40, Ns, seed: 3, lo: 0, hi: 1);
        var net = Wire(new HeterogeneousDelay(Mat(d), Mat(w)), 2);
        var y = FromTensor(net.Run(ToTensor(x), Schedule.Fixed(1e-3, 40))["S"]);
        var expected = Reference(x, w, d);
        for (int b = 0; b < 2; b++) for (int t = 0; t < 40; t++) for (int j = 0; j < Nt; j++)
            Assert.That(y[b, t, j], Is.EqualTo(expected[b, t, j]).Within(1e-12), $"b {b} t {t} j {j}");
        var s = (HeterogeneousDelay)net["S"];
        Assert.That((s.MinSteps, s.MaxSteps, s.OutputDelaySteps), Is.EqualTo((0L, 6L, 0)));
    }

    [Test]
    public void DelaysInSecondsAreRoundedToSteps()
    {
        // d_ij = steps·dt + jitter with |jitter| < dt/2 rounds back to the steps; 2.5 steps rounds up to 3.
        var w = RandomMatrix(Ns, Nt, 4, 0, 1);
        var d = RandomSteps(5, 5);
        var jitter = RandomMatrix(Ns, Nt, 6, -0.45, 0.45);
        var seconds = new double[Ns, Nt];
        for (int i = 0; i < Ns; i++) for (int j = 0; j < Nt; j++) seconds[i, j] = (d[i, j] + (d[i, j] == 0 ? Math.Abs(jitter[i, j]) : jitter[i, j])) * 1e-3;
        seconds[1, 1] = 2.5e-3; d[1, 1] = 3;
        var x = RandomInput(1, 30, Ns, seed: 7);
        var net = Wire(new HeterogeneousDelay(Mat(seconds), Mat(w), DelayUnit.Seconds), 1);
        var y = FromTensor(net.Run(ToTensor(x), Schedule.Fixed(1e-3, 30))["S"]);
        var expected = Reference(x, w, d);
        for (int t = 0; t < 30; t++) for (int j = 0; j < Nt; j++) Assert.That(y[0, t, j], Is.EqualTo(expected[0, t, j]).Within(1e-12), $"t {t} j {j}");
    }

    [TestCase(1e-3, 0.5e-3)]
    [TestCase(0.5e-3, 1e-3)]
    public void DelaysInSecondsKeepTheirTimingAcrossADtChange(double dt1, double dt2)
    {
        // Delays of whole milliseconds: a contribution emitted at the end e of a step is due at e + d_ij and arrives at
        // the nearest step end of the segment it is due in (ties later) - exactly on time when dt shrinks.
        var w = RandomMatrix(Ns, Nt, 8, 0.2, 1);
        var ms = RandomSteps(9, 4);
        var seconds = new double[Ns, Nt];
        for (int i = 0; i < Ns; i++) for (int j = 0; j < Nt; j++) seconds[i, j] = ms[i, j] * 1e-3;
        var schedule = new[] { (dt1, (int)Math.Round(10e-3 / dt1)), (dt2, (int)Math.Round(10e-3 / dt2)) };
        int T = schedule.Sum(s => s.Item2);
        var x = RandomInput(2, T, Ns, seed: 10, lo: 0.1, hi: 1);
        var net = Wire(new HeterogeneousDelay(Mat(seconds), Mat(w), DelayUnit.Seconds), 2);
        var y = FromTensor(net.Run(ToTensor(x), ToSchedule(schedule))["S"]);

        var ends = Ends(schedule);
        var dts = Dts(schedule);
        var expected = new double[2, T, Nt];
        for (int e = 0; e < T; e++)
            for (int i = 0; i < Ns; i++)
                for (int j = 0; j < Nt; j++)
                {
                    double due = ends[e] + seconds[i, j];
                    int k = Enumerable.Range(0, T).FirstOrDefault(t => ends[t] >= due - 1e-12, -1);
                    if (k < 0) continue;
                    int s0 = k;
                    while (s0 > 0 && dts[s0 - 1] == dts[k]) s0--;
                    int best = s0;
                    for (int t = s0; t < T && dts[t] == dts[k]; t++)
                        if (Math.Abs(ends[t] - due) <= Math.Abs(ends[best] - due) + 1e-12) best = t;
                    for (int b = 0; b < 2; b++) expected[b, best, j] += w[i, j] * x[b, e, i];
                }
        for (int b = 0; b < 2; b++) for (int t = 0; t < T; t++) for (int j = 0; j < Nt; j++)
            Assert.That(y[b, t, j], Is.EqualTo(expected[b, t, j]).Within(1e-12), $"b {b} t {t} j {j}");
    }

    [Test]
    public void StandaloneStepsAndGradientsFollowTheDelays()
    {
        const int T = 12;
        var w = RandomMatrix(Ns, Nt, 11, -1, 1);
        var d = RandomSteps(12, 4);
        var g = new HeterogeneousDelay(Mat(d), Mat(w));
        g.WithSizes(Ns, Nt);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        g.PrepareTimeStep(1e-3);
        g.ResetState();
        var xs = Enumerable.Range(0, T).Select(_ => torch.ones(new long[] { 1, Ns }, dtype: ScalarType.Float64, requires_grad: true)).ToArray();
        var total = xs.Select(x => g.Step(x).sum()).Aggregate((a, b) => a + b);
        total.backward();
        // ∂(Σ_t Σ_j y_t[j]) / ∂x_s[i] = Σ_j w_ij · [s + d_ij < T].
        for (int s = 0; s < T; s++)
            for (int i = 0; i < Ns; i++)
            {
                double expected = 0;
                for (int j = 0; j < Nt; j++) if (s + d[i, j] < T) expected += w[i, j];
                double actual = xs[s].grad is null ? 0 : xs[s].grad![0, i].item<double>();
                Assert.That(actual, Is.EqualTo(expected).Within(1e-12), $"s {s} i {i}");
            }
    }

    [Test]
    public void ARecurrentLoopThroughDelayedConnectionsHasNoLag()
    {
        // L → S (delays 1..3 steps) → L plus an input: L's input at t is x_t·W0 + Σ_i w_ij s_{t − d_ij}[i].
        const int N = 4, T = 100;
        const double dt = 1e-3, tau = 6e-3;
        var w = RandomMatrix(N, N, 13, -0.8, 0.8);
        var rng = new Random(14);
        var d = new int[N, N];
        for (int i = 0; i < N; i++) for (int j = 0; j < N; j++) d[i, j] = rng.Next(1, 4);
        var x = RandomInput(1, T, N, seed: 15, lo: 0, hi: 0.6);

        var net = new Network { Dt = dt, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(N));
        net.Add("S0", new Identity(), "I", "L");
        net.Add("L", new Lif(N, tau));
        net.Add("S", new HeterogeneousDelay(Mat(d), Mat(w)), "L", "L");
        net.MarkOutput("L");
        var y = FromTensor(net.Run(ToTensor(x), Schedule.Fixed(dt, T))["L"]);
        Assert.That(net.CallOrder.ZeroDelayBackEdgeCount, Is.Zero, net.DescribeCallOrder());

        double beta = Math.Exp(-dt / tau);
        var s = new double[T, N];
        var u = new double[N];
        var integ = new[] { 1.0, 1, 1, 1 };
        for (int t = 0; t < T; t++)
            for (int j = 0; j < N; j++)
            {
                double input = x[0, t, j];
                for (int i = 0; i < N; i++) if (t - d[i, j] >= 0) input += w[i, j] * s[t - d[i, j], i];
                u[j] = integ[j] * Math.Max(0, u[j] * beta + input);
                s[t, j] = u[j] >= 1 ? 1 : 0;
                integ[j] = 1 - s[t, j];
            }
        for (int t = 0; t < T; t++) for (int j = 0; j < N; j++) Assert.That(y[0, t, j], Is.EqualTo(s[t, j]), $"t {t} j {j}");
        Assert.That(s.Cast<double>().Sum(), Is.GreaterThan(15));
    }

    [Test]
    public void FractionalStepsAreATypedError()
    {
        var net = Wire(new HeterogeneousDelay(torch.full(Ns, Nt, 1.5, dtype: ScalarType.Float64)), 1);
        var e = Assert.Throws<ParameterException>(() => net.Initialize());
        Assert.That((e!.Group, e.Parameter), Is.EqualTo(("S", "delay")));
        var neg = Wire(new HeterogeneousDelay(-1), 1);
        Assert.Throws<ParameterException>(() => neg.Initialize());
        var shape = Wire(new HeterogeneousDelay(torch.zeros(2, 2)), 1);
        Assert.That(Assert.Throws<ParameterException>(() => shape.Initialize())!.Message, Does.Contain("[3, 4]"));
    }

    [Test]
    public void ChangingTheDelaysOfABoundSynapseTakesEffect()
    {
        var x = RandomInput(1, 20, Ns, seed: 16);
        var w = RandomMatrix(Ns, Nt, 17, 0, 1);
        var net = Wire(new HeterogeneousDelay(0, Mat(w)), 1);
        net.Run(ToTensor(x), Schedule.Fixed(1e-3, 20));
        var d = RandomSteps(18, 5);
        net.Set("S", "delay", Mat(d));
        var y = FromTensor(net.Run(ToTensor(x), Schedule.Fixed(1e-3, 20))["S"]);
        var expected = Reference(x, w, d);
        for (int t = 0; t < 20; t++) for (int j = 0; j < Nt; j++) Assert.That(y[0, t, j], Is.EqualTo(expected[0, t, j]).Within(1e-12), $"t {t} j {j}");
    }
}
