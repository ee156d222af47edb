using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Energy;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Plasticity;
using Ship.Devices.Synapses;
using Ship.Tests.Devices.Memristive;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Plasticity;

/// Plasticity on device arrays: weight updates become stochastically rounded pulse counts (binomial statistics from
/// the rounding's definition), conductances move by whole constant steps, bounds hold, and every pulse is a write
/// charged with the formula computed here.
public class DevicePlasticityTests
{
    private const double Dt = 1e-3, TauPlus = 17e-3, TauMinus = 34e-3, Dw = 0.5e-6, Width = 70e-6;
    private const int Ns = 40, Nt = 50;

    // Constant step dw (γ = 0) on [40, 130] µS; the pair maps |w| ≤ 1 (fixed scale M = 1) onto G+ ∈ [50, 120] µS.
    private static DeviceArray Array(double cycleNoise = 0) =>
        new DeviceArray("plastic", new DifferentialReferenceMapping(50e-6, 120e-6, scale: 1.0))
            .WithPulses(new LinearStepPulses(dwMin: Dw, wMin: 40e-6, wMax: 130e-6, reference: 85e-6, cycleNoise: cycleNoise));

    // |w| in [0.1, 0.6], positive in even columns, negative in odd ones.
    private static Tensor Weights(long seed)
    {
        var mag = torch.rand(new long[] { Ns, Nt }, dtype: ScalarType.Float64, generator: new torch.Generator((ulong)seed)).mul_(0.5).add_(0.1);
        var sign = torch.tensor(Enumerable.Range(0, Nt).Select(c => c % 2 == 0 ? 1.0 : -1.0).ToArray());
        return mag.mul_(sign);
    }

    [Test]
    public void AWeightUpdateBecomesStochasticallyRoundedPulsesOnThePairsFirstDevice()
    {
        using var array = Array();
        var w = Weights(1);
        array.Program(w, new torch.Generator(2));
        var g0 = Stat.D(array.State.Programmed);
        const double dW = 0.0185;
        double x = dW * Width / Dw; // ΔG = ΔW·(Gmax − Gmin)/M in steps of dw: 2.59
        using var pulses = array.PulseWeightUpdate(torch.full(new long[] { Ns, Nt }, dW, dtype: ScalarType.Float64), new torch.Generator(3));
        var n = Stat.D(pulses);
        var g = Stat.D(array.State.Programmed);
        var sign = Stat.D(w.sign());
        int plane = Ns * Nt;
        long ceil = 0;
        for (int i = 0; i < plane; i++)
        {
            Assert.That(n[plane + i], Is.EqualTo(0), "the reference device G− is never pulsed");
            Assert.That(g[plane + i], Is.EqualTo(g0[plane + i]));
            Assert.That(n[i], Is.EqualTo(Math.Floor(x)).Or.EqualTo(Math.Floor(x) + 1), $"weight {i}");
            if (n[i] > Math.Floor(x)) ceil++;
            // A positive weight grows by SET pulses on G+; a negative one grows (towards 0) by RESET pulses on G+.
            Assert.That(g[i], Is.EqualTo(g0[i] + sign[i] * n[i] * Dw).Within(1e-15), $"weight {i}");
        }
        Stat.BinomialConsistent(ceil, plane, x - Math.Floor(x), "weights rounded up");
        var realized = Stat.D(array.ProgrammedWeights() - w);
        for (int i = 0; i < plane; i++) Assert.That(realized[i], Is.EqualTo(n[i] * Dw / Width).Within(1e-12));
        Assert.That(Stat.D(array.State.LifetimeWrites), Is.EqualTo(n), "every pulse wears its device");

        // The writes: per pulse (G_before + G_after)/2 and the row's Nt cells charged.
        var writes = array.TakeWrites();
        double mean = 0;
        for (int i = 0; i < plane; i++)
            for (int k = 1; k <= n[i]; k++)
                mean += g0[i] + sign[i] * (k - 0.5) * Dw;
        Assert.That(writes.Pulses, Is.EqualTo(n.Sum()));
        Assert.That(writes.MeanConductance, Is.EqualTo(mean).Within(1e-12 * mean));
        Assert.That(writes.LineCells, Is.EqualTo(n.Sum() * Nt));
    }

    [Test]
    public void DevicesStopAtTheirBoundsAndPulsesAreCappedAtOneWindow()
    {
        using var array = Array();
        var w = Weights(4);
        array.Program(w, new torch.Generator(2));
        // ΔW = +10 asks for 1400 steps on every weight: capped at ⌈(130 − 40)/0.5⌉ = 180 pulses.
        using var pulses = array.PulseWeightUpdate(torch.full(new long[] { Ns, Nt }, 10.0, dtype: ScalarType.Float64), new torch.Generator(3));
        var n = Stat.D(pulses);
        var g = Stat.D(array.State.Programmed);
        var sign = Stat.D(w.sign());
        for (int i = 0; i < Ns * Nt; i++)
        {
            Assert.That(n[i], Is.EqualTo(180));
            Assert.That(g[i], Is.EqualTo(sign[i] > 0 ? 130e-6 : 40e-6).Within(1e-18), "clipped to the device window");
        }
    }

    [Test]
    public void AZeroChangeFiresNoPulseAndABadShapeIsRefused()
    {
        using var array = Array();
        array.Program(Weights(5), new torch.Generator(2));
        var before = Stat.D(array.State.Programmed);
        using var none = array.PulseWeightUpdate(torch.zeros(Ns, Nt, dtype: ScalarType.Float64), new torch.Generator(1));
        Assert.That(Stat.D(none).Sum(), Is.EqualTo(0));
        var ex = Assert.Throws<ParameterException>(() => array.PulseWeightUpdate(torch.zeros(Nt, Ns), new torch.Generator(1)));
        Assert.That(ex!.Parameter, Is.EqualTo("deltaW"));
        Assert.That(Stat.D(array.State.Programmed), Is.EqualTo(before));
        Assert.That(array.TakeWrites().Pulses, Is.EqualTo(0));
    }

    // Pre and Post are data (exact spike times); the synapse feeds a sink.
    private static (Network Net, Dense Syn, StdpBlock Block) Build(IWeightDevice? device, Tensor w0, double aPlus, double aMinus) =>
        Build(w => { var d = new Dense(w); if (device is not null) d.WithDevice(device); return d; }, w0, aPlus, aMinus);

    private static (Network Net, TSyn Syn, StdpBlock Block) Build<TSyn>(Func<Tensor, TSyn> synapse, Tensor w0, double aPlus, double aMinus)
        where TSyn : WeightedSynapse
    {
        var net = new Network { Dt = Dt, BatchSize = 1, DType = ScalarType.Float64, Seed = 9 };
        net.Add("Pre", new TensorInput(Ns));
        net.Add("Post", new TensorInput(Nt));
        var syn = synapse(w0);
        var block = new StdpBlock(syn, Nt, aPlus, aMinus, TauPlus, TauMinus);
        net.Add("S", block.Tap);
        net.Add("Sink", new LeakyIntegrator(Nt));
        net.Connect("S", "Pre", "Sink");
        net.Add("STDP", block);
        net.Connect("Post", "STDP");
        net.MarkOutput("Sink");
        return (net, syn, block);
    }

    private static Dictionary<string, Tensor> Pair(int preStep, int postStep, int steps)
    {
        var pre = torch.zeros(new long[] { 1, steps, Ns }, dtype: ScalarType.Float64);
        var post = torch.zeros(new long[] { 1, steps, Nt }, dtype: ScalarType.Float64);
        pre[0, preStep] = torch.ones(Ns, dtype: ScalarType.Float64);
        post[0, postStep] = torch.ones(Nt, dtype: ScalarType.Float64);
        return new() { ["Pre"] = pre, ["Post"] = post };
    }

    [Test]
    public void StdpOnDevicesPotentiatesByTheRoundedPairRuleAndTheLedgerChargesEveryPulse()
    {
        // Pre at step 10, post at step 15: every weight asks for ΔW = A+·exp(−5·dt/τ+) once (at step 15).
        const double aPlus = 0.023;
        double dW = aPlus * Math.Exp(-5 * Dt / TauPlus), x = dW * Width / Dw;
        var w = Weights(6).abs_();
        var array = Array();
        var (net, _, _) = Build(array, w, aPlus, 0.0);
        net.Initialize();
        var g0 = Stat.D(array.State.Programmed);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(Pair(10, 15, 30), Ship.Core.Clocks.Schedule.Fixed(Dt, 30));
        var n = Stat.D(array.State.LifetimeWrites);
        var realized = Stat.D(array.ProgrammedWeights() - w);
        int plane = Ns * Nt;
        long ceil = 0;
        for (int i = 0; i < plane; i++)
        {
            Assert.That(n[i], Is.EqualTo(Math.Floor(x)).Or.EqualTo(Math.Floor(x) + 1), $"weight {i}");
            Assert.That(n[plane + i], Is.EqualTo(0));
            if (n[i] > Math.Floor(x)) ceil++;
            Assert.That(realized[i], Is.EqualTo(n[i] * Dw / Width).Within(1e-12), $"weight {i}");
        }
        Stat.BinomialConsistent(ceil, plane, x - Math.Floor(x), "weights rounded up");

        // Charged in the run that issued them: Σ over pulses of V²·(G_before + G_after)/2·t + V²·C·Nt.
        var m = EnergyPresets.Crossbar1T1R() with { WriteVoltage = 3, WritePulseWidth = 20e-9, CellCapacitance = 6e-17 };
        double expected = 0;
        for (int i = 0; i < plane; i++)
            for (int k = 1; k <= n[i]; k++)
                expected += 9 * (g0[i] + (k - 0.5) * Dw) * 20e-9 + 9 * 6e-17 * Nt;
        var rep = ledger.Report();
        Assert.That(rep.Writes.Pulses, Is.EqualTo(n.Sum()));
        Assert.That(rep.WriteEnergyTotal(m), Is.EqualTo(expected).Within(1e-12 * expected));
    }

    [Test]
    public void ArraysWithoutAPulseModelAndOtherWeightDevicesAreRefused()
    {
        var (net, _, _) = Build(new DeviceArray("no pulses", new DifferentialReferenceMapping(50e-6, 120e-6)), Weights(7), 0.01, 0.01);
        var ex = Assert.Throws<NetworkConfigurationException>(() => net.Run(Pair(1, 2, 4), Ship.Core.Clocks.Schedule.Fixed(Dt, 4)));
        Assert.That(ex!.Message, Does.Contain("no pulses").And.Contain("pulse response"));
    }

    [TestCase("StdpBlock+DeviceArray")]
    [TestCase("TripletStdpBlock+DeviceArray")]
    [TestCase("RewardStdpBlock+DeviceArray")]
    public void TheConformanceEntryReallyPulsesItsDevices(string entry)
    {
        // The catalogue's invariants (time-batched ≡ stepped, Run + Continue, save → load → continue) are only worth
        // something if its STDP-on-devices cases fire pulses: it must, in a run of the conformance length.
        var c = Ship.Tests.Conformance.ModelCatalog.Get(entry).Build(1);
        c.Network.Run(c.Inputs(40), Ship.Core.Clocks.Schedule.Fixed(c.Network.Dt, 40));
        var array = (DeviceArray)((PlasticityBlock)c.Model).Synapse.WeightDevice!;
        Assert.That(Stat.D(array.State.LifetimeWrites).Sum(), Is.GreaterThan(0));
        Assert.That(array.TakeWrites().Pulses, Is.EqualTo(Stat.D(array.State.LifetimeWrites).Sum()));
    }

    [Test]
    public void ACrossbarSynapseComputesWithTheConductancesTheBlockJustPulsed()
    {
        // Pre and post spike trains are data, so both networks pulse their devices identically (same seeds, same tags);
        // the ideal crossbar (no converters, ideal lines) must then compute what the dense synapse computes from the
        // same devices at every step — a layout placed once per run would miss every pulse after the first.
        var pre = torch.zeros(new long[] { 1, 40, Ns }, dtype: ScalarType.Float64);
        var post = torch.zeros(new long[] { 1, 40, Nt }, dtype: ScalarType.Float64);
        for (int k = 0; k < 40; k += 3) pre[0, k] = torch.ones(Ns, dtype: ScalarType.Float64);
        for (int k = 1; k < 40; k += 4) post[0, k] = torch.ones(Nt, dtype: ScalarType.Float64);
        var inputs = new Dictionary<string, Tensor> { ["Pre"] = pre, ["Post"] = post };
        var w = Weights(8).abs_();
        var (dense, _, _) = Build(x => (WeightedSynapse)new Dense(x).WithDevice(Array()), w, 0.02, 0.021);
        var (cross, xs, _) = Build(x => new Ship.Devices.Memristive.Crossbar.CrossbarSynapse(Array(), null, x), w, 0.02, 0.021);
        var a = Stat.D(dense.Run(inputs, Ship.Core.Clocks.Schedule.Fixed(Dt, 40))["Sink"]);
        var b = Stat.D(cross.Run(inputs, Ship.Core.Clocks.Schedule.Fixed(Dt, 40))["Sink"]);
        Assert.That(Stat.D(xs.Array.State.LifetimeWrites).Sum(), Is.GreaterThan(0), "the crossbar's devices were pulsed");
        double max = a.Max(Math.Abs);
        for (int i = 0; i < a.Length; i++) Assert.That(b[i], Is.EqualTo(a[i]).Within(1e-9 * max), $"element {i}");
    }

    private static (Network Net, DeviceArray Array) BlockNet(Func<WeightedSynapse, PlasticityBlock> create)
    {
        var net = new Network { Dt = Dt, BatchSize = 2, DType = ScalarType.Float64, Seed = 4 };
        net.Add("Pre", new TensorInput(Ns));
        net.Add("Post", new TensorInput(Nt));
        var array = Array(cycleNoise: 0.1);
        var syn = new Dense(Weights(9).abs_()).WithDevice(array);
        var block = create(syn);
        net.Add("S", block.Tap);
        net.Add("Sink", new LeakyIntegrator(Nt));
        net.Connect("S", "Pre", "Sink");
        net.Add("B", block);
        net.Connect("Post", "B");
        return (net, array);
    }

    private static Dictionary<string, Tensor> Random(long seed) => new()
    {
        ["Pre"] = torch.rand(new long[] { 2, 30, Ns }, dtype: ScalarType.Float64, generator: new torch.Generator((ulong)seed)).lt(0.2).to(ScalarType.Float64),
        ["Post"] = torch.rand(new long[] { 2, 30, Nt }, dtype: ScalarType.Float64, generator: new torch.Generator((ulong)seed + 1)).lt(0.2).to(ScalarType.Float64),
    };

    [Test]
    public void TripletAndRewardBlocksPulseTheirDevicesAndEveryPulseIsCharged()
    {
        var blocks = new Func<WeightedSynapse, PlasticityBlock>[]
        {
            s => new TripletStdpBlock(s, Nt, a2Plus: 5e-3, a3Plus: 6e-3, a2Minus: 7e-3, a3Minus: 2e-3),
            s => { var b = new RewardStdpBlock(s, Nt, aPlus: 0.02, aMinus: 0.02, tauEligibility: 20e-3, learningRate: 2); b.SetReward(torch.tensor(new[] { 1.0, 0.5 })); return b; },
        };
        foreach (var create in blocks)
        {
            var (net, array) = BlockNet(create);
            using var ledger = new HardwareLedger();
            net.AddObserver(ledger);
            net.Run(Random(3), Ship.Core.Clocks.Schedule.Fixed(Dt, 30));
            double pulses = Stat.D(array.State.LifetimeWrites).Sum();
            Assert.That(pulses, Is.GreaterThan(0), create(new Dense()).GetType().Name);
            Assert.That(ledger.Report().Writes.Pulses, Is.EqualTo(pulses), "charged in the run that issued them");
        }
    }

    [Test]
    public void ADelayedRewardOnDevicesBecomesPulsesAndLeavesWAlone()
    {
        RewardStdpBlock? block = null;
        var (net, array) = BlockNet(s => block = new RewardStdpBlock(s, Nt, aPlus: 0.02, aMinus: 0.01, tauEligibility: 50e-3, learningRate: 5));
        net.Run(Random(5), Ship.Core.Clocks.Schedule.Fixed(Dt, 30));
        Assert.That(Stat.D(array.State.LifetimeWrites).Sum(), Is.EqualTo(0), "no reward during the run: no change");
        var w = Stat.D(block!.Synapse.W.Value);
        var before = Stat.D(array.ProgrammedWeights());
        block.ApplyReward(torch.tensor(new[] { 1.0, 1.0 }));
        Assert.That(Stat.D(array.State.LifetimeWrites).Sum(), Is.GreaterThan(0), "the reward became pulses");
        Assert.That(Stat.D(array.ProgrammedWeights()), Is.Not.EqualTo(before));
        Assert.That(Stat.D(block.Synapse.W.Value), Is.EqualTo(w), "W keeps the initial weights: the devices hold the learned ones");
    }

    [Test]
    public void ACrossbarInTrainThroughPeripheryModeIsRefused()
    {
        var (net, _, _) = Build(x => new Ship.Devices.Memristive.Crossbar.CrossbarSynapse(Array(), null, x) { TrainThroughPeriphery = true }, Weights(7), 0.01, 0.01);
        var ex = Assert.Throws<NetworkConfigurationException>(() => net.Run(Pair(1, 2, 4), Ship.Core.Clocks.Schedule.Fixed(Dt, 4)));
        Assert.That(ex!.Message, Does.Contain("TrainThroughPeriphery"));
    }

    [Test]
    public void ReadsOfAPlasticArrayAreChargedWithEachStepsConductances()
    {
        // Every pre row spikes at steps 2, 10 and 20; the only update is at step 15 (post; A− = 0), after which the
        // devices hold their final conductances. Steps 2 and 10 read G0, step 20 reads the pulsed devices: every event
        // reads all Nt weights' devices of its row.
        var w = Weights(10).abs_();
        var array = Array();
        var (net, _, _) = Build(array, w, 0.023, 0.0);
        net.Initialize();
        double g0 = Stat.D(array.State.Programmed).Sum();
        var inputs = Pair(10, 15, 30);
        inputs["Pre"][0, 2] = torch.ones(Ns, dtype: ScalarType.Float64);
        inputs["Pre"][0, 20] = torch.ones(Ns, dtype: ScalarType.Float64);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(inputs, Ship.Core.Clocks.Schedule.Fixed(Dt, 30));
        double g1 = Stat.D(array.State.Programmed).Sum();
        Assert.That(g1, Is.GreaterThan(g0), "the pair potentiated");
        var read = ledger.Report().Synapses.Single().ReadConductance;
        Assert.That(read, Is.EqualTo(2 * g0 + g1).Within(1e-12 * read));
    }

    [Test]
    public void AFloat32NetworkFiresNoPulseWhereTheRuleChangesNothing()
    {
        // A first run pulses every weight once (one pre → post pair with a small A+), which moves the conductances off
        // the float32 grid; a second run has no spike at all, so the rule changes nothing and no device may be pulsed.
        // The weights the devices hold are float64; a float32 network's rule sees them rounded, and that rounding
        // (≈ 3e-8·|w|) must not count as a change — with a fine step (1e-10 S ≈ 1.4e-6 in weight) it would make
        // ≈ 0.02 pulses per weight per step, ≈ 800 over the second run.
        var net = new Network { Dt = Dt, BatchSize = 1, DType = ScalarType.Float32, Seed = 9 };
        net.Add("Pre", new TensorInput(Ns));
        net.Add("Post", new TensorInput(Nt));
        var array = new DeviceArray("fine", new DifferentialReferenceMapping(50e-6, 120e-6, scale: 1.0))
            .WithPulses(new LinearStepPulses(dwMin: 1e-10, wMin: 40e-6, wMax: 130e-6, reference: 85e-6));
        var block = new StdpBlock(new Dense(Weights(11).abs_()).WithDevice(array), Nt, 1e-5, 0.0, TauPlus, TauMinus);
        net.Add("S", block.Tap);
        net.Add("Sink", new LeakyIntegrator(Nt));
        net.Connect("S", "Pre", "Sink");
        net.Add("STDP", block);
        net.Connect("Post", "STDP");
        var pair = Pair(2, 3, 5);
        net.Run(new Dictionary<string, Tensor> { ["Pre"] = pair["Pre"].to(ScalarType.Float32), ["Post"] = pair["Post"].to(ScalarType.Float32) }, Ship.Core.Clocks.Schedule.Fixed(Dt, 5));
        Assert.That(block.Synapse.W.Value.dtype, Is.EqualTo(ScalarType.Float32), "the rule works in the network's precision");
        double first = Stat.D(array.State.LifetimeWrites).Sum();
        Assert.That(first, Is.GreaterThan(0), "the pair potentiated");
        array.TakeWrites();
        var quiet = new Dictionary<string, Tensor>
        {
            ["Pre"] = torch.zeros(new long[] { 1, 20, Ns }, dtype: ScalarType.Float32),
            ["Post"] = torch.zeros(new long[] { 1, 20, Nt }, dtype: ScalarType.Float32),
        };
        net.Run(quiet, Ship.Core.Clocks.Schedule.Fixed(Dt, 20));
        Assert.That(Stat.D(array.State.LifetimeWrites).Sum(), Is.EqualTo(first), "no pulse without a change");
        Assert.That(array.TakeWrites().Pulses, Is.EqualTo(0));
    }

    [Test]
    public void ANonFiniteWeightChangeIsRefusedAndChangesNothing()
    {
        using var array = Array();
        array.Program(Weights(12), new torch.Generator(2));
        var before = Stat.D(array.State.Programmed);
        foreach (var bad in new[] { double.NaN, double.PositiveInfinity })
        {
            var dw = torch.full(new long[] { Ns, Nt }, 0.05, dtype: ScalarType.Float64);
            dw[3, 4] = torch.tensor(bad, dtype: ScalarType.Float64);
            var ex = Assert.Throws<ParameterException>(() => array.PulseWeightUpdate(dw, new torch.Generator(1)), bad.ToString());
            Assert.That(ex!.Parameter, Is.EqualTo("deltaW"));
            Assert.That(Stat.D(array.State.Programmed), Is.EqualTo(before));
            Assert.That(Stat.D(array.State.LifetimeWrites).Sum(), Is.EqualTo(0));
            Assert.That(array.TakeWrites().Pulses, Is.EqualTo(0));
        }
    }

    // The conformance suite compares outputs and group states; the learned weights live in the device array, so its
    // invariants are checked here on the devices themselves (conductances and wear), bit for bit.
    private static (Ship.Tests.Conformance.ModelCase Case, DeviceArray Array) Catalogued(bool batching)
    {
        var c = Ship.Tests.Conformance.ModelCatalog.Get("StdpBlock+DeviceArray").Build(3);
        c.Network.TimeBatching = batching;
        c.Network.SequenceBlockSteps = 7;
        return (c, (DeviceArray)((PlasticityBlock)c.Model).Synapse.WeightDevice!);
    }

    private static void SameDevices(DeviceArray actual, DeviceArray expected, WriteCounts expectedWrites, string what)
    {
        Assert.That(Stat.D(expected.State.LifetimeWrites).Sum(), Is.GreaterThan(0), $"{what}: the devices were pulsed");
        Assert.That(Stat.D(actual.State.Programmed), Is.EqualTo(Stat.D(expected.State.Programmed)), $"{what}: conductances");
        Assert.That(Stat.D(actual.State.LifetimeWrites), Is.EqualTo(Stat.D(expected.State.LifetimeWrites)), $"{what}: wear");
        Assert.That(actual.TakeWrites(), Is.EqualTo(expectedWrites), $"{what}: write counts");
    }

    [Test]
    public void TheLearnedDevicesAreTheSameBatchedOrSteppedSplitMonitoredOrReloaded()
    {
        const int t1 = 17, t2 = 23;
        var schedule = Ship.Core.Clocks.Schedule.Fixed(Ship.Tests.Conformance.ModelCatalog.Dt, t1 + t2);
        var first = Ship.Core.Clocks.Schedule.Fixed(Ship.Tests.Conformance.ModelCatalog.Dt, t1);
        var second = Ship.Core.Clocks.Schedule.Fixed(Ship.Tests.Conformance.ModelCatalog.Dt, t2);
        var (whole, wa) = Catalogued(batching: true);
        var data = whole.Inputs(t1 + t2);
        Dictionary<string, Tensor> Slice(int from, int count) => data.ToDictionary(p => p.Key, p => p.Value.narrow(1, from, count));
        whole.Network.Run(data, schedule);
        var writes = wa.TakeWrites();

        var (stepped, sa) = Catalogued(batching: false);
        stepped.Network.Run(data, schedule);
        SameDevices(sa, wa, writes, "stepped vs time-batched");

        var (watched, ma) = Catalogued(batching: true);
        watched.Network.Monitor(watched.ModelTag);
        watched.Network.Monitor(((PlasticityBlock)watched.Model).Tap.Tag);
        watched.Network.Run(data, schedule);
        SameDevices(ma, wa, writes, "monitored");

        var (split, pa) = Catalogued(batching: true);
        split.Network.Run(Slice(0, t1), first);
        split.Network.Continue(Slice(t1, t2), second);
        SameDevices(pa, wa, writes, "Run + Continue");

        var (saved, va) = Catalogued(batching: true);
        saved.Network.Run(Slice(0, t1), first);
        var dir = Path.Combine(Path.GetTempPath(), $"ship-device-plasticity-{Environment.ProcessId}");
        try
        {
            Ship.Devices.Persistence.Checkpoint.Save(saved.Network, dir);
            var loaded = Ship.Devices.Persistence.Checkpoint.Load(dir);
            var la = (DeviceArray)((PlasticityBlock)loaded[saved.ModelTag]).Synapse.WeightDevice!;
            // The pulses of the first part not yet taken by a ledger travel with the checkpoint: both arrays hold them.
            loaded.Continue(Slice(t1, t2), second);
            saved.Network.Continue(Slice(t1, t2), second);
            SameDevices(la, va, va.TakeWrites(), "save → load → continue");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public void PulsesOfADelayedRewardBeforeASaveAreChargedAfterTheLoad()
    {
        // A reward applied after a run pulses the devices; a ledger charges those pulses at the start of the next run.
        // Saved and loaded in between, the next run (of the loaded network) must charge them all the same: the ledger
        // totals of run 1 + run 2 equal those of one uninterrupted network, and the pulses equal the devices' own wear.
        RewardStdpBlock? block = null;
        var (net, array) = BlockNet(s => block = new RewardStdpBlock(s, Nt, aPlus: 0.02, aMinus: 0.01, tauEligibility: 50e-3, learningRate: 5));
        using var whole = new HardwareLedger();
        net.AddObserver(whole);
        net.Run(Random(5), Ship.Core.Clocks.Schedule.Fixed(Dt, 30));
        block!.ApplyReward(torch.tensor(new[] { 1.0, 1.0 }));
        net.Run(Random(6), Ship.Core.Clocks.Schedule.Fixed(Dt, 30));
        var expected = whole.Report().Writes;
        double wear = Stat.D(array.State.LifetimeWrites).Sum();
        Assert.That(wear, Is.GreaterThan(0), "the reward became pulses");
        Assert.That(expected.Pulses, Is.EqualTo(wear), "the uninterrupted ledger charges every pulse the devices received");

        RewardStdpBlock? block2 = null;
        var (first, _) = BlockNet(s => block2 = new RewardStdpBlock(s, Nt, aPlus: 0.02, aMinus: 0.01, tauEligibility: 50e-3, learningRate: 5));
        using var before = new HardwareLedger();
        first.AddObserver(before);
        first.Run(Random(5), Ship.Core.Clocks.Schedule.Fixed(Dt, 30));
        block2!.ApplyReward(torch.tensor(new[] { 1.0, 1.0 }));
        var dir = Path.Combine(Path.GetTempPath(), $"ship-reward-writes-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Ship.Devices.Persistence.Checkpoint.Save(first, dir);
            var loaded = Ship.Devices.Persistence.Checkpoint.Load(dir);
            using var after = new HardwareLedger();
            loaded.AddObserver(after);
            loaded.Run(Random(6), Ship.Core.Clocks.Schedule.Fixed(Dt, 30));
            var a = before.Report().Writes;
            var b = after.Report().Writes;
            Assert.That(b.Pulses, Is.GreaterThan(0), "the loaded network's run charges the reward's pulses");
            Assert.That(a.Pulses + b.Pulses, Is.EqualTo(expected.Pulses), "pulses");
            Assert.That(a.MeanConductance + b.MeanConductance, Is.EqualTo(expected.MeanConductance).Within(1e-12 * Math.Abs(expected.MeanConductance)), "Σ mean conductance (S)");
            Assert.That(a.LineCells + b.LineCells, Is.EqualTo(expected.LineCells), "cells on driven lines");
            Assert.That(a.HalfSelectConductance + b.HalfSelectConductance, Is.EqualTo(expected.HalfSelectConductance).Within(1e-12 * Math.Abs(expected.HalfSelectConductance) + 1e-30), "half-selected conductance (S)");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public void AFailedRunPutsBackTheRewardTheRunBeforeItUsed()
    {
        // A reward is converted for a run at its reset. Set anew before a Run that fails, the Continue after it must go on
        // with the reward of the Run it continues, as a twin that never saw the failed Run does, not with the new one.
        RewardStdpBlock? bt = null, bn = null;
        var (twin, at) = BlockNet(s => bt = new RewardStdpBlock(s, Nt, aPlus: 0.02, aMinus: 0.02, tauEligibility: 20e-3, learningRate: 2));
        var (net, an) = BlockNet(s => bn = new RewardStdpBlock(s, Nt, aPlus: 0.02, aMinus: 0.02, tauEligibility: 20e-3, learningRate: 2));
        var fail = new FailAtThirdStep();
        net.AddObserver(fail);
        foreach (var b in new[] { bt!, bn! }) b.SetReward(torch.tensor(new[] { 1.0, 0.5 }));
        twin.Run(Random(3), Ship.Core.Clocks.Schedule.Fixed(Dt, 10));
        net.Run(Random(3), Ship.Core.Clocks.Schedule.Fixed(Dt, 10));
        foreach (var b in new[] { bt!, bn! }) b.SetReward(torch.tensor(new[] { -1.0, -1.0 }));
        fail.Armed = true;
        Assert.Throws<InvalidOperationException>(() => net.Run(Random(4), Ship.Core.Clocks.Schedule.Fixed(Dt, 10)));
        fail.Armed = false;
        twin.Continue(Random(5), Ship.Core.Clocks.Schedule.Fixed(Dt, 10));
        net.Continue(Random(5), Ship.Core.Clocks.Schedule.Fixed(Dt, 10));
        Assert.That(Stat.D(at.State.LifetimeWrites).Sum(), Is.GreaterThan(0), "the rule pulsed the devices");
        Assert.That(Stat.D(an.State.LifetimeWrites), Is.EqualTo(Stat.D(at.State.LifetimeWrites)), "the devices' wear");
        Assert.That(Stat.D(an.State.Programmed), Is.EqualTo(Stat.D(at.State.Programmed)), "the programmed conductances (S)");
    }

    /// <summary>Throws at the third step of a call while armed.</summary>
    private sealed class FailAtThirdStep : Ship.Core.Networks.Observers.IRunObserver
    {
        private int _seen;
        public bool Armed { get; set; }
        public bool NeedsStepOutput(Ship.Core.Groups.Group group) => false;
        public void OnRunStart(Ship.Core.Networks.Observers.RunStartView run) => _seen = 0;
        public void OnStep(Ship.Core.Networks.Observers.StepView step) { if (Armed && ++_seen == 3) throw new InvalidOperationException("injected"); }
        public void OnBlockEnd(Ship.Core.Networks.Observers.BlockView block) { }
        public void OnRunEnd(bool completed) { }
    }

    [Test]
    public void AFailedRunNeitherLosesNorDoublesTheLedgersPendingPulses()
    {
        // Pulses of a delayed reward wait in the array for the next run's ledger. A run that fails takes them (the ledger
        // charges what was attempted) and its rollback must not hand them back, or the next run charges them again. The
        // block pulses only on the reward, so every charged pulse is wear the devices keep: ledger pulses = wear.
        RewardStdpBlock? block = null;
        var (net, array) = BlockNet(s => block = new RewardStdpBlock(s, Nt, aPlus: 0.02, aMinus: 0.01, tauEligibility: 50e-3, learningRate: 5));
        using var ledger = new HardwareLedger();
        var fail = new FailAtThirdStep();
        net.AddObserver(ledger);
        net.AddObserver(fail);
        net.Run(Random(5), Ship.Core.Clocks.Schedule.Fixed(Dt, 30));
        block!.ApplyReward(torch.tensor(new[] { 1.0, 1.0 }));
        double wear = Stat.D(array.State.LifetimeWrites).Sum();
        Assert.That(wear, Is.GreaterThan(0), "the reward became pulses");
        fail.Armed = true;
        Assert.Throws<InvalidOperationException>(() => net.Run(Random(6), Ship.Core.Clocks.Schedule.Fixed(Dt, 30)));
        fail.Armed = false;
        Assert.That(Stat.D(array.State.LifetimeWrites).Sum(), Is.EqualTo(wear), "the failed run pulsed nothing: wear as before");
        net.Run(Random(6), Ship.Core.Clocks.Schedule.Fixed(Dt, 30));
        Assert.That(ledger.Report().Writes.Pulses, Is.EqualTo(wear), "each reward pulse charged once");
    }
}
