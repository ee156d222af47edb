using Ship.Devices.Neurons;
using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Plasticity;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;
using static Ship.Tests.Training.Local.TripletStdpTests;

namespace Ship.Tests.Training.Local;

public class RewardStdpTests
{
    private const double Dt = 1e-3, TauPlus = 17e-3, TauMinus = 34e-3, APlus = 0.01, AMinus = 0.012, Eta = 0.7;

    private static (Network Net, Dense Syn, RewardStdpBlock Block) Build(int ns, int nt, Value w0, int batch, double? tauE = null,
        StdpBounds bounds = StdpBounds.None, double wMin = double.NegativeInfinity, double wMax = double.PositiveInfinity)
    {
        var net = new Network { Dt = Dt, BatchSize = batch, DType = ScalarType.Float64 };
        net.Add("Pre", new TensorInput(ns));
        net.Add("Post", new TensorInput(nt));
        var syn = new Dense(w0);
        var block = new RewardStdpBlock(syn, nt, APlus, AMinus, TauPlus, TauMinus, tauE, Eta, bounds, wMin, wMax);
        net.Add("S", block.Tap);
        net.Add("Sink", new LeakyIntegrator(nt)); // the synapse needs a target; Post is data
        net.Connect("S", "Pre", "Sink");
        net.Add("RSTDP", block);
        net.Connect("Post", "RSTDP");
        return (net, syn, block);
    }

    /// <summary>One pre and one post spike per batch row, at the given steps.</summary>
    private static void RunPairs(Network net, (int Pre, int Post)[] rows, int steps = 60)
    {
        var pre = torch.zeros(new long[] { rows.Length, steps, 1 }, dtype: ScalarType.Float64);
        var post = torch.zeros(new long[] { rows.Length, steps, 1 }, dtype: ScalarType.Float64);
        for (int r = 0; r < rows.Length; r++) { pre[r, rows[r].Pre, 0] = 1.0; post[r, rows[r].Post, 0] = 1.0; }
        net.Run(new Dictionary<string, Tensor> { ["Pre"] = pre, ["Post"] = post }, Ship.Core.Clocks.Schedule.Fixed(Dt, steps));
    }

    /// <summary>The pair-STDP term of one pre/post pair (the eligibility it leaves when nothing decays).</summary>
    private static double Zeta(int pre, int post) =>
        post > pre ? APlus * Math.Exp(-(post - pre) * Dt / TauPlus)
        : post < pre ? -AMinus * Math.Exp(-(pre - post) * Dt / TauMinus) : 0.0;

    [TestCase(5, 12, 1.0)]
    [TestCase(5, 12, -1.0)]
    [TestCase(5, 12, 0.0)]
    [TestCase(20, 9, 1.0)]
    [TestCase(20, 9, -1.0)]
    public void DelayedRewardScalesTheStdpTerm(int pre, int post, double reward)
    {
        var (net, syn, block) = Build(1, 1, 0.5, 1);
        RunPairs(net, new[] { (pre, post) });
        Assert.That(Flat(syn.W.Value)[0], Is.EqualTo(0.5), "no reward yet: the weight waits");
        Assert.That(Flat(block.Eligibility.Value)[0], Is.EqualTo(Zeta(pre, post)).Within(1e-14));
        block.ApplyReward(torch.tensor(new[] { reward }));
        Assert.That(Flat(syn.W.Value)[0] - 0.5, Is.EqualTo(Eta * reward * Zeta(pre, post)).Within(1e-14));
        Assert.That(Flat(block.Eligibility.Value)[0], Is.EqualTo(0.0), "a reward consumes the eligibility");
    }

    [Test]
    public void EachSampleGetsItsOwnRewardAndTheBatchAverages()
    {
        var rows = new[] { (5, 10), (12, 8), (3, 9), (30, 31) };
        var rewards = new[] { 1.0, -1.0, 0.0, -1.0 };
        var (net, syn, block) = Build(1, 1, 0.5, rows.Length);
        RunPairs(net, rows);
        block.ApplyReward(torch.tensor(rewards));
        double expected = Eta / rows.Length * rows.Select((p, b) => rewards[b] * Zeta(p.Item1, p.Item2)).Sum();
        Assert.That(Flat(syn.W.Value)[0] - 0.5, Is.EqualTo(expected).Within(1e-14));
    }

    [Test]
    public void EligibilityDecaysUntilAnOnlineRewardArrives()
    {
        // Pre at 5, post at 11, reward +1 only at step 30 (per-step reward [B, T]); τ_e = 25 ms.
        const int steps = 40, rewardStep = 30;
        const double tauE = 25e-3;
        var (net, syn, _) = Build(1, 1, 0.5, 1, tauE);
        var r = torch.zeros(new long[] { 1, steps }, dtype: ScalarType.Float64);
        r[0, rewardStep] = 1.0;
        ((RewardStdpBlock)net["RSTDP"]).SetReward(r);
        RunPairs(net, new[] { (5, 11) }, steps);
        double expected = Eta * Zeta(5, 11) * Math.Exp(-(rewardStep - 11) * Dt / tauE);
        Assert.That(Flat(syn.W.Value)[0] - 0.5, Is.EqualTo(expected).Within(1e-14));
    }

    [Test]
    public void MatchesTheEligibilityRecurrenceWithPerStepRewards()
    {
        const int ns = 3, nt = 2, b = 3, steps = 120;
        const double tauE = 40e-3;
        var w0 = torch.rand(new long[] { ns, nt }, dtype: ScalarType.Float64, generator: new torch.Generator(2));
        var (net, syn, block) = Build(ns, nt, w0, b, tauE);
        var g = new torch.Generator(13);
        var pre = torch.rand(new long[] { b, steps, ns }, dtype: ScalarType.Float64, generator: g).lt(0.1).to_type(ScalarType.Float64);
        var post = torch.rand(new long[] { b, steps, nt }, dtype: ScalarType.Float64, generator: g).lt(0.1).to_type(ScalarType.Float64);
        // Rewards in {−1, 0, +1} per sample and step.
        var reward = torch.randint(-1, 2, new long[] { b, steps }, generator: g).to_type(ScalarType.Float64);
        block.SetReward(reward);
        net.Run(new Dictionary<string, Tensor> { ["Pre"] = pre, ["Post"] = post }, Ship.Core.Clocks.Schedule.Fixed(Dt, steps));

        var P = Flat(pre); var Q = Flat(post); var R = Flat(reward); var w = Flat(w0);
        double al = Math.Exp(-Dt / TauPlus), be = Math.Exp(-Dt / TauMinus), ga = Math.Exp(-Dt / tauE);
        var xp = new double[b, ns]; var xq = new double[b, nt]; var e = new double[b, ns, nt];
        for (int t = 0; t < steps; t++)
        {
            for (int r = 0; r < b; r++) { for (int i = 0; i < ns; i++) xp[r, i] *= al; for (int j = 0; j < nt; j++) xq[r, j] *= be; }
            for (int i = 0; i < ns; i++)
                for (int j = 0; j < nt; j++)
                {
                    double dw = 0;
                    for (int r = 0; r < b; r++)
                    {
                        double zeta = APlus * xp[r, i] * Q[(r * steps + t) * nt + j] - AMinus * P[(r * steps + t) * ns + i] * xq[r, j];
                        e[r, i, j] = ga * e[r, i, j] + zeta;
                        dw += R[r * steps + t] * e[r, i, j];
                    }
                    w[i * nt + j] += Eta * dw / b;
                }
            for (int r = 0; r < b; r++)
            {
                for (int i = 0; i < ns; i++) xp[r, i] += P[(r * steps + t) * ns + i];
                for (int j = 0; j < nt; j++) xq[r, j] += Q[(r * steps + t) * nt + j];
            }
        }
        Assert.That(Flat(syn.W.Value), Is.EqualTo(w).Within(1e-12));
        Assert.That(Flat(syn.W.Value).Zip(Flat(w0), (x, y) => Math.Abs(x - y)).Max(), Is.GreaterThan(1e-3), "the weights did learn");
        var eFinal = Flat(block.Eligibility.Value);
        for (int r = 0; r < b; r++) for (int i = 0; i < ns; i++) for (int j = 0; j < nt; j++)
            Assert.That(eFinal[(r * ns + i) * nt + j], Is.EqualTo(e[r, i, j]).Within(1e-12));
    }

    [Test]
    public void ZeroEligibilityTimeConstantIsRewardTimesTheStepsStdpTerm()
    {
        // MSTDP: with τ_e = 0 only the STDP term of the rewarded step counts. Pair (5, 11) rewarded at step 11 and 12.
        const int steps = 20;
        var (net, syn, block) = Build(1, 1, 0.5, 1, tauE: 0.0);
        var r = torch.zeros(new long[] { 1, steps }, dtype: ScalarType.Float64);
        r[0, 11] = 1.0; r[0, 12] = 1.0;
        block.SetReward(r);
        RunPairs(net, new[] { (5, 11) }, steps);
        Assert.That(Flat(syn.W.Value)[0] - 0.5, Is.EqualTo(Eta * Zeta(5, 11)).Within(1e-14));
    }

    [Test]
    public void SoftBoundsActOnTheSignOfTheRewardedChange()
    {
        const double lo = -1.0, hi = 1.0, w0 = 0.25;
        var (net, syn, block) = Build(1, 1, w0, 1, bounds: StdpBounds.Soft, wMin: lo, wMax: hi);
        RunPairs(net, new[] { (5, 12) });
        block.ApplyReward(torch.tensor(new[] { -1.0 })); // punished LTP: a depression, scaled by (w − w_min)
        double expected = w0 - Eta * Zeta(5, 12) * (w0 - lo);
        Assert.That(Flat(syn.W.Value)[0], Is.EqualTo(expected).Within(1e-14));

        var (net2, syn2, block2) = Build(1, 1, w0, 1, bounds: StdpBounds.Soft, wMin: lo, wMax: hi);
        RunPairs(net2, new[] { (12, 5) });
        block2.ApplyReward(torch.tensor(new[] { -1.0 })); // punished LTD: a potentiation, scaled by (w_max − w)
        double expected2 = w0 - Eta * Zeta(12, 5) * (hi - w0);
        Assert.That(Flat(syn2.W.Value)[0], Is.EqualTo(expected2).Within(1e-14));
    }

    [Test]
    public void RewardShapesAreChecked()
    {
        var (net, _, block) = Build(1, 1, 0.5, 2);
        Assert.Throws<NetworkConfigurationException>(() => block.ApplyReward(torch.ones(2)), "no run yet");
        RunPairs(net, new[] { (1, 2), (2, 1) });
        Assert.Throws<InputException>(() => block.ApplyReward(torch.ones(3)));
        block.SetReward(torch.ones(2, 5));
        var ex = Assert.Throws<InputException>(() => RunPairs(net, new[] { (1, 2), (2, 1) }, 10));
        Assert.That(ex!.Message, Does.Contain("5 steps"));
        Assert.Throws<ParameterException>(() => new RewardStdpBlock(new Dense(), 1, tauEligibility: -1));
    }
}
