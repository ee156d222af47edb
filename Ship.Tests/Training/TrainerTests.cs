using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.CustomModels;
using Ship.Training;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Training;

public class TrainerTests
{
    private static Network Classifier(long seed, int steps = 20)
    {
        var net = new Network { Dt = 1e-3, Steps = steps, BatchSize = 8, Seed = seed };
        net.Add("I", new TensorInput(6));
        net.Add("IH", new Dense(Init.Uniform(0, 0.6)), "I", "H");
        net.Add("H", new Lif(12, tau: 10e-3, threshold: 1.0));
        net.Add("HO", new Dense(Init.Normal(0, 0.3)), "H", "O");
        net.Add("O", new ExponentialIntegrator(3, tau: 20e-3));
        net.MarkOutput("O", "H");
        return net;
    }

    private static (Tensor x, Tensor y) Batch()
    {
        var g = new torch.Generator(99);
        var y = torch.tensor(new long[] { 0, 1, 2, 0, 1, 2, 0, 1 });
        // Class c drives inputs 2c and 2c+1 harder: a learnable task.
        var rates = torch.full(8, 20, 6, 0.1f);
        for (int i = 0; i < 8; i++)
        {
            long c = y[i].item<long>();
            rates[i, TensorIndex.Colon, TensorIndex.Slice(2 * c, 2 * c + 2)] = torch.tensor(0.6f);
        }
        return (torch.rand(new long[] { 8, 20, 6 }, generator: g).lt(rates).to_type(ScalarType.Float32), y);
    }

    private static float[] Flat(Tensor t) => t.detach().contiguous().data<float>().ToArray();

    [Test]
    public void TrainingAndPredictingLeaveNoNativeTensorsPerBatch()
    {
        // The main job's shape of network (dense, LIF, dense, leaky integrator; all whole-block) under Adam: after a few
        // batches every further batch and every prediction frees what it made (live tensor handles of this thread do
        // not grow). Before, each batch left the replaced states, zero_grad's handles and Predict's outputs to the
        // finalizer, and the heap grew around them between garbage collections.
        var net = new Network { Dt = 1e-3, Steps = 20, BatchSize = 8, Seed = 3 };
        net.Add("I", new TensorInput(6));
        net.Add("IH", new Dense(Init.Uniform(0, 0.6)), "I", "H");
        net.Add("H", new Lif(12, tau: 10e-3, threshold: 1.0));
        net.Add("HO", new Dense(Init.Normal(0, 0.3)), "H", "O");
        net.Add("O", new LeakyIntegrator(3, tau: 20e-3));
        net.MarkOutput("O");
        var trainer = new Trainer(net, new MaxOverTime("O"), new NllLoss(), ps => torch.optim.Adam(ps, 1e-2));
        var (x, y) = Batch();
        long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int k = 0; k < 3; k++) { trainer.TrainBatch(x, y); trainer.Predict(x).Dispose(); }
        Assert.That(net.SequenceGroups, Is.EquivalentTo(new[] { "I", "IH", "H", "HO", "O" }), "precondition: every group whole-block");
        long before = Live();
        for (int k = 0; k < 10; k++) trainer.TrainBatch(x, y);
        Assert.That(Live() - before, Is.EqualTo(0), "tensors left by 10 training batches");
        before = Live();
        for (int k = 0; k < 10; k++) trainer.Predict(x).Dispose();
        Assert.That(Live() - before, Is.EqualTo(0), "tensors left by 10 predictions");
    }

    [Test]
    public void TheTrainerCollectsTheYoungGenerationEveryCollectEveryBatches()
    {
        // Native blocks TorchSharp frees only in finalizers must not wait for a collection that a step's few kilobytes of
        // managed allocation would trigger only every few hundred batches (docs/benchmarks.md, Training).
        var net = Classifier(5);
        var trainer = new Trainer(net, new MaxOverTime("O"), new NllLoss(), ps => torch.optim.Adam(ps, 1e-2)) { CollectEvery = 4 };
        var (x, y) = Batch();
        trainer.TrainBatch(x, y);
        int before = GC.CollectionCount(0);
        for (int k = 0; k < 12; k++) trainer.TrainBatch(x, y);
        Assert.That(GC.CollectionCount(0) - before, Is.GreaterThanOrEqualTo(3), "12 batches at one collection per 4");
    }

    [Test]
    public void AttachingATrainerDoesNotChangeForwardSpikes()
    {
        var (x, _) = Batch();
        var plain = Classifier(4).Run(x);
        var net = Classifier(4);
        var trainer = new Trainer(net, new MaxOverTime("O"), new NllLoss(), ps => torch.optim.Adam(ps, 1e-2));
        var inference = net.Run(x);
        net.TrackGradients = true;
        var tracked = net.Run(x);
        net.TrackGradients = false;
        Assert.That(Flat(inference["H"]), Is.EqualTo(Flat(plain["H"])));
        Assert.That(Flat(tracked["H"]), Is.EqualTo(Flat(plain["H"])), "with gradients tracked the spikes are the same");
        Assert.That(Flat(tracked["O"]), Is.EqualTo(Flat(plain["O"])));
        Assert.That(Flat(plain["H"]).Sum(), Is.GreaterThan(0), "hidden layer fires");
        Assert.That(trainer.Trainable.Select(p => p.Owner.Tag), Is.EquivalentTo(new[] { "IH", "HO" }));
    }

    [Test]
    public void AFewStepsOnAFixedBatchLowerTheLoss()
    {
        var (x, y) = Batch();
        var net = Classifier(5);
        var trainer = new Trainer(net, new MaxOverTime("O"), new NllLoss(), ps => torch.optim.Adam(ps, 2e-2));
        for (int i = 0; i < 30; i++) trainer.TrainBatch(x, y);
        var h = trainer.LossHistory;
        Assert.That(h.Count, Is.EqualTo(30));
        Assert.That(h.Skip(25).Average(), Is.LessThan(0.7 * h.Take(3).Average()), string.Join(", ", h.Select(v => v.ToString("F3"))));
        Assert.That(trainer.Accuracy(x, y), Is.GreaterThanOrEqualTo(0.75));
    }

    [Test]
    public void GradientsFlowThroughSpikesOverAllSteps()
    {
        // A single input spike at step 0; the hidden spikes come later. The weight gradient must reach it through the membrane.
        var net = new Network { Steps = 15, BatchSize = 1 };
        net.Add("I", new TensorInput(1));
        net.Add("W", new Dense(torch.tensor(new float[] { 3f }).reshape(1, 1)), "I", "H");
        net.Add("H", new Lif(1, tau: 10e-3, threshold: 1.0));
        net.Add("R", new Dense(torch.tensor(new float[] { 1f }).reshape(1, 1)), "H", "O");
        net.Add("O", new ExponentialIntegrator(1, tau: 5e-3));
        net.MarkOutput("O");
        var trainer = new Trainer(net, new SpikeCount("O"), new MseLoss(), ps => torch.optim.SGD(ps, 0.0), Trainables.Of(net, "W", "w"));
        var x = torch.zeros(1, 15, 1);
        x[0, 0, 0] = torch.tensor(1f);
        trainer.TrainBatch(x, torch.zeros(1, 1));
        var grad = trainer.Parameters[0].grad;
        Assert.That(grad, Is.Not.Null);
        Assert.That(grad!.item<float>(), Is.Not.EqualTo(0f));
        Assert.That(float.IsFinite(grad.item<float>()));
    }

    [Test]
    public void FiniteDifferenceCheckOnASmoothPath()
    {
        // Input → dense → exponential integrator, max-over-time readout, MSE: no spikes on the path, so autograd must match finite differences.
        Network Build()
        {
            var net = new Network { Steps = 12, BatchSize = 2, DType = ScalarType.Float64, Seed = 8 };
            net.Add("I", new TensorInput(3));
            net.Add("W", new Dense(Init.Normal(0, 1)), "I", "E");
            net.Add("E", new ExponentialIntegrator(2, tau: 6e-3));
            net.MarkOutput("E");
            return net;
        }
        var x = torch.rand(new long[] { 2, 12, 3 }, dtype: ScalarType.Float64, generator: new torch.Generator(1));
        var target = torch.tensor(new[] { 0.5, -0.2, 1.0, 0.3 }, dtype: ScalarType.Float64).reshape(2, 2);
        var net = Build();
        var trainer = new Trainer(net, new MaxOverTime(), new MseLoss(), ps => torch.optim.SGD(ps, 0.0));
        trainer.TrainBatch(x, target);
        var w = trainer.Parameters[0];
        var analytic = w.grad!.data<double>().ToArray();

        double LossAt(int index, double delta)
        {
            var probe = Build();
            probe.Initialize();
            var wv = probe["W"].Get("w").clone();
            wv.view(-1)[index] += delta;
            probe.Set("W", "w", wv);
            var scores = new MaxOverTime().Read(probe.Run(x));
            return new MseLoss().Compute(scores, target).item<double>();
        }
        const double eps = 1e-6;
        for (int i = 0; i < analytic.Length; i++)
        {
            double fd = (LossAt(i, eps) - LossAt(i, -eps)) / (2 * eps);
            Assert.That(analytic[i], Is.EqualTo(fd).Within(1e-3 * Math.Max(1e-8, Math.Abs(fd))), $"dL/dw[{i}]");
        }
    }

    [Test]
    public void OptionsAreHonouredAndReinitializationKeepsTrainedWeights()
    {
        var (x, y) = Batch();
        var net = Classifier(6);
        const double lr = 0.05;
        var trainer = new Trainer(net, new SpikeCount("H"), new CustomLoss("mean count", (s, _) => s.mean()),
            ps => torch.optim.SGD(ps, lr), Trainables.Of(net, "IH", "w"));
        var before = trainer.Parameters[0].detach().clone();
        double loss = trainer.TrainBatch(x, y);
        var grad = trainer.Parameters[0].grad!.clone();
        var after = trainer.Parameters[0].detach().clone();
        Assert.That(loss, Is.EqualTo(Classifier(6).Run(x)["H"].sum(1).mean().item<float>()).Within(1e-4), "the custom loss was used");
        Assert.That(Flat(after), Is.EqualTo(Flat(before - lr * grad)).Within(1e-6), "plain SGD step with the given learning rate");

        net.Initialize(); // must not redraw the trained weights nor detach them from the optimizer
        Assert.That(ReferenceEquals(net["IH"].Get("w"), trainer.Parameters[0]), Is.True);
        Assert.That(Flat(net["IH"].Get("w")), Is.EqualTo(Flat(after)));
        Assert.That(Flat(net["HO"].Get("w")), Is.EqualTo(Flat(Classifier(6).Let(n => { n.Initialize(); return n["HO"].Get("w"); }))),
            "untrained parameters are redrawn from the same seed as before");
    }
}

internal static class LetExtension
{
    public static TR Let<T, TR>(this T value, Func<T, TR> f) => f(value);
}
