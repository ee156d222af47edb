using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// What the engine keeps from one call to the next to make a run cheap (the last plan and its key, the whole-block
/// groups, the reset's zero outputs, the variables per group) must follow every change that decides them: time
/// batching, monitors, dt, a parameter that becomes trained, batch size and dtype. And the last step of a whole-block
/// output, copied in one call on the host, must be that step.
/// </summary>
public class RunCostTests
{
    private static Network Chain(ScalarType dtype = ScalarType.Float32, int batch = 3)
    {
        var net = new Network { Dt = 1e-3, Steps = 12, BatchSize = batch, Seed = 7, DType = dtype };
        net.Add("I", new TensorInput(5));
        net.Add("IH", new Dense(Init.Uniform(0, 0.8)), "I", "H");
        net.Add("H", new Lif(6, tau: 10e-3, threshold: 0.7));
        net.Add("HO", new Dense(Init.Normal(0, 0.5)), "H", "O");
        net.Add("O", new LeakyIntegrator(4, tau: 20e-3));
        net.MarkOutput("I", "IH", "H", "HO", "O");
        return net;
    }

    private static Tensor Input(int steps, int batch = 3, ScalarType dtype = ScalarType.Float32) =>
        torch.rand(new long[] { batch, steps, 5 }, generator: new torch.Generator(11)).lt(0.5).to_type(dtype);

    /// <summary>A whole-block group that doubles its input: one tensor per block, no state, no coefficient.</summary>
    private sealed class Doubler(int n) : Ship.Core.Groups.NeuronGroup(n), Ship.Core.Groups.ISequenceGroup
    {
        public string? SequenceRefusal => null;
        public Tensor StepSequence(Tensor? input, int steps) => input!.mul(2);
        public override Tensor Step(Tensor? input) => input!.mul(2);
    }

    [Test]
    public void AnInferenceRunCostsTheEngineFiveHandles()
    {
        // The engine's own native calls per Run, apart from any kernel: the input copy (1), the input block's view (1),
        // the doubler's product (1, the model's own), and the two block-end copies of the last step (1 each; were 2
        // each). Nothing for the checks (the input is scanned in place), the reset (zero outputs made once, no states),
        // the plan or the returned output (the whole block is handed out as it is). Main before this round: 10.
        var net = new Network { Dt = 1e-3, Steps = 8, BatchSize = 3, Seed = 1 };
        net.Add("I", new TensorInput(4));
        net.Add("D", new Doubler(4));
        net.Connect("I", "D");
        net.MarkOutput("D");
        using var x = torch.rand(new long[] { 3, 8, 4 }, generator: new torch.Generator(2));
        using (var first = torch.NewDisposeScope()) net.Run(x);
        Assert.That(net.SequenceGroups, Is.EqualTo(new[] { "I", "D" }), "precondition: both whole-block");
        long before = DisposeScopeManager.Statistics.CreatedInScopeCount + DisposeScopeManager.Statistics.CreatedOutsideScopeCount;
        using (var scope = torch.NewDisposeScope())
            for (int k = 0; k < 10; k++) net.Run(x);
        long made = DisposeScopeManager.Statistics.CreatedInScopeCount + DisposeScopeManager.Statistics.CreatedOutsideScopeCount - before;
        Assert.That(made, Is.EqualTo(10 * 5), "handles per inference Run of input → doubler");
        using var check = net.Run(x)["D"];
        using var twice = x.mul(2);
        Assert.That(check.eq(twice).all().item<bool>(), Is.True, "and the run still computes 2x");
    }

    [TestCase(ScalarType.Float32, 5)]
    [TestCase(ScalarType.Float64, 5)]
    [TestCase(ScalarType.Float64, 2048)]
    public void TheLatestOutputOfAWholeBlockGroupIsItsLastStep(ScalarType dtype, int blockSteps)
    {
        // Blocks of 5 steps over 12 (the last block 2 steps long) or one block; the checkpoint writes the latest outputs,
        // which must be step 11 of each returned output, row by row.
        var net = Chain(dtype);
        net.SequenceBlockSteps = blockSteps;
        var r = net.Run(Input(12, dtype: dtype));
        Assert.That(net.SequenceGroups, Has.Count.EqualTo(5), "precondition: every group whole-block");
        var folder = Path.Combine(Path.GetTempPath(), "ship-runcost-" + Guid.NewGuid().ToString("N"));
        try
        {
            new NetworkCheckpoint().Save(net, folder);
            using var saved = SafeTensors.Read(Path.Combine(folder, NetworkCheckpoint.TensorFile));
            foreach (var tag in new[] { "I", "IH", "H", "HO", "O" })
            {
                var latest = saved.Tensors[$"run/latest/{tag}"];
                using var last = r[tag].select(1, 11);
                Assert.That(latest.dtype, Is.EqualTo(dtype), tag);
                Assert.That(latest.shape, Is.EqualTo(last.shape), tag);
                Assert.That(latest.eq(last).all().item<bool>(), Is.True, $"{tag}: the latest output is step 11");
            }
        }
        finally { if (Directory.Exists(folder)) Directory.Delete(folder, true); }
    }

    [Test]
    public void ThePlanFollowsTimeBatchingMonitorsAndDtFromCallToCall()
    {
        var net = Chain();
        var x = Input(12);
        string[] all = ["I", "IH", "H", "HO", "O"];
        net.Run(x);
        Assert.That(net.SequenceGroups, Is.EqualTo(all));
        net.TimeBatching = false;
        net.Run(x);
        Assert.That(net.SequenceGroups, Is.Empty, "time batching off");
        net.TimeBatching = true;
        net.Run(x);
        Assert.That(net.SequenceGroups, Is.EqualTo(all), "on again");
        var m = net.Monitor("H", "u"); // reads H's state every step: H is stepped, and what reads it
        net.Run(x);
        Assert.That(net.SequenceGroups, Is.EqualTo(new[] { "I", "IH" }), "a state monitor steps H and its readers");
        Assert.That(m.Count, Is.EqualTo(12));
        m.Enabled = false;
        net.Run(x);
        Assert.That(net.SequenceGroups, Is.EqualTo(all), "a disabled monitor reads nothing");
        net.RemoveMonitor(m);
        var other = net.Run(x, new Schedule((0.5e-3, 12)));
        Assert.That(net.SequenceGroups, Is.EqualTo(all));
        Assert.That(other.Times[0], Is.EqualTo(0.5e-3), "the plan of the new dt");
        Assert.That(net.Run(x).Times[0], Is.EqualTo(1e-3), "and back");
    }

    [Test]
    public void APlanDoesNotOutliveATimeConstantThatBecomesTrained()
    {
        // The fused LIF node has no gradient for τ: a τ that requires gradients steps H (and what H feeds). The plan
        // key reads this at every call; the network itself is not re-initialized by it.
        var net = Chain();
        var x = Input(12);
        net.Run(x);
        Assert.That(net.SequenceGroups, Does.Contain("H"));
        var lif = (Lif)net["H"];
        var plain = lif.Tau.Value;
        lif.Tau.Tensor = new TorchSharp.Modules.Parameter(plain.detach().clone(), requires_grad: true);
        net.Run(x);
        Assert.That(net.SequenceGroups, Does.Not.Contain("H"), "trained τ: stepped");
        lif.Tau.Tensor = plain;
        net.Run(x);
        Assert.That(net.SequenceGroups, Does.Contain("H"), "plain τ again: whole-block");
    }

    private static Network Recurrent(int batch, ScalarType dtype)
    {
        // H feeds itself through HH: a cycle, so the first step reads the reset's zero output of a group on it.
        var net = new Network { Dt = 1e-3, Steps = 10, BatchSize = batch, Seed = 3, DType = dtype };
        net.Add("I", new TensorInput(5));
        net.Add("IH", new Dense(Init.Uniform(0, 0.8)), "I", "H");
        net.Add("H", new Lif(6, tau: 10e-3, threshold: 0.7));
        net.Add("HH", new Dense(Init.Normal(0, 0.4)), "H", "H");
        net.MarkOutput("H");
        return net;
    }

    [Test]
    public void TheResetsZeroOutputsFollowBatchSizeAndDType()
    {
        var net = Recurrent(3, ScalarType.Float32);
        net.Run(Input(10));
        net.Run(Input(10));
        net.BatchSize = 5;
        var five = net.Run(Input(10, batch: 5));
        Assert.That(five["H"].shape, Is.EqualTo(new long[] { 5, 10, 6 }));
        var fresh = Recurrent(5, ScalarType.Float32).Run(Input(10, batch: 5));
        Assert.That(five["H"].eq(fresh["H"]).all().item<bool>(), Is.True, "as a network made at batch 5");
        net.DType = ScalarType.Float64;
        var wide = net.Run(Input(10, batch: 5, dtype: ScalarType.Float64));
        Assert.That(wide["H"].dtype, Is.EqualTo(ScalarType.Float64));
        var freshWide = Recurrent(5, ScalarType.Float64).Run(Input(10, batch: 5, dtype: ScalarType.Float64));
        Assert.That(wide["H"].eq(freshWide["H"]).all().item<bool>(), Is.True, "as a network made in float64");
    }

    [Test]
    public void AGroupAddedAfterARunIsResetAndRun()
    {
        // The engine's per-group variable lists are read at initialization; adding a group re-initializes.
        var net = Chain();
        net.Run(Input(12));
        net.Add("HO2", new Dense(Init.Uniform(0, 0.5)), "H", "O2");
        net.Add("O2", new LeakyIntegrator(4, tau: 5e-3));
        net.MarkOutput("O2");
        var r = net.Run(Input(12));
        Assert.That(r["O2"].shape, Is.EqualTo(new long[] { 3, 12, 4 }));
        Assert.That(r["O2"].abs().sum().item<float>(), Is.GreaterThan(0f), "driven by H through HO2");
        var u = net["O2"].Get("u");
        using var last = r["O2"].select(1, 11);
        Assert.That(u.eq(last).all().item<bool>(), Is.True, "its state is that of its last step");
    }
}
