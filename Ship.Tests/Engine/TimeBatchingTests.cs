using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// Time-batched execution (whole segments for groups whose inputs are known in advance) must give exactly the step-by-step results.
public class TimeBatchingTests
{
    private static Network Build(bool batching, ScalarType dtype = ScalarType.Float32, int steps = 40)
    {
        var net = new Network { Dt = 1e-3, Steps = steps, BatchSize = 3, Seed = 17, DType = dtype, TimeBatching = batching };
        net.Add("I", new TensorInput(5));
        net.Add("IH", new Dense(Init.Uniform(0, 0.7), Init.Normal(0, 0.05)), "I", "H");
        net.Add("H", new Lif(7, tau: 8e-3, threshold: 0.8));
        net.Add("HO", new Dense(Init.Normal(0.2, 0.4)), "H", "O");
        net.Add("O", new Lif(4, tau: 15e-3));
        net.Set("H", "tau", torch.linspace(4e-3, 20e-3, 7, dtype: dtype));
        net.Set("O", "thr", torch.tensor(new[] { 0.5, 1.0, 1.5 }, dtype: dtype).reshape(3, 1));
        net.MarkOutput("H", "O");
        return net;
    }

    private static Tensor Input(int steps, ScalarType dtype = ScalarType.Float32) =>
        (torch.rand(new long[] { 3, steps, 5 }, generator: new torch.Generator(5)) * 1.6).to_type(dtype);

    private static float[] F(Tensor t) => t.detach().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();

    [Test]
    public void SameOutputsAndStatesAsStepByStepUnderVariableDt()
    {
        var schedule = new Schedule((1e-3, 15), (0.5e-3, 15), (2e-3, 10));
        var x = Input(40);
        var a = Build(true);
        var b = Build(false);
        var ra = a.Run(x, schedule);
        var rb = b.Run(x, schedule);
        Assert.That(a.SequenceGroups, Is.EquivalentTo(new[] { "I", "IH", "H", "HO", "O" }));
        Assert.That(b.SequenceGroups, Is.Empty);
        foreach (var tag in new[] { "H", "O" })
        {
            Assert.That(F(ra[tag]), Is.EqualTo(F(rb[tag])), tag);
            Assert.That(F(a[tag].Get("u")), Is.EqualTo(F(b[tag].Get("u"))), $"final u of {tag}");
            Assert.That(F(a[tag].Get("integrate")), Is.EqualTo(F(b[tag].Get("integrate"))));
        }
        Assert.That(F(ra["H"]).Sum(), Is.GreaterThan(10), "the hidden layer fires");
        Assert.That(F(ra["O"]).Sum(), Is.GreaterThan(0), "the output layer fires");
    }

    [TestCase(64)]
    [TestCase(300)]
    [TestCase(600)]
    public void LargeDenseLayersAreIdenticalToo(int n)
    {
        Network Make(bool batching)
        {
            var net = new Network { Steps = 60, BatchSize = 10, Seed = 2, TimeBatching = batching };
            net.Add("I", new TensorInput(n));
            net.Add("IL", new Dense(Init.Uniform(0, 1)), "I", "L");
            net.Add("L", new Lif(n));
            net.MarkOutput("L");
            return net;
        }
        var x = torch.randn(new long[] { 10, 60, n }, generator: new torch.Generator(3));
        var a = Make(true);
        var b = Make(false);
        Assert.That(F(a.Run(x)["L"]), Is.EqualTo(F(b.Run(x)["L"])), "identical spikes");
        // One GEMM over [batch·steps, N] accumulates in another order than per-step [batch, N] products, so currents
        // (and membranes) may differ in the last bits; the LIF recurrence itself is bit-identical (next test).
        var ua = F(a["L"].Get("u"));
        var ub = F(b["L"].Get("u"));
        for (int i = 0; i < ua.Length; i++) Assert.That(ua[i], Is.EqualTo(ub[i]).Within(1e-5f * (1 + Math.Abs(ub[i]))));
    }

    [Test]
    public void FusedLifIsBitIdenticalToItsStepForm()
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            var ctx = new SimulationContext(4, dtype: dtype);
            var x = (torch.rand(new long[] { 4, 80, 37 }, generator: new torch.Generator(8)) * 0.6).to_type(dtype);
            var seq = new Lif(37, tau: 7e-3, threshold: 0.9);
            var step = new Lif(37, tau: 7e-3, threshold: 0.9);
            foreach (var g in new[] { seq, step }) { g.Bind(ctx); g.PrepareTimeStep(1e-3); g.ResetState(); }
            var ys = seq.StepSequence(x, 80);
            var yp = torch.stack(x.unbind(1).Select(step.Step).ToArray(), 1);
            Assert.That(F(ys), Is.EqualTo(F(yp)), dtype.ToString());
            Assert.That(seq.Get("u").to_type(ScalarType.Float64).data<double>().ToArray(),
                Is.EqualTo(step.Get("u").to_type(ScalarType.Float64).data<double>().ToArray()), "bit-identical final membrane");
            Assert.That(F(ys).Sum(), Is.GreaterThan(0));
        }
    }

    [Test]
    public void FullyBatchedRunKeepsTheClockAndOutputsOfStepByStep()
    {
        // Every group runs whole segments: nothing is stepped, yet clock, times and outputs are those of the step form,
        // also when a segment is split into blocks (outputs concatenated) and under a variable dt.
        var schedule = new Schedule((1e-3, 15), (0.5e-3, 15), (2e-3, 10));
        var x = Input(40);
        var a = Build(true);
        a.SequenceBlockSteps = 6;
        var b = Build(false);
        var ra = a.Run(x, schedule);
        var rb = b.Run(x, schedule);
        Assert.That(a.SequenceGroups, Has.Count.EqualTo(5));
        Assert.That(ra.Times, Is.EqualTo(rb.Times));
        Assert.That(a.Context.StepIndex, Is.EqualTo(40));
        Assert.That(a.Context.Time, Is.EqualTo(b.Context.Time), "start of the last step");
        Assert.That(a.Timeline.Now, Is.EqualTo(15 * 1e-3 + 15 * 0.5e-3 + 10 * 2e-3).Within(1e-12));
        Assert.That(a.Timeline.Now, Is.EqualTo(b.Timeline.Now));
        foreach (var tag in new[] { "H", "O" })
        {
            Assert.That(ra[tag].shape, Is.EqualTo(new long[] { 3, 40, tag == "H" ? 7 : 4 }));
            Assert.That(F(ra[tag]), Is.EqualTo(F(rb[tag])), tag);
        }
        // A continuation reads the state and latest outputs the batched run left.
        Assert.That(F(a.Continue(x.narrow(1, 0, 10))["O"]), Is.EqualTo(F(b.Continue(x.narrow(1, 0, 10))["O"])));
    }

    [Test]
    public void OutputMonitorOfABatchedGroupRecordsEveryStep()
    {
        var x = Input(40);
        var a = Build(true);
        var ma = a.Monitor("H");
        var b = Build(false);
        var mb = b.Monitor("H");
        var ra = a.Run(x);
        b.Run(x);
        Assert.That(a.SequenceGroups, Does.Contain("H"), "an output monitor does not force stepping");
        Assert.That(ma.Count, Is.EqualTo(40));
        Assert.That(F(ma.Values), Is.EqualTo(F(mb.Values)));
        Assert.That(ma.Times, Is.EqualTo(mb.Times));
        Assert.That(F(ra["H"]), Is.EqualTo(F(b.Run(x)["H"])));
    }

    [Test]
    public void BatchedInputGroupOutputIsACopyOfTheData()
    {
        var x = Input(40);
        var net = Build(true);
        net.MarkOutput("I");
        var r = net.Run(x);
        Assert.That(net.SequenceGroups, Does.Contain("I"));
        Assert.That(F(r["I"]), Is.EqualTo(F(x)));
        r["I"].fill_(-1);
        Assert.That(F(x).Min(), Is.GreaterThanOrEqualTo(0), "the caller's input is untouched by writes to the output");
        Assert.That(F(net.Run(x)["O"]), Is.EqualTo(F(Build(false).Run(x)["O"])));
    }

    [Test]
    public void ContinueAfterBatchedRunEqualsOneRun()
    {
        var x = Input(40);
        var whole = Build(false).Run(x);
        var net = Build(true, steps: 25);
        var first = net.Run(x.narrow(1, 0, 25));
        var second = net.Continue(x.narrow(1, 25, 15), Schedule.Fixed(1e-3, 15));
        Assert.That(F(torch.cat(new[] { first["O"], second["O"] }, 1)), Is.EqualTo(F(whole["O"])));
    }

    [Test]
    public void MonitoredStatesAndCyclesRunStepByStep()
    {
        var x = Input(40);
        var net = Build(true);
        var mon = net.Monitor("O", "u");
        var r = net.Run(x);
        Assert.That(net.SequenceGroups, Is.EquivalentTo(new[] { "I", "IH", "H", "HO" }), "O is monitored for a state, so it steps");
        Assert.That(F(r["O"]), Is.EqualTo(F(Build(false).Run(x)["O"])));
        Assert.That(mon.Count, Is.EqualTo(40));

        var rec = Build(true);
        rec.Add("OH", new Dense(Init.Uniform(0, 0.1)), "O", "H");
        var rr = rec.Run(x);
        Assert.That(rec.SequenceGroups, Is.EquivalentTo(new[] { "I", "IH" }), "H, HO, O and OH are on a cycle");
        var rs = Build(false);
        rs.Add("OH", new Dense(Init.Uniform(0, 0.1)), "O", "H");
        Assert.That(F(rr["O"]), Is.EqualTo(F(rs.Run(x)["O"])));
    }

    [Test]
    public void GradientOfAPlainSumMatchesStepByStep()
    {
        // The gradient of a sum reaches the fused LIF as one broadcast value (zero strides), read without a full copy.
        double[] Grad(bool batching)
        {
            var net = Build(batching, ScalarType.Float64);
            net.Initialize();
            var w = net["HO"].Variable("w");
            w.Tensor = new TorchSharp.Modules.Parameter(w.Value.detach().clone(), requires_grad: true);
            net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
            net.TrackGradients = true;
            net.Run(Input(40, ScalarType.Float64))["O"].sum().backward();
            return w.Value.grad!.data<double>().ToArray();
        }
        var batched = Grad(true);
        var stepped = Grad(false);
        Assert.That(stepped.Count(v => v != 0), Is.GreaterThan(stepped.Length / 2), "most weights get a gradient");
        for (int i = 0; i < stepped.Length; i++)
            Assert.That(batched[i], Is.EqualTo(stepped[i]).Within(1e-9 + 1e-9 * Math.Abs(stepped[i])), $"element {i}");
    }

    [Test]
    public void GradientsMatchStepByStep()
    {
        double[] Grad(bool batching)
        {
            var net = Build(batching, ScalarType.Float64);
            net.Initialize();
            var w = net["IH"].Variable("w");
            w.Tensor = new TorchSharp.Modules.Parameter(w.Value.detach().clone(), requires_grad: true);
            var w2 = net["HO"].Variable("w");
            w2.Tensor = new TorchSharp.Modules.Parameter(w2.Value.detach().clone(), requires_grad: true);
            net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
            net.TrackGradients = true;
            var r = net.Run(Input(40, ScalarType.Float64));
            // A loss weighting every step and neuron differently, so the whole backward recurrence matters.
            var weights = torch.linspace(0.1, 1.0, 40 * 4, dtype: ScalarType.Float64).reshape(1, 40, 4);
            (r["O"] * weights).sum().add(r["H"].sum() * 0.01).backward();
            return w.Value.grad!.data<double>().ToArray().Concat(w2.Value.grad!.data<double>().ToArray()).ToArray();
        }
        var batched = Grad(true);
        var stepped = Grad(false);
        Assert.That(stepped.Any(v => v != 0), "the gradient is not trivially zero");
        for (int i = 0; i < stepped.Length; i++)
            Assert.That(batched[i], Is.EqualTo(stepped[i]).Within(1e-9 + 1e-9 * Math.Abs(stepped[i])), $"element {i}");
    }

    private static Network PoissonChain(bool batching, int n = 40, int layers = 2, ScalarType dtype = ScalarType.Float32)
    {
        var net = new Network { Steps = 120, BatchSize = 2, Seed = 12, DType = dtype, TimeBatching = batching };
        net.Add("P", new PoissonSource(n, rate: 150));
        string prev = "P";
        for (int k = 1; k <= layers; k++)
        {
            net.Add($"S{k}", new FirstOrder(Init.Uniform(0, 1), tau: torch.linspace(1e-3, 5e-3, n, dtype: dtype).reshape(n, 1), weightScale: 40.0), prev, $"L{k}");
            net.Add($"L{k}", new Lif(n, tau: 10e-3));
            prev = $"L{k}";
        }
        net.MarkOutput("P", "S1", $"L{layers}");
        return net;
    }

    [Test]
    public void PoissonDrawsAndLeakySynapsesMatchStepByStep()
    {
        var a = PoissonChain(true);
        var b = PoissonChain(false);
        var ra = a.Run();
        var rb = b.Run();
        Assert.That(a.SequenceGroups, Does.Contain("P").And.Contain("S1").And.Contain("L2"));
        Assert.That(F(ra["P"]), Is.EqualTo(F(rb["P"])), "the same random stream, step-major");
        var sa = F(ra["S1"]);
        var sb = F(rb["S1"]);
        for (int i = 0; i < sa.Length; i++) Assert.That(sa[i], Is.EqualTo(sb[i]).Within(1e-5f * (1 + Math.Abs(sb[i]))), $"synapse output {i}");
        Assert.That(F(ra["L2"]), Is.EqualTo(F(rb["L2"])), "identical downstream spikes");
        Assert.That(F(ra["L2"]).Sum(), Is.GreaterThan(0), "the chain fires");
        var ia = F(a["S2"].Get("I"));
        var ib = F(b["S2"].Get("I"));
        for (int i = 0; i < ia.Length; i++) Assert.That(ia[i], Is.EqualTo(ib[i]).Within(1e-5f * (1 + Math.Abs(ib[i]))), "final per-connection state");
    }

    [Test]
    public void LeakySynapseSegmentContinuesFromAnyState()
    {
        // First part step by step (per-connection state), then continued as a whole segment: the old state must keep decaying.
        var a = PoissonChain(false, layers: 1);
        a.Run(schedule: Schedule.Fixed(1e-3, 60));
        a.TimeBatching = true;
        var ca = a.Continue(schedule: Schedule.Fixed(1e-3, 60));
        var b = PoissonChain(false, layers: 1);
        b.Run(schedule: Schedule.Fixed(1e-3, 60));
        var cb = b.Continue(schedule: Schedule.Fixed(1e-3, 60));
        Assert.That(a.SequenceGroups, Does.Contain("S1"));
        var sa = F(ca["S1"]);
        var sb = F(cb["S1"]);
        for (int i = 0; i < sa.Length; i++) Assert.That(sa[i], Is.EqualTo(sb[i]).Within(1e-5f * (1 + Math.Abs(sb[i]))), $"output {i}");
    }

    [Test]
    public void LeakySynapseGradientsMatchStepByStep()
    {
        double[] Grad(bool batching)
        {
            var net = PoissonChain(batching, n: 12, layers: 1, dtype: ScalarType.Float64);
            net.Initialize();
            var w = net["S1"].Variable("w");
            w.Tensor = new TorchSharp.Modules.Parameter(w.Value.detach().clone(), requires_grad: true);
            net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
            net.TrackGradients = true;
            var r = net.Run();
            (r["S1"].pow(2).sum() + r["L1"].sum()).backward();
            return w.Value.grad!.data<double>().ToArray();
        }
        var batched = Grad(true);
        var stepped = Grad(false);
        Assert.That(stepped.Any(v => v != 0));
        for (int i = 0; i < stepped.Length; i++)
            Assert.That(batched[i], Is.EqualTo(stepped[i]).Within(1e-9 + 1e-9 * Math.Abs(stepped[i])), $"element {i}");
    }
}
