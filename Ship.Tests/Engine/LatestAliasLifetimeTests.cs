using NUnit.Framework;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Networks.Observers;
using Ship.Core.Persistence;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Tests.Datasets;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// Latest outputs shared by several groups (an Identity synapse and a Relay pass their input on as it is) after a run
/// whose final latest outputs the engine owns: a Continue must not free the shared tensor while another group still
/// holds it as its latest output. Reference: a twin network that runs the same input in one call.
/// </summary>
public class LatestAliasLifetimeTests
{
    private static double[] D(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    private static Tensor Currents(int steps, long seed) =>
        torch.rand(new long[] { 2, steps, 3 }, ScalarType.Float64, generator: new torch.Generator((ulong)seed)).mul(1.4);

    // A loop A → AB (Identity) → B (Relay) → BA → A: A, AB and B share one output tensor at every step; one edge of the
    // loop lags (reads the previous step's value), so some of them are read before A replaces that tensor.
    private static Network Loop(string a, string b)
    {
        var net = new Network { Dt = 1e-3, BatchSize = 2, Seed = 3, DType = ScalarType.Float64, TimeBatching = false };
        net.Add("I", new TensorInput(3));
        net.Add("I" + a, new Dense(Init.Uniform(0.3, 0.9)), "I", a);
        net.Add(a, new Lif(3, tau: 5e-3, threshold: 0.5));
        net.Add(a + b, new Identity(), a, b);
        net.Add(b, new Relay(3));
        net.Add(b + a, new Dense(0.4), b, a);
        net.MarkOutput(a, a + b, b);
        return net;
    }

    [TestCase("A", "B")]
    [TestCase("B", "A")]
    [TestCase("M", "C")]
    public void ARunThenContinuesThroughSharedLatestOutputsEqualsOneRun(string a, string b)
    {
        var x = Currents(24, seed: 7);
        var whole = Loop(a, b).Run(new Dictionary<string, Tensor> { ["I"] = x }).Outputs;
        var net = Loop(a, b);
        var parts = new List<Dictionary<string, Tensor>>
        {
            new(net.Run(new Dictionary<string, Tensor> { ["I"] = x.narrow(1, 0, 8) }).Outputs),
            new(net.Continue(new Dictionary<string, Tensor> { ["I"] = x.narrow(1, 8, 8) }).Outputs),
            new(net.Continue(new Dictionary<string, Tensor> { ["I"] = x.narrow(1, 16, 8) }).Outputs),
        };
        foreach (var tag in new[] { a, a + b, b })
            Assert.That(D(torch.cat(parts.Select(p => p[tag]).ToArray(), 1)), Is.EqualTo(D(whole[tag])), tag);
    }

    /// <summary>Throws at the given step of a call while armed.</summary>
    private sealed class FailAt : IRunObserver
    {
        private int _seen;
        public int? Step { get; set; }
        public bool NeedsStepOutput(Group group) => false;
        public void OnRunStart(RunStartView run) => _seen = 0;
        public void OnStep(StepView step) { if (++_seen == Step) throw new InvalidOperationException("observer failure"); }
        public void OnBlockEnd(BlockView block) { }
        public void OnRunEnd(bool completed) { }
    }

    private static Dictionary<string, Tensor> Feed(Tensor x, int from, int steps) => new() { ["I"] = x.narrow(1, from, steps) };

    [TestCase(1)]
    [TestCase(3)]
    public void AFailedContinueThroughSharedLatestOutputsChangesNothing(int failAt)
    {
        var x = Currents(16, seed: 9);
        var twin = Loop("B", "A");
        twin.Run(Feed(x, 0, 8));
        var expected = twin.Continue(Feed(x, 8, 8)).Outputs;
        var net = Loop("B", "A");
        var fail = new FailAt();
        net.AddObserver(fail);
        net.Run(Feed(x, 0, 8));
        fail.Step = failAt;
        Assert.Throws<InvalidOperationException>(() => net.Continue(Feed(x, 8, 8)));
        fail.Step = null;
        var got = net.Continue(Feed(x, 8, 8)).Outputs;
        foreach (var tag in new[] { "B", "BA", "A" }) Assert.That(D(got[tag]), Is.EqualTo(D(expected[tag])), tag);
    }

    [Test]
    public void AContinueAfterLoadingACheckpointThroughSharedLatestOutputsEqualsTheTwin()
    {
        var x = Currents(16, seed: 11);
        var twin = Loop("B", "A");
        twin.Run(Feed(x, 0, 8));
        var expected = twin.Continue(Feed(x, 8, 8)).Outputs;
        var net = Loop("B", "A");
        net.Run(Feed(x, 0, 8));
        using var dir = new TempDir();
        var cp = new NetworkCheckpoint(new ModelRegistry());
        cp.Save(net, dir.File("cp"));
        var back = cp.Load(dir.File("cp"));
        var first = back.Continue(Feed(x, 8, 4)).Outputs;
        var second = back.Continue(Feed(x, 12, 4)).Outputs;
        foreach (var tag in new[] { "B", "BA", "A" })
            Assert.That(D(torch.cat(new[] { first[tag], second[tag] }, 1)), Is.EqualTo(D(expected[tag])), tag);
    }

    // I → A (whole-block where time batching allows) → AR (Identity) → R (Relay): R's latest output is A's per-step
    // slice or A's output itself; a schedule of two dt, monitors on both, Run + Continues against one Run.
    private static Network Chain(bool batching)
    {
        var net = new Network { Dt = 1e-3, BatchSize = 2, Seed = 3, DType = ScalarType.Float64, TimeBatching = batching };
        net.Add("I", new TensorInput(3));
        net.Add("IA", new Dense(Init.Uniform(0.3, 0.9)), "I", "A");
        net.Add("A", new LeakyIntegrator(3, tau: 4e-3));
        net.Add("AR", new Identity(), "A", "R");
        net.Add("R", new Relay(3));
        net.Add("RL", new Dense(0.5), "R", "L");
        net.Add("L", new Lif(3, tau: 5e-3, threshold: 0.3));
        net.MarkOutput("A", "R", "L");
        return net;
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AMixedScheduleRunAndContinuesThroughSharedLatestOutputsEqualOneRun(bool batching)
    {
        var x = Currents(24, seed: 17);
        var schedule = new Ship.Core.Clocks.Schedule((1e-3, 4), (2e-3, 4));
        var twin = Chain(batching);
        var all = new Ship.Core.Clocks.Schedule((1e-3, 4), (2e-3, 4), (1e-3, 4), (2e-3, 4), (1e-3, 4), (2e-3, 4));
        var tm = twin.Monitor("R");
        var whole = twin.Run(Feed(x, 0, 24), all).Outputs;
        var net = Chain(batching);
        var m = net.Monitor("R");
        var parts = new[]
        {
            net.Run(Feed(x, 0, 8), schedule).Outputs,
            net.Continue(Feed(x, 8, 8), schedule).Outputs,
            net.Continue(Feed(x, 16, 8), schedule).Outputs,
        };
        foreach (var tag in new[] { "A", "R", "L" })
            Assert.That(D(torch.cat(parts.Select(p => p[tag]).ToArray(), 1)), Is.EqualTo(D(whole[tag])), tag);
        Assert.That(D(m.Values), Is.EqualTo(D(tm.Values)), "monitor of R");
        // And a Run after them starts afresh as the twin's first run.
        var again = net.Run(Feed(x, 0, 8), schedule).Outputs;
        Assert.That(D(again["L"]), Is.EqualTo(D(parts[0]["L"])), "a Run after the Continues");
    }

    // A loop through a delay whose output is published before each step (prefetched), passed on by an Identity and a
    // Relay (sharing the delay's output tensor) back into A.
    private static Network DelayLoop(bool batching)
    {
        var net = new Network { Dt = 1e-3, BatchSize = 2, Seed = 3, DType = ScalarType.Float64, TimeBatching = batching };
        net.Add("I", new TensorInput(3));
        net.Add("IA", new Dense(Init.Uniform(0.3, 0.9)), "I", "A");
        net.Add("A", new Lif(3, tau: 5e-3, threshold: 0.5));
        net.Add("AD", new Dense(Init.Uniform(0, 1)), "A", "D");
        net.Add("D", new Delay(new Lif(3, tau: 5e-3, threshold: 0.4), 2e-3));
        net.Add("DR", new Identity(), "D", "R");
        net.Add("R", new Relay(3));
        net.Add("RA", new Dense(0.4), "R", "A");
        net.MarkOutput("A", "D", "R");
        return net;
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ADelayLoopThroughSharedLatestOutputsContinuesAsOneRun(bool batching)
    {
        var x = Currents(24, seed: 19);
        var whole = DelayLoop(batching).Run(Feed(x, 0, 24)).Outputs;
        var net = DelayLoop(batching);
        var fail = new FailAt();
        net.AddObserver(fail);
        var parts = new List<IReadOnlyDictionary<string, Tensor>> { net.Run(Feed(x, 0, 8)).Outputs };
        fail.Step = 2;
        Assert.Throws<InvalidOperationException>(() => net.Continue(Feed(x, 8, 8)));
        fail.Step = null;
        parts.Add(net.Continue(Feed(x, 8, 8)).Outputs);
        parts.Add(net.Continue(Feed(x, 16, 8)).Outputs);
        foreach (var tag in new[] { "A", "D", "R" })
            Assert.That(D(torch.cat(parts.Select(p => p[tag]).ToArray(), 1)), Is.EqualTo(D(whole[tag])), tag);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AStateReadAfterARunKeepsItsValuesThroughContinuesAndAFailedCall(bool batching)
    {
        var x = Currents(24, seed: 23);
        var net = Chain(batching);
        var fail = new FailAt();
        net.AddObserver(fail);
        net.Run(Feed(x, 0, 8));
        var u = net["L"].Get("u");
        var a = net["A"].Get(net["A"].States.First().Name);
        double[] uBefore = D(u), aBefore = D(a);
        net.Continue(Feed(x, 8, 8));
        fail.Step = 3;
        Assert.Throws<InvalidOperationException>(() => net.Continue(Feed(x, 16, 8)));
        fail.Step = null;
        net.Continue(Feed(x, 16, 8));
        Assert.That(D(u), Is.EqualTo(uBefore), "L.u read after the run");
        Assert.That(D(a), Is.EqualTo(aBefore), "A's state read after the run");
    }

    /// <summary>Keeps the input it read as its state "last" (the tensor itself) and outputs the state of the step before.</summary>
    private sealed class KeepsInput : NeuronGroup
    {
        public KeepsInput(int n) : base(n) => Last = State("last", Extent.Batch | Extent.Component, 0.0);
        public StateVariable Last { get; }
        public override Tensor Step(Tensor? input)
        {
            var before = Last.Value.mul(1.0);
            Last.Tensor = input!;
            return before;
        }
    }

    // Also in a loop (B → BA → A → AB → B), where A may read BA's output through the lagging edge; Continues of one step.
    [TestCase(false)]
    [TestCase(true)]
    public void AGroupThatKeepsItsInputAsAStateContinuesAsOneRun(bool loop)
    {
        Network Build()
        {
            var net = new Network { Dt = 1e-3, BatchSize = 2, Seed = 3, DType = ScalarType.Float64, TimeBatching = false };
            net.Add("I", new TensorInput(3));
            net.Add("IB", new Dense(Init.Uniform(0.3, 0.9)), "I", "B");
            net.Add("B", new Lif(3, tau: 5e-3, threshold: 0.5));
            net.Add("BA", new Dense(0.5), "B", "A");
            net.Add("A", new KeepsInput(3));
            if (loop) net.Add("AB", new Dense(0.4), "A", "B");
            net.MarkOutput("A", "B");
            return net;
        }
        var x = Currents(12, seed: 29);
        var whole = Build().Run(Feed(x, 0, 12)).Outputs;
        var net = Build();
        var parts = new List<IReadOnlyDictionary<string, Tensor>> { net.Run(Feed(x, 0, 8)).Outputs };
        for (int k = 8; k < 12; k++) parts.Add(net.Continue(Feed(x, k, 1)).Outputs);
        foreach (var tag in new[] { "A", "B" })
            Assert.That(D(torch.cat(parts.Select(p => p[tag]).ToArray(), 1)), Is.EqualTo(D(whole[tag])), tag);
    }
}
