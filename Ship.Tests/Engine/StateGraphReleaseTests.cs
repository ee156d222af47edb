using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// A final state of a run with gradients carries that run's autograd graph (for Continue). When the next Run resets
/// the state, the old tensor — which a caller may still hold through Get — must keep its value but let go of the
/// graph, or every training batch leaves its activations to the garbage collector.
/// </summary>
public class StateGraphReleaseTests
{
    [TestCase(true)]
    [TestCase(false)]
    public void AStateReplacedByAResetKeepsItsValueButDropsItsGraph(bool timeBatching)
    {
        var net = new Network { Dt = 1e-3, Steps = 6, BatchSize = 2, DType = ScalarType.Float64, TimeBatching = timeBatching, SpikeFunction = new SurrogateSpikes(new FastSigmoid(10)) };
        net.Add("I", new TensorInput(3));
        net.Add("W", new Dense(torch.full(3, 4, 0.4, dtype: ScalarType.Float64)), "I", "L");
        net.Add("L", new Lif(4, tau: 5e-3, threshold: 0.5));
        net.Add("V", new Dense(torch.full(4, 2, 0.3, dtype: ScalarType.Float64)), "L", "R");
        net.Add("R", new LeakyIntegrator(2, tau: 5e-3));
        net.MarkOutput("R");
        net.Initialize();
        net["W"].Get("w").requires_grad_(true);
        net.TrackGradients = true;
        var x = torch.ones(new long[] { 2, 6, 3 }, dtype: ScalarType.Float64);
        net.Run(x);
        var oldL = net["L"].Get("u");
        var oldR = net["R"].Get("u");
        Assert.That(oldL.requires_grad && oldR.requires_grad, Is.True, "after a run with gradients the final states carry the graph (precondition)");
        var valueL = oldL.detach().clone();
        var valueR = oldR.detach().clone();

        net.Run(x);

        Assert.That(oldL.IsInvalid || oldR.IsInvalid, Is.False, "a state a caller holds is not freed");
        Assert.That(oldL.requires_grad || oldR.requires_grad, Is.False, "the replaced states no longer hold the previous run's graph");
        Assert.That(oldL.allclose(valueL, 0, 0) && oldR.allclose(valueR, 0, 0), Is.True, "their values are unchanged");
        Assert.That(net["R"].Get("u").requires_grad, Is.True, "the new run's final state carries its own graph");
    }

    private static Network Small(bool timeBatching)
    {
        var net = new Network { Dt = 1e-3, Steps = 6, BatchSize = 2, DType = ScalarType.Float64, TimeBatching = timeBatching };
        net.Add("I", new TensorInput(3));
        net.Add("W", new Dense(torch.full(3, 4, 0.4, dtype: ScalarType.Float64)), "I", "L");
        net.Add("L", new Lif(4, tau: 5e-3, threshold: 0.5));
        net.Add("V", new Dense(torch.full(4, 2, 0.3, dtype: ScalarType.Float64)), "L", "R");
        net.Add("R", new LeakyIntegrator(2, tau: 5e-3));
        net.MarkOutput("R");
        net.Initialize();
        return net;
    }

    [Test]
    public void InsideFreeingReplacedStatesARunFreesThePreviousRunsStatesAndOnlyThere()
    {
        var net = Small(timeBatching: true);
        var x = torch.ones(new long[] { 2, 6, 3 }, dtype: ScalarType.Float64);
        net.Run(x);
        var first = net["L"].Get("u");
        net.Run(x);
        Assert.That(first.IsInvalid, Is.False, "outside the scope a replaced state stays valid (a caller may hold it)");
        var second = net["L"].Get("u");
        var expected = second.detach().clone();
        using (net.FreeingReplacedStates())
        {
            Assert.That(net.FreeReplacedStates, Is.True);
            net.Run(x);
        }
        Assert.That(net.FreeReplacedStates, Is.False, "the scope restores the setting");
        Assert.That(second.IsInvalid, Is.True, "inside the scope the state the previous run made was freed");
        // The same input from the same reset state: the run's final state equals the previous one (the reset is exact).
        Assert.That(net["L"].Get("u").allclose(expected, 0, 0), Is.True);
    }

    [Test]
    public void AStateTheCallerSetIsNeverFreedByTheScope()
    {
        var net = Small(timeBatching: true);
        var x = torch.ones(new long[] { 2, 6, 3 }, dtype: ScalarType.Float64);
        net.Run(x);
        var mine = torch.full(new long[] { 2, 4 }, 0.25, dtype: ScalarType.Float64);
        net["L"].Variable("u").Tensor = mine;
        using (net.FreeingReplacedStates()) net.Run(x);
        Assert.That(mine.IsInvalid, Is.False, "only tensors the engine made are freed");
        Assert.That(mine.allclose(torch.full(new long[] { 2, 4 }, 0.25, dtype: ScalarType.Float64), 0, 0), Is.True);
    }

    [Test]
    public void RepeatedWholeBlockRunsInTheScopeLeaveNoNativeTensorsBehind()
    {
        // Live tensor handles of this thread after each run, outputs freed by the caller, no dispose scope open: before,
        // every Run left to the finalizer the replaced states, the reset's fresh states (replaced by the whole-block
        // pass), the derived coefficients it recomputed (compared by value, never freed), the input copy's
        // intermediates and the reset's broadcast views: 10 tensors per run of this network.
        var net = Small(timeBatching: true);
        var x = torch.ones(new long[] { 2, 6, 3 }, dtype: ScalarType.Float64);
        long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using var freeing = net.FreeingReplacedStates();
        void Once() { foreach (var t in net.Run(x).Outputs.Values) t.Dispose(); }
        for (int k = 0; k < 3; k++) Once();
        long before = Live();
        for (int k = 0; k < 20; k++) Once();
        Assert.That(net.SequenceGroups, Has.Count.EqualTo(5), "precondition: every group whole-block");
        Assert.That(Live() - before, Is.EqualTo(0), "tensors left by 20 runs");
    }

    [Test]
    public void RepeatedRunsOfADeviceBackedSynapseFreeEachRunsDeviceRead()
    {
        // A device whose reads do not vary is read once per run (the reset) and that read replaced the previous one
        // without freeing it: one [Ns, Nt] tensor per run left to the finalizer (in a training loop with device-backed
        // weights, a weight matrix per batch). A completed call now frees the replaced read; a failed call still puts it back.
        var net = new Network("device read") { Dt = 1e-3, BatchSize = 2, Seed = 3, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(3));
        var syn = new Dense(Ship.Core.Parameters.Init.Uniform(0, 1)).WithDevice(Ship.Devices.Memristive.MemristivePresets.ShipRram(elapsedTime: 100));
        net.Add("S", syn, "I", "N");
        net.Add("N", new Lif(4, tau: 5e-3, threshold: 0.5));
        net.MarkOutput("N");
        net.Initialize();
        Assert.That(syn.WeightDevice!.ReadsVary, Is.False, "precondition: one read per run");
        var x = torch.ones(new long[] { 2, 6, 3 }, dtype: ScalarType.Float64);
        long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using var freeing = net.FreeingReplacedStates();
        void Once() { foreach (var t in net.Run(x).Outputs.Values) t.Dispose(); }
        for (int k = 0; k < 3; k++) Once();
        var reference = net.Run(x)["N"].clone();
        long before = Live();
        for (int k = 0; k < 20; k++) Once();
        Assert.That(Live() - before, Is.EqualTo(0), "tensors left by 20 runs");
        Assert.That(net.Run(x)["N"].eq(reference).all().item<bool>(), "the read is the same device read as before");
    }

    /// <summary>Throws at its second step or first block end once armed, so the failed run has already reset the states.</summary>
    private sealed class FailPartWay : Ship.Core.Networks.Observers.IRunObserver
    {
        private int _seen;
        public bool Armed { get; set; }
        public bool NeedsStepOutput(Ship.Core.Groups.Group group) => false;
        public void OnRunStart(Ship.Core.Networks.Observers.RunStartView run) => _seen = 0;
        public void OnStep(Ship.Core.Networks.Observers.StepView step) => Maybe(2);
        public void OnBlockEnd(Ship.Core.Networks.Observers.BlockView block) => Maybe(1);
        public void OnRunEnd(bool completed) { }
        private void Maybe(int after) { if (Armed && ++_seen >= after) throw new InvalidOperationException("injected failure"); }
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AFailedRunPutsTheStatesValuesBackButNotTheirGraph(bool timeBatching)
    {
        // Run with gradients → a Run that fails part-way → Continue: the values are exactly those of a twin without the
        // failed Run, but the reset already released the replaced states' graph (so a training loop's blocks return to
        // the pool before the next run; BlockPoolTests), so the Continue's backward stops at the restored states — as a
        // twin whose states were detached after its Run (docs/architecture.md, "Not put back").
        (Network Net, Tensor W, FailPartWay Fail) Make()
        {
            var net = Small(timeBatching);
            net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(10));
            var fail = new FailPartWay();
            net.AddObserver(fail);
            net.Initialize();
            var w = net["W"].Get("w").requires_grad_(true);
            net.TrackGradients = true;
            return (net, w, fail);
        }
        var x = torch.rand(new long[] { 2, 6, 3 }, generator: new torch.Generator(5), dtype: ScalarType.Float64);
        var y = torch.rand(new long[] { 2, 6, 3 }, generator: new torch.Generator(6), dtype: ScalarType.Float64);
        var (a, wa, fail) = Make();
        var (b, wb, _) = Make();
        a.Run(x);
        fail.Armed = true;
        Assert.Throws<InvalidOperationException>(() => a.Run(y));
        fail.Armed = false;
        var outA = a.Continue(x)["R"];
        b.Run(x);
        foreach (var g in b.Groups)
            foreach (var v in g.AllVariables.OfType<Ship.Core.Parameters.StateVariable>())
                v.Tensor?.detach_();
        var outB = b.Continue(x)["R"];
        FusedChainTests.Same(outA, outB, "the Continue's output");
        FusedChainTests.Loss(new[] { outA }).backward();
        FusedChainTests.Loss(new[] { outB }).backward();
        Assert.That(wb.grad, Is.Not.Null, "precondition: the Continue's loss reaches W");
        FusedChainTests.Same(wa.grad!, wb.grad!, "gradient of W: the Continue's part only");
    }
}
