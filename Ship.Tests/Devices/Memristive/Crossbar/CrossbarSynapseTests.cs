using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Energy;
using Ship.Devices.Memristive.Crossbar;
using Ship.Devices.Neurons;
using Ship.Devices.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive.Crossbar;

/// <summary>The crossbar synapse in a network: exact weights with ideal parts, tiles, readouts, counters, training, saving.</summary>
public class CrossbarSynapseTests
{
    private const double Gmin = 1e-6, Gmax = 100e-6;   // siemens, explicit (not a preset's unit)

    private static double[] D(Tensor t) => t.detach().to_type(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();

    private static Tensor Weights(int ns, int nt, int seed) =>
        torch.rand(new long[] { ns, nt }, dtype: ScalarType.Float64, generator: new torch.Generator((ulong)seed)).mul_(2).sub_(1);

    private static Network Net(CrossbarSynapse s, int ns, int nt, int batch, int steps)
    {
        var net = new Network { Dt = 1e-3, Steps = steps, BatchSize = batch, DType = ScalarType.Float64, Seed = 3 };
        net.Add("I", new TensorInput(ns));
        net.Add("X", s, "I", "T");
        net.Add("T", new LeakyIntegrator(nt));
        net.MarkOutput("X");
        return net;
    }

    private static Tensor Spikes(int batch, int steps, int n, double p, int seed) =>
        torch.rand(new long[] { batch, steps, n }, dtype: ScalarType.Float64, generator: new torch.Generator((ulong)seed)).lt(p).to_type(ScalarType.Float64);

    private static IEnumerable<ConductanceMapping> Mappings()
    {
        yield return new SymmetricDifferentialMapping(Gmin, Gmax);
        yield return new DifferentialReferenceMapping(Gmin, Gmax);
        yield return new SingleDeviceMapping(Gmin, Gmax);
    }

    [TestCaseSource(nameof(Mappings))]
    public void IdealDevicesAndPeripheryReproduceTheWeightsExactly(ConductanceMapping mapping)
    {
        int ns = 6, nt = 4;
        var w = Weights(ns, nt, 1);
        var s = new CrossbarSynapse(new DeviceArray(mapping), new CrossbarSettings { Tile = new TileSize(4, 6) }, w);
        var net = Net(s, ns, nt, 1, ns);
        // Step k drives row k alone with one spike: the output of step k is row k of W.
        var x = torch.eye(ns, dtype: ScalarType.Float64).unsqueeze(0);
        var y = D(net.Run(x)["X"][0]);
        var expected = D(w);
        for (int k = 0; k < ns * nt; k++) Assert.That(y[k], Is.EqualTo(expected[k]).Within(1e-12), $"element {k} with {mapping.GetType().Name}");
    }

    [TestCaseSource(nameof(Mappings))]
    public void TiledEqualsUntiledWithIdealPeriphery(ConductanceMapping mapping)
    {
        int ns = 37, nt = 23;
        var w = Weights(ns, nt, 2);
        var x = Spikes(3, 5, ns, 0.4, 7);
        var tiled = new CrossbarSynapse(new DeviceArray(mapping), new CrossbarSettings { Tile = new TileSize(8, 6) }, w);
        var whole = new CrossbarSynapse(new DeviceArray(mapping), new CrossbarSettings { Tile = new TileSize(64, 64) }, w);
        var a = D(Net(tiled, ns, nt, 3, 5).Run(x)["X"]);
        var b = D(Net(whole, ns, nt, 3, 5).Run(x)["X"]);
        var reference = D(x.matmul(w));
        int perTile = tiled.Differential ? 3 : 5;
        Assert.That(tiled.Layout!.RowTiles, Is.EqualTo((ns + 7) / 8));
        Assert.That(tiled.Layout.ColumnTiles, Is.EqualTo((nt + perTile - 1) / perTile));
        Assert.That(whole.Layout!.RowTiles * whole.Layout.ColumnTiles, Is.EqualTo(1));
        for (int k = 0; k < a.Length; k++)
        {
            Assert.That(a[k], Is.EqualTo(b[k]).Within(1e-12));
            Assert.That(a[k], Is.EqualTo(reference[k]).Within(1e-12));
        }
    }

    [Test]
    public void TimeBatchedEqualsStepByStepWithConvertersAndApproximateIrDrop()
    {
        int ns = 20, nt = 7;
        var x = Spikes(2, 12, ns, 0.3, 9);
        CrossbarSynapse Make() => new(new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax)), new CrossbarSettings
        {
            Tile = new TileSize(8, 8),
            Adc = new AdcSettings(Bits: 6, FullScale: 4e-6),
            Lines = new LineResistances(WordLine: 5, BitLine: 5, Driver: 50, Sense: 50),
            IrDrop = IrDropModel.Approximate,
        }, Weights(ns, nt, 4));
        var batched = Net(Make(), ns, nt, 2, 12);
        var stepped = Net(Make(), ns, nt, 2, 12);
        stepped.TimeBatching = false;
        var a = batched.Run(x);
        var b = stepped.Run(x);
        Assert.That(batched.SequenceGroups, Does.Contain("X"));
        Assert.That(stepped.SequenceGroups, Does.Not.Contain("X"));
        var da = D(a["X"]);
        var db = D(b["X"]);
        for (int k = 0; k < da.Length; k++) Assert.That(da[k], Is.EqualTo(db[k]).Within(1e-12));
        var sa = (CrossbarSynapse)batched["X"];
        var sb = (CrossbarSynapse)stepped["X"];
        Assert.That(sa.AdcConversions, Is.EqualTo(sb.AdcConversions));
        Assert.That(sa.AdcClipped, Is.EqualTo(sb.AdcClipped));
        // One conversion per logical column per row tile per sample per step: 2 samples × 12 steps × 3 row tiles × 7 columns.
        Assert.That(sa.AdcConversions, Is.EqualTo(2L * 12 * 3 * nt));
    }

    [Test]
    public void AdcClippingIsCountedAndTheOutputSaturatesAtTheTopCode()
    {
        // One row, two logical columns with w = (1, −1), M = 1: a spike gives I± = ±V·(Gmax − Gmin), far above a 1 µA full scale.
        var w = torch.tensor(new[] { 1.0, -1.0 }, new long[] { 1, 2 }, ScalarType.Float64);
        double fs = 1e-6, v = 0.2;
        var s = new CrossbarSynapse(new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax)),
            new CrossbarSettings { Adc = new AdcSettings(Bits: 4, FullScale: fs), Read = new ReadPulse(v, 10e-9) }, w);
        var net = Net(s, 1, 2, 1, 3);
        var x = torch.tensor(new[] { 1.0, 0.0, 1.0 }, new long[] { 1, 3, 1 }, ScalarType.Float64);
        var y = D(net.Run(x)["X"]);
        double lsb = fs / 8, k = v * (Gmax - Gmin);   // signed 4 bits: codes −8…7
        Assert.That(y, Is.EqualTo(new[] { 7 * lsb / k, -8 * lsb / k, 0, 0, 7 * lsb / k, -8 * lsb / k }).Within(1e-9));
        Assert.That(s.AdcClipped, Is.EqualTo(4));          // two spikes × two columns
        Assert.That(s.AdcConversions, Is.EqualTo(6));
    }

    [Test]
    public void AdcNoiseComesFromTheNetworkGeneratorSoASeedFixesIt()
    {
        CrossbarSynapse Make() => new(new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax)),
            new CrossbarSettings { Adc = new AdcSettings(Bits: 10, FullScale: 20e-6, NoiseSigma: 0.5e-6) }, Weights(8, 3, 5));
        var x = Spikes(2, 6, 8, 0.5, 3);
        var a = D(Net(Make(), 8, 3, 2, 6).Run(x)["X"]);
        var b = D(Net(Make(), 8, 3, 2, 6).Run(x)["X"]);
        var quiet = new CrossbarSynapse(new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax)),
            new CrossbarSettings { Adc = new AdcSettings(Bits: 10, FullScale: 20e-6) }, Weights(8, 3, 5));
        var c = D(Net(quiet, 8, 3, 2, 6).Run(x)["X"]);
        Assert.That(a, Is.EqualTo(b));
        Assert.That(a.Zip(c).Count(p => p.First != p.Second), Is.GreaterThan(a.Length / 2));
    }

    [Test]
    public void CurrentModeIntegratesTheColumnCurrentOntoTheMembrane()
    {
        var w = Weights(5, 3, 6);
        double v = 0.25, width = 20e-9, cm = 2e-12;
        var s = new CrossbarSynapse(new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax)),
            new CrossbarSettings { CurrentMode = new CurrentModeSettings(cm), Read = new ReadPulse(v, width) }, w);
        var x = Spikes(1, 4, 5, 0.5, 8);
        var y = D(Net(s, 5, 3, 1, 4).Run(x)["X"]);
        double m = w.abs().max().item<double>();
        // ΔV = I·t/C with I = V·Σ x·(G+ − G−) = V·(Gmax − Gmin)/M·(x·W).
        var expected = D(x.matmul(w).mul(v * (Gmax - Gmin) / m * width / cm));
        for (int k = 0; k < y.Length; k++) Assert.That(y[k], Is.EqualTo(expected[k]).Within(1e-12 * Math.Max(1, Math.Abs(expected[k]))));
    }

    [Test]
    public void DacQuantizesAnalogInputsAndCountsClipping()
    {
        var w = Weights(4, 2, 7);
        var dac = new DacSettings(2, 0, 1);   // levels 0, 1/3, 2/3, 1
        var s = new CrossbarSynapse(new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax)), new CrossbarSettings { Dac = dac }, w);
        var x = torch.tensor(new[] { 0.1, 0.2, 0.55, 1.4 }, new long[] { 1, 1, 4 }, ScalarType.Float64);
        var y = D(Net(s, 4, 2, 1, 1).Run(x)["X"]);
        var levels = torch.tensor(new[] { 0.0, 1.0 / 3, 2.0 / 3, 1.0 }, new long[] { 1, 4 }, ScalarType.Float64);
        var expected = D(levels.matmul(w));
        for (int k = 0; k < 2; k++) Assert.That(y[k], Is.EqualTo(expected[k]).Within(1e-12));
        Assert.That(s.DacClipped, Is.EqualTo(1));
        Assert.That(s.DacConversions, Is.EqualTo(4));
    }

    [Test]
    public void ExactIrDropInTheSynapseMatchesTheSolverOnItsOwnTile()
    {
        int ns = 6, nt = 3;
        var w = Weights(ns, nt, 8);
        var lines = new LineResistances(WordLine: 40, BitLine: 40, Driver: 200, Sense: 200);
        var s = new CrossbarSynapse(new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax)),
            new CrossbarSettings { Lines = lines, IrDrop = IrDropModel.Exact, Tile = new TileSize(8, 8) }, w);
        var x = torch.tensor(new[] { 1.0, 0, 1, 1, 0, 1 }, new long[] { 1, 1, ns }, ScalarType.Float64);
        var y = D(Net(s, ns, nt, 1, 1).Run(x)["X"]);
        // The same tile by hand: G+ and G− interleaved, padded rows and columns without devices, 1T1R rows off where x = 0.
        double m = w.abs().max().item<double>(), k = (Gmax - Gmin) / m;
        var plus = w.clamp(min: 0).mul(k).add(Gmin);
        var minus = w.neg().clamp(min: 0).mul(k).add(Gmin);
        var tile = torch.zeros(8, 8, dtype: ScalarType.Float64);
        for (int j = 0; j < nt; j++)
        {
            tile[TensorIndex.Slice(0, ns), 2 * j] = plus[TensorIndex.Colon, j];
            tile[TensorIndex.Slice(0, ns), 2 * j + 1] = minus[TensorIndex.Colon, j];
        }
        var v = torch.zeros(1, 8, dtype: ScalarType.Float64);
        v[0, TensorIndex.Slice(0, ns)] = x[0, 0].mul(0.2);
        var i = D(IrDropFunctional.Exact(tile, v, lines, true));
        for (int j = 0; j < nt; j++) Assert.That(y[j], Is.EqualTo((i[2 * j] - i[2 * j + 1]) / (0.2 * k)).Within(1e-12));
        var ideal = D(x[0].matmul(w));
        Assert.That(y.Zip(ideal).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-3), "the drop must be visible");
    }

    [Test]
    public void TrainingThroughThePeripheryGivesTheFiniteDifferenceGradientAndStraightThroughConverters()
    {
        int ns = 5, nt = 3;
        var w0 = Weights(ns, nt, 9);
        var x = Spikes(2, 4, ns, 0.6, 10);
        var lines = new LineResistances(WordLine: 200, BitLine: 200, Driver: 500, Sense: 500);
        var c = torch.randn(new long[] { 2, 4, nt }, dtype: ScalarType.Float64, generator: new torch.Generator(77));
        (double Loss, double[] Grad) Run(Tensor w, AdcSettings? adc, bool linear = false)
        {
            var s = new CrossbarSynapse(new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax)),
                new CrossbarSettings { Lines = lines, IrDrop = IrDropModel.Approximate, Adc = adc }, w) { TrainThroughPeriphery = true };
            var net = Net(s, ns, nt, 2, 4);
            net.TrackGradients = true;
            net.Initialize();
            var p = s.W.Value.requires_grad_();
            var y = net.Run(x)["X"];
            var loss = linear ? y.mul(c).sum() : y.pow(2).sum();
            loss.backward();
            return (loss.item<double>(), D(p.grad!));
        }
        var (l0, grad) = Run(w0.clone(), null);
        // Central differences on entries that are not the scale M = max|w| (the scale is held fixed, as in programming).
        int argmax = (int)w0.abs().flatten().argmax().item<long>();
        double h = 1e-6;
        foreach (int e in new[] { 0, 4, 7, 13 })
        {
            if (e == argmax) continue;
            var wp = w0.clone(); wp.view(-1)[e] += h;
            var wm = w0.clone(); wm.view(-1)[e] -= h;
            double fd = (Run(wp, null).Loss - Run(wm, null).Loss) / (2 * h);
            Assert.That(grad[e], Is.EqualTo(fd).Within(1e-6 * Math.Max(1, Math.Abs(fd))), $"weight {e}");
        }
        Assert.That(grad.Max(Math.Abs), Is.GreaterThan(0));
        // A converter that never clips passes the gradient straight through (with a linear loss, whose dL/dy does not
        // depend on y, exactly the converter-free gradient) while its forward value is quantized; one that always clips passes none.
        var (ll, gl) = Run(w0.clone(), null, linear: true);
        var (lq, gq) = Run(w0.clone(), new AdcSettings(Bits: 6, FullScale: 2e-4), linear: true);
        Assert.That(lq, Is.Not.EqualTo(ll));
        for (int e = 0; e < gq.Length; e++) Assert.That(gq[e], Is.EqualTo(gl[e]).Within(1e-12 * Math.Max(1, Math.Abs(gl[e]))));
        var (_, gc) = Run(w0.clone(), new AdcSettings(Bits: 6, FullScale: 1e-12), linear: true);
        Assert.That(gc.Max(Math.Abs), Is.EqualTo(0));
    }

    [Test]
    public void ACheckpointedCrossbarNetworkReadsTheSame()
    {
        var s = new CrossbarSynapse(new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax), new ProgrammingNoise(new AbsoluteSigma(2e-6))),
            new CrossbarSettings
            {
                Tile = new TileSize(4, 4),
                Adc = new AdcSettings(Bits: 5),
                Dac = new DacSettings(3, 0, 1),
                Lines = new LineResistances(2, 3, 4, 5),
                ArrayType = ArrayType.CrossPoint,
            }, Weights(9, 5, 11));
        var net = Net(s, 9, 5, 2, 6);
        var x = Spikes(2, 6, 9, 0.5, 12);
        var before = D(net.Run(x)["X"]);
        var dir = Path.Combine(Path.GetTempPath(), "ship-crossbar-" + Guid.NewGuid().ToString("N"));
        try
        {
            Checkpoint.Save(net, dir);
            var loaded = Checkpoint.Load(dir);
            var after = D(loaded.Run(x)["X"]);
            Assert.That(after, Is.EqualTo(before));
            var ls = (CrossbarSynapse)loaded["X"];
            Assert.That(ls.Settings, Is.EqualTo(s.Settings));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Test]
    public void BadCrossbarSettingsAreRejectedWithTheirName()
    {
        var ideal = new DeviceArray(new DirectMapping());
        Assert.That(Assert.Throws<ParameterException>(() => new CrossbarSynapse(ideal))!.Parameter, Is.EqualTo("mapping"));
        var pair = new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax));
        Assert.That(Assert.Throws<ParameterException>(() => new CrossbarSynapse(pair, new CrossbarSettings { Adc = new AdcSettings(), CurrentMode = new CurrentModeSettings() }))!.Parameter, Is.EqualTo("readout"));
        Assert.That(Assert.Throws<ParameterException>(() => new CrossbarSynapse(pair, new CrossbarSettings { Read = new ReadPulse(0, 1e-9) }))!.Parameter, Is.EqualTo("read.voltage"));
        Assert.That(Assert.Throws<ParameterException>(() => new CrossbarSynapse(pair, new CrossbarSettings { Tile = new TileSize(0, 8) }))!.Parameter, Is.EqualTo("tile.rows"));
        Assert.That(Assert.Throws<ParameterException>(() => new CrossbarSynapse(pair, new CrossbarSettings { Tolerance = 1e-6 }))!.Parameter, Is.EqualTo("tolerance"));
        var s = new CrossbarSynapse(pair, new CrossbarSettings { Lines = new LineResistances(1, 1), IrDrop = IrDropModel.Exact }, Weights(3, 2, 1)) { TrainThroughPeriphery = true };
        var net = Net(s, 3, 2, 1, 1);
        Assert.That(Assert.Throws<ParameterException>(() => net.Run(torch.ones(1, 1, 3, dtype: ScalarType.Float64)))!.Parameter, Is.EqualTo("ir_drop"));
    }
}
