using NUnit.Framework;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Networks.Observers;
using Ship.Devices.Energy;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Energy;

/// NeuroBench's neuron operations and membrane updates, per-step series and the read energy of the conductances a noisy
/// synapse actually read, against hand counts and values taken from the run itself (a test observer), never from the ledger.
public class HardwareLedgerWorkloadTests
{
    // [batch 2, steps 5, 2 inputs]: sample 0 drives input 0 once, at step 1; sample 1 is silent.
    private static Tensor Pulse()
    {
        var x = torch.zeros(2, 5, 2);
        x[0, 1, 0] = torch.tensor(1f);
        return x;
    }

    private static Network LifNet(bool timeBatching, double threshold = 100)
    {
        var net = new Network("membrane") { BatchSize = 2, Seed = 1, TimeBatching = timeBatching };
        net.Add("I", new TensorInput(2));
        net.Add("IL", new Dense(torch.eye(2)), "I", "L");
        net.Add("L", new Lif(2, tau: 10e-3, threshold: threshold)); // by default never fires: the membrane only integrates and decays
        net.MarkOutput("L");
        return net;
    }

    [TestCase(true)]
    [TestCase(false)]
    public void MembraneUpdatesAndNeuronOperationsEqualHandCounts(bool timeBatching)
    {
        var net = LifNet(timeBatching);
        using var ledger = new HardwareLedger { CountMembraneUpdates = true };
        net.AddObserver(ledger);
        net.Run(Pulse());
        var rep = ledger.Report();
        // Step 0: every neuron of both samples (NeuroBench counts the whole first step) = 4. Sample 0, neuron 0: u = 1 at
        // step 1, then decays by β = e^(−0.1) at steps 2, 3, 4 → 4 changes; neuron 1 and sample 1 stay at 0 → none.
        // 4 + 4 = 8 over 2 samples → 4 per inference.
        Assert.That(rep.MembraneUpdates, Is.EqualTo(4));
        // A Lif is NeuroBench's Leaky neuron: 4 operations per update.
        Assert.That(rep.Neurons.Single(n => n.Tag == "L").OperationsPerUpdate, Is.EqualTo(4));
        Assert.That(rep.EffectiveNeuronOperations, Is.EqualTo(4 * 4));
        // Dense: 2 neurons × 5 steps × 4 operations per inference.
        Assert.That(rep.NeuronUpdates, Is.EqualTo(10));
        Assert.That(rep.NeuronDenseOperations, Is.EqualTo(40));
        Assert.That(rep.NeuroBenchTable(), Does.Contain("Effective Neuron Ops"));

        // A Continue compares with the membrane the previous call ended with: two more decays of sample 0's neuron 0.
        net.Continue(torch.zeros(2, 2, 2));
        rep = ledger.Report();
        Assert.That(rep.MembraneUpdates, Is.EqualTo((8 + 2) / 2.0));
        // A new Run starts over: its first step counts every neuron again.
        net.Run(Pulse());
        Assert.That(ledger.Report().MembraneUpdates, Is.EqualTo((10 + 8) / 4.0));
    }

    [Test]
    public void MembraneCountingChangesNoResult()
    {
        var x = (torch.rand(new long[] { 2, 30, 2 }, generator: new torch.Generator(4)) < 0.5).to(ScalarType.Float32) * 3f;
        var plain = LifNet(true, threshold: 1);
        var a = plain.Run(x)["L"].clone();
        var watched = LifNet(true, threshold: 1);
        using var ledger = new HardwareLedger { CountMembraneUpdates = true };
        watched.AddObserver(ledger);
        var b = watched.Run(x)["L"].clone();
        Assert.That(a.count_nonzero().item<long>(), Is.GreaterThan(0), "the neurons fire");
        Assert.That(a.eq(b).all().item<bool>());
    }

    [Test]
    public void MembraneUpdatesAreNotCountedByDefault()
    {
        var net = LifNet(true);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(Pulse());
        var rep = ledger.Report();
        Assert.That(rep.MembraneUpdates, Is.Null);
        Assert.That(rep.EffectiveNeuronOperations, Is.Null);
        Assert.That(rep.NeuronDenseOperations, Is.EqualTo(40));
    }

    [Test]
    public void NeuroBenchOperationsPerUpdateFollowItsNeuronTable()
    {
        // neurobench/metrics/workload/neuron_operations.py: Leaky 4, Synaptic 8 with a zero reset.
        Assert.That(NeuronOperations.NeuroBench(new Lif(3)), Is.EqualTo(4));
        Assert.That(NeuronOperations.NeuroBench(new CubaLif(3, synapse: true)), Is.EqualTo(8));
        Assert.That(NeuronOperations.NeuroBench(new CubaLif(3, synapse: false)), Is.EqualTo(4));
        Assert.That(NeuronOperations.NeuroBench(new Izhikevich(3)), Is.Null);
        Assert.That(NeuronOperations.MembraneOf(new Izhikevich(3)), Is.EqualTo("v"));
        Assert.That(NeuronOperations.MembraneOf(new Lif(3)), Is.EqualTo("u"));
    }

    [Test]
    public void NegativeOperationsPerUpdateIsATypedErrorBeforeAnythingIsCounted()
    {
        var net = LifNet(timeBatching: true);
        using var ledger = new HardwareLedger { OperationsPerUpdate = _ => -3 };
        net.AddObserver(ledger);
        var e = Assert.Throws<Ship.Core.Errors.ParameterException>(() => net.Run(Pulse()))!;
        Assert.That((e.Group, e.Parameter), Is.EqualTo(("L", "OperationsPerUpdate")));
        Assert.That(e.Message, Does.Contain("-3"));
        Assert.That(ledger.Samples, Is.Zero, "the refused run was not counted");
        Assert.That(ledger.Report().NeuronUpdates, Is.Zero);
    }

    [Test]
    public void UnknownGroupNamesInAReportAreTypedErrorsNamingTheKnownOnes()
    {
        var net = LifNet(timeBatching: true);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(Pulse());
        var rep = ledger.Report();
        var a = Assert.Throws<Ship.Core.Errors.ParameterException>(() => rep.Activity("nope"))!;
        Assert.That((a.Group, a.Parameter), Is.EqualTo(("ledger", "tag")));
        Assert.That(a.Message, Does.Contain("'nope'").And.Contain("L"));
        var c = Assert.Throws<Ship.Core.Errors.ParameterException>(() => rep.Converters("nope"))!;
        Assert.That((c.Group, c.Parameter), Is.EqualTo(("ledger", "synapse")));
        Assert.That(c.Message, Does.Contain("'nope'").And.Contain("IL"));
    }

    // The hand-made raster of HardwareLedgerTests: [batch 2, steps 4, 3 inputs]; W reaches 1, 0 and 2 targets per row.
    private static readonly float[,,] Raster =
    {
        { { 1, 0, 1 }, { 0, 0, 0 }, { 0, 1, 1 }, { 1, 1, 1 } },
        { { 0, 0, 0 }, { 1, 0, 0 }, { 0, 0, 1 }, { 0, 1, 0 } },
    };

    private static Network DenseNet(bool timeBatching)
    {
        var net = new Network("series") { BatchSize = 2, Seed = 3, TimeBatching = timeBatching };
        net.Add("I", new TensorInput(3));
        net.Add("IL", new Dense(torch.tensor(new float[,] { { 1.5f, 0 }, { 0, 0 }, { 2f, 3f } })), "I", "L");
        net.Add("L", new Lif(2));
        net.MarkOutput("L");
        return net;
    }

    [TestCase(true)]
    [TestCase(false)]
    public void PerStepSeriesEqualHandCounts(bool timeBatching)
    {
        var x = torch.tensor(Raster);
        x[0, 2, 1] = torch.tensor(0.5f); // step 2 is not binary: its operations are multiply-accumulates
        var net = DenseNet(timeBatching);
        using var ledger = new HardwareLedger { RecordSteps = true };
        net.AddObserver(ledger);
        var y = net.Run(x)["L"];
        var rep = ledger.Report();
        // Input events per step (both samples): 2 + 0, 0 + 1, 2 + 1, 3 + 1.
        Assert.That(rep.EventsPerStep["I"], Is.EqualTo(new double[] { 2, 1, 3, 4 }));
        // Operations per step = Σ events × fan-out (1, 0, 2): 3, 1, 0 + 2 + 2 = 4 (MACs), 1 + 0 + 2 + 0 = 3.
        Assert.That(rep.EffectiveAcsPerStep["IL"], Is.EqualTo(new double[] { 3, 1, 0, 3 }));
        Assert.That(rep.EffectiveMacsPerStep["IL"], Is.EqualTo(new double[] { 0, 0, 4, 0 }));
        // The output group's series: its spikes per step, from the run's own output.
        var spikes = y.ne(0).sum(new long[] { 0, 2 }).to(ScalarType.Float64).data<double>().ToArray();
        Assert.That(rep.EventsPerStep["L"], Is.EqualTo(spikes));
        // The series add up to the aggregates.
        Assert.That(rep.EffectiveAcsPerStep["IL"].Sum() / 2, Is.EqualTo(rep.EffectiveAcs));
        Assert.That(rep.EffectiveMacsPerStep["IL"].Sum() / 2, Is.EqualTo(rep.EffectiveMacs));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void EqualFanOutsCountLikeAnyOther(bool timeBatching)
    {
        // Every weight non-zero: each row reaches both targets (the ledger's equal-fan-out path).
        var net = new Network("uniform") { BatchSize = 2, Seed = 3, TimeBatching = timeBatching };
        net.Add("I", new TensorInput(3));
        net.Add("IL", new Dense(torch.tensor(new float[,] { { 1.5f, 0.5f }, { 1f, 1f }, { 2f, 3f } })), "I", "L");
        net.Add("L", new Lif(2));
        net.MarkOutput("L");
        using var ledger = new HardwareLedger { RecordSteps = true };
        net.AddObserver(ledger);
        var x = torch.tensor(Raster);
        x[0, 2, 1] = torch.tensor(0.5f);
        net.Run(x);
        var rep = ledger.Report();
        // Events per step 2, 1, 3, 4 (10 in all) × fan-out 2; step 2 (3 events) is not binary: 6 MACs, 14 ACs over 2 samples.
        Assert.That(rep.EffectiveAcs, Is.EqualTo(14 / 2.0));
        Assert.That(rep.EffectiveMacs, Is.EqualTo(6 / 2.0));
        Assert.That(rep.EffectiveAcsPerStep["IL"], Is.EqualTo(new double[] { 4, 2, 0, 8 }));
        Assert.That(rep.EffectiveMacsPerStep["IL"], Is.EqualTo(new double[] { 0, 0, 6, 0 }));
        var syn = rep.Synapses.Single();
        Assert.That(syn.RowEvents, Is.EqualTo(10));
        Assert.That(syn.ActiveReads, Is.EqualTo(6), "(sample, step) pairs with an event: 3 + 3");
        Assert.That(syn.NonZeroWeights, Is.EqualTo(6));
    }

    [Test]
    public void SeriesAreEmptyUnlessAskedFor()
    {
        var net = DenseNet(true);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(torch.tensor(Raster));
        Assert.That(ledger.Report().EventsPerStep, Is.Empty);
    }

    /// Records what the synapse computed in every step and the conductances its array returned in that step.
    private sealed class ReadRecorder : IRunObserver
    {
        private readonly Group _synapse;
        private readonly DeviceArray _array;
        public ReadRecorder(Group synapse, DeviceArray array) { _synapse = synapse; _array = array; }
        public List<Tensor> Conductances { get; } = new();
        public List<Tensor> Currents { get; } = new();
        public bool NeedsStepOutput(Group group) => ReferenceEquals(group, _synapse);
        public void OnRunStart(RunStartView run) { }
        public void OnStep(StepView step)
        {
            Conductances.Add(_array.LastReadConductances!.clone().DetachFromDisposeScope());
            Currents.Add(step.Output(_synapse)!.clone().DetachFromDisposeScope());
        }
        public void OnBlockEnd(BlockView block) { }
        public void OnRunEnd(bool completed) { }
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ReadEnergyOfANoisyCrossbarIsSumOfVSquaredGTOverTheConductancesTheSynapseRead(bool timeBatching)
    {
        // 4 × 3 conductances (S) with 5 % read noise: every step reads new values.
        var g = torch.tensor(new double[,] { { 10e-6, 20e-6, 30e-6 }, { 40e-6, 50e-6, 60e-6 }, { 70e-6, 80e-6, 90e-6 }, { 15e-6, 25e-6, 35e-6 } });
        var spikes = new float[,,] { { { 1, 0, 0, 1 }, { 0, 1, 1, 0 }, { 0, 0, 0, 0 }, { 1, 1, 1, 1 } } };
        Network Make(out DeviceArray array, out Group synapse)
        {
            var net = new Network("noisy") { BatchSize = 1, Seed = 9, TimeBatching = timeBatching };
            net.Add("I", new TensorInput(4));
            array = new DeviceArray("xbar", new DirectMapping(), ReadNoise.Relative(0.05));
            synapse = net.Add("IL", new Dense(g.to(ScalarType.Float32)), "I", "L").WithDevice(array);
            net.Add("L", new Lif(3, threshold: 1));
            net.MarkOutput("L");
            return net;
        }
        var x = torch.tensor(spikes);
        var plain = Make(out _, out _);
        var expectedOut = plain.Run(x)["L"].clone();
        var net = Make(out var array, out var synapse);
        var recorder = new ReadRecorder(synapse, array);
        using var ledger = new HardwareLedger();
        net.AddObserver(recorder);
        net.AddObserver(ledger);
        var output = net.Run(x)["L"];

        // The recorded conductances are what the synapse computed with: its current is spikes · G (DirectMapping: w = G).
        Assert.That(recorder.Conductances, Has.Count.EqualTo(4));
        for (int t = 0; t < 4; t++)
        {
            var current = x[0, t].to(ScalarType.Float64).matmul(recorder.Conductances[t][0]);
            Assert.That((recorder.Currents[t][0].to(ScalarType.Float64) - current).abs().max().item<double>(), Is.LessThan(1e-6 * 90e-6 * 4));
        }
        Assert.That(recorder.Conductances[0].eq(recorder.Conductances[1]).all().item<bool>(), Is.False, "the reads are noisy");

        // E = Σ_t Σ_{rows with a spike} Σ_j V_read² · G_t[i, j] · t_read with the preset's read pulse.
        var model = EnergyPresets.Crossbar1T1R();
        double expected = 0;
        for (int t = 0; t < 4; t++)
        {
            var gt = recorder.Conductances[t][0].data<double>().ToArray();
            for (int i = 0; i < 4; i++)
                if (spikes[0, t, i] != 0)
                    for (int j = 0; j < 3; j++) expected += model.ReadVoltage * model.ReadVoltage * gt[i * 3 + j] * model.ReadPulseWidth;
        }
        var layer = ledger.Report().Energy(model).Single();
        Assert.That(layer.SynapticEnergy, Is.EqualTo(expected).Within(1e-12 * expected));

        // Watching changes no result and leaves the network's random streams where they were.
        Assert.That(output.eq(expectedOut).all().item<bool>());
        var nextPlain = torch.rand(new long[] { 8 }, dtype: ScalarType.Float64, generator: plain.Context.Stream("read-noise"));
        var nextWatched = torch.rand(new long[] { 8 }, dtype: ScalarType.Float64, generator: net.Context.Stream("read-noise"));
        Assert.That(nextWatched.eq(nextPlain).all().item<bool>());
    }

    [Test]
    public void ReadEnergyOfAnArrayReadOncePerRunUsesThatRead()
    {
        // Programming noise: the conductances differ from the targets, and the run reads them once (no read noise).
        var g = torch.tensor(new double[,] { { 10e-6, 20e-6 }, { 40e-6, 50e-6 }, { 70e-6, 80e-6 } });
        var net = new Network("programmed") { BatchSize = 1, Seed = 5 };
        net.Add("I", new TensorInput(3));
        var array = new DeviceArray("xbar", new DirectMapping(), new ProgrammingNoise(new RelativeSigma(0.1)));
        net.Add("IL", new Dense(g.to(ScalarType.Float32)), "I", "L").WithDevice(array);
        net.Add("L", new Lif(2));
        net.MarkOutput("L");
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        var x = torch.tensor(new float[,,] { { { 1, 0, 1 }, { 0, 1, 0 } } });
        net.Run(x);
        var read = array.LastReadConductances![0].data<double>().ToArray();
        Assert.That(read[0], Is.Not.EqualTo(10e-6), "programming moved the devices");
        var m = EnergyPresets.Crossbar1T1R();
        // Rows 0 and 2 at step 0, row 1 at step 1.
        double expected = m.ReadVoltage * m.ReadVoltage * m.ReadPulseWidth * (read[0] + read[1] + read[4] + read[5] + read[2] + read[3]);
        Assert.That(ledger.Report().Energy(m).Single().SynapticEnergy, Is.EqualTo(expected).Within(1e-12 * expected));
    }
}
