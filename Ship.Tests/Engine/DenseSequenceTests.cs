using NUnit.Framework;
using Ship.Core.Native;
using Ship.Devices.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// The time-batched dense product (DenseSequence): y = x·W over a whole block and its gradients, in both layouts — the
/// [B, T, Nt] block, and for narrow outputs the transposed [Nt, B·T] block seen as [B, T, Nt] — against a product
/// written out in the test (a float64 loop over the sums), and bit-identical at 1 and 2 intra-op threads.
/// </summary>
public class DenseSequenceTests
{
    /// <summary>y[b, t, j] = Σ_k x[b, t, k]·W[k, j], ∂L/∂W[k, j] = Σ_{b,t} x[b, t, k]·g[b, t, j], ∂L/∂x[b, t, k] = Σ_j g[b, t, j]·W[k, j], in float64.</summary>
    private static (double[] Y, double[] Dw, double[] Dx) Reference(double[] x, double[] w, double[] g, int rows, int ns, int nt)
    {
        var y = new double[rows * nt];
        var dw = new double[ns * nt];
        var dx = new double[rows * ns];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < nt; j++)
                for (int k = 0; k < ns; k++)
                {
                    y[r * nt + j] += x[r * ns + k] * w[k * nt + j];
                    dw[k * nt + j] += x[r * ns + k] * g[r * nt + j];
                    dx[r * ns + k] += g[r * nt + j] * w[k * nt + j];
                }
        return (y, dw, dx);
    }

    [TestCase(64, 10, ScalarType.Float32, true)]
    [TestCase(128, 32, ScalarType.Float64, true)]
    [TestCase(40, 33, ScalarType.Float32, false)]
    [TestCase(8, 10, ScalarType.Float64, false)]
    [TestCase(16, 64, ScalarType.Float32, false)]
    public void ProductAndGradientsMatchTheSumsWrittenOut(int ns, int nt, ScalarType dtype, bool transposed)
    {
        Assert.That(DenseSequence.Transposed(ns, nt), Is.EqualTo(transposed), "the layout rule: narrow (≤ 32) outputs, fewer than the inputs");
        const int b = 3, t = 5;
        var gen = new torch.Generator(7);
        // Spike-like input (0/1) mixed with analog values, so both kinds of rows are exercised.
        var x = torch.rand(new long[] { b, t, ns }, generator: gen, dtype: ScalarType.Float64).lt(0.4).to_type(ScalarType.Float64)
            .add(torch.rand(new long[] { b, t, ns }, generator: gen, dtype: ScalarType.Float64).mul(0.5).mul(torch.rand(new long[] { b, t, ns }, generator: gen, dtype: ScalarType.Float64).lt(0.2).to_type(ScalarType.Float64)));
        var w = torch.randn(new long[] { ns, nt }, generator: gen, dtype: ScalarType.Float64);
        var g = torch.randn(new long[] { b, t, nt }, generator: gen, dtype: ScalarType.Float64);
        var (ry, rdw, rdx) = Reference(x.data<double>().ToArray(), w.data<double>().ToArray(), g.data<double>().ToArray(), b * t, ns, nt);

        var xs = x.to_type(dtype).requires_grad_(true);
        var ws = w.to_type(dtype).requires_grad_(true);
        var y = DenseSequence.Product(xs, ws, null);
        Assert.That(y.shape, Is.EqualTo(new long[] { b, t, nt }));
        y.backward(new[] { g.to_type(dtype) });
        double tol = dtype == ScalarType.Float32 ? 1e-5 : 1e-12;
        AssertClose(y.detach(), ry, tol, "y");
        AssertClose(ws.grad!, rdw, tol, "∂L/∂W");
        AssertClose(xs.grad!, rdx, tol, "∂L/∂x");
        Assert.That(ws.grad!.shape, Is.EqualTo(new long[] { ns, nt }));

        using (torch.no_grad())
        {
            var y2 = DenseSequence.Product(x.to_type(dtype), w.to_type(dtype), null);
            AssertClose(y2, ry, tol, "y without a graph");
        }
    }

    [Test]
    public void ANarrowProductAndItsGradientAreBitIdenticalAtOneAndTwoThreads()
    {
        Assume.That(IntraOpThreads.Available, "libtorch_cpu's per-thread setters resolve on this build");
        // The main job's read-out shape and a long block: the sum over B·T rows of ∂L/∂W is where a BLAS would split work.
        var gen = new torch.Generator(3);
        var x = torch.rand(new long[] { 32, 200, 128 }, generator: gen).lt(0.2).to_type(ScalarType.Float32);
        var w = torch.randn(new long[] { 128, 10 }, generator: gen);
        var g = torch.randn(new long[] { 32, 200, 10 }, generator: gen);
        var results = new List<(float[] Y, float[] Dw)>();
        foreach (int threads in new[] { 1, 2 })
        {
            using var scope = IntraOpThreads.Enter(threads);
            var ws = w.clone().requires_grad_(true);
            var y = DenseSequence.Product(x, ws, null);
            y.backward(new[] { g });
            results.Add((y.detach().contiguous().data<float>().ToArray(), ws.grad!.contiguous().data<float>().ToArray()));
        }
        Assert.That(results[1].Y, Is.EqualTo(results[0].Y), "y bit for bit");
        Assert.That(results[1].Dw, Is.EqualTo(results[0].Dw), "∂L/∂W bit for bit");
    }

    private static void AssertClose(Tensor actual, double[] expected, double relative, string what)
    {
        var a = actual.to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
        Assert.That(a.Length, Is.EqualTo(expected.Length), what);
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < a.Length; i++)
            Assert.That(a[i], Is.EqualTo(expected[i]).Within(relative * scale), $"{what}, element {i}");
    }
}

/// <summary>What users get from a network whose output group is a narrow dense product (computed transposed inside).</summary>
public class NarrowOutputTests
{
    [TestCase(true)]
    [TestCase(false)]
    public void ANarrowDenseOutputIsHandedOutRowMajorWithTheValuesOfTheProduct(bool batching)
    {
        const int batch = 4, steps = 7, ns = 40, nt = 10;
        var gen = new torch.Generator(5);
        var x = torch.rand(new long[] { batch, steps, ns }, generator: gen, dtype: ScalarType.Float64).lt(0.3).to_type(ScalarType.Float64);
        var w = torch.randn(new long[] { ns, nt }, generator: gen, dtype: ScalarType.Float64);
        var net = new Ship.Core.Networks.Network("narrow") { Dt = 1e-3, Steps = steps, BatchSize = batch, DType = ScalarType.Float64, TimeBatching = batching };
        net.Add("in", new Ship.Devices.Inputs.TensorInput(ns));
        net.Add("d", new Ship.Devices.Synapses.Dense((Ship.Core.Parameters.Value)w), "in", "sink");
        net.Add("sink", new Ship.Devices.Neurons.LeakyIntegrator(nt, tau: 5e-3));
        net.MarkOutput("d");
        var y = net.Run(x).Outputs["d"];
        Assert.That(y.shape, Is.EqualTo(new long[] { batch, steps, nt }));
        Assert.That(y.is_contiguous(), Is.True, "handed out row-major, as every other output");
        Assert.That(() => _ = y.bytes, Throws.Nothing);
        // The product written out: y[b, t, j] = Σ_k x[b, t, k]·w[k, j].
        var xs = x.data<double>().ToArray();
        var ws = w.data<double>().ToArray();
        var ys = y.data<double>().ToArray();
        for (int r = 0; r < batch * steps; r++)
            for (int j = 0; j < nt; j++)
            {
                double e = 0;
                for (int k = 0; k < ns; k++) e += xs[r * ns + k] * ws[k * nt + j];
                Assert.That(ys[r * nt + j], Is.EqualTo(e).Within(1e-12 * 10), $"row {r}, output {j}");
            }
    }
}
