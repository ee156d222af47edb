using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Plasticity;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// One test per defect of issue #11 ("Why"): each failed on the engine before the execution plan and passes with it.
/// </summary>
public class EngineDefectTests
{
    private static double[] D(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    private static Tensor Currents(int batch, int steps, int n, long seed) =>
        torch.rand(new long[] { batch, steps, n }, ScalarType.Float64, generator: new torch.Generator((ulong)seed)).mul(1.4);

    // 5 → 6 LIF → 3 leaky integrators, float64, with the weights as leaf tensors.
    private static (Network Net, Tensor W1, Tensor W2) GradientNet(bool batching, int blockSteps)
    {
        var net = new Network { Dt = 1e-3, BatchSize = 2, Seed = 4, DType = ScalarType.Float64, TimeBatching = batching, SequenceBlockSteps = blockSteps };
        net.Add("I", new TensorInput(5));
        net.Add("IH", new Dense(Init.Uniform(0, 0.8)), "I", "H");
        net.Add("H", new Lif(6, tau: 6e-3, threshold: 0.7));
        net.Add("HO", new Dense(Init.Normal(0.3, 0.5)), "H", "O");
        net.Add("O", new LeakyIntegrator(3, tau: 4e-3));
        net.MarkOutput("H", "O");
        net.Initialize();
        var w1 = net["IH"].Variable("w");
        w1.Tensor = new TorchSharp.Modules.Parameter(w1.Value.detach().clone(), requires_grad: true);
        var w2 = net["HO"].Variable("w");
        w2.Tensor = new TorchSharp.Modules.Parameter(w2.Value.detach().clone(), requires_grad: true);
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
        net.TrackGradients = true;
        return (net, w1.Value, w2.Value);
    }

    [Test]
    public void GradientsFlowAcrossSequenceBlocksAndDtSegments()
    {
        var schedule = new Schedule((1e-3, 15), (0.5e-3, 12), (2e-3, 10)); // 3 segments; blocks of 4 steps: 11 blocks
        var x = Currents(2, schedule.TotalSteps, 5, seed: 9);
        double[] Grad(bool batching)
        {
            var (net, w1, w2) = GradientNet(batching, blockSteps: 4);
            var r = net.Run(x, schedule);
            if (batching) Assert.That(net.SequenceGroups, Does.Contain("H"), "the LIF group really ran in blocks");
            var weights = torch.linspace(0.1, 1.0, schedule.TotalSteps * 3, dtype: ScalarType.Float64).reshape(1, schedule.TotalSteps, 3);
            (r["O"] * weights).sum().add(r["H"].sum() * 0.01).backward();
            return D(w1.grad!).Concat(D(w2.grad!)).ToArray();
        }
        var batched = Grad(true);
        var stepped = Grad(false);
        double max = stepped.Max(Math.Abs);
        Assert.That(max, Is.GreaterThan(0), "the gradient is not trivially zero");
        for (int i = 0; i < stepped.Length; i++)
            Assert.That(batched[i], Is.EqualTo(stepped[i]).Within(1e-9 * max + 1e-12), $"element {i} of {stepped.Length}");
    }

    // A Poisson source and a synapse with read noise draw per step; another source is computed a whole segment ahead.
    private static Network RandomNet(bool batching)
    {
        var net = new Network { Dt = 1e-3, BatchSize = 2, Seed = 21, DType = ScalarType.Float64, TimeBatching = batching };
        net.Add("P", new PoissonSource(6, rate: 250));
        net.Add("Q", new PoissonSource(4, rate: 150));
        net.Add("PS", new FirstOrder(Init.Uniform(0, 1), tau: 3e-3, weightScale: 150.0).WithDevice(MemristivePresets.PcmLike(elapsedTime: 100)), "P", "L");
        net.Add("L", new Lif(4, tau: 5e-3, threshold: 0.6));
        net.Add("QL", new Dense(Init.Uniform(0, 1)), "Q", "M");
        net.Add("M", new Lif(3, tau: 5e-3, threshold: 0.5));
        net.MarkOutput("P", "Q", "L", "M");
        return net;
    }

    [Test]
    public void RandomDrawsDoNotDependOnTheExecutionModeOrOnContinue()
    {
        var a = RandomNet(batching: true).Run(schedule: Schedule.Fixed(1e-3, 60));
        var b = RandomNet(batching: false).Run(schedule: Schedule.Fixed(1e-3, 60));
        var split = RandomNet(batching: true);
        var first = split.Run(schedule: Schedule.Fixed(1e-3, 25));
        var second = split.Continue(schedule: Schedule.Fixed(1e-3, 35));
        foreach (var tag in new[] { "P", "Q", "L", "M" })
        {
            Assert.That(D(a[tag]), Is.EqualTo(D(b[tag])), $"{tag}: time-batched vs step by step");
            Assert.That(D(torch.cat(new[] { first[tag], second[tag] }, 1)), Is.EqualTo(D(a[tag])), $"{tag}: Run + Continue vs one run");
        }
        Assert.That(D(a["P"]).Sum(), Is.GreaterThan(0), "the sources fired");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AnIdentityLinkWhoseInputIsAlsoAnOutputDoesNotCrash(bool batching)
    {
        Network Build()
        {
            var net = new Network { Dt = 1e-3, BatchSize = 2, Seed = 3, DType = ScalarType.Float64, TimeBatching = batching };
            net.Add("I", new TensorInput(4));
            net.Add("IL", new Dense(Init.Uniform(0, 1)), "I", "L");
            net.Add("L", new Lif(4, tau: 5e-3, threshold: 0.5));
            net.Add("LK", new Identity(), "L", "M");
            net.Add("M", new LeakyIntegrator(4));
            net.MarkOutput("L", "LK", "M");
            return net;
        }
        var x = Currents(2, 30, 4, seed: 2);
        var r = Build().Run(x);
        Assert.That(D(r["LK"]), Is.EqualTo(D(r["L"])), "the link passes its input unchanged");
        var again = Build().Run(x);
        Assert.That(D(again["M"]), Is.EqualTo(D(r["M"])));
    }

    // L1 → D (a 1.5 ms delay around a LIF) → back into L1: at dt = 1 ms the delay is 2 steps (a free back edge), at
    // dt = 4 ms it is 0 steps and the loop needs a lagging edge.
    private static Network DelayLoop()
    {
        var net = new Network { Dt = 1e-3, BatchSize = 1, Seed = 5, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(3));
        net.Add("IA", new Dense(Init.Uniform(0.3, 0.9)), "I", "A");
        net.Add("A", new Lif(3, tau: 5e-3, threshold: 0.5));
        net.Add("AD", new Dense(Init.Uniform(0, 1)), "A", "D");
        net.Add("D", new Delay(new Lif(3, tau: 5e-3, threshold: 0.4), 1.5e-3));
        net.Add("DA", new Dense(0.4), "D", "A");
        net.Add("DB", new Dense(0.3), "D", "A"); // two edges back into A: at 4 ms the best order cuts the loop before D instead
        net.MarkOutput("A", "D");
        return net;
    }

    [Test]
    public void ADtChangeThatMovesADelayAcrossZeroStepsRunsTheNewPlan()
    {
        var schedule = new Schedule((4e-3, 12), (1e-3, 12)); // the network's Dt is 1 ms: initialization plans 1 ms first
        var x = Currents(1, 24, 3, seed: 6);
        var whole = DelayLoop().Run(x, schedule);
        // Reference: the same two segments as two calls, each of which plans its own dt from the start.
        var split = DelayLoop();
        var p1 = split.Run(new Dictionary<string, Tensor> { ["I"] = x.narrow(1, 0, 12) }, Schedule.Fixed(4e-3, 12));
        var p2 = split.Continue(new Dictionary<string, Tensor> { ["I"] = x.narrow(1, 12, 12) }, Schedule.Fixed(1e-3, 12));
        foreach (var tag in new[] { "A", "D" })
            Assert.That(D(whole[tag]), Is.EqualTo(D(torch.cat(new[] { p1[tag], p2[tag] }, 1))), tag);
        var plan = DelayLoop().DescribePlan(schedule);
        Assert.That(plan, Does.Contain("dt = 0.001 s").And.Contain("dt = 0.004 s").And.Contain("delay 2 step(s)"), plan);
    }

    [Test]
    public void ALaterSegmentsBadDtIsRejectedBeforeAnythingChanges()
    {
        var net = RandomNet(batching: true);
        var monitor = net.Monitor("L", "u");
        net.Run(schedule: Schedule.Fixed(1e-3, 10));
        var before = Snapshot(net);
        int records = monitor.Count;
        // 250 Hz · 5 ms = 1.25 > 1: found in the second segment's dt, before any state changes.
        var bad = new Schedule((1e-3, 5), (5e-3, 5));
        Assert.Throws<ParameterException>(() => net.Run(schedule: bad));
        Assert.Throws<ParameterException>(() => net.Continue(schedule: bad));
        Assert.That(monitor.Count, Is.EqualTo(records), "monitor records unchanged");
        AssertSame(before, Snapshot(net));
        // And the network continues exactly as if the bad calls never happened.
        var reference = RandomNet(batching: true);
        reference.Run(schedule: Schedule.Fixed(1e-3, 10));
        Assert.That(D(net.Continue(schedule: Schedule.Fixed(1e-3, 10))["L"]), Is.EqualTo(D(reference.Continue(schedule: Schedule.Fixed(1e-3, 10))["L"])));
    }

    [Test]
    public void AFailurePartWayPutsStatesStreamsAndTheClockBack()
    {
        var net = RandomNet(batching: false);
        net.Run(schedule: Schedule.Fixed(1e-3, 10));
        var before = Snapshot(net);
        net.CheckFinite = true;
        net.Set("QL", "w", 1e308).Set("M", "thr", 1.7e308); // two input spikes overflow M's membrane (float64)
        Assert.Throws<NonFiniteValueException>(() => net.Continue(schedule: Schedule.Fixed(1e-3, 20)));
        AssertSame(before, Snapshot(net), "states, latest outputs and streams as at the start of the call");
        Assert.That(net.Timeline.Count, Is.EqualTo(10), "the clock as at the start of the call: 10 steps");
        Assert.That(net.Timeline.Now, Is.EqualTo(10 * 1e-3).Within(1e-17), "the clock as at the start of the call: 10 ms");
        // Continue is accepted (the network still holds its completed Run); the bad parameters overflow again.
        Assert.That(() => net.Continue(schedule: Schedule.Fixed(1e-3, 20)), Throws.TypeOf<NonFiniteValueException>());
    }

    private static Dictionary<string, double[]> Snapshot(Network net)
    {
        var d = new Dictionary<string, double[]>();
        foreach (var g in net.Groups)
            foreach (var v in g.AllVariables.OfType<StateVariable>())
                if (v.Tensor is { } t) d[$"{g.Tag}.{v.Name}"] = D(t);
        foreach (var (owner, purpose, gen) in net.Context.Streams.All)
            d[$"stream {owner}/{purpose}"] = gen.get_state().to_type(ScalarType.Float64).data<double>().ToArray();
        d["timeline"] = net.Timeline.Times.ToArray();
        return d;
    }

    private static void AssertSame(Dictionary<string, double[]> a, Dictionary<string, double[]> b, string what = "")
    {
        Assert.That(b.Keys.Where(k => k != "timeline"), Is.EquivalentTo(a.Keys.Where(k => k != "timeline")), what);
        foreach (var k in a.Keys.Where(k => k != "timeline" || what.Length == 0)) Assert.That(b[k], Is.EqualTo(a[k]), $"{k} {what}");
    }

    [Test]
    public void StatesWhoseShapeDiffersFromTheirDeclarationAreMonitoredAndDelayQueuesAreRefusedUpFront()
    {
        var net = new Network { Dt = 1e-3, BatchSize = 2, Seed = 1, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(5));
        var stdp = new StdpBlock(new Dense(Init.Uniform(0, 0.8)), 3);
        net.Add("S", stdp.Tap, "I", "P");
        net.Add("P", new Lif(3, tau: 5e-3, threshold: 0.5));
        net.Add("B", stdp);
        net.Connect("P", "B");
        var delays = torch.tensor(new double[] { 0, 1, 2, 1, 2, 0, 2, 0, 1, 1, 1, 2, 0, 0, 2 }, new long[] { 5, 3 });
        net.Add("H", new HeterogeneousDelay(delays, Init.Uniform(0.2, 1)), "I", "Q");
        net.Add("Q", new Delay(new Lif(3), 2e-3));
        var pre = net.Monitor("B", "x_pre");
        var arrivals = net.Monitor("H", "arrivals");
        var e = Assert.Throws<ParameterException>(() => net.Monitor("Q", "delay_queue"));
        Assert.That(e!.Message, Does.Contain("delay_queue").And.Contain("cannot be monitored"));
        net.Run(Currents(2, 12, 5, seed: 1));
        Assert.That(pre.Values.shape, Is.EqualTo(new long[] { 2, 12, 5 }), "x_pre is [batch, Ns] per step");
        Assert.That(arrivals.Values.shape, Is.EqualTo(new long[] { 2, 12, 3, 3 }), "arrivals are [batch, C, Nt] per step");
        Assert.That(D(pre.Values).Sum(), Is.GreaterThan(0));
    }

    [Test]
    public void TensorInputKeepsACopySoRefillingTheCallersTensorChangesNothing()
    {
        Network Build()
        {
            var net = new Network { Dt = 1e-3, BatchSize = 2, Seed = 1, DType = ScalarType.Float64 };
            net.Add("I", new TensorInput(4));
            net.Add("IL", new Dense(Init.Uniform(0, 1)), "I", "L");
            net.Add("L", new Lif(3, tau: 5e-3, threshold: 0.5));
            net.MarkOutput("L");
            return net;
        }
        var x = Currents(2, 40, 4, seed: 3);
        var reference = Build();
        reference.Run(x.clone(), Schedule.Fixed(1e-3, 20));
        var expected = reference.Continue(schedule: Schedule.Fixed(1e-3, 20))["L"];
        var net = Build();
        net.Run(x, Schedule.Fixed(1e-3, 20));
        x.fill_(0); // the caller reuses its buffer
        Assert.That(D(net.Continue(schedule: Schedule.Fixed(1e-3, 20))["L"]), Is.EqualTo(D(expected)));
        Assert.That(D(expected).Sum(), Is.GreaterThan(0), "the reference fired, so zeros would differ");
    }

    private static Network Shuffled(int[] order, bool batching)
    {
        var net = new Network { Dt = 1e-3, BatchSize = 2, Seed = 8, DType = ScalarType.Float64, TimeBatching = batching };
        var stdp = new StdpBlock(new Dense(Init.Uniform(0, 0.8)), 3);
        var adds = new Action[]
        {
            () => net.Add("B", stdp),                                    // the plasticity block before its synapse's tap
            () => net.Add("S", stdp.Tap, "I", "P"),
            () => net.Add("I", new TensorInput(4)),
            () => net.Add("P", new Lif(3, tau: 5e-3, threshold: 0.5)),
            () => net.Add("PQ", new Dense(Init.Uniform(0, 1)), "P", "Q"),
            () => net.Add("Q", new Lif(3, tau: 5e-3, threshold: 0.5)),
            () => net.Add("QP", new Dense(Init.Uniform(0, 0.5)), "Q", "P"), // a zero-delay loop: which edge lags is decided by tags
        };
        foreach (var k in order) adds[k]();
        net.Connect("P", "B");
        net.MarkOutput("P", "Q", "B");
        return net;
    }

    [Test]
    public void TheCallOrderAndResultsDoNotDependOnTheAddOrder()
    {
        var x = Currents(2, 25, 4, seed: 4);
        var reference = Shuffled(new[] { 0, 1, 2, 3, 4, 5, 6 }, batching: true);
        var plans = new[] { Shuffled(new[] { 0, 1, 2, 3, 4, 5, 6 }, batching: false).DescribePlan(), reference.DescribePlan() };
        var expected = reference.Run(x);
        var rng = new Random(5);
        for (int trial = 0; trial < 4; trial++)
        {
            var order = Enumerable.Range(0, 7).OrderBy(_ => rng.Next()).ToArray();
            var net = Shuffled(order, batching: trial % 2 == 0);
            Assert.That(net.DescribePlan(), Is.EqualTo(plans[trial % 2 == 0 ? 1 : 0]), $"add order {string.Join(",", order)}");
            var r = net.Run(x);
            foreach (var tag in new[] { "P", "Q", "B" })
                Assert.That(D(r[tag]), Is.EqualTo(D(expected[tag])), $"{tag}, add order {string.Join(",", order)}");
        }
    }
}
