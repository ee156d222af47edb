using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Networks.Observers;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// A Run's failure snapshot holds the previous states and latest outputs instead of copying them (a Continue's still copies), and inside
/// <see cref="Network.FreeingReplacedStates"/> a completed Run frees the states the previous call made. A Run that fails
/// part-way must still leave the network as it was: the same states, and later runs identical to those of a twin network
/// that never saw the failed call.
/// </summary>
public class HeldSnapshotRollbackTests
{
    private static Network Small(bool timeBatching, bool gradients)
    {
        var net = new Network { Dt = 1e-3, Steps = 6, BatchSize = 2, DType = ScalarType.Float64, TimeBatching = timeBatching, SpikeFunction = new SurrogateSpikes(new FastSigmoid(10)) };
        net.Add("I", new TensorInput(3));
        net.Add("W", new Dense(torch.full(3, 4, 0.4, dtype: ScalarType.Float64)), "I", "L");
        net.Add("L", new Lif(4, tau: 5e-3, threshold: 0.5));
        net.Add("V", new Dense(torch.full(4, 2, 0.3, dtype: ScalarType.Float64)), "L", "R");
        net.Add("R", new LeakyIntegrator(2, tau: 5e-3));
        net.MarkOutput("R");
        net.Initialize();
        if (gradients)
        {
            net["W"].Get("w").requires_grad_(true);
            net.TrackGradients = true;
        }
        return net;
    }

    private static Tensor Input(double scale, int steps = 6) =>
        torch.arange(2 * steps * 3, dtype: ScalarType.Float64).reshape(2, steps, 3).mul(scale).remainder(1.3);

    /// <summary>Throws at the first step or block end once armed: after the run has replaced states and outputs.</summary>
    private sealed class FailAfterFirstBlock : IRunObserver
    {
        public bool Armed { get; set; }
        public bool NeedsStepOutput(Ship.Core.Groups.Group group) => false;
        public void OnRunStart(RunStartView run) { }
        public void OnStep(StepView step) { if (Armed) throw new InvalidOperationException("injected failure"); }
        public void OnBlockEnd(BlockView block) { if (Armed) throw new InvalidOperationException("injected failure"); }
        public void OnRunEnd(bool completed) { }
    }

    [TestCase(true, false, false)]
    [TestCase(false, false, false)]
    [TestCase(true, true, false)]
    [TestCase(false, true, false)]
    [TestCase(true, false, true)]
    [TestCase(false, true, true)]
    public void AFailedRunLeavesStatesAndContinueAsIfItNeverHappened(bool timeBatching, bool gradients, bool freeing)
    {
        var twin = Small(timeBatching, gradients);
        var net = Small(timeBatching, gradients);
        var fail = new FailAfterFirstBlock();
        net.AddObserver(fail);

        twin.Run(Input(0.37));
        net.Run(Input(0.37));
        var uL = net["L"].Get("u").detach().clone();
        var uR = net["R"].Get("u").detach().clone();

        fail.Armed = true;
        using (freeing ? net.FreeingReplacedStates() : null)
            Assert.Throws<InvalidOperationException>(() => net.Run(Input(0.91)));
        fail.Armed = false;

        Assert.That(net["L"].Get("u").IsInvalid || net["R"].Get("u").IsInvalid, Is.False, "the restored states are live tensors");
        Assert.That(net["L"].Get("u").detach().allclose(uL, 0, 0) && net["R"].Get("u").detach().allclose(uR, 0, 0), Is.True, "the failed run put the states back");

        // The network still runs as if the failed call never happened: a Run (inside the freeing scope too, which frees
        // the restored states the first run made) and a Continue after it match the twin's.
        using (freeing ? net.FreeingReplacedStates() : null)
        {
            var a = net.Run(Input(0.53)).Outputs["R"].detach().clone();
            var b = net.Continue(Input(0.71, 4)).Outputs["R"].detach();
            Assert.That(a.allclose(twin.Run(Input(0.53)).Outputs["R"].detach(), 0, 0), Is.True, "Run after a failed Run ≡ the twin's Run");
            Assert.That(b.allclose(twin.Continue(Input(0.71, 4)).Outputs["R"].detach(), 0, 0), Is.True, "and its Continue ≡ the twin's");
        }
    }

    [TestCase(true, false)]
    [TestCase(false, false)]
    [TestCase(true, true)]
    public void AFailedContinuePutsTheStatesBack(bool timeBatching, bool gradients)
    {
        var net = Small(timeBatching, gradients);
        var fail = new FailAfterFirstBlock();
        net.AddObserver(fail);
        net.Run(Input(0.37));
        var before = net["L"].Get("u");
        var uL = before.detach().clone();
        var uR = net["R"].Get("u").detach().clone();

        fail.Armed = true;
        using (net.FreeingReplacedStates())
            Assert.Throws<InvalidOperationException>(() => net.Continue(Input(0.91, 3)));
        fail.Armed = false;

        Assert.That(before.IsInvalid, Is.False, "a state the caller read before the failed Continue is not freed");
        Assert.That(net["L"].Get("u").detach().allclose(uL, 0, 0) && net["R"].Get("u").detach().allclose(uR, 0, 0), Is.True, "the failed Continue put the states back");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void RepeatedRunsInsideTheFreeingScopeMatchFreshRunsAndRunPlusContinueStillMatchesOneRun(bool timeBatching)
    {
        // Reused zero outputs and freed replaced states across many runs: each run still equals a fresh network's run,
        // and Run(first part) + Continue(rest) equals one Run over the whole input.
        var net = Small(timeBatching, gradients: false);
        var whole = Input(0.61, 10);
        using (net.FreeingReplacedStates())
        {
            for (int k = 0; k < 4; k++)
            {
                var fresh = Small(timeBatching, gradients: false).Run(Input(0.2 + 0.1 * k)).Outputs["R"];
                Assert.That(net.Run(Input(0.2 + 0.1 * k)).Outputs["R"].allclose(fresh, 0, 0), Is.True, $"run {k} ≡ a fresh network's run");
            }
            var one = Small(timeBatching, gradients: false).Run(whole).Outputs["R"];
            var a = net.Run(whole.narrow(1, 0, 4)).Outputs["R"];
            var b = net.Continue(whole.narrow(1, 4, 6)).Outputs["R"];
            Assert.That(torch.cat(new[] { a, b }, 1).allclose(one, 0, 0), Is.True, "Run + Continue ≡ one Run");
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void AFailedRunWithPooledBlocksPutsTheStatesBackAndLaterRunsMatchATwin(bool gradients)
    {
        // Blocks of 16 × 64 × 96 doubles (768 KiB) come from the network's block pool once it is engaged (after the
        // first call): the held states of the failed run's snapshot may be views of pooled blocks, which the failed run
        // must not have been handed again and overwritten.
        static Network Big(bool gradients)
        {
            var net = new Network { Dt = 1e-3, Steps = 64, BatchSize = 16, DType = ScalarType.Float64, SpikeFunction = new SurrogateSpikes(new FastSigmoid(10)) };
            net.Add("I", new TensorInput(96));
            net.Add("W", new Dense(torch.full(96, 96, 0.02, dtype: ScalarType.Float64)), "I", "L");
            net.Add("L", new Lif(96, tau: 5e-3, threshold: 0.5));
            net.Add("V", new Dense(torch.full(96, 8, 0.1, dtype: ScalarType.Float64)), "L", "R");
            net.Add("R", new LeakyIntegrator(8, tau: 5e-3));
            net.MarkOutput("R", "L");
            net.Initialize();
            if (gradients)
            {
                net["W"].Get("w").requires_grad_(true);
                net.TrackGradients = true;
            }
            return net;
        }
        static Tensor X(double scale) => torch.arange(16 * 64 * 96, dtype: ScalarType.Float64).reshape(16, 64, 96).mul(scale).remainder(1.7);
        var twin = Big(gradients);
        var net = Big(gradients);
        var fail = new FailAfterFirstBlock();
        net.AddObserver(fail);
        using (twin.FreeingReplacedStates())
        using (net.FreeingReplacedStates())
        {
            for (int k = 0; k < 2; k++) { twin.Run(X(0.31 + k)); net.Run(X(0.31 + k)); }
            var uL = net["L"].Get("u").detach().clone();
            var uR = net["R"].Get("u").detach().clone();
            fail.Armed = true;
            Assert.Throws<InvalidOperationException>(() => net.Run(X(0.77)));
            fail.Armed = false;
            Assert.That(net["L"].Get("u").detach().allclose(uL, 0, 0) && net["R"].Get("u").detach().allclose(uR, 0, 0), Is.True, "the failed run put the states back");
            var a = net.Run(X(0.53));
            var b = twin.Run(X(0.53));
            Assert.That(a.Outputs["L"].allclose(b.Outputs["L"], 0, 0) && a.Outputs["R"].allclose(b.Outputs["R"], 0, 0), Is.True, "the next Run ≡ the twin's");
            var c = net.Continue(X(0.29));
            var d = twin.Continue(X(0.29));
            Assert.That(c.Outputs["R"].allclose(d.Outputs["R"], 0, 0), Is.True, "and its Continue ≡ the twin's");
            Assert.That(net.Context.Blocks.BlocksReused, Is.GreaterThan(0), "precondition: the runs did take blocks from the pool again");
        }
    }
}
