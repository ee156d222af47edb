using NUnit.Framework;
using Ship.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ship.Tests.Training;

/// <summary>
/// HeldAdam and HeldSgd must be TorchSharp's Adam and SGD with their Scalars held: the reference is torch.optim.Adam itself, run on the same
/// parameters and gradients, and a plain Adam written here from Kingma &amp; Ba (2015, algorithm 1 with PyTorch's ε placement).
/// </summary>
public class HeldAdamTests
{
    private static (Parameter[] Ps, Tensor[][] Grads) Problem(int seed, int steps)
    {
        var g = new torch.Generator((ulong)seed);
        var ps = new[] { new Parameter(torch.randn(new long[] { 7, 5 }, generator: g)), new Parameter(torch.randn(new long[] { 11 }, generator: g)) };
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

    [TestCase(0.0, false, false, false)]
    [TestCase(1e-2, false, false, true)]
    [TestCase(0.0, true, false, false)]
    [TestCase(1e-3, true, true, true)]
    public void EqualsTorchSharpsAdamBitForBit(double weightDecay, bool amsgrad, bool maximize, bool cosine)
    {
        const int steps = 40;
        var reference = Train(ps => torch.optim.Adam(ps, 3e-2, 0.8, 0.95, 1e-6, weightDecay, amsgrad, maximize), 3, steps, cosine);
        var held = Train(ps => new HeldAdam(ps, 3e-2, 0.8, 0.95, 1e-6, weightDecay, amsgrad, maximize), 3, steps, cosine);
        for (int i = 0; i < held.Length; i++)
            Assert.That(held[i].eq(reference[i]).all().item<bool>(), Is.True, $"parameter {i}: max |Δ| {(held[i] - reference[i]).abs().max().item<float>()}");
    }

    [TestCase(ScalarType.Float32)]
    [TestCase(ScalarType.Float64)]
    public void EqualsTorchSharpsAdamBitForBitOnLayerSizedParameters(ScalarType dtype)
    {
        // Sizes whose element counts fill libtorch's vector loops and leave tails (64 × 128, 1280, 1000, 37): the managed
        // moment pass must round as mul_, add_ and addcmul_ do in both.
        const int steps = 30;
        Tensor[] Run(Func<IEnumerable<Parameter>, torch.optim.Optimizer> make)
        {
            var g = new torch.Generator(17);
            var ps = new[] { new long[] { 64, 128 }, new long[] { 1280 }, new long[] { 1000 }, new long[] { 37 } }
                .Select(shape => new Parameter(torch.randn(shape, generator: g, dtype: dtype))).ToArray();
            var opt = make(ps);
            var sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps);
            for (int t = 0; t < steps; t++)
            {
                opt.zero_grad();
                foreach (var p in ps) p.grad = torch.randn(p.shape, generator: g, dtype: dtype).mul(t % 3 == 0 ? 1e-3 : 1.0);
                opt.step();
                sched.step();
            }
            return ps.Select(p => p.detach().clone()).ToArray();
        }
        var reference = Run(ps => torch.optim.Adam(ps, 5e-3));
        var held = Run(ps => new HeldAdam(ps, 5e-3));
        for (int i = 0; i < held.Length; i++)
            Assert.That(held[i].eq(reference[i]).all().item<bool>(), Is.True, $"{dtype} parameter {i}: max |Δ| {(held[i] - reference[i]).abs().max().to(ScalarType.Float64).item<double>()}");
    }

    [Test]
    public void FollowsTheAdamUpdateWrittenHere()
    {
        const int steps = 25;
        const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8;
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
                    m[i][k] = b1 * m[i][k] + (1 - b1) * gr[k];
                    v[i][k] = b2 * v[i][k] + (1 - b2) * gr[k] * gr[k];
                    double mHat = m[i][k] / (1 - Math.Pow(b1, t));
                    double denom = Math.Sqrt(v[i][k]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps;
                    w[i][k] -= lr * mHat / denom;
                }
            }
        var held = Train(p => new HeldAdam(p, lr, b1, b2, eps), 11, steps, cosine: false);
        for (int i = 0; i < w.Length; i++)
        {
            var got = held[i].to_type(ScalarType.Float64).data<double>().ToArray();
            for (int k = 0; k < got.Length; k++)
                Assert.That(got[k], Is.EqualTo(w[i][k]).Within(1e-5 + 1e-5 * Math.Abs(w[i][k])), $"parameter {i}[{k}]");
        }
    }

    [Test]
    public void StateDictRoundTripsThroughTorchSharpsAdam()
    {
        var (ps, grads) = Problem(5, 6);
        var a = new HeldAdam(ps, 1e-2);
        for (int t = 0; t < 3; t++) { for (int i = 0; i < ps.Length; i++) ps[i].grad = grads[t][i].clone(); a.step(); }
        var (qs, _) = Problem(5, 6);
        using (torch.no_grad()) for (int i = 0; i < ps.Length; i++) qs[i].copy_(ps[i]);
        var b = torch.optim.Adam(qs, 1e-2);
        b.load_state_dict(a.state_dict());
        for (int t = 3; t < 6; t++)
        {
            for (int i = 0; i < ps.Length; i++) { ps[i].grad = grads[t][i].clone(); qs[i].grad = grads[t][i].clone(); }
            a.step(); b.step();
        }
        for (int i = 0; i < ps.Length; i++) Assert.That(ps[i].eq(qs[i]).all().item<bool>(), Is.True, $"parameter {i}");
    }

    [TestCase(0.0, 0.0, false, false, false)]
    [TestCase(0.9, 0.0, false, false, true)]
    [TestCase(0.9, 0.1, true, false, false)]
    [TestCase(0.5, 0.0, false, true, true)]
    public void HeldSgdEqualsTorchSharpsSgdBitForBit(double momentum, double weightDecay, bool nesterov, bool maximize, bool cosine)
    {
        const int steps = 30;
        var reference = Train(ps => torch.optim.SGD(ps, 5e-2, momentum, 0.0, weightDecay, nesterov, maximize), 4, steps, cosine);
        var held = Train(ps => new HeldSgd(ps, 5e-2, momentum, 0.0, weightDecay, nesterov, maximize), 4, steps, cosine);
        for (int i = 0; i < held.Length; i++)
            Assert.That(held[i].eq(reference[i]).all().item<bool>(), Is.True, $"parameter {i}: max |Δ| {(held[i] - reference[i]).abs().max().item<float>()}");
    }

    [Test]
    public void HeldSgdWithMomentumFollowsTheUpdateWrittenHere()
    {
        const int steps = 20;
        const double lr = 1e-2, mu = 0.9;
        var (ps, grads) = Problem(12, steps);
        var w = ps.Select(p => p.detach().to_type(ScalarType.Float64).data<double>().ToArray()).ToArray();
        var buf = w.Select(x => new double[x.Length]).ToArray();
        for (int t = 0; t < steps; t++)
            for (int i = 0; i < w.Length; i++)
            {
                var gr = grads[t][i].to_type(ScalarType.Float64).data<double>().ToArray();
                for (int k = 0; k < w[i].Length; k++)
                {
                    buf[i][k] = t == 0 ? gr[k] : mu * buf[i][k] + gr[k];
                    w[i][k] -= lr * buf[i][k];
                }
            }
        var held = Train(p => new HeldSgd(p, lr, mu), 12, steps, cosine: false);
        for (int i = 0; i < w.Length; i++)
        {
            var got = held[i].to_type(ScalarType.Float64).data<double>().ToArray();
            for (int k = 0; k < got.Length; k++)
                Assert.That(got[k], Is.EqualTo(w[i][k]).Within(1e-5 + 1e-5 * Math.Abs(w[i][k])), $"parameter {i}[{k}]");
        }
    }
}
