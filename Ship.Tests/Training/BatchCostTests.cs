using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Training;
using Ship.Training.Hardware;
using Ship.Training.Losses;
using Ship.Training.Optimizers;
using Ship.Training.Readouts;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Ship.Tests.Training;

/// <summary>
/// What a training batch and a test chunk cost in tensor handles (each one native call that makes a tensor, counted by
/// TorchSharp per thread), and that every shortcut taken to save them gives the answer of the tensor operations it
/// replaces (docs/benchmarks.md, Training). A count going back up fails here.
/// </summary>
public class BatchCostTests
{
    private static long Made() => DisposeScopeManager.Statistics.CreatedInScopeCount + DisposeScopeManager.Statistics.CreatedOutsideScopeCount;

    private static long HandlesOf(Action a)
    {
        long before = Made();
        a();
        return Made() - before;
    }

    [TestCase(ScalarType.Int64)]
    [TestCase(ScalarType.Int32)]
    [TestCase(ScalarType.Int16)]
    [TestCase(ScalarType.Int8)]
    [TestCase(ScalarType.Byte)]
    public void HostIntegerLabelsAreCheckedInPlaceWithTheSameVerdict(ScalarType dtype)
    {
        long[] scores = [4, 5];
        using var ok = torch.tensor(new long[] { 0, 4, 2, 3 }).to_type(dtype);
        Assert.That(HandlesOf(() => LossChecks.ClassIndices("nll", "target", scores, ok)), Is.EqualTo(0), "a valid host target makes no tensor");
        using var high = torch.tensor(new long[] { 0, 5, 2, 3 }).to_type(dtype);
        var e = Assert.Throws<LossInputException>(() => LossChecks.ClassIndices("nll", "target", scores, high))!;
        Assert.That(e.Actual, Is.EqualTo("values from 0 to 5"));
        Assert.That(e.Expected, Does.Contain("[0, 4]"));
        if (dtype != ScalarType.Byte)
        {
            using var low = torch.tensor(new long[] { 1, -1, 2, 3 }).to_type(dtype);
            Assert.That(Assert.Throws<LossInputException>(() => LossChecks.ClassIndices("nll", "target", scores, low))!.Actual, Is.EqualTo("values from -1 to 3"));
        }
    }

    [Test]
    public void AStridedTargetIsStillCheckedThroughTensors()
    {
        // Every second element of [0, 9, 1, 9, 2, 9, 7, 9]: [0, 1, 2, 7], not contiguous, so not read in place.
        using var all = torch.tensor(new long[] { 0, 9, 1, 9, 2, 9, 7, 9 });
        using var strided = all.slice(0, 0, 8, 2);
        Assume.That(strided.is_contiguous(), Is.False);
        var e = Assert.Throws<LossInputException>(() => LossChecks.ClassIndices("nll", "target", [4, 5], strided))!;
        Assert.That(e.Actual, Is.EqualTo("values from 0 to 7"));
    }

    [Test]
    public void NllLossIsLogSoftmaxThenNllBitForBitWithTheSameGradient()
    {
        var g = new torch.Generator(5);
        using var raw = torch.randn(new long[] { 16, 10 }, generator: g).mul(4);
        using var target = torch.randint(0, 10, new long[] { 16 }, generator: g);
        using var a = raw.detach().clone().requires_grad_(true);
        using var b = raw.detach().clone().requires_grad_(true);
        using var ours = new NllLoss().Compute(a, target);
        using var reference = nn.functional.nll_loss(nn.functional.log_softmax(b, 1), target);
        ours.backward();
        reference.backward();
        Assert.That(ours.item<float>(), Is.EqualTo(reference.item<float>()), "the loss, bit for bit");
        Assert.That(a.grad!.eq(b.grad!).all().item<bool>(), Is.True, "the gradient, bit for bit");
        using var i32 = target.to_type(ScalarType.Int32);
        using var fromInt32 = new NllLoss().Compute(a.detach(), i32);
        Assert.That(fromInt32.item<float>(), Is.EqualTo(reference.item<float>()), "int32 class indices");
    }

    private static Parameter[] WithGradients()
    {
        var g = new torch.Generator(3);
        var ps = new[] { new Parameter(torch.randn(new long[] { 4, 3 }, generator: g)), new Parameter(torch.randn(new long[] { 5 }, generator: g)) };
        foreach (var p in ps) p.grad = torch.randn(p.shape, generator: g);
        return ps;
    }

    [Test]
    public void HeldOptimizersZeroTheSameGradientTensorsWithOneHandlePerParameter()
    {
        foreach (var make in new Func<IEnumerable<Parameter>, torch.optim.Optimizer>[]
                 { ps => new HeldAdam(ps, 1e-2), ps => new HeldSgd(ps, 1e-2, momentum: 0.9), ps => new HeldAdamW(ps, 1e-2), ps => new HeldRMSprop(ps, 1e-2) })
        {
            var ps = WithGradients();
            var opt = make(ps);
            var held = ps.Select(p => p.grad!).ToArray(); // handles on the gradients as they were
            long handles = HandlesOf(opt.zero_grad);
            Assert.That(handles, Is.EqualTo(ps.Length), $"{opt.GetType().Name}: one handle per gradient read");
            for (int i = 0; i < ps.Length; i++)
            {
                using var gr = ps[i].grad!;
                Assert.That(gr.abs().max().item<float>(), Is.EqualTo(0f));
                held[i].fill_(7f);
                Assert.That(gr.min().item<float>(), Is.EqualTo(7f), "zeroed in place: still the same tensor");
                held[i].Dispose();
            }
        }
    }

    [Test]
    public void HeldAdamStepsWithTwoHandlesPerParameter()
    {
        var ps = WithGradients();
        var opt = new HeldAdam(ps, 1e-2);
        opt.step(); // first step creates the moment buffers
        foreach (var p in ps) { using var gr = p.grad!; gr.fill_(0.5f); }
        using var scope = torch.NewDisposeScope();
        Assert.That(HandlesOf(() => opt.step()), Is.LessThanOrEqualTo(2 * ps.Length), "the gradient's handle and sqrt's result per parameter");
    }

    private static Network MainJobShape(long seed)
    {
        var net = new Network { Dt = 1e-3, Steps = 20, BatchSize = 8, Seed = seed };
        net.Add("I", new TensorInput(6));
        net.Add("IH", new Dense(Init.Uniform(0, 0.6)), "I", "H");
        net.Add("H", new Lif(12, tau: 10e-3, threshold: 1.0));
        net.Add("HO", new Dense(Init.Normal(0, 0.3)), "H", "O");
        net.Add("O", new LeakyIntegrator(3, tau: 20e-3));
        net.MarkOutput("O");
        return net;
    }

    private static (Tensor X, Tensor Y) Batch(int seed = 99)
    {
        var g = new torch.Generator((ulong)seed);
        var x = torch.rand(new long[] { 8, 20, 6 }, generator: g).lt(0.4).to_type(ScalarType.Float32);
        return (x, torch.tensor(new long[] { 0, 1, 2, 0, 1, 2, 0, 1 }));
    }

    [Test]
    public void ATrainingBatchAndAPredictionMakeNoMoreHandlesThanMeasured()
    {
        // The main job's network shape, every group whole-block, under HeldAdam (bench train-profile's network at a
        // smaller size). Measured: 107 handles per TrainBatch and 41 per Predict here (90 and 33 before main's
        // transposed narrow dense product, whose kernels make 17 and 8 more); the engine's and trainer's own share went
        // from 43 to 21 per batch (label check 2 → 0, zero_grad 4 → 2, input check 2 → 0 and its detach 1 → 0,
        // block-end copies 10 → 5, LIF state copies 2 → 0, the leaky integrator's expanded β 2 → 0, loss 2 → 1, reading
        // the loss 2 → 0, Adam 8 → 4). The kernels' share may change with their own work; a count above these fails.
        var net = MainJobShape(4);
        var trainer = new Trainer(net, new MaxOverTime("O"), new NllLoss(), ps => new HeldAdam(ps, 1e-2));
        var (x, y) = Batch();
        for (int k = 0; k < 3; k++) { using var s = torch.NewDisposeScope(); trainer.TrainBatch(x, y); trainer.Predict(x); }
        Assert.That(net.SequenceGroups, Is.EquivalentTo(new[] { "I", "IH", "H", "HO", "O" }), "precondition: every group whole-block");
        long train = HandlesOf(() => { using var s = torch.NewDisposeScope(); trainer.TrainBatch(x, y); });
        long predict = HandlesOf(() => { using var s = torch.NewDisposeScope(); trainer.Predict(x); });
        Assert.That(train, Is.LessThanOrEqualTo(107), "handles per TrainBatch");
        Assert.That(predict, Is.LessThanOrEqualTo(41), "handles per Predict");
    }

    [Test]
    public void TheEvaluatorRefusesLabelsThatAreNotOnePerSampleBeforeRunning()
    {
        var net = new Network { Dt = 1e-3, Steps = 3, BatchSize = 4, Seed = 1 };
        net.Add("I", new TensorInput(5));
        net.MarkOutput("I");
        net.Initialize();
        using var x = torch.zeros(6, 3, 5);
        using var short5 = torch.zeros(new long[] { 5 }, ScalarType.Int64);
        var e = Assert.Throws<LossInputException>(() => HardwareEvaluator.Accuracy(net, new MaxOverTime("I"), x, short5))!;
        Assert.That(e.What, Is.EqualTo("labels"));
        Assert.That(e.Expected, Does.Contain("[6]"));
        Assert.That(e.Actual, Does.Contain("[5]"));
        Assert.That(net.Timeline.Count, Is.EqualTo(0), "nothing ran");
        using var matrix = torch.zeros(new long[] { 6, 1 }, ScalarType.Int64);
        Assert.Throws<LossInputException>(() => HardwareEvaluator.Accuracy(net, new MaxOverTime("I"), x, matrix));
    }

    [Test]
    public void TheEvaluatorAddsTwoHandlesPerChunkToTheRunAndCountsLikeArgmax()
    {
        // The input group is the output, read as max over time: the scores are whatever the test puts in the data, so
        // ties (first index wins, as argmax) and the zero-padded last chunk are under the test's control.
        var net = new Network { Dt = 1e-3, Steps = 3, BatchSize = 4, Seed = 1 };
        net.Add("I", new TensorInput(5));
        net.MarkOutput("I");
        net.Initialize();
        var g = new torch.Generator(8);
        const int n = 10; // two full chunks and a padded one
        using var x = torch.randint(0, 4, new long[] { n, 3, 5 }, generator: g).to_type(ScalarType.Float32); // many ties
        using var labels = torch.randint(0, 5, new long[] { n }, generator: g);
        var data = x.data<float>().ToArray();
        var ys = labels.data<long>().ToArray();
        long expected = 0;
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            float bestScore = float.NegativeInfinity;
            for (int j = 0; j < 5; j++)
            {
                float m = float.NegativeInfinity;
                for (int t = 0; t < 3; t++) m = Math.Max(m, data[(i * 3 + t) * 5 + j]);
                if (m > bestScore) { bestScore = m; best = j; }
            }
            if (best == ys[i]) expected++;
        }
        var readout = new MaxOverTime("I");
        double acc = HardwareEvaluator.Accuracy(net, readout, x, labels);
        Assert.That(acc, Is.EqualTo((double)expected / n), "host count against a brute-force argmax (first maximum)");
        using var i32 = labels.to_type(ScalarType.Int32);
        Assert.That(HardwareEvaluator.Accuracy(net, readout, x, i32), Is.EqualTo(acc), "int32 labels take the tensor path: same count");

        using var chunk = x.narrow(0, 0, 4).contiguous();
        long runs = HandlesOf(() =>
        {
            using var _ = torch.no_grad();
            for (int k = 0; k < 3; k++) foreach (var t in net.Run(chunk).Outputs.Values) t.Dispose();
        });
        using var full = x.narrow(0, 0, 8).contiguous(); // three chunks would pad; two full ones plus the same run count
        using var twelve = torch.cat(new[] { full, chunk }, 0);
        using var labels12 = torch.cat(new[] { labels.narrow(0, 0, 8), labels.narrow(0, 0, 4) }, 0);
        long evaluation = HandlesOf(() => HardwareEvaluator.Accuracy(net, readout, twelve, labels12));
        Assert.That(evaluation - runs, Is.LessThanOrEqualTo(3 * 2), "a chunk's narrow and its read-out beyond the run (was 8 more: a dtype copy, label slice and move, argmax, eq, sum)");
    }
}
