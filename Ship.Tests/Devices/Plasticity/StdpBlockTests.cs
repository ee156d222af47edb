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

namespace Ship.Tests.Devices.Plasticity;

public class StdpBlockTests
{
    private const double Dt = 1e-3, TauPlus = 17e-3, TauMinus = 34e-3, APlus = 0.01, AMinus = 0.012;

    private static double[] Flat(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    /// <summary>Pre and Post are fed directly (Post ignores the synapse's output), so spike times are exactly as given.</summary>
    private static (Network Net, Dense Syn, StdpBlock Block) Build(int ns, int nt, Value w0, int batch = 1, StdpBounds bounds = StdpBounds.None,
        double wMin = double.NegativeInfinity, double wMax = double.PositiveInfinity, double aPlus = APlus, double aMinus = AMinus)
    {
        var net = new Network { Dt = Dt, BatchSize = batch, DType = ScalarType.Float64 };
        net.Add("Pre", new TensorInput(ns));
        net.Add("Post", new TensorInput(nt));
        var syn = new Dense(w0);
        var block = new StdpBlock(syn, nt, aPlus, aMinus, TauPlus, TauMinus, bounds, wMin, wMax);
        net.Add("S", block.Tap);
        net.Add("Sink", new LeakyIntegrator(nt)); // the synapse needs a target; Post is data
        net.Connect("S", "Pre", "Sink");
        net.Add("STDP", block);
        net.Connect("Post", "STDP");
        return (net, syn, block);
    }

    private static Tensor Train(int steps, int n, params int[] spikeSteps)
    {
        var x = torch.zeros(new long[] { 1, steps, n }, dtype: ScalarType.Float64);
        foreach (var s in spikeSteps) x[0, s, 0] = 1.0;
        return x;
    }

    private static void RunPair(Network net, int preStep, int postStep, int steps = 60) =>
        net.Run(new Dictionary<string, Tensor> { ["Pre"] = Train(steps, 1, preStep), ["Post"] = Train(steps, 1, postStep) },
            Ship.Core.Clocks.Schedule.Fixed(Dt, steps));

    [TestCase(10, 15)]
    [TestCase(5, 6)]
    [TestCase(3, 40)]
    public void PreBeforePostPotentiatesByAPlusExpMinusDtOverTauPlus(int preStep, int postStep)
    {
        var (net, syn, _) = Build(1, 1, 0.5);
        RunPair(net, preStep, postStep);
        double expected = APlus * Math.Exp(-(postStep - preStep) * Dt / TauPlus);
        Assert.That(Flat(syn.W.Value)[0] - 0.5, Is.EqualTo(expected).Within(1e-12));
    }

    [TestCase(10, 15)]
    [TestCase(5, 6)]
    [TestCase(3, 40)]
    public void PostBeforePreDepressesByAMinusExpMinusDtOverTauMinus(int postStep, int preStep)
    {
        var (net, syn, _) = Build(1, 1, 0.5);
        RunPair(net, preStep, postStep);
        double expected = -AMinus * Math.Exp(-(preStep - postStep) * Dt / TauMinus);
        Assert.That(Flat(syn.W.Value)[0] - 0.5, Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void SimultaneousSpikesLeaveTheWeight()
    {
        var (net, syn, _) = Build(1, 1, 0.5);
        RunPair(net, 7, 7);
        Assert.That(Flat(syn.W.Value)[0], Is.EqualTo(0.5));
    }

    [Test]
    public void MatchesAllToAllTraceRecurrenceOverRandomTrains()
    {
        const int ns = 3, nt = 2, b = 2, steps = 200;
        var w0 = torch.rand(new long[] { ns, nt }, dtype: ScalarType.Float64, generator: new torch.Generator(1));
        var (net, syn, block) = Build(ns, nt, w0, b);
        var mPost = net.Monitor("STDP", "x_post");
        var g = new torch.Generator(21);
        var pre = torch.rand(new long[] { b, steps, ns }, dtype: ScalarType.Float64, generator: g).lt(0.1).to_type(ScalarType.Float64);
        var post = torch.rand(new long[] { b, steps, nt }, dtype: ScalarType.Float64, generator: g).lt(0.1).to_type(ScalarType.Float64);
        net.Run(new Dictionary<string, Tensor> { ["Pre"] = pre, ["Post"] = post }, Ship.Core.Clocks.Schedule.Fixed(Dt, steps));

        // Reference in doubles: decayed traces, the batch-averaged pair update, then the traces take this step's spikes.
        var P = Flat(pre); var Q = Flat(post); var w = Flat(w0);
        double al = Math.Exp(-Dt / TauPlus), be = Math.Exp(-Dt / TauMinus);
        var xp = new double[b, ns]; var xq = new double[b, nt];
        var xPostRecorded = Flat(mPost.Values);
        for (int t = 0; t < steps; t++)
        {
            for (int r = 0; r < b; r++) { for (int i = 0; i < ns; i++) xp[r, i] *= al; for (int j = 0; j < nt; j++) xq[r, j] *= be; }
            for (int i = 0; i < ns; i++)
                for (int j = 0; j < nt; j++)
                {
                    double dw = 0;
                    for (int r = 0; r < b; r++)
                        dw += APlus * xp[r, i] * Q[(r * steps + t) * nt + j] - AMinus * xq[r, j] * P[(r * steps + t) * ns + i];
                    w[i * nt + j] += dw / b;
                }
            for (int r = 0; r < b; r++)
            {
                for (int i = 0; i < ns; i++) xp[r, i] += P[(r * steps + t) * ns + i];
                for (int j = 0; j < nt; j++)
                {
                    xq[r, j] += Q[(r * steps + t) * nt + j];
                    Assert.That(xPostRecorded[(r * steps + t) * nt + j], Is.EqualTo(xq[r, j]).Within(1e-12), $"x_post b{r} j{j} t{t}");
                }
            }
        }
        Assert.That(Flat(syn.W.Value), Is.EqualTo(w).Within(1e-12));
        Assert.That(Flat(syn.W.Value).Zip(Flat(w0), (a, c) => Math.Abs(a - c)).Max(), Is.GreaterThan(1e-3), "the weights did learn");
        var xPreFinal = Flat(block.XPre.Value);
        for (int r = 0; r < b; r++) for (int i = 0; i < ns; i++) Assert.That(xPreFinal[r * ns + i], Is.EqualTo(xp[r, i]).Within(1e-12));
    }

    [Test]
    public void ClipBoundsHoldUnderRepeatedPairing()
    {
        const int steps = 300;
        var (net, syn, _) = Build(1, 2, torch.tensor(new[] { 0.5, 0.5 }).reshape(1, 2), bounds: StdpBounds.Clip, wMin: 0.0, wMax: 1.0, aPlus: 0.2, aMinus: 0.2);
        // Neuron 0's post spikes follow pre by 2 steps (potentiation), neuron 1's precede it by 2 (depression).
        var pre = torch.zeros(new long[] { 1, steps, 1 }, dtype: ScalarType.Float64);
        var post = torch.zeros(new long[] { 1, steps, 2 }, dtype: ScalarType.Float64);
        for (int t = 10; t + 2 < steps; t += 40) { pre[0, t, 0] = 1.0; post[0, t + 2, 0] = 1.0; post[0, t - 2, 1] = 1.0; }
        net.Run(new Dictionary<string, Tensor> { ["Pre"] = pre, ["Post"] = post }, Ship.Core.Clocks.Schedule.Fixed(Dt, steps));
        var w = Flat(syn.W.Value);
        Assert.That(w[0], Is.EqualTo(1.0), "potentiated up to w_max and clipped");
        Assert.That(w[1], Is.EqualTo(0.0), "depressed down to w_min and clipped");
    }

    [Test]
    public void SoftBoundsScaleTheUpdateAndStayInside()
    {
        // One pre-before-post pair with soft bounds: Δw = A+·e^(−Δt/τ+)·(w_max − w0).
        var (net, syn, _) = Build(1, 1, 0.25, bounds: StdpBounds.Soft, wMin: -1.0, wMax: 1.0);
        RunPair(net, 4, 9);
        double expected = 0.25 + APlus * Math.Exp(-5 * Dt / TauPlus) * (1.0 - 0.25);
        Assert.That(Flat(syn.W.Value)[0], Is.EqualTo(expected).Within(1e-12));

        // A post-before-pre pair: Δw = −A−·e^(−Δt/τ−)·(w0 − w_min).
        var (net2, syn2, _) = Build(1, 1, 0.25, bounds: StdpBounds.Soft, wMin: -1.0, wMax: 1.0);
        RunPair(net2, 9, 4);
        double expected2 = 0.25 - AMinus * Math.Exp(-5 * Dt / TauMinus) * (0.25 + 1.0);
        Assert.That(Flat(syn2.W.Value)[0], Is.EqualTo(expected2).Within(1e-12));

        // Large amplitudes and many pairs: the weights approach the bounds but never cross them.
        const int steps = 400;
        var (net3, syn3, _) = Build(2, 2, 0.0, bounds: StdpBounds.Soft, wMin: -0.5, wMax: 0.5, aPlus: 3.0, aMinus: 3.0);
        var g = new torch.Generator(3);
        var pre = torch.rand(new long[] { 1, steps, 2 }, dtype: ScalarType.Float64, generator: g).lt(0.2).to_type(ScalarType.Float64);
        var post = torch.rand(new long[] { 1, steps, 2 }, dtype: ScalarType.Float64, generator: g).lt(0.2).to_type(ScalarType.Float64);
        net3.Run(new Dictionary<string, Tensor> { ["Pre"] = pre, ["Post"] = post }, Ship.Core.Clocks.Schedule.Fixed(Dt, steps));
        Assert.That(Flat(syn3.W.Value), Is.All.InRange(-0.5, 0.5));
    }

    [Test]
    public void LearnedWeightsPersistAcrossRunsAndDriveTheSynapse()
    {
        var (net, syn, _) = Build(1, 1, 0.5);
        RunPair(net, 10, 15);
        double after1 = Flat(syn.W.Value)[0];
        RunPair(net, 10, 15);
        double after2 = Flat(syn.W.Value)[0];
        double dw = APlus * Math.Exp(-5 * Dt / TauPlus);
        Assert.That(after1, Is.EqualTo(0.5 + dw).Within(1e-12));
        Assert.That(after2, Is.EqualTo(0.5 + 2 * dw).Within(1e-12), "a new run resets the traces, not the weights");
    }

    [Test]
    public void BareSynapseInTheNetworkIsReported()
    {
        var net = new Network { Dt = Dt, Steps = 5 };
        net.Add("Pre", new TensorInput(1));
        net.Add("Post", new TensorInput(1));
        var syn = new Dense(0.5);
        var block = new StdpBlock(syn, 1);
        net.Add("Sink", new LeakyIntegrator(1));
        net.Add("S", syn, "Pre", "Sink"); // the tap was not used
        net.Add("STDP", block);
        net.Connect("Post", "STDP");
        var ex = Assert.Throws<NetworkConfigurationException>(() =>
            net.Run(new Dictionary<string, Tensor> { ["Pre"] = torch.zeros(1, 5, 1), ["Post"] = torch.zeros(1, 5, 1) }));
        Assert.That(ex!.Message, Does.Contain("Tap"));
    }

    [Test]
    public void BadSettingsRaiseTypedErrors()
    {
        Assert.Throws<ParameterException>(() => new StdpBlock(new Dense(), 1, wMin: 1, wMax: 0));
        Assert.Throws<ParameterException>(() => new StdpBlock(new Dense(), 1, bounds: StdpBounds.Soft));
        var (net, _, _) = Build(2, 3, 0.1);
        net.Set("STDP", "tau_plus", -1.0);
        var ex = Assert.Throws<ParameterException>(() => net.Initialize());
        Assert.That(ex!.Parameter, Is.EqualTo("tau_plus"));
    }

    [Test]
    public void PostCountMustMatchTheSynapseTargets()
    {
        var net = new Network { Dt = Dt, Steps = 5 };
        net.Add("Pre", new TensorInput(1));
        net.Add("Post", new TensorInput(2));
        var syn = new Dense(0.5);
        var block = new StdpBlock(syn, 3);
        net.Add("S", block.Tap);
        net.Add("Sink", new LeakyIntegrator(2)); // the synapse needs a target; Post is data
        net.Connect("S", "Pre", "Sink");
        net.Add("STDP", block);
        net.Add("Other", new TensorInput(3));
        net.Connect("Other", "STDP");
        Assert.Throws<NetworkConfigurationException>(() => net.Run(new Dictionary<string, Tensor>
        {
            ["Pre"] = torch.zeros(1, 5, 1), ["Post"] = torch.zeros(1, 5, 2), ["Other"] = torch.zeros(1, 5, 3),
        }));
    }
}
