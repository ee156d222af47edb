using NUnit.Framework;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Nir;
using TorchSharp;
using static Ship.Tests.Nir.NirTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Nir;

/// <summary>
/// NIR-level import of Conv1d and AvgPool2d nodes: a graph built here with <see cref="NirNode"/>, imported with
/// <see cref="NirGraph"/>, compared step by step with direct loops written in this file.
/// </summary>
public class NirConvPoolImportTests
{
    private const double Dt = 1e-3;
    private const int Steps = 3;

    private static NirNode Graph(params (string Name, NirNode Node)[] nodes)
    {
        var g = new NirNode("NIRGraph");
        foreach (var (n, node) in nodes) g.Nodes.Add(new(n, node));
        for (int i = 0; i + 1 < nodes.Length; i++) g.Edges.Add((nodes[i].Name, nodes[i + 1].Name));
        return g;
    }

    // Values on a 1/8 grid: exact in float64 sums, so the loops below and the network agree to rounding of a few adds.
    private static double[] Values(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.Next(-8, 9) / 8.0).ToArray();
    }

    private static double[] Step(double[] x, int step, int n) => x.Skip(step * n).Take(n).ToArray();

    // Cross-correlation over [C_in, L] with zero padding, stride, dilation and groups; weight [C_out, C_in/groups, k].
    private static double[] Conv1dLoop(double[] x, int cin, int len, double[] w, int cout, int k, int stride, int pad, int dil, int groups, double[] bias)
    {
        int lout = (len + 2 * pad - dil * (k - 1) - 1) / stride + 1;
        int cinG = cin / groups, coutG = cout / groups;
        var y = new double[cout * lout];
        for (int co = 0; co < cout; co++)
        for (int i = 0; i < lout; i++)
        {
            double s = bias[co];
            int g = co / coutG;
            for (int c = 0; c < cinG; c++)
            for (int a = 0; a < k; a++)
            {
                int p = i * stride + a * dil - pad;
                if (p >= 0 && p < len) s += w[(co * cinG + c) * k + a] * x[(g * cinG + c) * len + p];
            }
            y[co * lout + i] = s;
        }
        return y;
    }

    [TestCase(1, 2, 1, 1, false, TestName = "Conv1d stride 2, padding 1")]
    [TestCase(2, 1, 2, 2, true, TestName = "Conv1d dilation 2, padding 2, 2 groups, input_shape given")]
    [TestCase(-1, 1, 1, 1, false, TestName = "Conv1d padding 'same'")]
    public void Conv1dNodeMatchesADirectLoop(int pad, int stride, int dil, int groups, bool giveInputShape)
    {
        const int cin = 4, len = 9, cout = 6, k = 3;
        var w = Values(cout * (cin / groups) * k, 1);
        var bias = Values(cout, 2);
        var conv = new NirNode("Conv1d")
            .With("weight", NirArray.Of(w, cout, cin / groups, k))
            .With("bias", NirArray.Vector(bias))
            .With("stride", NirArray.Int(stride))
            .With("dilation", NirArray.Int(dil))
            .With("groups", NirArray.Int(groups))
            .With("padding", pad < 0 ? new NirText("same") : NirArray.Int(pad));
        if (giveInputShape) conv.With("input_shape", NirArray.Int(len));
        int padding = pad < 0 ? dil * (k - 1) / 2 : pad;
        int lout = (len + 2 * padding - dil * (k - 1) - 1) / stride + 1;
        var g = Graph(("input", new NirNode("Input").With("shape", NirArray.Ints(cin, len))), ("conv", conv),
            ("output", new NirNode("Output").With("shape", NirArray.Ints(cout, lout))));

        var net = NirGraph.FromNir(g, Dt, new NirImportOptions { DType = ScalarType.Float64 });
        var c = (Conv)net["conv"];
        Assert.That(c.InputShape, Is.EqualTo(new[] { cin, len }));
        Assert.That(c.OutputShape, Is.EqualTo(new[] { cout, lout }));
        var x = Values(Steps * cin * len, 3);
        var y = D(net.Run(torch.tensor(x, dtype: ScalarType.Float64).reshape(1, Steps, cin * len))["output"]);
        Assert.That(y.Length, Is.EqualTo(Steps * cout * lout));
        for (int t = 0; t < Steps; t++)
        {
            // A synapse feeding an Output relay: this step's input, no lag, no state carried between steps.
            var expected = Conv1dLoop(Step(x, t, cin * len), cin, len, w, cout, k, stride, padding, dil, groups, bias);
            Assert.That(Step(y, t, cout * lout), Is.EqualTo(expected).Within(1e-12), $"step {t}");
        }
    }

    [Test]
    public void Conv1dIntoIfNeuronsSpikesAsADirectSimulation()
    {
        // Input [2, 6] → Conv1d (k 2, stride 1, no padding, no bias) → IF (r 1, threshold 0.99, reset 0) → Output.
        // Membranes move on a 1/32 grid, so v never equals 0.99: NIR's v > θ and Ship.NET's v ≥ θ agree.
        const int cin = 2, len = 6, cout = 2, k = 2, lout = len - k + 1, steps = 12;
        double[] w = { 0.5, 0.25, 0, 0.125, /* channel 1 */ -0.25, 0.5, 0.5, 0.5 };
        var g = Graph(("input", new NirNode("Input").With("shape", NirArray.Ints(cin, len))),
            ("conv", new NirNode("Conv1d").With("weight", NirArray.Of(w, cout, cin, k)).With("bias", NirArray.Vector(0, 0))
                .With("stride", NirArray.Int(1)).With("padding", NirArray.Int(0)).With("dilation", NirArray.Int(1)).With("groups", NirArray.Int(1))),
            ("if", new NirNode("IF").With("r", NirArray.Vector(Enumerable.Repeat(1.0, cout * lout).ToArray()))
                .With("v_threshold", NirArray.Vector(Enumerable.Repeat(0.99, cout * lout).ToArray()))
                .With("v_reset", NirArray.Vector(new double[cout * lout]))),
            ("output", new NirNode("Output").With("shape", NirArray.Ints(cout, lout))));
        var net = NirGraph.FromNir(g, Dt, new NirImportOptions { DType = ScalarType.Float64 });
        var rng = new Random(5);
        var x = Enumerable.Range(0, steps * cin * len).Select(_ => rng.NextDouble() < 0.5 ? 1.0 / Dt / 4 : 0.0).ToArray();
        var s = D(net.Run(torch.tensor(x, dtype: ScalarType.Float64).reshape(1, steps, cin * len))["output"]);

        // NIR IF: v̇ = r·I, exact for an input held over the step: v ← v + dt·r·I; a spike where v > θ, then v ← v_reset.
        var v = new double[cout * lout];
        int spikes = 0;
        for (int t = 0; t < steps; t++)
        {
            var cur = Conv1dLoop(Step(x, t, cin * len), cin, len, w, cout, k, 1, 0, 1, 1, new double[cout]);
            for (int j = 0; j < v.Length; j++)
            {
                v[j] += Dt * cur[j];
                double spike = v[j] > 0.99 ? 1 : 0;
                if (spike > 0) v[j] = 0;
                spikes += (int)spike;
                Assert.That(s[t * v.Length + j], Is.EqualTo(spike), $"step {t}, neuron {j}");
            }
        }
        Assert.That(spikes, Is.GreaterThan(3), "the input drives some spikes");
    }

    [TestCase(0, TestName = "AvgPool2d without padding")]
    [TestCase(1, TestName = "AvgPool2d with zero padding (counted)")]
    public void AvgPool2dNodeMatchesADirectLoop(int pad)
    {
        const int c = 2, h = 5, w = 6, kh = 2, kw = 3, sh = 2, sw = 2;
        int ho = (h + 2 * pad - kh) / sh + 1, wo = (w + 2 * pad - kw) / sw + 1;
        var g = Graph(("input", new NirNode("Input").With("shape", NirArray.Ints(c, h, w))),
            ("pool", new NirNode("AvgPool2d").With("kernel_size", NirArray.Ints(kh, kw)).With("stride", NirArray.Ints(sh, sw))
                .With("padding", NirArray.Ints(pad, pad))),
            ("output", new NirNode("Output").With("shape", NirArray.Ints(c, ho, wo))));
        var net = NirGraph.FromNir(g, Dt, new NirImportOptions { DType = ScalarType.Float64 });
        Assert.That(((Pool2d)net["pool"]).OutputShape, Is.EqualTo(new[] { c, ho, wo }));
        var x = Values(Steps * c * h * w, 4);
        var y = D(net.Run(torch.tensor(x, dtype: ScalarType.Float64).reshape(1, Steps, c * h * w))["output"]);
        Assert.That(y.Length, Is.EqualTo(Steps * c * ho * wo));
        for (int t = 0; t < Steps; t++)
        {
            var xt = Step(x, t, c * h * w);
            var expected = new double[c * ho * wo];
            for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < ho; i++)
            for (int j = 0; j < wo; j++)
            {
                double s = 0;
                for (int a = 0; a < kh; a++)
                for (int b = 0; b < kw; b++)
                {
                    int yy = i * sh + a - pad, xx = j * sw + b - pad;
                    if (yy >= 0 && yy < h && xx >= 0 && xx < w) s += xt[(ch * h + yy) * w + xx];
                }
                expected[(ch * ho + i) * wo + j] = s / (kh * kw); // padding counts as zeros in the mean (PyTorch's default, docs/nir.md)
            }
            Assert.That(Step(y, t, c * ho * wo), Is.EqualTo(expected).Within(1e-12), $"step {t}");
        }
    }
}
