using Ship.Devices.Neurons;
using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Plasticity;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Training.Local;

public class TripletStdpTests
{
    // Amplitudes large enough that every term shows; time constants all different so a mix-up cannot cancel.
    private const double Dt = 1e-3, TauPlus = 16.8e-3, TauMinus = 33.7e-3, TauX = 101e-3, TauY = 125e-3;
    private const double A2P = 0.005, A3P = 0.008, A2M = 0.007, A3M = 0.003;

    internal static double[] Flat(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    private static (Network Net, Dense Syn, TripletStdpBlock Block) Build(int ns, int nt, Value w0, int batch = 1,
        StdpBounds bounds = StdpBounds.None, double wMin = double.NegativeInfinity, double wMax = double.PositiveInfinity,
        TraceInteraction interaction = TraceInteraction.AllToAll, double a3Plus = A3P, double a3Minus = A3M)
    {
        var net = new Network { Dt = Dt, BatchSize = batch, DType = ScalarType.Float64 };
        net.Add("Pre", new TensorInput(ns));
        net.Add("Post", new TensorInput(nt));
        var syn = new Dense(w0);
        var block = new TripletStdpBlock(syn, nt, A2P, a3Plus, A2M, a3Minus, TauPlus, TauMinus, TauX, TauY, bounds, wMin, wMax, interaction);
        net.Add("S", block.Tap);
        net.Add("Sink", new LeakyIntegrator(nt)); // the synapse needs a target; Post is data
        net.Connect("S", "Pre", "Sink");
        net.Add("STDP", block);
        net.Connect("Post", "STDP");
        return (net, syn, block);
    }

    internal static Tensor Train(int steps, params int[] spikeSteps)
    {
        var x = torch.zeros(new long[] { 1, steps, 1 }, dtype: ScalarType.Float64);
        foreach (var s in spikeSteps) x[0, s, 0] = 1.0;
        return x;
    }

    private static double RunSingle(int[] pre, int[] post, StdpBounds bounds = StdpBounds.None, double w0 = 0.5,
        TraceInteraction interaction = TraceInteraction.AllToAll, double wMin = double.NegativeInfinity, double wMax = double.PositiveInfinity)
    {
        const int steps = 80;
        var (net, syn, _) = Build(1, 1, w0, bounds: bounds, wMin: wMin, wMax: wMax, interaction: interaction);
        net.Run(new Dictionary<string, Tensor> { ["Pre"] = Train(steps, pre), ["Post"] = Train(steps, post) },
            Ship.Core.Clocks.Schedule.Fixed(Dt, steps));
        return Flat(syn.W.Value)[0];
    }

    private static double E(int steps, double tau) => Math.Exp(-steps * Dt / tau);

    [TestCase(10, 15)]
    [TestCase(4, 30)]
    public void LonePairPotentiatesByA2PlusOnly(int m, int n)
    {
        // No earlier post spike: õ2 = 0, so the triplet term is silent.
        Assert.That(RunSingle(new[] { m }, new[] { n }) - 0.5, Is.EqualTo(A2P * E(n - m, TauPlus)).Within(1e-13));
    }

    [TestCase(15, 10)]
    [TestCase(30, 4)]
    public void LonePairDepressesByA2MinusOnly(int m, int n)
    {
        Assert.That(RunSingle(new[] { m }, new[] { n }) - 0.5, Is.EqualTo(-A2M * E(m - n, TauMinus)).Within(1e-13));
    }

    [Test]
    public void PostPrePostTripletAddsA3PlusTimesTheSlowPostTrace()
    {
        int n1 = 10, m = 20, n2 = 27;
        double expected = -A2M * E(m - n1, TauMinus)                                  // the pre spike meets o1 of post n1
                          + E(n2 - m, TauPlus) * (A2P + A3P * E(n2 - n1, TauY));      // post n2 meets r1 and o2(t − ε)
        Assert.That(RunSingle(new[] { m }, new[] { n1, n2 }) - 0.5, Is.EqualTo(expected).Within(1e-13));
    }

    [Test]
    public void PrePostPreTripletAddsA3MinusTimesTheSlowPreTrace()
    {
        int m1 = 10, n = 18, m2 = 25;
        double expected = A2P * E(n - m1, TauPlus)
                          - E(m2 - n, TauMinus) * (A2M + A3M * E(m2 - m1, TauX));
        Assert.That(RunSingle(new[] { m1, m2 }, new[] { n }) - 0.5, Is.EqualTo(expected).Within(1e-13));
    }

    [Test]
    public void NearestInteractionCountsOnlyTheLastEarlierSpike()
    {
        int m1 = 5, m2 = 12, n = 20;
        double allToAll = A2P * (E(n - m1, TauPlus) + E(n - m2, TauPlus));
        double nearest = A2P * E(n - m2, TauPlus);
        Assert.That(RunSingle(new[] { m1, m2 }, new[] { n }) - 0.5, Is.EqualTo(allToAll).Within(1e-13));
        Assert.That(RunSingle(new[] { m1, m2 }, new[] { n }, interaction: TraceInteraction.Nearest) - 0.5, Is.EqualTo(nearest).Within(1e-13));
    }

    [Test]
    public void SimultaneousSpikesDoNotPair()
    {
        Assert.That(RunSingle(new[] { 9 }, new[] { 9 }), Is.EqualTo(0.5));
    }

    [Test]
    public void WeightDependentBoundsScaleEachSideByItsDistanceToTheBound()
    {
        // Post-pre-post with soft bounds: both updates happen in different steps, each scaled by the weight at its time.
        int n1 = 10, m = 20, n2 = 27;
        double w = 0.3, lo = -0.2, hi = 0.9;
        w -= A2M * E(m - n1, TauMinus) * (w - lo);
        w += E(n2 - m, TauPlus) * (A2P + A3P * E(n2 - n1, TauY)) * (hi - w);
        Assert.That(RunSingle(new[] { m }, new[] { n1, n2 }, StdpBounds.Soft, 0.3, wMin: lo, wMax: hi), Is.EqualTo(w).Within(1e-13));
    }

    [Test]
    public void WithoutTripletTermsItEqualsThePairBlock()
    {
        const int ns = 3, nt = 2, b = 2, steps = 150;
        var w0 = torch.rand(new long[] { ns, nt }, dtype: ScalarType.Float64, generator: new torch.Generator(5));
        var g = new torch.Generator(8);
        var pre = torch.rand(new long[] { b, steps, ns }, dtype: ScalarType.Float64, generator: g).lt(0.15).to_type(ScalarType.Float64);
        var post = torch.rand(new long[] { b, steps, nt }, dtype: ScalarType.Float64, generator: g).lt(0.15).to_type(ScalarType.Float64);
        var inputs = new Dictionary<string, Tensor> { ["Pre"] = pre, ["Post"] = post };

        var (net, syn, _) = Build(ns, nt, w0, b, a3Plus: 0, a3Minus: 0);
        net.Run(inputs, Ship.Core.Clocks.Schedule.Fixed(Dt, steps));

        var pairNet = new Network { Dt = Dt, BatchSize = b, DType = ScalarType.Float64 };
        pairNet.Add("Pre", new TensorInput(ns));
        pairNet.Add("Post", new TensorInput(nt));
        var pairSyn = new Dense(w0);
        var pair = new StdpBlock(pairSyn, nt, A2P, A2M, TauPlus, TauMinus);
        pairNet.Add("S", pair.Tap);
        pairNet.Add("Sink", new LeakyIntegrator(nt)); // the synapse needs a target; Post is data
        pairNet.Connect("S", "Pre", "Sink");
        pairNet.Add("STDP", pair);
        pairNet.Connect("Post", "STDP");
        pairNet.Run(inputs, Ship.Core.Clocks.Schedule.Fixed(Dt, steps));

        Assert.That(Flat(syn.W.Value), Is.EqualTo(Flat(pairSyn.W.Value)).Within(1e-14));
        Assert.That(Flat(syn.W.Value).Zip(Flat(w0), (x, y) => Math.Abs(x - y)).Max(), Is.GreaterThan(1e-3), "the weights did learn");
    }

    [TestCase(TraceInteraction.AllToAll, StdpBounds.None)]
    [TestCase(TraceInteraction.Nearest, StdpBounds.None)]
    [TestCase(TraceInteraction.AllToAll, StdpBounds.Soft)]
    [TestCase(TraceInteraction.AllToAll, StdpBounds.Clip)]
    public void MatchesTheFourTraceRecurrenceOverRandomTrains(TraceInteraction interaction, StdpBounds bounds)
    {
        const int ns = 3, nt = 2, b = 2, steps = 200;
        double lo = bounds == StdpBounds.None ? double.NegativeInfinity : 0.0, hi = bounds == StdpBounds.None ? double.PositiveInfinity : 1.0;
        var w0 = torch.rand(new long[] { ns, nt }, dtype: ScalarType.Float64, generator: new torch.Generator(1));
        var (net, syn, block) = Build(ns, nt, w0, b, bounds, lo, hi, interaction);
        var mO2 = net.Monitor("STDP", "o2");
        var g = new torch.Generator(21);
        var pre = torch.rand(new long[] { b, steps, ns }, dtype: ScalarType.Float64, generator: g).lt(0.12).to_type(ScalarType.Float64);
        var post = torch.rand(new long[] { b, steps, nt }, dtype: ScalarType.Float64, generator: g).lt(0.12).to_type(ScalarType.Float64);
        net.Run(new Dictionary<string, Tensor> { ["Pre"] = pre, ["Post"] = post }, Ship.Core.Clocks.Schedule.Fixed(Dt, steps));

        var P = Flat(pre); var Q = Flat(post); var w = Flat(w0);
        double d1 = Math.Exp(-Dt / TauPlus), d2 = Math.Exp(-Dt / TauX), e1 = Math.Exp(-Dt / TauMinus), e2 = Math.Exp(-Dt / TauY);
        var r1 = new double[b, ns]; var r2 = new double[b, ns]; var o1 = new double[b, nt]; var o2 = new double[b, nt];
        var o2Recorded = Flat(mO2.Values);
        double Bump(double x, double s) => s == 0 ? x : interaction == TraceInteraction.AllToAll ? x + s : 1.0;
        for (int t = 0; t < steps; t++)
        {
            for (int r = 0; r < b; r++)
            {
                for (int i = 0; i < ns; i++) { r1[r, i] *= d1; r2[r, i] *= d2; }
                for (int j = 0; j < nt; j++) { o1[r, j] *= e1; o2[r, j] *= e2; }
            }
            var wOld = (double[])w.Clone();
            for (int i = 0; i < ns; i++)
                for (int j = 0; j < nt; j++)
                {
                    double up = 0, down = 0;
                    for (int r = 0; r < b; r++)
                    {
                        double s = Q[(r * steps + t) * nt + j], p = P[(r * steps + t) * ns + i];
                        up += s * r1[r, i] * (A2P + A3P * o2[r, j]);
                        down += p * o1[r, j] * (A2M + A3M * r2[r, i]);
                    }
                    up /= b; down /= b;
                    int k = i * nt + j;
                    w[k] = bounds == StdpBounds.Soft ? wOld[k] + up * (hi - wOld[k]) - down * (wOld[k] - lo) : wOld[k] + up - down;
                    if (bounds != StdpBounds.None) w[k] = Math.Clamp(w[k], lo, hi);
                }
            for (int r = 0; r < b; r++)
            {
                for (int i = 0; i < ns; i++) { double p = P[(r * steps + t) * ns + i]; r1[r, i] = Bump(r1[r, i], p); r2[r, i] = Bump(r2[r, i], p); }
                for (int j = 0; j < nt; j++)
                {
                    double s = Q[(r * steps + t) * nt + j]; o1[r, j] = Bump(o1[r, j], s); o2[r, j] = Bump(o2[r, j], s);
                    Assert.That(o2Recorded[(r * steps + t) * nt + j], Is.EqualTo(o2[r, j]).Within(1e-12), $"o2 b{r} j{j} t{t}");
                }
            }
        }
        Assert.That(Flat(syn.W.Value), Is.EqualTo(w).Within(1e-12));
        Assert.That(Flat(syn.W.Value).Zip(Flat(w0), (x, y) => Math.Abs(x - y)).Max(), Is.GreaterThan(1e-3), "the weights did learn");
        var r2Final = Flat(block.R2.Value);
        for (int r = 0; r < b; r++) for (int i = 0; i < ns; i++) Assert.That(r2Final[r * ns + i], Is.EqualTo(r2[r, i]).Within(1e-12));
    }

    [Test]
    public void FrequencyDependenceThatPairStdpLacks()
    {
        // Pre→post pairs at +5 ms, repeated at 5 Hz and at 40 Hz. With only pair terms the extra post→pre depression at
        // 40 Hz lowers the change per pair; the triplet term (o2 remembers earlier post spikes) raises it instead.
        double PerPair(int period, double a3Plus)
        {
            int steps = period * 10 + 20;
            var pre = new List<int>(); var post = new List<int>();
            for (int t = 5; t + 5 < steps; t += period) { pre.Add(t); post.Add(t + 5); }
            var (net, syn, _) = Build(1, 1, 0.5, a3Plus: a3Plus, a3Minus: 0);
            net.Run(new Dictionary<string, Tensor> { ["Pre"] = Train(steps, pre.ToArray()), ["Post"] = Train(steps, post.ToArray()) },
                Ship.Core.Clocks.Schedule.Fixed(Dt, steps));
            return (Flat(syn.W.Value)[0] - 0.5) / pre.Count;
        }
        Assert.That(PerPair(25, 0), Is.LessThan(PerPair(200, 0)), "pair terms only: more depression at 40 Hz");
        Assert.That(PerPair(25, A3P), Is.GreaterThan(PerPair(200, A3P)), "with the triplet term: more potentiation at 40 Hz");
    }

    [Test]
    public void BadBoundsAndTimeConstantsRaiseTypedErrors()
    {
        Assert.Throws<Ship.Core.Errors.ParameterException>(() => new TripletStdpBlock(new Dense(), 1, bounds: StdpBounds.Soft));
        var (net, _, _) = Build(2, 2, 0.1);
        net.Set("STDP", "tau_y", 0.0);
        var ex = Assert.Throws<Ship.Core.Errors.ParameterException>(() => net.Initialize());
        Assert.That(ex!.Parameter, Is.EqualTo("tau_y"));
    }
}
