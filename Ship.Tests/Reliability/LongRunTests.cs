using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Reliability.ReliabilityKit;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

public class LongRunTests
{
    /// <summary>Returns one of two tensors it keeps, alternately: the stepper must never free what a model keeps itself.</summary>
    private sealed class Alternating : Ship.Core.Groups.NeuronGroup
    {
        private Tensor? _zeros, _ones;
        public Alternating(int n) : base(n) { }
        protected override void OnBind()
        {
            _zeros = Keep(torch.zeros(Context.BatchSize, ComponentCount));
            _ones = Keep(torch.ones(Context.BatchSize, ComponentCount));
        }
        public override Tensor Step(Tensor? input) => Context.StepIndex % 3 == 0 ? _ones! : _zeros!;
    }

    [Test]
    public void TensorsAModelKeepsItselfAreNeverFreedByTheStepper()
    {
        var net = new Network { Dt = 1e-3, Steps = 30, BatchSize = 2, TimeBatching = false, StepsPerDisposeScope = 1 };
        net.Add("A", new Alternating(3));
        net.Add("S", new Dense(1.0), "A", "L");
        net.Add("L", new LeakyIntegrator(3, tau: 1e-3));
        net.MarkOutput("S");
        var r = net.Run();
        r = net.Continue();
        var expected = Enumerable.Range(30, 30).Select(k => k % 3 == 0 ? 3f : 0f).ToArray(); // Dense(1): sum of 3 inputs
        Assert.That(r["S"][0].select(1, 0).data<float>().ToArray(), Is.EqualTo(expected));
    }

    private static Network Net(int block)
    {
        var net = new Network { Dt = 1e-3, Steps = 300, BatchSize = 2, Seed = 3, SequenceBlockSteps = block };
        net.Add("P", new PoissonSource(40, rate: 80));
        net.Add("PS", new Dense(Init.Uniform(0, 0.3)), "P", "L");
        net.Add("L", new Lif(5, tau: 8e-3));
        net.MarkOutput("P", "L");
        return net;
    }

    [Test]
    public void WholeSegmentGroupsComputeInBlocksWithTheSameDraws()
    {
        var whole = Net(1 << 20);
        var blocks = Net(7);
        var a = whole.Run();
        var b = blocks.Run();
        Assert.That(whole.SequenceGroups, Is.EqualTo(new[] { "P", "PS", "L" }));
        AssertBitIdentical(a["P"], b["P"], "Poisson spikes: one stream of draws, whatever the block");
        Assert.That(a["P"].sum().item<float>(), Is.EqualTo(2 * 300 * 40 * 0.08).Within(5 * Math.Sqrt(2 * 300 * 40 * 0.08)), "rate·dt per step");
        var la = a["L"].data<float>().ToArray();
        var lb = b["L"].data<float>().ToArray();
        int differing = la.Zip(lb).Count(p => p.First != p.Second);
        Assert.That(differing, Is.LessThanOrEqualTo(la.Length / 100), "spikes agree up to rounding-level threshold crossings");
        AssertBitIdentical(whole.Context.Rng.get_state(), blocks.Context.Rng.get_state(), "the generator ends in the same state");
    }

    [Test]
    public void TheTimelineStoresStretchesNotSteps()
    {
        var net = Net(2048);
        net.Run();
        for (int k = 0; k < 5; k++) net.Continue(schedule: Schedule.Fixed(1e-3, 200));
        Assert.That(net.Timeline.Count, Is.EqualTo(1300));
        Assert.That(net.Timeline.Stretches, Has.Count.EqualTo(1), "one constant-dt stretch, whatever the number of calls");
        for (int k = 0; k < 1300; k += 97) Assert.That(net.Timeline.Times[k], Is.EqualTo((k + 1) * 1e-3), $"t[{k}] = (k + 1)·dt exactly");
        net.Continue(schedule: new Schedule((0.5e-3, 4), (1e-3, 2)));
        Assert.That(net.Timeline.Stretches, Has.Count.EqualTo(3));
        double t = 1.3;
        var expected = new[] { t + 0.5e-3, t + 1e-3, t + 1.5e-3, t + 2e-3, t + 2e-3 + 1e-3, t + 2e-3 + 2e-3 };
        Assert.That(net.Timeline.Times.Skip(1300), Is.EqualTo(expected).Within(1e-15));
        Assert.That(net.Timeline.Dts.Skip(1299), Is.EqualTo(new[] { 1e-3, 0.5e-3, 0.5e-3, 0.5e-3, 0.5e-3, 1e-3, 1e-3 }));
        Assert.That(net.Timeline.Now, Is.EqualTo(net.Timeline.Times[^1]));
    }

    [Test]
    public void ReplacedStatesAreFreedByTheStepperNotLeftToTheGarbageCollector()
    {
        // Per-connection currents: every step replaces 3 × [2, 30, 20] states. Blocks of 4 steps, 400 steps per call.
        var net = new Network { Dt = 1e-3, Steps = 400, BatchSize = 2, Seed = 1, TimeBatching = false, StepsPerDisposeScope = 4 };
        net.Add("P", new PoissonSource(30, rate: 200));
        net.Add("S1", new FirstOrder(Init.Uniform(0, 1), weightScale: 50.0), "P", "L1");
        net.Add("L1", new Lif(20));
        net.Add("S2", new FirstOrder(Init.Uniform(0, 1), weightScale: 50.0), "L1", "L2");
        net.Add("L2", new Lif(20));
        net.Add("S3", new SecondOrder(Init.Uniform(0, 1), weightScale: 50.0), "L2", "L3");
        net.Add("L3", new Lif(20));
        net.MarkOutput("L3");
        net.Run();
        Assert.That(GC.TryStartNoGCRegion(16_000_000), Is.True, "no collection may free handles during the measurement");
        long[] live;
        try
        {
            live = Enumerable.Range(0, 4).Select(_ =>
            {
                foreach (var t in net.Continue().Outputs.Values) t.Dispose();
                return torch.Tensor.TotalCount;
            }).ToArray();
        }
        finally
        {
            if (System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
        }
        // Without a collection, only what a call leaves to the collector remains: a few handles per call, not per block.
        Assert.That(live[3] - live[0], Is.LessThan(3 * 40), $"live tensors after each call: {string.Join(", ", live)} (100 blocks per call)");
    }
}
