using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Devices.Energy;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Energy;

/// The hardware ledger against hand counts (NeuroBench's definitions), keras-spiking's documented example, the read
/// and write energy formulas computed here, and bit-identical runs with and without it.
public class HardwareLedgerTests
{
    // Input raster [batch 2, steps 4, 3 inputs], hand-made.
    private static readonly float[,,] Raster =
    {
        { { 1, 0, 1 }, { 0, 0, 0 }, { 0, 1, 1 }, { 1, 1, 1 } },
        { { 0, 0, 0 }, { 1, 0, 0 }, { 0, 0, 1 }, { 0, 1, 0 } },
    };

    // W [3 inputs, 2 targets]: row 0 reaches 1 target, row 1 none, row 2 both.
    private static Tensor W1() => torch.tensor(new float[,] { { 1.5f, 0 }, { 0, 0 }, { 2f, 3f } });

    private static Network Net(Tensor w, int inputs, int hidden, int batch, bool timeBatching = true, IWeightDevice? device = null, long seed = 3)
    {
        var net = new Network("ledger-test") { BatchSize = batch, Seed = seed, TimeBatching = timeBatching };
        net.Add("I", new TensorInput(inputs));
        var dense = net.Add("IL", new Dense(w), "I", "L");
        if (device is not null) dense.WithDevice(device);
        net.Add("L", new Lif(hidden));
        net.MarkOutput("L");
        return net;
    }

    [TestCase(true)]
    [TestCase(false)]
    public void NeuroBenchMetricsOfAHandMadeRasterEqualHandCounts(bool timeBatching)
    {
        var net = Net(W1(), 3, 2, batch: 2, timeBatching);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        var r = net.Run(torch.tensor(Raster));
        var rep = ledger.Report();

        // Events per input row over both samples: row 0: 2 + 1, row 1: 2 + 1, row 2: 3 + 1 → input events 10.
        // Effective ACs = Σ events × fan-out = 3·1 + 3·0 + 4·2 = 11 over 2 samples → 5.5 per inference.
        Assert.That(rep.Samples, Is.EqualTo(2));
        Assert.That(rep.EffectiveAcs, Is.EqualTo(5.5));
        Assert.That(rep.EffectiveMacs, Is.EqualTo(0));
        // Dense = 3 × 2 connections × 4 steps = 24 per inference (zero weights included, as NeuroBench's all-ones copy).
        Assert.That(rep.DenseOps, Is.EqualTo(24));
        var input = rep.Neurons.Single(n => n.Tag == "I");
        Assert.That(input.Events, Is.EqualTo(10));
        Assert.That(input.IsInput);
        // Neuron updates: 2 neurons × 4 steps = 8 per inference; inputs are not neurons.
        Assert.That(rep.NeuronUpdates, Is.EqualTo(8));
        // Activation sparsity from the run's own output raster (not from the ledger).
        double spikes = r["L"].count_nonzero().item<long>();
        Assert.That(rep.Spikes, Is.EqualTo(spikes / 2));
        Assert.That(rep.ActivationSparsity, Is.EqualTo((16 - spikes) / 16).Within(1e-15));
        // Static: 3 zero weights of 6.
        Assert.That(rep.Static.ConnectionSparsity, Is.EqualTo(3.0 / 6).Within(1e-15));
        var syn = rep.Synapses.Single();
        Assert.That(syn.NonZeroWeights, Is.EqualTo(3));
        Assert.That(syn.RowEvents, Is.EqualTo(10));
        // (step, sample) pairs with at least one event: sample 0 → 3 of 4 steps, sample 1 → 3 of 4 → 6 reads × 2 columns.
        Assert.That(syn.ActiveReads, Is.EqualTo(6));
        Assert.That(syn.AdcConversions, Is.EqualTo(12));
        Assert.That(rep.StepsPerInference, Is.EqualTo(4));
        Assert.That(rep.EmulatedTimePerInference, Is.EqualTo(4 * net.Dt).Within(1e-15));
    }

    [Test]
    public void NonBinaryStepsCountAsMultiplyAccumulates()
    {
        // One step (step 2 of sample 0) holds 0.5: NeuroBench classes the whole step tensor (both samples) as MACs.
        var x = torch.tensor(Raster);
        x[0, 2, 1] = torch.tensor(0.5f);
        var net = Net(W1(), 3, 2, batch: 2);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(x);
        var rep = ledger.Report();
        // Step 2: sample 0 rows 1 (0.5) and 2, sample 1 row 2 → ops 0 + 2 + 2 = 4 MACs; the other 11 − 4 = 7 stay ACs.
        Assert.That(rep.EffectiveMacs, Is.EqualTo(4 / 2.0));
        Assert.That(rep.EffectiveAcs, Is.EqualTo(7 / 2.0));
    }

    [Test]
    public void ParameterFootprintIsBytesOfEveryParameter()
    {
        var net = Net(W1(), 3, 2, batch: 1);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(torch.tensor(Raster)[0].unsqueeze(0));
        var rep = ledger.Report();
        long elements = 0;
        foreach (var g in net.Groups) foreach (var p in g.Parameters) elements += p.Value.NumberOfElements;
        Assert.That(elements, Is.GreaterThanOrEqualTo(6 + 2), "w and bias at least");
        Assert.That(rep.Static.ParameterCount, Is.EqualTo(elements));
        Assert.That(rep.Static.ParameterFootprint, Is.EqualTo(4 * elements), "float32 parameters");
    }

    [Test]
    public void KerasSpikingDenseExampleOnCpuIs864MicrojoulesPerInference()
    {
        // keras-spiking's documented example: Dense 784 → 128 on "cpu": 8.64e-04 J per inference (one timestep).
        var net = Net(torch.ones(784, 128) * 0.01f, 784, 128, batch: 1);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        var x = torch.zeros(1, 1, 784);
        x[0, 0, torch.arange(0, 784, 7)] = torch.tensor(1f);
        net.Run(x);
        var rep = ledger.Report();
        double cpu = rep.TotalEnergy(EnergyPresets.KerasCpu());
        Assert.That(cpu, Is.EqualTo((784 * 128 + 128) * 8.6e-9).Within(1e-12 * cpu));
        Assert.That(Math.Round(cpu, 6), Is.EqualTo(8.64e-4).Within(1e-12), "the printed 8.64e-04");
        // On loihi (spiking): e_synop × connections × input rate × dt × steps + e_neuron × neurons × steps, with
        // rate × dt = 112/784 events per input per step (112 of the 784 inputs spike once).
        double loihi = rep.TotalEnergy(EnergyPresets.KerasLoihi());
        double expected = (23.6 + 3.5) * 1e-12 * (784 * 128) * (112.0 / 784) * 1 + 81e-12 * 128 * 1;
        Assert.That(loihi, Is.EqualTo(expected).Within(1e-12 * expected));
    }

    [Test]
    public void ReadEnergyOfA4x3CrossbarIsSumOfVSquaredGT()
    {
        // Conductances in siemens, chosen; the direct mapping puts each weight on one device as its conductance.
        var g = new double[,] { { 10e-6, 20e-6, 30e-6 }, { 40e-6, 50e-6, 60e-6 }, { 70e-6, 80e-6, 90e-6 }, { 15e-6, 25e-6, 35e-6 } };
        var spikes = new float[,,] { { { 1, 0, 0, 1 }, { 0, 1, 1, 0 }, { 0, 0, 0, 0 } } };
        var net = Net(torch.tensor(g).to(ScalarType.Float32), 4, 3, batch: 1, device: new DeviceArray("xbar", new DirectMapping()));
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(torch.tensor(spikes));
        var model = EnergyPresets.Crossbar1T1R();
        double expected = 0;
        for (int t = 0; t < 3; t++)
            for (int i = 0; i < 4; i++)
                if (spikes[0, t, i] != 0)
                    for (int j = 0; j < 3; j++) expected += 0.5 * 0.5 * (double)(float)g[i, j] * 10e-9;
        var layer = ledger.Report().Energy(model).Single();
        Assert.That(layer.SynapticEnergy, Is.EqualTo(expected).Within(1e-9 * expected));
        Assert.That(ledger.Report().Synapses.Single().OnDevices);
        // Latency estimate: 3 steps × 1 layer × one 10 ns read (no converter or neuron time in the preset).
        Assert.That(ledger.Report().Latency(model), Is.EqualTo(3 * 10e-9).Within(1e-20));
    }

    [Test]
    public void WriteEnergyOfAPulseSequenceEqualsTheFormula()
    {
        // One device, four pulses: G (S) before the first and after each.
        var gs = new[] { 10e-6, 18e-6, 24e-6, 28e-6, 30e-6 };
        var trace = torch.tensor(gs).reshape(5, 1);
        var m = EnergyPresets.Crossbar1T1R() with { WriteVoltage = 1.2, WritePulseWidth = 100e-9, CellCapacitance = 3e-17 };
        double expected = 0;
        for (int k = 0; k < 4; k++) expected += 1.2 * 1.2 * (gs[k] + gs[k + 1]) / 2 * 100e-9 + 1.2 * 1.2 * 3e-17 * 1;
        double e = WriteEnergy.Energy(WriteEnergy.OfPulseTrain(trace, null), m);
        Assert.That(e, Is.EqualTo(expected).Within(1e-12 * expected));
    }

    [Test]
    public void CrossPointWritesAddHalfSelectedCells()
    {
        // A 2 × 2 cross-point array, two pulses on device (0, 0) only; the others never move.
        var before = new double[,] { { 10e-6, 20e-6 }, { 30e-6, 40e-6 } };
        var states = new[] { 10e-6, 15e-6, 19e-6 };
        var trace = torch.zeros(3, 2, 2, dtype: ScalarType.Float64);
        for (int k = 0; k < 3; k++)
        {
            trace[k] = torch.tensor(before);
            trace[k, 0, 0] = torch.tensor(states[k]);
        }
        var mask = torch.tensor(new[,] { { true, false }, { false, false } });
        var m = EnergyPresets.CrossPoint() with { WriteVoltage = 2, WritePulseWidth = 50e-9, CellCapacitance = 4e-17 };
        var counts = WriteEnergy.OfPulseTrain(trace, mask);
        double expected = 0;
        for (int k = 0; k < 2; k++)
            expected += 4 * (states[k] + states[k + 1]) / 2 * 50e-9   // the selected device
                        + 4 * 4e-17 * 2                              // its row line: 2 cells
                        + 1.0 * 50e-9 * (20e-6 + 30e-6);             // (V/2)² on its row neighbour and column neighbour
        Assert.That(counts.Pulses, Is.EqualTo(2));
        Assert.That(WriteEnergy.Energy(counts, m), Is.EqualTo(expected).Within(1e-12 * expected));
        var ledger = new HardwareLedger();
        ledger.RecordPulseTrain(trace, mask);
        Assert.That(ledger.Report().WriteEnergyTotal(m), Is.EqualTo(expected).Within(1e-12 * expected));
    }

    [Test]
    public void PulsesAppliedToANetworksArrayAreChargedWithTheWriteFormula()
    {
        var array = new DeviceArray("pulsed", new DifferentialReferenceMapping(50e-6, 120e-6))
            .WithPulses(new SoftBoundsPulses(dwMin: 1e-6, wMin: 50e-6, wMax: 120e-6, reference: 85e-6));
        var net = Net(W1(), 3, 2, batch: 1, device: array);
        net.Initialize();
        var trace = array.ApplyPulses(4, PulseDirection.Potentiation, net.Context).to(ScalarType.Float64); // [5, 2, 3, 2]
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(torch.tensor(Raster)[0].unsqueeze(0));
        var m = EnergyPresets.Crossbar1T1R();
        // Every device gets every pulse; the driven line is a row of 2 cells.
        double devices = 2 * 3 * 2, expected = 0;
        for (int k = 0; k < 4; k++)
            expected += m.WriteVoltage * m.WriteVoltage * m.WritePulseWidth * (trace[k] + trace[k + 1]).sum().item<double>() / 2
                        + m.WriteVoltage * m.WriteVoltage * m.CellCapacitance * 2 * devices;
        var rep = ledger.Report();
        Assert.That(rep.Writes.Pulses, Is.EqualTo(4 * devices));
        Assert.That(rep.WriteEnergyTotal(m), Is.EqualTo(expected).Within(1e-12 * expected));
        net.Run(torch.tensor(Raster)[0].unsqueeze(0));
        Assert.That(ledger.Report().Writes.Pulses, Is.EqualTo(4 * devices), "pulses are counted once");
    }

    [Test]
    public void PulseProgrammingReportsItsPulses()
    {
        var programming = new PulseProgramming(new SoftBoundsPulses(dwMin: 2e-6, wMin: 50e-6, wMax: 120e-6, reference: 85e-6));
        var array = new DeviceArray("programmed", new DifferentialReferenceMapping(50e-6, 120e-6), programming);
        var net = Net(W1(), 3, 2, batch: 1, device: array);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(torch.tensor(Raster)[0].unsqueeze(0));
        // The open-loop programming gives each device the pulses a nominal device needs to reach its target.
        double pulses = PulseProgramming.PulseCounts(programming.NominalTrajectory(), array.State.Target).sum().item<long>();
        Assert.That(pulses, Is.GreaterThan(0));
        Assert.That(ledger.Report().Writes.Pulses, Is.EqualTo(pulses));
    }

    [Test]
    public void ContinueAddsStepsNotSamples()
    {
        var net = Net(W1(), 3, 2, batch: 2);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(torch.tensor(Raster));
        net.Continue(torch.tensor(Raster));
        var rep = ledger.Report();
        // The same raster twice for the same 2 samples: 8 steps per inference, twice the hand count of 5.5 ACs.
        Assert.That(rep.Samples, Is.EqualTo(2));
        Assert.That(rep.StepsPerInference, Is.EqualTo(8));
        Assert.That(rep.EffectiveAcs, Is.EqualTo(11));
        Assert.That(rep.DenseOps, Is.EqualTo(48));
    }

    [Test]
    public void LedgerIsOffByDefault() => Assert.That(new Network().Observers, Is.Empty);

    [TestCase(true)]
    [TestCase(false)]
    public void RunsWithTheLedgerAreBitIdentical(bool timeBatching)
    {
        // A noisy device array (fresh read noise every step) draws from the network's generator: the ledger must not.
        Network Make() => Net(W1() * 0.6f, 3, 2, batch: 2, timeBatching,
            new DeviceArray("noisy", new DirectMapping(), ReadNoise.Relative(0.05)), seed: 11);
        var x = torch.tensor(Raster);
        var plain = Make();
        var a1 = plain.Run(x)["L"].clone();
        var a2 = plain.Run(x)["L"].clone();
        var watched = Make();
        using var ledger = new HardwareLedger();
        watched.AddObserver(ledger);
        var b1 = watched.Run(x)["L"].clone();
        var b2 = watched.Run(x)["L"].clone();
        Assert.That(Same(a1, b1) && Same(a2, b2), "identical outputs with the ledger attached");
        Assert.That(ledger.Report().Samples, Is.EqualTo(4), "it did count");
        Assert.That(watched.RemoveObserver(ledger));
        Assert.That(watched.RemoveObserver(ledger), Is.False);
        Assert.That(Same(watched.Run(x)["L"], plain.Run(x)["L"]));
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Test]
    public void SteppedAndTimeBatchedRunsCountTheSame()
    {
        LedgerReport Count(bool tb)
        {
            var net = Net(W1(), 3, 2, batch: 2, tb);
            var ledger = new HardwareLedger();
            net.AddObserver(ledger);
            // 70 steps: more than the ledger's per-step buffer of 64.
            var x = (torch.rand(new long[] { 2, 70, 3 }, generator: new torch.Generator(5)) < 0.3).to(ScalarType.Float32);
            net.Run(x);
            return ledger.Report();
        }
        var a = Count(true);
        var b = Count(false);
        Assert.That(b.EffectiveAcs, Is.EqualTo(a.EffectiveAcs));
        Assert.That(b.Spikes, Is.EqualTo(a.Spikes));
        Assert.That(b.NeuronUpdates, Is.EqualTo(2 * 70));
        Assert.That(a.NeuronUpdates, Is.EqualTo(2 * 70));
    }

    [Test]
    public void PulseMaskThatDoesNotMatchTheDevicesIsATypedErrorAndCountsNothing()
    {
        // Trace [3 pulses + 1, 2 × 2 devices]; a [3] mask cannot select among 2 × 2 devices (was a libtorch expand error).
        var trace = torch.full(new long[] { 4, 2, 2 }, 1e-5, dtype: ScalarType.Float64);
        var ledger = new HardwareLedger();
        var e = Assert.Throws<Ship.Core.Errors.ParameterException>(() => ledger.RecordPulseTrain(trace, torch.ones(3, dtype: ScalarType.Bool)))!;
        Assert.That(e.Parameter, Is.EqualTo("mask"));
        Assert.That(e.Message, Does.Contain("[2, 2]").And.Contain("[3]"));
        Assert.That(ledger.Report().WriteEnergyTotal(EnergyPresets.Crossbar1T1R()), Is.EqualTo(0), "nothing was recorded");
        // A mask [2, 1] (one flag per row, both set) broadcasts: 3 pulses on each of the 4 devices = 12.
        Assert.That(WriteEnergy.OfPulseTrain(trace, torch.ones(2, 1, dtype: ScalarType.Bool)).Pulses, Is.EqualTo(12));
    }

    [Test]
    public void BadEnergyModelIsATypedErrorNamingTheField()
    {
        var bad = EnergyPresets.Crossbar1T1R() with { ReadPulseWidth = -1 };
        var e = Assert.Throws<Ship.Core.Errors.ParameterException>(() => new HardwareLedger().Report().Energy(bad));
        Assert.That(e!.Message, Does.Contain("ReadPulseWidth").And.Contain("-1"));
    }
}
