using NUnit.Framework;
using Ship.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ship.Tests.Training;

/// <summary>
/// HeldAdamW and HeldRMSprop must be TorchSharp's AdamW and RMSProp with their Scalars held. References: TorchSharp's own
/// optimizer on the same parameters and gradients (bit for bit), an AdamW written here from Loshchilov &amp; Hutter
/// (2019, decoupled decay w ← w·(1 − lr·λ) before the Adam step, PyTorch's ε placement) and an RMSprop written here
/// from Hinton's lecture 6e with PyTorch's centered and momentum forms; and no Scalar left to the finalizer by a step.
/// </summary>
public class HeldAdamWAndRmspropTests
{
    private static (Parameter[] Ps, Tensor[][] Grads) Problem(int seed, int steps)
    {
        var g = new torch.Generator((ulong)seed);
        var ps = new[] { new Parameter(torch.randn(new long[] { 6, 4 }, generator: g)), new Parameter(torch.randn(new long[] { 9 }, generator: g)) };
        var grads = Enumerable.Range(0, steps).Select(_ => ps.Select(p => torch.randn(p.shape, generator: g)).ToArray()).ToArray();
        return (ps, grads);
    }

    private static Tensor[] Train(Func<IEnumerable<Parameter>, torch.optim.Optimizer> make, int seed, int steps, bool cosine)
    {
        var (ps, grads) = Problem(seed, steps);
        var opt = make(ps);
        var sched = cosine ? torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) : null;
        for (int t = 0; t < steps; t++)
        {
            opt.zero_grad();
            for (int i = 0; i < ps.Length; i++) ps[i].grad = grads[t][i].clone();
            opt.step();
            sched?.step();
        }
        return ps.Select(p => p.detach().clone()).ToArray();
    }

    private static void BitEqual(Tensor[] held, Tensor[] reference)
    {
        for (int i = 0; i < held.Length; i++)
            Assert.That(held[i].eq(reference[i]).all().item<bool>(), Is.True, $"parameter {i}: max |Δ| {(held[i] - reference[i]).abs().max().item<float>()}");
    }

    private static void Near(Tensor[] got, double[][] expected)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            var g = got[i].to_type(ScalarType.Float64).data<double>().ToArray();
            for (int k = 0; k < g.Length; k++)
                Assert.That(g[k], Is.EqualTo(expected[i][k]).Within(1e-5 + 1e-5 * Math.Abs(expected[i][k])), $"parameter {i}[{k}]");
        }
    }

    [TestCase(0.0, false, false, false)]
    [TestCase(1e-2, false, false, true)]
    [TestCase(5e-2, true, false, false)]
    [TestCase(1e-3, true, true, true)]
    public void HeldAdamWEqualsTorchSharpsAdamWBitForBit(double weightDecay, bool amsgrad, bool maximize, bool cosine)
    {
        const int steps = 40;
        BitEqual(Train(ps => new HeldAdamW(ps, 3e-2, 0.8, 0.95, 1e-6, weightDecay, amsgrad, maximize), 3, steps, cosine),
            Train(ps => torch.optim.AdamW(ps, 3e-2, 0.8, 0.95, 1e-6, weightDecay, amsgrad, maximize), 3, steps, cosine));
    }

    [Test]
    public void HeldAdamWFollowsTheUpdateWrittenHere()
    {
        const int steps = 25;
        const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, lambda = 0.1;
        var (ps, grads) = Problem(11, steps);
        var w = ps.Select(p => p.detach().to_type(ScalarType.Float64).data<double>().ToArray()).ToArray();
        var m = w.Select(x => new double[x.Length]).ToArray();
        var v = w.Select(x => new double[x.Length]).ToArray();
        for (int t = 1; t <= steps; t++)
            for (int i = 0; i < w.Length; i++)
            {
                var gr = grads[t - 1][i].to_type(ScalarType.Float64).data<double>().ToArray();
                for (int k = 0; k < w[i].Length; k++)
                {
                    w[i][k] *= 1 - lr * lambda;
                    m[i][k] = b1 * m[i][k] + (1 - b1) * gr[k];
                    v[i][k] = b2 * v[i][k] + (1 - b2) * gr[k] * gr[k];
                    double mHat = m[i][k] / (1 - Math.Pow(b1, t));
                    w[i][k] -= lr * mHat / (Math.Sqrt(v[i][k]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps);
                }
            }
        Near(Train(p => new HeldAdamW(p, lr, b1, b2, eps, lambda), 11, steps, cosine: false), w);
    }

    [TestCase(0.0, 0.0, false, false, false)]
    [TestCase(0.9, 0.0, false, false, true)]
    [TestCase(0.0, 0.1, true, false, false)]
    [TestCase(0.5, 1e-2, true, true, true)]
    public void HeldRmspropEqualsTorchSharpsRmspropBitForBit(double momentum, double weightDecay, bool centered, bool maximize, bool cosine)
    {
        const int steps = 30;
        BitEqual(Train(ps => new HeldRMSprop(ps, 5e-3, 0.9, 1e-7, weightDecay, momentum, centered, maximize), 4, steps, cosine),
            Train(ps => torch.optim.RMSProp(ps, 5e-3, 0.9, 1e-7, weightDecay, momentum, centered, maximize), 4, steps, cosine));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void HeldRmspropFollowsTheUpdateWrittenHere(bool centered)
    {
        const int steps = 20;
        const double lr = 1e-2, alpha = 0.95, eps = 1e-8, mu = 0.7, lambda = 0.05;
        var (ps, grads) = Problem(12, steps);
        var w = ps.Select(p => p.detach().to_type(ScalarType.Float64).data<double>().ToArray()).ToArray();
        var sq = w.Select(x => new double[x.Length]).ToArray();
        var avg = w.Select(x => new double[x.Length]).ToArray();
        var buf = w.Select(x => new double[x.Length]).ToArray();
        for (int t = 0; t < steps; t++)
            for (int i = 0; i < w.Length; i++)
            {
                var gr = grads[t][i].to_type(ScalarType.Float64).data<double>().ToArray();
                for (int k = 0; k < w[i].Length; k++)
                {
                    double g = gr[k] + lambda * w[i][k]; // L2 weight decay enters the gradient
                    sq[i][k] = alpha * sq[i][k] + (1 - alpha) * g * g;
                    avg[i][k] = alpha * avg[i][k] + (1 - alpha) * g;
                    double denom = Math.Sqrt(centered ? sq[i][k] - avg[i][k] * avg[i][k] : sq[i][k]) + eps;
                    buf[i][k] = mu * buf[i][k] + g / denom;
                    w[i][k] -= lr * buf[i][k];
                }
            }
        Near(Train(p => new HeldRMSprop(p, lr, alpha, eps, lambda, mu, centered), 12, steps, cosine: false), w);
    }

    [Test]
    public void StateDictsRoundTripThroughTorchSharpsOptimizers()
    {
        foreach (bool adamw in new[] { true, false })
        {
            var (ps, grads) = Problem(5, 6);
            OptimizerHelper a = adamw ? new HeldAdamW(ps, 1e-2, weight_decay: 0.01) : new HeldRMSprop(ps, 1e-2, momentum: 0.9, centered: true);
            for (int t = 0; t < 3; t++) { for (int i = 0; i < ps.Length; i++) ps[i].grad = grads[t][i].clone(); a.step(); }
            var (qs, _) = Problem(5, 6);
            using (torch.no_grad()) for (int i = 0; i < ps.Length; i++) qs[i].copy_(ps[i]);
            OptimizerHelper b = adamw ? torch.optim.AdamW(qs, 1e-2, weight_decay: 0.01) : torch.optim.RMSProp(qs, 1e-2, momentum: 0.9, centered: true);
            b.load_state_dict(a.state_dict());
            for (int t = 3; t < 6; t++)
            {
                for (int i = 0; i < ps.Length; i++) { ps[i].grad = grads[t][i].clone(); qs[i].grad = grads[t][i].clone(); }
                a.step();
                b.step();
            }
            for (int i = 0; i < ps.Length; i++) Assert.That(ps[i].eq(qs[i]).all().item<bool>(), Is.True, $"{(adamw ? "AdamW" : "RMSprop")} parameter {i}");
        }
    }

    /// <summary>
    /// Finalizable objects a step leaves dead, its tensors freed by a dispose scope: what remains are the temporary
    /// Scalars (the objects the finalizer may free mid-call). The least of three tries, as the host adds a few at times.
    /// </summary>
    private static long ScalarsLeft(torch.optim.Optimizer opt, Parameter[] ps, Tensor[][] grads)
    {
        long least = long.MaxValue;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            for (int i = 0; i < ps.Length; i++) ps[i].grad = grads[attempt][i].clone();
            for (int k = 0; k < 3; k++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
            GC.Collect();
            long before = GC.GetGCMemoryInfo(GCKind.Any).FinalizationPendingCount;
            for (int k = 0; k < 3; k++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
            using (torch.NewDisposeScope()) opt.step();
            GC.Collect();
            least = Math.Min(least, GC.GetGCMemoryInfo(GCKind.Any).FinalizationPendingCount - before);
        }
        return least;
    }

    [Test]
    public void AStepLeavesNoScalarToTheFinalizer()
    {
        var (ps, grads) = Problem(8, 3);
        // TorchSharp's own optimizers leave several per parameter: the measure can see them.
        Assert.That(ScalarsLeft(torch.optim.AdamW(ps, 1e-3, weight_decay: 0.01), ps, grads), Is.GreaterThanOrEqualTo(2 * ps.Length), "TorchSharp's AdamW");
        Assert.That(ScalarsLeft(torch.optim.RMSProp(ps, 1e-3, momentum: 0.9, centered: true), ps, grads), Is.GreaterThanOrEqualTo(2 * ps.Length), "TorchSharp's RMSprop");
        Assert.That(ScalarsLeft(new HeldAdamW(ps, 1e-3, weight_decay: 0.01, amsgrad: true), ps, grads), Is.EqualTo(0), "HeldAdamW");
        Assert.That(ScalarsLeft(new HeldRMSprop(ps, 1e-3, momentum: 0.9, centered: true), ps, grads), Is.EqualTo(0), "HeldRMSprop");
    }
}
