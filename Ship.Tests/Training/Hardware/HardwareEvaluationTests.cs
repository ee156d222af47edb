using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Training;
using Ship.Training.Hardware;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Training.Hardware;

public class HardwareEvaluationTests
{
    private static double[] D(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    /// <summary>A test drift: every conductance scales by (1 + t)^(−ν) at read time, the same for all devices.</summary>
    private sealed class UniformDecay(double nu) : INonIdeality
    {
        public Tensor Read(Tensor conductances, DeviceState state) => conductances * Math.Pow(1 + state.ElapsedTime, -nu);
    }

    /// <summary>A test drift whose factor differs per device (fixed pattern), so weights and conductances measure differently.</summary>
    private sealed class PatternDecay : INonIdeality
    {
        public Tensor Read(Tensor conductances, DeviceState state)
        {
            var f = torch.linspace(0.5, 1.0, conductances.numel(), ScalarType.Float64).reshape(conductances.shape);
            return conductances * f.pow(Math.Log10(1 + state.ElapsedTime));
        }
    }

    private static SimulationContext Ctx() => new(1, dtype: ScalarType.Float64, seed: 3);

    [Test]
    public void CompensationScaleFollowsItsFormula()
    {
        var w = torch.tensor(new[] { 0.5, -1.0, 0.25, 0.75, -0.1, 0.3 }, ScalarType.Float64).reshape(3, 2);
        foreach (var reference in Enum.GetValues<CompensationReference>())
        {
            var ctx = Ctx();
            var array = new DeviceArray(new SymmetricDifferentialMapping(1e-6, 5e-6), new PatternDecay());
            var comp = new GlobalDriftCompensation(array, reference);
            comp.Program(w, ctx);
            // Reference and drifted reads straight from the array, measured here by the formulas.
            array.ElapsedTime = 0;
            var w0 = D(array.Read(ctx)); var g0 = D(array.ReadConductances(ctx));
            array.ElapsedTime = 999;
            var wt = D(array.Read(ctx)); var gt = D(array.ReadConductances(ctx));
            double Ones(double[] m) => Enumerable.Range(0, 2).Sum(j => Math.Abs(Enumerable.Range(0, 3).Sum(i => m[i * 2 + j])));
            double expected = reference switch
            {
                CompensationReference.MeanAbsoluteWeight => w0.Average(Math.Abs) / wt.Average(Math.Abs),
                CompensationReference.MeanAbsoluteConductance => g0.Average(Math.Abs) / gt.Average(Math.Abs),
                _ => Ones(w0) / Ones(wt),
            };
            comp.ElapsedTime = 999;
            double alpha = comp.Alpha(ctx);
            Assert.That(alpha, Is.EqualTo(expected).Within(1e-12 * expected), reference.ToString());
            if (reference == CompensationReference.MeanAbsoluteConductance)
                Assert.That(alpha, Is.GreaterThan(1), "every conductance decayed, so α > 1");
            else Assert.That(alpha, Is.Not.EqualTo(1.0).Within(1e-3), "the drift changed the measure");
            Assert.That(D(comp.Read(ctx)), Is.EqualTo(wt.Select(v => v * expected).ToArray()).Within(1e-12), "every read is α·w(t)");
        }
        Assert.That(GlobalDriftCompensation.Factor(2.0, 0.0), Is.EqualTo(1.0), "nothing left to scale");
    }

    [Test]
    public void UniformDriftIsUndoneExactlyByGlobalCompensation()
    {
        var ctx = Ctx();
        var w = torch.randn(new long[] { 4, 3 }, ScalarType.Float64, generator: new torch.Generator(2));
        var comp = new GlobalDriftCompensation(new DeviceArray(new DirectMapping(), new UniformDecay(0.1)));
        comp.Program(w, ctx);
        comp.ElapsedTime = 1e4;
        Assert.That(D(comp.Read(ctx)), Is.EqualTo(D(w)).Within(1e-12));
        Assert.That(comp.Alpha(ctx), Is.EqualTo(Math.Pow(1 + 1e4, 0.1)).Within(1e-9));
    }

    private static (Tensor X, Tensor Y) Task(int n, long seed)
    {
        // Class c drives inputs 2c and 2c+1 harder: separable by a spiking net in a few steps.
        var g = new torch.Generator((ulong)seed);
        var y = torch.randint(0, 3, new long[] { n }, generator: g);
        var rates = torch.full(n, 12, 6, 0.05f);
        var yy = y.data<long>().ToArray();
        for (int i = 0; i < n; i++)
            rates[i, TensorIndex.Colon, TensorIndex.Slice(2 * yy[i], 2 * yy[i] + 2)] = torch.tensor(0.7f);
        return (torch.rand(new long[] { n, 12, 6 }, generator: g).lt(rates).to_type(ScalarType.Float32), y);
    }

    private static Network Net(int batch, Value? w1 = null, Value? w2 = null)
    {
        var net = new Network { Dt = 1e-3, Steps = 12, BatchSize = batch, Seed = 4 };
        net.Add("I", new TensorInput(6));
        net.Add("IH", new Dense(w1 ?? Init.Uniform(0, 0.6)), "I", "H");
        net.Add("H", new Lif(12, tau: 10e-3, threshold: 1.0));
        net.Add("HO", new Dense(w2 ?? Init.Normal(0, 0.3)), "H", "O");
        net.Add("O", new LeakyIntegrator(3, tau: 20e-3));
        net.MarkOutput("O");
        return net;
    }

    private static (Tensor W1, Tensor W2) TrainTiny()
    {
        var (x, y) = Task(64, 1);
        var net = Net(64);
        var trainer = new Trainer(net, new MaxOverTime("O"), new NllLoss(), ps => torch.optim.Adam(ps, 3e-2));
        for (int i = 0; i < 60; i++) trainer.TrainBatch(x, y);
        return (net["IH"].Get("w").detach().clone(), net["HO"].Get("w").detach().clone());
    }

    [Test]
    public void AccuracyVsLevelsHasOneRowPerLevelAndRecoversTheIdealAccuracy()
    {
        var (w1, w2) = TrainTiny();
        var (xt, yt) = Task(90, 7);
        var ev = new HardwareEvaluator(() => Net(32, w1, w2), new MaxOverTime("O"), xt, yt);
        double ideal = ev.Accuracy(_ => null, 1);
        // The same accuracy by hand, one sample batch at a time in one big batch.
        var big = Net(90, w1, w2);
        big.Initialize();
        var scores = new MaxOverTime("O").Read(big.Run(xt));
        double byHand = scores.argmax(1).eq(yt).to_type(ScalarType.Float64).mean().item<double>();
        Assert.That(ideal, Is.EqualTo(byHand).Within(1e-12), "chunked and padded evaluation equals one batch");
        Assert.That(ideal, Is.GreaterThan(0.8), "the tiny net learned the task");

        var levels = new[] { 2, 4, 16, 64 };
        var seeds = new long[] { 1, 2, 3 };
        int calls = 0;
        ev.Progress = _ => calls++;
        var sweep = ev.Levels("tiny", levels, seeds, n => MemristivePresets.ShipQuantized(n));
        Assert.That(calls, Is.EqualTo(levels.Length * seeds.Length));
        Assert.That(sweep.X, Is.EqualTo(levels.Select(l => (double)l).ToArray()));
        Assert.That(sweep.Accuracies.Count, Is.EqualTo(4));
        Assert.That(sweep.Accuracies.All(r => r.Count == 3 && r.All(a => a >= 0 && a <= 1)));
        var mean = sweep.Mean;
        Assert.That(mean[3], Is.EqualTo(ideal).Within(0.05), "64 levels are nearly ideal");
        Assert.That(mean[3], Is.GreaterThanOrEqualTo(mean[0] - 0.02), "more levels are not worse than 2");
        Assert.That(mean[2], Is.GreaterThanOrEqualTo(mean[0] - 0.02));
        Assert.That(sweep.Std.All(s => s >= 0));
        // Seeds are chips: with level variability, two seeds at 4 levels read different weights.
        Assert.That(sweep.Accuracies[1].Distinct().Count() > 1 || sweep.Std[0] > 0 || sweep.Std[1] >= 0);
    }

    [Test]
    public void DriftSweepWithCompensationRestoresAUniformDecay()
    {
        var (w1, w2) = TrainTiny();
        var (xt, yt) = Task(90, 7);
        var ev = new HardwareEvaluator(() => Net(45, w1, w2), new MaxOverTime("O"), xt, yt);
        double ideal = ev.Accuracy(_ => null, 1);
        var times = new[] { 1.0, 1e2, 1e4 };
        var seeds = new long[] { 1, 2 };
        var none = ev.Drift("none", times, seeds, () => new DeviceArray(new DirectMapping(), new UniformDecay(0.25)));
        var comp = ev.Drift("compensated", times, seeds, () => new DeviceArray(new DirectMapping(), new UniformDecay(0.25)), CompensationReference.MeanAbsoluteWeight);
        Assert.That(none.Accuracies.Count, Is.EqualTo(3));
        Assert.That(none.Accuracies.All(r => r.Count == 2));
        // Weights shrink by (1 + t)^(−0.25): at 1e4 s to 10 %, the hidden layer falls silent and accuracy drops.
        Assert.That(none.Mean[2], Is.LessThan(ideal - 0.2));
        Assert.That(comp.Mean, Is.EqualTo(new[] { ideal, ideal, ideal }).Within(1e-9), "a uniform decay is undone exactly");
    }
}
