using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using TorchSharp;
using static TorchSharp.torch;
using static Ship.Tests.Devices.Wrappers.WrapperReference;

namespace Ship.Tests.Devices.Wrappers;

public class DelayTests
{
    /// <summary>Input → Delay(Identity) → sink; the delayed synapse output is marked, so the delay acts on analog values.</summary>
    private static Network DelayedWire(int n, int batch, double delay)
    {
        var net = new Network { BatchSize = batch, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(n));
        net.Add("D", new Delay(new Identity(), delay));
        net.Connect("D", "I", "L");
        net.Add("L", new Lif(n, 10e-3, 1e9));
        net.MarkOutput("D");
        return net;
    }

    [TestCase(0.0, 0)]
    [TestCase(1e-3, 1)]
    [TestCase(2.4e-3, 2)]
    [TestCase(2.5e-3, 3)]
    [TestCase(3e-3, 3)]
    [TestCase(7e-3, 7)]
    public void OutputIsTheInputShiftedByRoundedSteps(double delay, int steps)
    {
        const int T = 30;
        var x = RandomInput(2, T, 3, seed: 4, lo: -1, hi: 1);
        var net = DelayedWire(3, 2, delay);
        var y = FromTensor(net.Run(ToTensor(x), Schedule.Fixed(1e-3, T))["D"]);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < T; t++)
                for (int n = 0; n < 3; n++)
                    Assert.That(y[b, t, n], Is.EqualTo(t >= steps ? x[b, t - steps, n] : 0.0), $"b {b}, t {t}, n {n}");
        Assert.That(net["D"].OutputDelaySteps, Is.EqualTo(steps));
    }

    /// <summary>
    /// Closed form when the delay is a whole number of both dts and shorter than a segment: a value emitted at the end e
    /// of a step is due at e + D; it arrives at the step end nearest to the due time (ties go to the later one) among
    /// the steps of the segment in which it is due (it cannot arrive before that segment starts).
    /// </summary>
    private static double[,,] ArrivalByTime(double[,,] x, (double, int)[] schedule, double delay)
    {
        var ends = Ends(schedule);
        var dts = Dts(schedule);
        int B = x.GetLength(0), T = x.GetLength(1), N = x.GetLength(2);
        var y = new double[B, T, N];
        for (int e = 0; e < T; e++)
        {
            double due = ends[e] + delay;
            int k = Enumerable.Range(0, T).FirstOrDefault(t => ends[t] >= due - 1e-12, -1);
            if (k < 0) continue;
            int s0 = k;
            while (s0 > 0 && dts[s0 - 1] == dts[k]) s0--;
            int best = s0;
            for (int t = s0; t < T && dts[t] == dts[k]; t++)
                if (Math.Abs(ends[t] - due) <= Math.Abs(ends[best] - due) + 1e-12) best = t;
            for (int b = 0; b < B; b++) for (int n = 0; n < N; n++) y[b, best, n] += x[b, e, n];
        }
        return y;
    }

    [TestCase(1e-3, 0.5e-3)]
    [TestCase(0.5e-3, 1e-3)]
    [TestCase(1e-3, 0.25e-3)]
    [TestCase(0.25e-3, 1e-3)]
    public void InFlightValuesArriveOnTimeAcrossADtChange(double dt1, double dt2)
    {
        const double D = 3e-3;
        var schedule = new[] { (dt1, (int)Math.Round(12e-3 / dt1)), (dt2, (int)Math.Round(12e-3 / dt2)) };
        int T = schedule.Sum(s => s.Item2);
        var x = RandomInput(2, T, 2, seed: 9, lo: 0.1, hi: 1);
        var net = DelayedWire(2, 2, D);
        var y = FromTensor(net.Run(ToTensor(x), ToSchedule(schedule))["D"]);
        var expected = ArrivalByTime(x, schedule, D);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < T; t++)
                for (int n = 0; n < 2; n++)
                    Assert.That(y[b, t, n], Is.EqualTo(expected[b, t, n]).Within(1e-12), $"b {b}, t {t}, n {n}");
    }

    private static readonly (double, int)[][] Irregular =
    {
        new[] { (1e-3, 15), (0.3e-3, 20), (0.7e-3, 30), (0.2e-3, 60) },
        new[] { (0.25e-3, 20), (5e-3, 6), (0.5e-3, 30) }, // the delay drops to 0 steps and comes back
    };

    [TestCase(0, 2.2e-3)]
    [TestCase(1, 1e-3)]
    public void EveryValueIsDeliveredExactlyOnceUnderAnIrregularSchedule(int which, double D)
    {
        var schedule = Irregular[which];
        int T = schedule.Sum(s => s.Item2);
        int quiet = T - 30;
        var x = RandomInput(2, T, 3, seed: 13, lo: 0.1, hi: 1);
        for (int b = 0; b < 2; b++) for (int t = quiet; t < T; t++) for (int n = 0; n < 3; n++) x[b, t, n] = 0; // let everything land
        var net = DelayedWire(3, 2, D);
        var y = FromTensor(net.Run(ToTensor(x), ToSchedule(schedule))["D"]);

        // Reference per value: it arrives after d = round(D/dt) steps; at a dt change its remaining r steps become
        // max(1, round(r·dt_old/dt_new)).
        var dts = Dts(schedule);
        var expected = new double[2, T, 3];
        for (int e = 0; e < T; e++)
        {
            int left = RoundSteps(D / dts[e]);
            int t = e;
            while (left > 0)
            {
                t++;
                if (t >= T) break;
                if (dts[t] != dts[t - 1]) left = Math.Max(1, RoundSteps(left * dts[t - 1] / dts[t]));
                left--;
            }
            if (t < T) for (int b = 0; b < 2; b++) for (int n = 0; n < 3; n++) expected[b, t, n] += x[b, e, n];
        }
        for (int b = 0; b < 2; b++)
            for (int n = 0; n < 3; n++)
            {
                double sumIn = 0, sumOut = 0;
                for (int t = 0; t < T; t++) { sumIn += x[b, t, n]; sumOut += y[b, t, n]; }
                Assert.That(sumOut, Is.EqualTo(sumIn).Within(1e-9), "nothing lost, nothing duplicated");
                for (int t = 0; t < T; t++) Assert.That(y[b, t, n], Is.EqualTo(expected[b, t, n]).Within(1e-12), $"b {b}, t {t}, n {n}");
            }
    }

    [Test]
    public void PeekShowsWhatTheNextStepReturns()
    {
        var ctx = new SimulationContext(2, dtype: ScalarType.Float64);
        var g = new Delay(new Lif(3, 5e-3, 0.5), 2e-3);
        g.Bind(ctx);
        g.PrepareTimeStep(1e-3);
        g.ResetState();
        var gen = new torch.Generator(1);
        for (int t = 0; t < 25; t++)
        {
            using var peek = g.PeekDelayedOutput().clone();
            var y = g.Step(torch.rand(new long[] { 2, 3 }, dtype: ScalarType.Float64, generator: gen));
            Assert.That(peek.equal(y).all().item<bool>(), Is.True, $"step {t}");
        }
        Assert.That(g.OutputDelaySteps, Is.EqualTo(2));
    }

    [Test]
    public void GradientsFlowThroughTheDelay()
    {
        const int T = 10, d = 3;
        var ctx = new SimulationContext(1, dtype: ScalarType.Float64);
        var g = new Delay(new Identity().WithSizes(2, 2), d * 1e-3);
        g.Bind(ctx);
        g.PrepareTimeStep(1e-3);
        g.ResetState();
        var xs = Enumerable.Range(0, T).Select(_ => torch.ones(new long[] { 1, 2 }, dtype: ScalarType.Float64, requires_grad: true)).ToArray();
        var total = xs.Select(x => g.Step(x).sum()).Aggregate((a, b) => a + b);
        total.backward();
        for (int t = 0; t < T; t++)
            Assert.That(xs[t].grad is null ? 0.0 : xs[t].grad!.sum().item<double>(), Is.EqualTo(t < T - d ? 2.0 : 0.0), $"input of step {t} reaches the output iff it arrives in time");
    }

    [TestCase(-1e-3)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    public void BadDelaysAreRejectedWithTheirName(double delay)
    {
        var e = Assert.Throws<ParameterException>(() => new Delay(new Lif(1), delay));
        Assert.That(e!.Parameter, Is.EqualTo("delay"));
    }

    // ---- recurrent loop L → R → L with the delay inside the loop -------------------------------------------------

    private static readonly double[,] W0 = { { 0.9, 0.2, 0.0, 0.4 }, { 0.1, 0.7, 0.5, 0.0 }, { 0.3, 0.0, 0.8, 0.6 } };
    private static readonly double[,] W1 = { { 0.8, 0.1, 0.3 }, { 0.0, 0.9, 0.2 }, { 0.5, 0.4, 0.0 }, { 0.2, 0.3, 1.1 } };
    private static readonly double[,] W2 = { { -0.6, 0.4, 0.3, -0.2 }, { 0.5, -0.7, 0.2, 0.6 }, { 0.1, 0.3, -0.8, 0.4 } };

    private static Tensor T2(double[,] w) => torch.tensor(w.Cast<double>().ToArray(), dtype: ScalarType.Float64).reshape(w.GetLength(0), w.GetLength(1));

    /// <summary>The loop in plain doubles: the delayed side's output is its own spikes exactly <paramref name="d"/> steps earlier.</summary>
    private static (double[,,] L, double[,,] R) LoopReference(double[,,] x, int d, bool delayOnL, double tau, double dt)
    {
        int B = x.GetLength(0), T = x.GetLength(1);
        double beta = Math.Exp(-dt / tau);
        var sl = new double[B, T, 4];
        var sr = new double[B, T, 3];
        for (int b = 0; b < B; b++)
        {
            var ul = new double[4]; var il = new[] { 1.0, 1, 1, 1 };
            var ur = new double[3]; var ir = new[] { 1.0, 1, 1 };
            void Lif(double[] u, double[] integ, double[] input, double[,,] s, int t)
            {
                for (int n = 0; n < u.Length; n++)
                {
                    u[n] = integ[n] * Math.Max(0, u[n] * beta + input[n]);
                    s[b, t, n] = u[n] >= 1 ? 1 : 0;
                    integ[n] = 1 - s[b, t, n];
                }
            }
            for (int t = 0; t < T; t++)
            {
                if (delayOnL)
                {
                    var inR = new double[3];
                    if (t >= d) for (int j = 0; j < 3; j++) for (int i = 0; i < 4; i++) inR[j] += sl[b, t - d, i] * W1[i, j];
                    Lif(ur, ir, inR, sr, t);
                    var inL = new double[4];
                    for (int j = 0; j < 4; j++)
                    {
                        for (int i = 0; i < 3; i++) inL[j] += x[b, t, i] * W0[i, j];
                        for (int i = 0; i < 3; i++) inL[j] += sr[b, t, i] * W2[i, j];
                    }
                    Lif(ul, il, inL, sl, t);
                }
                else
                {
                    var inL = new double[4];
                    for (int j = 0; j < 4; j++)
                    {
                        for (int i = 0; i < 3; i++) inL[j] += x[b, t, i] * W0[i, j];
                        if (t >= d) for (int i = 0; i < 3; i++) inL[j] += sr[b, t - d, i] * W2[i, j];
                    }
                    Lif(ul, il, inL, sl, t);
                    var inR = new double[3];
                    for (int j = 0; j < 3; j++) for (int i = 0; i < 4; i++) inR[j] += sl[b, t, i] * W1[i, j];
                    Lif(ur, ir, inR, sr, t);
                }
            }
        }
        return (sl, sr);
    }

    [TestCase(1, true)]
    [TestCase(3, true)]
    [TestCase(2, false)]
    public void ARecurrentLoopThroughADelayHasNoExtraLag(int d, bool delayOnL)
    {
        const double dt = 1e-3, tau = 8e-3;
        const int T = 120;
        var net = new Network { Dt = dt, BatchSize = 2, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(3));
        net.Add("S0", new Dense(T2(W0)), "I", "L");
        net.Add<Ship.Core.Groups.Group>("L", delayOnL ? new Delay(new Lif(4, tau), d * dt) : new Lif(4, tau));
        net.Add("S1", new Dense(T2(W1)), "L", "R");
        net.Add<Ship.Core.Groups.Group>("R", delayOnL ? new Lif(3, tau) : new Delay(new Lif(3, tau), d * dt));
        net.Add("S2", new Dense(T2(W2)), "R", "L");
        var monL = net.Monitor("L", "u");
        net.MarkOutput("L", "R");
        var x = RandomInput(2, T, 3, seed: 31, lo: 0, hi: 0.7);
        var r = net.Run(ToTensor(x), Schedule.Fixed(dt, T));

        Assert.That(net.CallOrder.ZeroDelayBackEdgeCount, Is.Zero);
        Assert.That(net.CallOrder.BackEdges, Has.Count.EqualTo(1), net.DescribeCallOrder());
        Assert.That(net.CallOrder.BackEdges[0].LagSteps, Is.Zero);

        var (sl, sr) = LoopReference(x, d, delayOnL, tau, dt);
        var outL = FromTensor(r["L"]);
        var outR = FromTensor(r["R"]);
        // The network sees the delayed side's output; shift the reference spikes accordingly.
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < T; t++)
            {
                for (int n = 0; n < 4; n++) Assert.That(outL[b, t, n], Is.EqualTo(delayOnL ? (t >= d ? sl[b, t - d, n] : 0) : sl[b, t, n]), $"L b {b} t {t} n {n}");
                for (int n = 0; n < 3; n++) Assert.That(outR[b, t, n], Is.EqualTo(delayOnL ? sr[b, t, n] : (t >= d ? sr[b, t - d, n] : 0)), $"R b {b} t {t} n {n}");
            }
        Assert.That(sl.Cast<double>().Sum(), Is.GreaterThan(20), "L fires");
        Assert.That(sr.Cast<double>().Sum(), Is.GreaterThan(20), "R fires");
        var (lagged, _) = LoopReference(x, d + 1, delayOnL, tau, dt);
        Assert.That(lagged, Is.Not.EqualTo(sl), "one step more delay would be visible, so the comparison above detects a lag");
        Assert.That(monL.Count, Is.EqualTo(T));
    }
}
