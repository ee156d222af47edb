using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Devices.Energy;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Memristive.Crossbar;
using Ship.Devices.Neurons;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Energy;

/// The ledger's counts of crossbar synapses: converter counts against hand counts from the crossbar's definitions
/// (docs/models/crossbar.md), energies computed here from those counts, the crossbar's own read pulse and array type,
/// and bit-identical runs with and without the ledger.
public class HardwareLedgerCrossbarTests
{
    private const double Gmin = 1e-6, Gmax = 100e-6; // siemens

    // Input raster [batch 2, steps 5, 4 rows], hand-made. Ones: sample 0 → 1 + 0 + 2 + 4 + 1 = 8, sample 1 → 0 + 1 + 0 + 2 + 1 = 4.
    // (sample, step) pairs with at least one spike: sample 0 → 4 of 5, sample 1 → 3 of 5 → 7.
    private static readonly double[,,] Raster =
    {
        { { 1, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0, 1, 1, 0 }, { 1, 1, 1, 1 }, { 0, 0, 0, 1 } },
        { { 0, 0, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 0 }, { 1, 0, 0, 1 }, { 0, 1, 0, 0 } },
    };
    private const int Ones = 12, ActivePairs = 7, Batch = 2, Steps = 5, Rows = 4, Columns = 3;

    private static Network Net(CrossbarSynapse s, long seed = 3)
    {
        var net = new Network("ledger-crossbar") { Dt = 1e-3, Steps = Steps, BatchSize = Batch, DType = ScalarType.Float64, Seed = seed };
        net.Add("I", new TensorInput(Rows));
        net.Add("X", s, "I", "T");
        net.Add("T", new LeakyIntegrator(Columns));
        net.MarkOutput("X");
        return net;
    }

    private static Tensor Uniform(double w) => torch.full(Rows, Columns, w, dtype: ScalarType.Float64);

    [Test]
    public void ConvertersOfA4x3DifferentialCrossbarEqualHandCountsAndAreChargedPerConversion()
    {
        // One tile (256 × 256 default): a signed ADC per logical column (pair difference), a DAC per row.
        // DAC range [0, 0.5]: every spike (1) is outside it, so DacClipped = spikes. All weights positive and a full
        // scale of 1 pA: every conversion of a (sample, step) with a spike clips, the others read exactly 0.
        var s = new CrossbarSynapse(new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax)), new CrossbarSettings
        {
            Adc = new AdcSettings(Bits: 6, FullScale: 1e-12, ColumnsPerAdc: 3),
            Dac = new DacSettings(Bits: 4, Min: 0, Max: 0.5),
            Read = new ReadPulse(0.3, 20e-9),
        }, Uniform(0.5));
        var net = Net(s);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(torch.tensor(Raster));
        var rep = ledger.Report();

        // ADC: columns × row tiles × steps × samples = 3 × 1 × 5 × 2; DAC: rows × column tiles × steps × samples = 4 × 1 × 5 × 2.
        var c = rep.Converters("X");
        Assert.That(c.AdcConversions, Is.EqualTo(3 * 1 * 5 * 2));
        Assert.That(c.DacConversions, Is.EqualTo(4 * 1 * 5 * 2));
        Assert.That(c.DacClipped, Is.EqualTo(Ones));
        Assert.That(c.AdcClipped, Is.EqualTo(Columns * ActivePairs));
        var per = rep.ConvertersPerInference("X");
        Assert.That(per, Is.EqualTo(new ConverterCounts(15, 20, Columns * ActivePairs / 2.0, Ones / 2.0)));
        Assert.That(rep.ConvertersPerRun(), Is.EqualTo(c), "one run");

        double eAdc = 3e-12, eDac = 0.7e-12;
        var model = EnergyPresets.Crossbar1T1R() with { AdcEnergy = eAdc, DacEnergy = eDac, AdcTime = 5e-9, NeuronUpdateTime = 1e-9 };
        var layer = rep.Energy(model).Single();
        Assert.That(layer.PeripheryEnergy, Is.EqualTo(15 * eAdc + 20 * eDac).Within(1e-12 * layer.PeripheryEnergy));
        // The crossbar's own read pulse (0.3 V, 20 ns), not the preset's (0.5 V, 10 ns).
        var syn = rep.Synapses.Single();
        Assert.That(syn.ReadConductance, Is.GreaterThan(0));
        Assert.That(layer.SynapticEnergy, Is.EqualTo(syn.ReadConductance / 2 * 0.3 * 0.3 * 20e-9).Within(1e-12 * layer.SynapticEnergy));
        // Latency: per step one 20 ns read, 3 columns converted in series by each ADC, one neuron update.
        Assert.That(rep.Latency(model), Is.EqualTo(5 * (20e-9 + 3 * 5e-9 + 1e-9)).Within(1e-20));

        // A second run counts afresh from the crossbar's reset; a Continue extends it without a reset.
        net.Run(torch.tensor(Raster));
        net.Continue(torch.tensor(Raster));
        var after = ledger.Report();
        Assert.That(after.Runs, Is.EqualTo(2));
        Assert.That(after.Converters().AdcConversions, Is.EqualTo(3 * 5 * 2 * 3));
        Assert.That(after.Converters().DacClipped, Is.EqualTo(3 * Ones));
        Assert.That(after.ConvertersPerRun().DacConversions, Is.EqualTo(4 * 5 * 2 * 3 / 2.0));
        Assert.That(after.ConvertersPerInference().AdcClipped, Is.EqualTo(3.0 * Columns * ActivePairs / 4));
    }

    [Test]
    public void SingleEndedTiledCrossbarCountsEveryColumnAndTheReferencePerRowTile()
    {
        // Tiles of 2 rows × 3 physical columns: 2 device columns + 1 reference → 4 rows / 2 = 2 row tiles, 3 columns / 2
        // per tile = 2 column tiles. Per sample and step: row tiles × (logical columns + one reference per column tile)
        // = 2 × (3 + 2) = 10 conversions. No DAC: rows are driven by one pulse driver per spike.
        var s = new CrossbarSynapse(new DeviceArray(new SingleDeviceMapping(Gmin, Gmax)), new CrossbarSettings
        {
            Tile = new TileSize(2, 3),
            Adc = new AdcSettings(Bits: 8, FullScale: 1e-3),
        }, Uniform(0.25));
        var net = Net(s);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(torch.tensor(Raster));
        var rep = ledger.Report();
        var c = rep.Converters();
        Assert.That(c.AdcConversions, Is.EqualTo(10 * Steps * Batch));
        Assert.That(c.DacConversions, Is.EqualTo(0));
        Assert.That(c.AdcClipped, Is.EqualTo(0), "1 mA is far above any column current (2 rows × 100 µS × 0.2 V = 40 µA)");
        Assert.That(rep.Synapses.Single().RowEvents, Is.EqualTo(Ones));
        double eAdc = 2e-12, eDac = 0.4e-12;
        var layer = rep.Energy(EnergyPresets.CrossPoint() with { AdcEnergy = eAdc, DacEnergy = eDac }).Single();
        double expected = (10.0 * Steps * Batch * eAdc + Ones * eDac) / Batch;
        Assert.That(layer.PeripheryEnergy, Is.EqualTo(expected).Within(1e-12 * expected));
        // The crossbar's default read pulse, 0.2 V for 10 ns.
        var syn = rep.Synapses.Single();
        Assert.That(layer.SynapticEnergy, Is.EqualTo(syn.ReadConductance / Batch * 0.2 * 0.2 * 10e-9).Within(1e-12 * layer.SynapticEnergy));
    }

    [TestCase(ArrayType.CrossPoint)]
    [TestCase(ArrayType.OneTransistorOneResistor)]
    public void WritesToACrossbarTakeTheHalfSelectTermsOfItsOwnArrayType(ArrayType type)
    {
        var array = new DeviceArray("pulsed", new DifferentialReferenceMapping(50e-6, 120e-6))
            .WithPulses(new SoftBoundsPulses(dwMin: 1e-6, wMin: 50e-6, wMax: 120e-6, reference: 85e-6));
        var s = new CrossbarSynapse(array, new CrossbarSettings { ArrayType = type }, Uniform(0.3));
        var net = Net(s);
        net.Initialize();
        var trace = array.ApplyPulses(3, PulseDirection.Potentiation, net.Context).to(ScalarType.Float64); // [4, 2, 4, 3]
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(torch.tensor(Raster));
        var rep = ledger.Report();
        // Both energy models, whatever their own array type, charge the crossbar's: 1T1R has no half-select term.
        foreach (var m in new[] { EnergyPresets.Crossbar1T1R(), EnergyPresets.CrossPoint() })
        {
            double v2 = m.WriteVoltage * m.WriteVoltage, devices = 2 * Rows * Columns, expected = 0;
            for (int k = 0; k < 3; k++)
            {
                var g = trace[k].cpu().data<double>().ToArray(); // [2, 4, 3] before pulse k
                var next = trace[k + 1].cpu().data<double>().ToArray();
                double half = 0;
                for (int d = 0; d < 2; d++)
                    for (int i = 0; i < Rows; i++)
                        for (int j = 0; j < Columns; j++)
                        {
                            // Other cells of its row (same i, other j) and of its column (same j, other i), before the pulse.
                            for (int jj = 0; jj < Columns; jj++) if (jj != j) half += g[(d * Rows + i) * Columns + jj];
                            for (int ii = 0; ii < Rows; ii++) if (ii != i) half += g[(d * Rows + ii) * Columns + j];
                        }
                double mean = 0;
                for (int e = 0; e < g.Length; e++) mean += (g[e] + next[e]) / 2;
                expected += v2 * m.WritePulseWidth * mean + v2 * m.CellCapacitance * Columns * devices
                            + (type == ArrayType.CrossPoint ? v2 / 4 * m.WritePulseWidth * half : 0);
            }
            Assert.That(rep.WriteEnergyTotal(m), Is.EqualTo(expected).Within(1e-12 * expected), m.Name);
        }
        Assert.That(rep.WritesByArrayType.Keys, Is.EquivalentTo(new[] { type }));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void CrossbarRunsWithTheLedgerAreBitIdentical(bool timeBatching)
    {
        // ADC noise and programming noise draw from the network's generator: the ledger must not.
        Network Make()
        {
            var s = new CrossbarSynapse(new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax), new ProgrammingNoise(new AbsoluteSigma(2e-6))),
                new CrossbarSettings { Tile = new TileSize(2, 4), Adc = new AdcSettings(Bits: 5, NoiseSigma: 2e-6), Dac = new DacSettings(Bits: 3, Min: 0, Max: 0.8) },
                torch.linspace(-1, 1, Rows * Columns, dtype: ScalarType.Float64).reshape(Rows, Columns));
            var net = Net(s, seed: 17);
            net.TimeBatching = timeBatching;
            return net;
        }
        var x = torch.tensor(Raster);
        var plain = Make();
        var a1 = plain.Run(x)["X"].clone();
        var a2 = plain.Run(x)["X"].clone();
        var watched = Make();
        using var ledger = new HardwareLedger();
        watched.AddObserver(ledger);
        var b1 = watched.Run(x)["X"].clone();
        var b2 = watched.Run(x)["X"].clone();
        Assert.That(a1.eq(b1).all().item<bool>() && a2.eq(b2).all().item<bool>(), "identical outputs with the ledger attached");
        Assert.That(a1.eq(a2).all().item<bool>(), Is.False, "the noise is live (the check could fail)");
        // 2 row tiles × 3 columns per sample and step; 2 column tiles × 4 rows.
        Assert.That(ledger.Report().Converters().AdcConversions, Is.EqualTo(2 * 3 * Steps * Batch * 2));
        Assert.That(ledger.Report().Converters().DacConversions, Is.EqualTo(2 * 4 * Steps * Batch * 2));
    }
}
