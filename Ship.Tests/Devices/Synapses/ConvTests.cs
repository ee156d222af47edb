using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.Datasets;
using TorchSharp;
using static Ship.Tests.Devices.DeviceTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Synapses;

/// <summary>Convolution, pooling and flatten against direct loops written here, with devices and checkpoints.</summary>
public class ConvTests
{
    // Direct cross-correlation over [C_in, H, W] (W = 1 for 1-d), zero padding, stride, dilation, groups.
    private static double[] Reference(double[] x, int cin, int h, int w, double[] k, int cout, int kh, int kw,
        int sh, int sw, int ph, int pw, int dh, int dw, int groups, double[] bias, out int ho, out int wo)
    {
        ho = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
        wo = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
        int cinG = cin / groups, coutG = cout / groups;
        var y = new double[cout * ho * wo];
        for (int co = 0; co < cout; co++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            double s = bias[co];
            int g = co / coutG;
            for (int cl = 0; cl < cinG; cl++)
            for (int a = 0; a < kh; a++)
            for (int b = 0; b < kw; b++)
            {
                int yy = i * sh + a * dh - ph, xx = j * sw + b * dw - pw;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                s += k[((co * cinG + cl) * kh + a) * kw + b] * x[((g * cinG + cl) * h + yy) * w + xx];
            }
            y[(co * ho + i) * wo + j] = s;
        }
        return y;
    }

    private static double[] Random(int n, int seed)
    {
        var rng = new System.Random(seed);
        return Enumerable.Range(0, n).Select(_ => Math.Round(rng.NextDouble() * 2 - 1, 3)).ToArray();
    }

    private static Tensor Run(Ship.Core.Groups.SynapseGroup s, int ns, int nt, double[] x)
    {
        var net = new Network { Dt = 1e-3, Steps = 1, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(ns));
        net.Add("S", s, "I", "O");
        net.Add("O", new Relay(nt));
        net.MarkOutput("O");
        return net.Run(torch.tensor(x, dtype: ScalarType.Float64).reshape(1, 1, ns))["O"].reshape(-1);
    }

    [Test]
    public void Conv2dWithStridePaddingDilationAndGroupsMatchesTheDirectSum()
    {
        const int cin = 4, h = 7, w = 6, cout = 6, kh = 3, kw = 2, groups = 2;
        var kernel = Random(cout * (cin / groups) * kh * kw, 1);
        var bias = Random(cout, 2);
        var x = Random(cin * h * w, 3);
        var expected = Reference(x, cin, h, w, kernel, cout, kh, kw, 2, 1, 1, 2, 2, 1, groups, bias, out int ho, out int wo);
        var kt = torch.tensor(kernel, dtype: ScalarType.Float64).reshape(cout, cin / groups, kh, kw);
        var conv = new Conv(new[] { cin, h, w }, cout, new[] { kh, kw }, stride: new[] { 2, 1 }, padding: new[] { 1, 2 }, dilation: new[] { 2, 1 }, groups: groups,
            weights: ConvFunctional.FromKernel(kt), bias: torch.tensor(bias, dtype: ScalarType.Float64).repeat_interleave(ho * wo));
        Assert.That(conv.OutputShape, Is.EqualTo(new[] { cout, ho, wo }));
        var y = D(Run(conv, cin * h * w, cout * ho * wo, x));
        Assert.That(y, Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void Conv1dMatchesTheDirectSum()
    {
        const int cin = 2, n = 9, cout = 3, k = 3;
        var kernel = Random(cout * cin * k, 4);
        var x = Random(cin * n, 5);
        var expected = Reference(x, cin, n, 1, kernel, cout, k, 1, 2, 1, 1, 0, 1, 1, 1, new double[cout], out int no, out _);
        var conv = new Conv(new[] { cin, n }, cout, new[] { k }, stride: new[] { 2 }, padding: new[] { 1 },
            weights: ConvFunctional.FromKernel(torch.tensor(kernel, dtype: ScalarType.Float64).reshape(cout, cin, k)));
        Assert.That(D(Run(conv, cin * n, cout * no, x)), Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void KernelOnADeviceArrayIsReadThroughTheDevice()
    {
        const int cin = 1, h = 4, w = 4, cout = 2, k = 2;
        var kernel = Random(cout * cin * k * k, 6);
        var x = Random(cin * h * w, 7);
        using var device = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), new QuantizedLevels(4));
        var conv = new Conv(new[] { cin, h, w }, cout, new[] { k, k }, weights: ConvFunctional.FromKernel(torch.tensor(kernel, dtype: ScalarType.Float64).reshape(cout, cin, k, k)));
        conv.WithDevice(device);
        var y = D(Run(conv, cin * h * w, cout * 9, x));
        // The device read (quantized) weights, not the targets, make the output: the direct sum with the read kernel.
        var read = D(device.Read(conv.Context));
        var readKernel = D(conv.KernelTensor(torch.tensor(read, dtype: ScalarType.Float64).reshape(conv.KernelRows, cout)));
        Assert.That(readKernel, Is.Not.EqualTo(kernel), "4 levels change the weights");
        var expected = Reference(x, cin, h, w, readKernel, cout, k, k, 1, 1, 0, 0, 1, 1, 1, new double[cout], out _, out _);
        Assert.That(y, Is.EqualTo(expected).Within(1e-12));
    }

    [TestCase(PoolKind.Sum)]
    [TestCase(PoolKind.Average)]
    public void PoolingMatchesTheDirectWindow(PoolKind kind)
    {
        const int c = 2, h = 5, w = 4;
        var x = Random(c * h * w, 8);
        var pool = new Pool2d(new[] { c, h, w }, new[] { 2, 2 }, kind, stride: new[] { 2, 1 }, padding: new[] { 1, 0 });
        int ho = (h + 2 - 2) / 2 + 1, wo = (w - 2) / 1 + 1;
        var expected = new double[c * ho * wo];
        for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            double s = 0;
            for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
            {
                int yy = i * 2 + a - 1, xx = j + b;
                if (yy >= 0 && yy < h && xx >= 0 && xx < w) s += x[(ch * h + yy) * w + xx];
            }
            expected[(ch * ho + i) * wo + j] = kind == PoolKind.Sum ? s : s / 4; // zero padding counted, as PyTorch
        }
        Assert.That(pool.OutputShape, Is.EqualTo(new[] { c, ho, wo }));
        Assert.That(D(Run(pool, c * h * w, c * ho * wo, x)), Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void FlattenPassesValuesAndChecksSizes()
    {
        var x = Random(24, 9);
        Assert.That(D(Run(new Ship.Devices.Synapses.Flatten(new[] { 2, 3, 4 }), 24, 24, x)), Is.EqualTo(x));
        var net = new Network { Dt = 1e-3, Steps = 1 };
        net.Add("I", new TensorInput(23));
        net.Add("F", new Ship.Devices.Synapses.Flatten(new[] { 2, 3, 4 }), "I", "O");
        net.Add("O", new Relay(23));
        var e = Assert.Throws<NetworkConfigurationException>(() => net.Initialize())!;
        Assert.That(e.Message, Does.Contain("'F'"));
    }

    [Test]
    public void BadShapesAreRefusedWithTheirNames()
    {
        Assert.That(Assert.Throws<ParameterException>(() => new Conv(new[] { 3, 4, 4 }, 4, new[] { 2, 2 }, groups: 2))!.Parameter, Is.EqualTo("groups"));
        Assert.That(Assert.Throws<ParameterException>(() => new Conv(new[] { 1, 2, 2 }, 1, new[] { 3, 3 }))!.Parameter, Is.EqualTo("kernel"));
        Assert.That(Assert.Throws<ParameterException>(() => new Pool2d(new[] { 1, 4 }, new[] { 2, 2 }, PoolKind.Sum))!.Parameter, Is.EqualTo("input_shape"));
    }

    [Test]
    public void ConvolutionalNetworkSavesAndLoadsBitExactly()
    {
        using var dir = new TempDir();
        var net = new Network { Dt = 1e-3, Steps = 20, DType = ScalarType.Float64, Seed = 3 };
        net.Add("I", new TensorInput(2 * 6 * 6));
        net.Add("C", new Conv(new[] { 2, 6, 6 }, 3, new[] { 3, 3 }, padding: new[] { 1, 1 }, weights: Init.Uniform(-0.5, 1)), "I", "N");
        net.Add("N", new CubaLif(3 * 36, tauMem: 5e-3, tauSyn: 2e-3, r: 5, threshold: 0.3));
        net.Add("P", new Pool2d(new[] { 3, 6, 6 }, new[] { 2, 2 }, PoolKind.Sum), "N", "F");
        net.Add("F", new Relay(27));
        net.MarkOutput("F");
        var x = torch.rand(new long[] { 1, 20, 72 }, generator: new torch.Generator(5)).lt(0.3).to_type(ScalarType.Float64);
        var y = net.Run(x)["F"];
        var cp = new NetworkCheckpoint(new ModelRegistry());
        cp.Save(net, dir.File("cp"));
        var back = cp.Load(dir.File("cp"));
        Assert.That(Same(back.Run(x)["F"], y), Is.True);
        Assert.That(y.sum().item<double>(), Is.GreaterThan(0));
    }
}
