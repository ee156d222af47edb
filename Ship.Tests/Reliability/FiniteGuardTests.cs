using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using TorchSharp;
using static Ship.Tests.Reliability.ReliabilityKit;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

public class FiniteGuardTests
{
    /// <summary>A test model whose state turns NaN at a chosen step while its output stays 0.</summary>
    private sealed class NanAtStep : NeuronGroup
    {
        private readonly long _step;
        public NanAtStep(int n, long step) : base(n)
        {
            _step = step;
            S = State("s", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        }
        public StateVariable S { get; }
        public override Tensor Step(Tensor? input)
        {
            if (Context.StepIndex == _step) S.Tensor = torch.full_like(S.Value, double.NaN);
            return torch.zeros(Context.BatchSize, ComponentCount);
        }
    }

    private static (Network Net, Tensor Bad, Tensor Good) Overflowing(bool batching)
    {
        var net = new Network { Dt = 1e-3, Steps = 20, BatchSize = 2, Seed = 1, TimeBatching = batching };
        net.Add("I", new TensorInput(3));
        net.Add("S", new Dense(1e10), "I", "L");
        net.Add("L", new LeakyIntegrator(2, tau: 5e-3));
        net.MarkOutput("L");
        var good = torch.ones(2, 20, 3);
        var bad = good.clone();
        bad[1, 7, 0] = torch.tensor(1e30f); // finite input; 1e30·1e10 overflows float32 in the synapse at step 7
        return (net, bad, good);
    }

    [Test]
    public void OffByDefaultTheRunCompletesWithInfinities()
    {
        var (net, bad, _) = Overflowing(batching: true);
        Assert.That(net.CheckFinite, Is.False);
        var r = net.Run(bad);
        Assert.That(r["L"].isinf().any().item<bool>(), Is.True, "the overflow reached the output unnoticed");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void TheGuardStopsAtTheFirstInfinityAndNamesGroupVariableAndStep(bool batching)
    {
        var (net, bad, good) = Overflowing(batching);
        net.CheckFinite = true;
        var e = Assert.Throws<NonFiniteValueException>(() => net.Run(bad));
        Assert.That((e!.Group, e.Variable, e.Step), Is.EqualTo(("S", "output", 7L)), "the synapse, first in call order, at step 7");
        Assert.That(e.Time, Is.EqualTo(8e-3).Within(1e-15), "end of step 7");
        Assert.That(e.Message, Does.Contain("infinite").And.Contain("step 7"));
        Assert.That(net.Timeline.Count, Is.EqualTo(0), "the clock is back where it was before the failed Run (the exception keeps the step and time)");

        // The network stays usable: with no completed Run before, Continue asks for one, and a correct run gives what a fresh network gives.
        Assert.That(() => net.Continue(good), Throws.TypeOf<ShipException>().With.Message.Contains("call Run first"));
        var (fresh, _, _) = Overflowing(batching);
        AssertBitIdentical(fresh.Run(good)["L"], net.Run(good)["L"], "a correct run right after");
    }

    [Test]
    public void AStateThatTurnsNaNIsNamedEvenWhenTheOutputIsFinite()
    {
        var net = new Network { Dt = 1e-3, Steps = 10, BatchSize = 1, CheckFinite = true };
        net.Add("N", new NanAtStep(2, step: 4));
        var e = Assert.Throws<NonFiniteValueException>(() => net.Run());
        Assert.That((e!.Group, e.Variable, e.Step), Is.EqualTo(("N", "s", 4L)));
        Assert.That(e.Message, Does.Contain("2 NaN"));
    }

    [Test]
    public void AMinusInfinityTimeStampIsNotAFalseAlarm()
    {
        // Refractory's t_spike starts at −∞ ("never"): declared without a range, it is checked for NaN only.
        var net = new Network { Dt = 1e-3, Steps = 30, BatchSize = 2, CheckFinite = true };
        net.Add("I", new TensorInput(2));
        net.Add("S", new Dense(0.1), "I", "L"); // u = 0.2 at step 0 (below 0.3), a first spike at step 1
        net.Add("L", new Refractory(new Lif(2, tau: 5e-3, threshold: 0.3), 3e-3));
        net.MarkOutput("L");
        var stamps = net.Monitor("L", "t_spike");
        var r = net.Run(torch.ones(2, 30, 2));
        Assert.That(r["L"].sum().item<float>(), Is.GreaterThan(0), "the neurons fire, so the guard checked real dynamics");
        Assert.That(stamps.Values[0, 0].isneginf().all().item<bool>(), Is.True, "the guard saw −∞ at step 0 and let it pass");
    }

    [Test]
    public void TheGuardDoesNotChangeResults()
    {
        var x = Scenarios.Raster(2, 30, 6, 0.5, seed: 1);
        var a = Scenarios.Build("mixed");
        var b = Scenarios.Build("mixed");
        b.CheckFinite = true;
        var ra = Scenarios.Record(a, Scenarios.Part1(a, "mixed"));
        var rb = Scenarios.Record(b, Scenarios.Part1(b, "mixed"));
        AssertSameRecord(ra, rb);
    }
}
