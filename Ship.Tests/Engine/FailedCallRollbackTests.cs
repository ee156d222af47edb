using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Monitors;
using Ship.Core.Networks;
using Ship.Core.Networks.Observers;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// A Run or Continue that fails part-way — an observer throws, a group throws, the finite guard trips — puts back
/// everything it changed: states, latest outputs, random streams, the clock, input cursors and monitors. The reference
/// is a twin network that never saw the failed call: Run + Continue there must equal Run + failed call + Continue here,
/// bit for bit (same operations on the same numbers).
/// </summary>
public class FailedCallRollbackTests
{
    /// <summary>Throws from its step at the given step index (since the reset) while armed: a model error mid-run.</summary>
    private sealed class Trap : NeuronGroup
    {
        public Trap(int n) : base(n) { }
        public long? ThrowAt { get; set; }
        public override Tensor Step(Tensor? input)
        {
            if (Context.StepIndex == ThrowAt) throw new InvalidOperationException($"trap at step {ThrowAt}");
            return input!.mul(0.5);
        }
    }

    /// <summary>A group whose rollback capture fails while armed (as an out-of-memory copy would), before the call starts.</summary>
    private sealed class BadCapture : NeuronGroup, IRollbackState
    {
        public BadCapture(int n) : base(n) { }
        public bool Armed { get; set; }
        public override Tensor Step(Tensor? input) => input!.mul(2.0);
        public RollbackPoint Capture(bool reset) => Armed ? throw new InsufficientMemoryException("capture failed") : RollbackPoint.Nothing;
    }

    /// <summary>Throws at its n-th step of a call while armed.</summary>
    private sealed class FailAt : IRunObserver
    {
        private int _seen;
        public int? Step { get; set; }
        public bool NeedsStepOutput(Group group) => false;
        public void OnRunStart(RunStartView run) => _seen = 0;
        public void OnStep(StepView step) { if (++_seen == Step) throw new InvalidOperationException("observer failure"); }
        public void OnBlockEnd(BlockView block) { }
        public void OnRunEnd(bool completed) { }
    }

    private static Network Build(bool batching)
    {
        var net = new Network { Dt = 1e-3, BatchSize = 2, Seed = 5, DType = ScalarType.Float64, TimeBatching = batching };
        net.Add("I", new TensorInput(3));
        net.Add("P", new PoissonSource(4, rate: 300));
        net.Add("W", new Dense(Init.Uniform(0, 0.6)), "I", "L");
        net.Add("V", new Dense(Init.Uniform(0, 0.4)), "P", "L");
        net.Add("L", new Lif(5, tau: 4e-3, threshold: 0.5));
        net.Add("R", new Dense(Init.Uniform(0, 1)), "L", "T");
        net.Add("T", new Trap(2));
        net.MarkOutput("P", "L", "T");
        return net;
    }

    private static Tensor Data(int steps, int salt)
    {
        var g = new torch.Generator(77UL + (ulong)salt);
        return torch.rand(new long[] { 2, steps, 3 }, dtype: ScalarType.Float64, generator: g);
    }

    private static double[] D(Tensor t) => t.detach().cpu().contiguous().flatten().data<double>().ToArray();

    private static void Same(Network a, Network b, RunResult ra, RunResult rb, string what)
    {
        foreach (var tag in new[] { "P", "L", "T" })
            Assert.That(D(ra[tag]), Is.EqualTo(D(rb[tag])), $"{what}: output {tag}");
        Assert.That(ra.Times, Is.EqualTo(rb.Times), $"{what}: step times");
        Assert.That(a.Timeline.Times.ToArray(), Is.EqualTo(b.Timeline.Times.ToArray()), $"{what}: timeline");
        foreach (var g in b.Groups)
            foreach (var v in g.AllVariables.OfType<StateVariable>())
                if (v.Tensor is { } t && t.is_floating_point())
                    Assert.That(D(a[g.Tag].Variable(v.Name).Tensor!), Is.EqualTo(D(t)), $"{what}: state {g.Tag}.{v.Name}");
        for (int k = 0; k < b.Monitors.Count; k++)
        {
            Assert.That(a.Monitors[k].Times, Is.EqualTo(b.Monitors[k].Times), $"{what}: monitor {k} times");
            Assert.That(D(a.Monitors[k].Values), Is.EqualTo(D(b.Monitors[k].Values)), $"{what}: monitor {k} records");
        }
    }

    [TestCase(true, "observer")]
    [TestCase(false, "observer")]
    [TestCase(true, "group")]
    [TestCase(false, "group")]
    public void AContinueAfterAFailedContinueGivesWhatOneContinueGives(bool batching, string failure)
    {
        var twin = Build(batching);
        var net = Build(batching);
        foreach (var n in new[] { twin, net })
        {
            n.Monitor("L");
            n.Monitor("L", "u");
        }
        var fail = new FailAt();
        net.AddObserver(fail);
        var first = Data(12, 0);
        var second = Data(15, 1);
        var b1 = twin.Run(first);
        var b2 = twin.Continue(second);

        var a1 = net.Run(first);
        // Fails at step 12 + 6 (the 7th step of the call): states, streams, monitors and the clock have moved.
        if (failure == "observer") fail.Step = 7;
        else ((Trap)net["T"]).ThrowAt = 12 + 6;
        Assert.Throws<InvalidOperationException>(() => net.Continue(Data(15, 2)));
        fail.Step = null;
        ((Trap)net["T"]).ThrowAt = null;
        Assert.That(net.Timeline.Count, Is.EqualTo(12), "the clock is back at the end of the Run");
        Assert.That(net.Monitors.Select(m => m.Count), Is.All.EqualTo(12), "the monitors hold the Run's 12 records");

        var a2 = net.Continue(second);
        Same(net, twin, a1, b1, "the Run");
        Same(net, twin, a2, b2, "Continue after the failed Continue");
        // And on: the random streams are where the twin's are.
        Same(net, twin, net.Continue(Data(4, 3)), twin.Continue(Data(4, 3)), "a further Continue");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AFailedRunLeavesThePreviousRunToContinue(bool batching)
    {
        var twin = Build(batching);
        var net = Build(batching);
        foreach (var n in new[] { twin, net }) n.Monitor("L", "u");
        var first = Data(10, 0);
        var second = Data(9, 1);
        twin.Run(first);
        var b2 = twin.Continue(second);

        net.Run(first);
        ((Trap)net["T"]).ThrowAt = 5;
        Assert.Throws<InvalidOperationException>(() => net.Run(Data(20, 2)));
        ((Trap)net["T"]).ThrowAt = null;
        // Continue goes on from the first Run (its input's cursor, its states, its clock), as if the failed Run never was.
        var a2 = net.Continue(second);
        Same(net, twin, a2, b2, "Continue after the failed Run");
        // A Run after that gives what a fresh network's Run gives.
        Same(net, twin, net.Run(Data(8, 4)), twin.Run(Data(8, 4)), "a Run after");
    }

    [Test]
    public void TheFiniteGuardTrippingInAContinueLosesNothing()
    {
        // A Continue whose data overflows the synapse trips the guard; the next Continue goes on.
        var twin = Build(batching: false);
        var net = Build(batching: false);
        net.CheckFinite = true;
        var first = Data(6, 0);
        var second = Data(6, 1);
        twin.Run(first);
        var b2 = twin.Continue(second);
        net.Run(first);
        var bad = Data(6, 1).clone();
        bad[0, 3] = torch.full(3, double.MaxValue, dtype: ScalarType.Float64); // Σ w·x over three inputs overflows where Σ w > 1
        var e = Assert.Throws<NonFiniteValueException>(() => net.Continue(bad));
        Assert.That(e!.Step, Is.EqualTo(6 + 3), "the exception names the step where it stopped");
        Assert.That(net.Timeline.Count, Is.EqualTo(6), "while the clock is back at the start of the call");
        Same(net, twin, net.Continue(second), b2, "Continue after the tripped guard");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ACallWhoseCaptureFailsChangesNothing(bool reset)
    {
        // "Z" sorts after the input "I", whose capture has already run (and holds its data) when Z's fails.
        var twin = Build(batching: true);
        var net = Build(batching: true);
        foreach (var n in new[] { twin, net })
        {
            n.Add("Z", new BadCapture(5));
            n.Connect("L", "Z");
            n.Monitor("L");
        }
        twin.Run(Data(7, 0));
        var b2 = twin.Continue(Data(5, 1));
        net.Run(Data(7, 0));
        ((BadCapture)net["Z"]).Armed = true;
        Assert.Throws<InsufficientMemoryException>(() => { if (reset) net.Run(Data(9, 2)); else net.Continue(Data(5, 2)); });
        ((BadCapture)net["Z"]).Armed = false;
        Assert.That(net.Monitors[0].Count, Is.EqualTo(7), "the monitor keeps the Run's records");
        Same(net, twin, net.Continue(Data(5, 1)), b2, "Continue after the refused call");
    }

    [Test]
    public void ACaptureThatFailsFreesTheContinuesCopies()
    {
        // Before a Continue the states and latest outputs are copied; a capture that then failed left those copies to the
        // finalizer (one per state and per group each time), and the Poisson source's rate check left two tensors per call
        // (every call). Live handles of this thread stay flat over ten refusals.
        var net = Build(batching: false);
        net.Add("Z", new BadCapture(5));
        net.Connect("L", "Z");
        net.Run(Data(7, 0));
        var bad = (BadCapture)net["Z"];
        long Live() => TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var data = Data(5, 2);
        bad.Armed = true;
        Assert.Throws<InsufficientMemoryException>(() => net.Continue(data));
        long before = Live();
        for (int k = 0; k < 10; k++) Assert.Throws<InsufficientMemoryException>(() => net.Continue(data));
        bad.Armed = false;
        Assert.That(Live() - before, Is.EqualTo(0), "tensors left by ten refused Continues");
    }

    [TestCase(MonitorFileFormat.SafeTensors)]
    [TestCase(MonitorFileFormat.Csv)]
    public void AStreamedMonitorForgetsTheFailedContinuesRecords(MonitorFileFormat format)
    {
        var root = Path.Combine(Path.GetTempPath(), "ship-rollback-" + Guid.NewGuid().ToString("N"));
        try
        {
            var twin = Build(batching: false);
            var net = Build(batching: false);
            var mt = twin.Monitor("L", "u").StreamTo(Path.Combine(root, "twin"), chunkSteps: 4, format);
            var mn = net.Monitor("L", "u").StreamTo(Path.Combine(root, "net"), chunkSteps: 4, format);
            twin.Run(Data(6, 0));
            twin.Continue(Data(7, 1));
            net.Run(Data(6, 0));
            ((Trap)net["T"]).ThrowAt = 6 + 5; // after one full chunk of 4 was written by the failed call
            Assert.Throws<InvalidOperationException>(() => net.Continue(Data(7, 2)));
            ((Trap)net["T"]).ThrowAt = null;
            Assert.That(mn.Count, Is.EqualTo(6));
            net.Continue(Data(7, 1));
            mt.CloseStream();
            mn.CloseStream();
            var (vt, tt) = MonitorStream.Read(Path.Combine(root, "twin"));
            var (vn, tn) = MonitorStream.Read(Path.Combine(root, "net"));
            Assert.That(tn, Is.EqualTo(tt), "the streamed times: 13 steps, none of the failed call's");
            Assert.That(tn.Length, Is.EqualTo(13));
            Assert.That(D(vn), Is.EqualTo(D(vt)), "the streamed records");
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [TestCase(MonitorFileFormat.SafeTensors)]
    [TestCase(MonitorFileFormat.Csv)]
    public void AStreamedMonitorKeepsNoneOfAFailedRunsRecords(MonitorFileFormat format)
    {
        // The failed Run restarted the stream at its reset (the earlier chunks are gone, as documented); what it then
        // recorded before failing must go too, or a following Continue appends to records of a run that never was.
        var root = Path.Combine(Path.GetTempPath(), "ship-rollback-" + Guid.NewGuid().ToString("N"));
        try
        {
            var twin = Build(batching: false);
            var net = Build(batching: false);
            var mt = twin.Monitor("L", "u").StreamTo(Path.Combine(root, "twin"), chunkSteps: 4, format);
            var mn = net.Monitor("L", "u").StreamTo(Path.Combine(root, "net"), chunkSteps: 4, format);
            twin.Run(Data(6, 0));
            twin.Continue(Data(7, 1));
            net.Run(Data(6, 0));
            ((Trap)net["T"]).ThrowAt = 5; // the failed Run records steps 0..4: one chunk of 4 written, one record pending
            Assert.Throws<InvalidOperationException>(() => net.Run(Data(20, 2)));
            ((Trap)net["T"]).ThrowAt = null;
            Assert.That(mn.Count, Is.EqualTo(0), "none of the failed Run's 5 records");
            net.Continue(Data(7, 1));
            mt.CloseStream();
            mn.CloseStream();
            var (vt, tt) = MonitorStream.Read(Path.Combine(root, "twin"));
            var (vn, tn) = MonitorStream.Read(Path.Combine(root, "net"));
            Assert.That(tt.Length, Is.EqualTo(13));
            Assert.That(tn, Is.EqualTo(tt.Skip(6).ToArray()), "only the Continue's 7 steps (7 to 13 ms), as the twin recorded them");
            using var last7 = vt.narrow(1, 6, 7);
            Assert.That(D(vn), Is.EqualTo(D(last7)), "the Continue's records");
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Test]
    public void AFailedCallAtAnotherDtLeavesTheNetworkPreparedForItsFormerDt()
    {
        // The failed Continue runs at 2 ms; afterwards the groups are prepared for the Run's 1 ms again, so a parameter
        // set between calls is checked at 1 ms, as the twin checks it: 600 Hz gives rate·dt = 0.6 there (1.2 at 2 ms,
        // which the Poisson source would refuse).
        var twin = Build(batching: false);
        var net = Build(batching: false);
        twin.Run(Data(6, 0));
        net.Run(Data(6, 0));
        ((Trap)net["T"]).ThrowAt = 6 + 2;
        Assert.Throws<InvalidOperationException>(() => net.Continue(new Dictionary<string, Tensor> { ["I"] = Data(5, 2) }, Schedule.Fixed(2e-3, 5)));
        ((Trap)net["T"]).ThrowAt = null;
        twin.Set("P", "rate", 600.0);
        Assert.DoesNotThrow(() => net.Set("P", "rate", 600.0), "600 Hz at the network's 1 ms, as the twin accepts it");
        Same(net, twin, net.Continue(Data(5, 1)), twin.Continue(Data(5, 1)), "Continue at 1 ms after the failed call at 2 ms");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ACrossbarsConverterCountsAreAsBeforeAFailedCall(bool batching)
    {
        // One row, columns w = (1, −1): a spike drives both columns far above a 1 µA ADC full scale (two clips), every
        // step converts both columns (two conversions). Input spikes at steps 0 and 2 of each 3-step call.
        static Network Make(bool batching)
        {
            var w = torch.tensor(new[] { 1.0, -1.0 }, new long[] { 1, 2 }, ScalarType.Float64);
            var s = new Ship.Devices.Memristive.Crossbar.CrossbarSynapse(
                new Ship.Devices.Memristive.DeviceArray(new Ship.Devices.Memristive.SymmetricDifferentialMapping(1e-6, 100e-6)),
                new Ship.Devices.Memristive.Crossbar.CrossbarSettings { Adc = new Ship.Devices.Memristive.Crossbar.AdcSettings(Bits: 4, FullScale: 1e-6) }, w);
            var net = new Network { Dt = 1e-3, BatchSize = 1, DType = ScalarType.Float64, Seed = 3, TimeBatching = batching };
            net.Add("I", new TensorInput(1));
            net.Add("X", s, "I", "T");
            net.Add("T", new Trap(2));
            return net;
        }
        var x = torch.tensor(new[] { 1.0, 0.0, 1.0 }, new long[] { 1, 3, 1 }, ScalarType.Float64);
        var twin = Make(batching);
        var net = Make(batching);
        var ct = (Ship.Devices.Memristive.Crossbar.CrossbarSynapse)twin["X"];
        var cn = (Ship.Devices.Memristive.Crossbar.CrossbarSynapse)net["X"];
        using var ledger = new Ship.Devices.Energy.HardwareLedger();
        net.AddObserver(ledger);
        twin.Run(x);
        twin.Continue(x);
        net.Run(x);
        Assert.That((cn.AdcClipped, cn.AdcConversions), Is.EqualTo((4L, 6L)), "the Run: 2 spikes × 2 columns clipped, 3 steps × 2 columns converted");
        ((Trap)net["T"]).ThrowAt = 3 + 1; // the Continue fails at its second step
        Assert.Throws<InvalidOperationException>(() => net.Continue(x));
        Assert.That((cn.AdcClipped, cn.AdcConversions), Is.EqualTo((4L, 6L)), "after the failed Continue: as after the Run");
        ((Trap)net["T"]).ThrowAt = 1; // a Run that fails at its second step
        Assert.Throws<InvalidOperationException>(() => net.Run(x));
        ((Trap)net["T"]).ThrowAt = null;
        Assert.That((cn.AdcClipped, cn.AdcConversions), Is.EqualTo((4L, 6L)), "after the failed Run: as after the first Run");
        net.Continue(x);
        Assert.That((cn.AdcClipped, cn.AdcConversions), Is.EqualTo((ct.AdcClipped, ct.AdcConversions)), "Run + Continue, as the twin");
        // The ledger charges what each failed call attempted, once: time-batched, the crossbar converts its whole 3-step
        // block (6 conversions, 4 clipped) before the trap; stepped, the steps up to the failing one (2 steps: 4, 2).
        var (attempted, clipped) = batching ? (6L, 4L) : (4L, 2L);
        var c = ledger.Report().Converters("X");
        Assert.That(c.AdcConversions, Is.EqualTo(6 + attempted + attempted + 6), "ledger: Run, failed Continue, failed Run, Continue");
        Assert.That(c.AdcClipped, Is.EqualTo(4 + clipped + clipped + 4), "ledger: clipped conversions");
    }
}
