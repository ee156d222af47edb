using NUnit.Framework;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.Conformance;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>Fused chains at their seams: compositions and conditions the random chains of <see cref="FusedChainTests"/> do not draw.</summary>
public class FusedChainReviewTests
{
    private sealed record Case(Network Net, List<(string What, Tensor T)> Trained);

    /// <summary>Builds the network twice (fused, unfused), trains the named weights, runs Run + Continue, backward of a weighted sum; compares bit for bit.</summary>
    private static string Compare(Action<Network> build, string[] trained, Func<Network, Tensor> input, bool inputGrad = false, ScalarType dtype = ScalarType.Float32, int batch = 2, int blockSteps = 4, int steps = 9)
    {
        Case Make(bool fuse)
        {
            var net = new Network("review") { Dt = 1e-3, BatchSize = batch, Seed = 3, DType = dtype, SequenceBlockSteps = blockSteps, SpikeFunction = new SurrogateSpikes(new FastSigmoid(5)) };
            if (!fuse) net.UseKernels(new KernelPolicy { FusedChains = false });
            build(net);
            net.Initialize();
            var list = new List<(string, Tensor)>();
            foreach (var tag in trained)
            {
                var p = net[tag].Variable("w");
                p.Tensor = new TorchSharp.Modules.Parameter(p.Value.detach().clone(), requires_grad: true);
                list.Add(($"{tag}.w", p.Tensor));
            }
            net.TrackGradients = true;
            return new Case(net, list);
        }
        var a = Make(true);
        var b = Make(false);
        var x = input(a.Net);
        var xa = x.detach().clone().requires_grad_(inputGrad);
        var xb = x.detach().clone().requires_grad_(inputGrad);
        int first = steps / 2;
        var outs = new List<(Tensor A, Tensor B)>();
        foreach (var (ra, rb) in new[] { (a.Net.Run(xa.narrow(1, 0, first)), b.Net.Run(xb.narrow(1, 0, first))) })
            foreach (var (tag, y) in rb.Outputs) outs.Add((ra[tag], y));
        var sched = new Ship.Core.Clocks.Schedule((2e-3, 2), (1e-3, steps - first - 2));
        var (ca, cb) = (a.Net.Continue(xa.narrow(1, first, steps - first), sched), b.Net.Continue(xb.narrow(1, first, steps - first), sched));
        foreach (var (tag, y) in cb.Outputs) outs.Add((ca[tag], y));
        for (int k = 0; k < outs.Count; k++) Same(outs[k].A, outs[k].B, $"output {k}");
        foreach (var g in a.Net.Groups)
            foreach (var v in g.AllVariables.OfType<StateVariable>())
                if (v.Tensor is { } t && b.Net[g.Tag].AllVariables.OfType<StateVariable>().Single(s => s.Name == v.Name).Tensor is { } u)
                    Same(t, u, $"state {g.Tag}.{v.Name}");
        Loss(outs.Select(o => o.A)).backward();
        Loss(outs.Select(o => o.B)).backward();
        for (int k = 0; k < a.Trained.Count; k++)
        {
            Assert.That(a.Trained[k].T.grad is null, Is.EqualTo(b.Trained[k].T.grad is null), $"{a.Trained[k].What}: gradient in both or neither");
            if (a.Trained[k].T.grad is { } g) Same(g, b.Trained[k].T.grad!, $"gradient of {a.Trained[k].What}");
        }
        if (inputGrad)
        {
            Assert.That(xa.grad, Is.Not.Null, "the input's gradient (fused)");
            Assert.That(xb.grad, Is.Not.Null, "the input's gradient (unfused)");
            Same(xa.grad!, xb.grad!, "gradient of the input");
        }
        return a.Net.DescribePlan();
    }

    private static Tensor Loss(IEnumerable<Tensor> outputs) => FusedChainTests.Loss(outputs);

    private static void Same(Tensor a, Tensor b, string what) => FusedChainTests.Same(a, b, what);

    private static Tensor Bits(Network net, int n, int steps = 9, ulong seed = 4) =>
        torch.rand(new long[] { net.BatchSize, steps, n }, generator: new torch.Generator(seed)).lt(0.5).to_type(net.DType);

    [Test]
    public void DenseOutputEndsAChain()
    {
        var plan = Compare(net =>
        {
            net.Add("I", new TensorInput(12));
            net.Add("A", new Dense(Init.Uniform(0, 0.5), bias: 0.05), "I", "L");
            net.Add("L", new Lif(50, tau: 5e-3, threshold: 0.5));
            net.Add("B", new Dense(Init.Uniform(-0.2, 0.5)), "L", "O");
            net.Add("O", new LeakyIntegrator(5));
            net.MarkOutput("B");
        }, new[] { "A", "B" }, n => Bits(n, 12), steps: 9);
        Assert.That(plan, Does.Contain("fused chain"), plan);
    }

    [TestCase(2, false)]
    [TestCase(1, false)]
    [TestCase(2, true)]
    public void InputThatRequiresGrad(int batch, bool trainA)
    {
        var plan = Compare(net =>
        {
            net.Add("I", new TensorInput(12));
            net.Add("A", new Dense(Init.Uniform(0, 0.5)), "I", "L");
            net.Add("L", new Lif(20, tau: 5e-3, threshold: 0.5));
            net.Add("B", new Dense(Init.Uniform(-0.2, 0.5)), "L", "O");
            net.Add("O", new LeakyIntegrator(5));
            net.MarkOutput("O");
        }, trainA ? new[] { "A" } : Array.Empty<string>(), n => Bits(n, 12), inputGrad: true, batch: batch);
        Assert.That(plan, Does.Contain("fused chain"), plan);
    }

    [Test]
    public void OnlyTheLastWeightsAreTrained()
    {
        var plan = Compare(net =>
        {
            net.Add("I", new TensorInput(12));
            net.Add("A", new Dense(Init.Uniform(0, 0.5)), "I", "L");
            net.Add("L", new Lif(20, tau: 5e-3, threshold: 0.5));
            net.Add("B", new Dense(Init.Uniform(-0.2, 0.5)), "L", "O");
            net.Add("O", new LeakyIntegrator(5));
            net.MarkOutput("O");
        }, new[] { "B" }, n => Bits(n, 12));
        Assert.That(plan, Does.Contain("fused chain"), plan);
    }

    [TestCase(1, 1, 1)]
    [TestCase(1, 3, 1)]
    [TestCase(3, 1, 2)]
    public void TinyShapes(int batch, int n, int blockSteps)
    {
        Compare(net =>
        {
            net.Add("I", new TensorInput(3));
            net.Add("A", new Dense(Init.Uniform(0, 1.5), bias: 0.1), "I", "L");
            net.Add("L", new Lif(n, tau: 5e-3, threshold: 0.5));
            net.Add("B", new Dense(Init.Uniform(-0.2, 0.5)), "L", "O");
            net.Add("O", new LeakyIntegrator(1));
            net.MarkOutput("O");
        }, new[] { "A", "B" }, net => Bits(net, 3), batch: batch, blockSteps: blockSteps, dtype: ScalarType.Float64);
    }

    [Test]
    public void BatchExtendedAndZeroDimParameters()
    {
        Compare(net =>
        {
            net.Add("I", new TensorInput(6));
            net.Add("A", new Dense(Init.Uniform(0, 1.0), bias: 0.1), "I", "L");
            net.Add("L", new Lif(5, tau: 5e-3, threshold: 0.5));
            net.Add("B", new Dense(Init.Uniform(-0.2, 0.5)), "L", "O");
            net.Add("O", new LeakyIntegrator(4));
            net.MarkOutput("O");
            net.Initialize();
            net["L"].Set("thr", torch.rand(new long[] { 3, 5 }, generator: new torch.Generator(7), dtype: ScalarType.Float64).mul(0.8).add(0.3));
            net["L"].Set("tau", torch.tensor(6e-3, dtype: ScalarType.Float64));
            net["O"].Set("tau", torch.rand(new long[] { 3, 4 }, generator: new torch.Generator(8), dtype: ScalarType.Float64).mul(5e-3).add(2e-3));
        }, new[] { "A", "B" }, net => Bits(net, 6), batch: 3);
    }

    [TestCase(300, 64)]
    [TestCase(200, 10)]
    public void InferenceOverBlocksOfAnInputFromABatch(int ns, int nt)
    {
        // batch > 1 and several blocks: each block of the input is a strided narrow of the data (not contiguous).
        var nets = new[] { true, false }.Select(fuse =>
        {
            var net = new Network("infer") { Dt = 1e-3, BatchSize = 4, Seed = 2, SequenceBlockSteps = 5, SpikeFunction = new SurrogateSpikes(new FastSigmoid(5)) };
            if (!fuse) net.UseKernels(new KernelPolicy { FusedChains = false });
            net.Add("I", new TensorInput(ns));
            net.Add("A", new Dense(Init.Uniform(-0.01, 0.013)), "I", "L");
            net.Add("L", new Lif(nt, tau: 8e-3, threshold: 0.8));
            net.MarkOutput("L");
            net.Initialize();
            return net;
        }).ToArray();
        var x = torch.rand(new long[] { 4, 17, ns }, generator: new torch.Generator(3));
        using var _ = torch.no_grad();
        var ya = nets[0].Run(x)["L"];
        var yb = nets[1].Run(x)["L"];
        Assert.That(nets[0].DescribePlan(), Does.Contain("fused chain"));
        Same(ya, yb, "spikes");
        Same(nets[0]["L"].Variable("u").Value, nets[1]["L"].Variable("u").Value, "final membrane");
    }

    /// <summary>I → A → L → B → O, surrogate spikes, A.w and B.w trained, gradients recorded.</summary>
    private static Network Chain(bool fuse, int batch = 3, int blockSteps = 4)
    {
        var net = new Network("chain") { Dt = 1e-3, BatchSize = batch, Seed = 6, SequenceBlockSteps = blockSteps, SpikeFunction = new SurrogateSpikes(new FastSigmoid(5)) };
        if (!fuse) net.UseKernels(new KernelPolicy { FusedChains = false });
        net.Add("I", new TensorInput(24));
        net.Add("A", new Dense(Init.Uniform(0, 0.4), bias: 0.05), "I", "L");
        net.Add("L", new Lif(300, tau: 6e-3, threshold: 0.6));
        net.Add("B", new Dense(Init.Uniform(-0.1, 0.2)), "L", "O");
        net.Add("O", new LeakyIntegrator(7, tau: 4e-3));
        net.MarkOutput("O");
        net.Initialize();
        foreach (var tag in new[] { "A", "B" })
        {
            var p = net[tag].Variable("w");
            p.Tensor = new TorchSharp.Modules.Parameter(p.Value.detach().clone(), requires_grad: true).DetachFromDisposeScope();
            ((Parameter)p).Pinned = true;
        }
        net.TrackGradients = true;
        return net;
    }

    [Test]
    public void ASavedBlockIsNotReusedBeforeItsBackward()
    {
        // Two recorded runs, then the backward of the first: the blocks its graph saved (pooled) must still hold the first
        // run's values, i.e. its gradient equals that of a network that ran once.
        var x1 = torch.rand(new long[] { 3, 12, 24 }, generator: new torch.Generator(1)).lt(0.5).to_type(ScalarType.Float32);
        var x2 = torch.rand(new long[] { 3, 12, 24 }, generator: new torch.Generator(2)).lt(0.5).to_type(ScalarType.Float32);
        var a = Chain(true);
        var loss1 = Loss(new[] { a.Run(x1)["O"] });
        var loss2 = Loss(new[] { a.Run(x2)["O"] });
        loss1.backward();
        var b = Chain(true);
        Loss(new[] { b.Run(x1)["O"] }).backward();
        Assert.That(a.DescribePlan(), Does.Contain("fused chain 1, link 4 of 4"));
        Same(a["A"].Variable("w").Value.grad!, b["A"].Variable("w").Value.grad!, "A.w gradient");
        Same(a["B"].Variable("w").Value.grad!, b["B"].Variable("w").Value.grad!, "B.w gradient");
        GC.KeepAlive(loss2);
    }

    [Test]
    public void TrainingBatchesLeaveNoMoreTensorsFusedThanUnfused()
    {
        var x = torch.rand(new long[] { 3, 12, 24 }, generator: new torch.Generator(1)).lt(0.5).to_type(ScalarType.Float32);
        long Grown(bool fuse)
        {
            var net = Chain(fuse);
            void Once()
            {
                using var scope = torch.NewDisposeScope();
                Loss(new[] { net.Run(x)["O"] }).backward();
            }
            // Handles count process-wide, and the finalizer frees unreachable ones at any time: collect before each reading.
            static long Live()
            {
                for (int k = 0; k < 3; k++)
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                }
                return torch.Tensor.TotalCount;
            }
            Once();
            Once();
            long before = Live();
            for (int k = 0; k < 10; k++) Once();
            long grown = Live() - before;
            Assert.That(net.DescribePlan().Contains("fused chain"), Is.EqualTo(fuse));
            return grown;
        }
        long unfused = Grown(false), fused = Grown(true), unfusedAgain = Grown(false);
        TestContext.Out.WriteLine($"grown: {unfused} unfused, {fused} fused, {unfusedAgain} unfused again");
        Assert.That(fused, Is.LessThanOrEqualTo(Math.Max(0, Math.Max(unfused, unfusedAgain))), $"tensors left alive by 10 training batches: {fused} fused, {unfused} and {unfusedAgain} unfused");
    }

    [Test]
    public void AFailedContinueLeavesTheChainAsBefore()
    {
        var x = torch.rand(new long[] { 3, 20, 24 }, generator: new torch.Generator(1)).lt(0.5).to_type(ScalarType.Float32);
        var (a, b) = (Chain(true), Chain(false));
        using var _ = torch.no_grad();
        a.Run(x.narrow(1, 0, 8));
        b.Run(x.narrow(1, 0, 8));
        // Asks for more steps than the input holds: fails after some blocks have run.
        Assert.Throws(Is.InstanceOf<Ship.Core.Errors.ShipException>(), () => a.Continue(x.narrow(1, 8, 6), new Ship.Core.Clocks.Schedule((1e-3, 10))));
        var ya = a.Continue(x.narrow(1, 8, 12))["O"];
        var yb = b.Continue(x.narrow(1, 8, 12))["O"];
        Same(ya, yb, "continued output after the failed call");
        Same(a["L"].Variable("u").Value, b["L"].Variable("u").Value, "L.u");
    }

    [Test]
    public void ABiasTrainedAfterAFusedRunGetsItsGradient()
    {
        var x = torch.rand(new long[] { 3, 8, 24 }, generator: new torch.Generator(1)).lt(0.5).to_type(ScalarType.Float32);
        var grads = new List<Tensor>();
        foreach (var fuse in new[] { true, false })
        {
            var net = Chain(fuse);
            Loss(new[] { net.Run(x)["O"] }).backward();
            var bias = net["A"].Variable("bias");
            bias.Tensor = new TorchSharp.Modules.Parameter(bias.Value.detach().clone(), requires_grad: true).DetachFromDisposeScope();
            Loss(new[] { net.Run(x)["O"] }).backward();
            Assert.That(bias.Value.grad, Is.Not.Null, $"fuse {fuse}: the bias got a gradient");
            grads.Add(bias.Value.grad!);
        }
        Same(grads[0], grads[1], "bias gradient");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void AChainThatStartsWithANeuron(bool leaky)
    {
        // The input feeds the neuron directly: the chain's input is the strided block of the data, and the first link a recurrence.
        var plan = Compare(net =>
        {
            net.Add("I", new TensorInput(10));
            net.Add("L", leaky ? (Group)new LeakyIntegrator(10, tau: 5e-3) : new Lif(10, tau: 5e-3, threshold: 0.5));
            net.Connect("I", "L");
            net.Add("B", new Dense(Init.Uniform(-0.2, 0.6), bias: 0.02), "L", "O");
            net.Add("O", new Lif(4, tau: 4e-3, threshold: 0.3));
            net.MarkOutput("O");
        }, new[] { "B" }, n => Bits(n, 10), inputGrad: true, batch: 3, blockSteps: 3);
        Assert.That(plan, Does.Contain("L [whole block] — fused chain 1, link 1 of 3"), plan);
    }

    [Test]
    public void AMonitorOfTheChainsLastLinkRecordsTheSame()
    {
        // B (narrow, 300 → 7) ends a chain when monitored; O's membrane monitored makes O stepped.
        var x = torch.rand(new long[] { 3, 14, 24 }, generator: new torch.Generator(1)).lt(0.5).to_type(ScalarType.Float32);
        var recorded = new List<(Tensor B, Tensor U, string Plan)>();
        var grads = new List<Tensor>();
        foreach (var fuse in new[] { true, false })
        {
            var net = Chain(fuse);
            var mb = net.Monitor("B");
            var mu = net.Monitor("O", "u");
            var y1 = net.Run(x.narrow(1, 0, 9))["O"];
            var y2 = net.Continue(x.narrow(1, 9, 5))["O"];
            // The stepped O reads the per-step slices of the chain's last block: the gradient goes back through them.
            Loss(new[] { y1, y2 }).backward();
            grads.Add(net["A"].Variable("w").Value.grad!);
            recorded.Add((mb.Values.detach().clone(), mu.Values.detach().clone(), net.DescribePlan()));
        }
        Assert.That(recorded[0].Plan, Does.Contain("B [whole block, sliced per step] — fused chain 1, link 3 of 3"), recorded[0].Plan);
        Same(recorded[0].B, recorded[1].B, "monitored output of B");
        Same(recorded[0].U, recorded[1].U, "monitored membrane of O");
        Same(grads[0], grads[1], "gradient of A.w through the slices");
        Assert.That(recorded[0].B.shape, Is.EqualTo(new long[] { 3, 14, 7 }), "one record per step");
    }

    [Test]
    public void ASpikeFunctionChangedAfterAFusedRunChangesThePlan()
    {
        var x = torch.rand(new long[] { 3, 8, 24 }, generator: new torch.Generator(1)).lt(0.5).to_type(ScalarType.Float32);
        var runs = new List<(Tensor Y, Tensor? GradA, Tensor? GradB, string Plan)>();
        foreach (var fuse in new[] { true, false })
        {
            var net = Chain(fuse);
            Loss(new[] { net.Run(x)["O"] }).backward();
            foreach (var tag in new[] { "A", "B" }) net[tag].Variable("w").Value.grad?.zero_();
            // Heaviside spikes: no link for the LIF (no surrogate); the plan cached for the first run must not be reused.
            net.SpikeFunction = new HeavisideSpikes();
            var y = net.Run(x)["O"];
            Loss(new[] { y }).backward();
            runs.Add((y.detach().clone(), net["A"].Variable("w").Value.grad?.clone(), net["B"].Variable("w").Value.grad?.clone(), net.DescribePlan()));
        }
        Assert.That(runs[0].Plan, Does.Not.Contain("L [whole block] — fused"), runs[0].Plan);
        Same(runs[0].Y, runs[1].Y, "output with Heaviside spikes");
        Same(runs[0].GradB!, runs[1].GradB!, "B.w gradient");
        Same(runs[0].GradA!, runs[1].GradA!, "A.w gradient (zero: Heaviside spikes carry none)");
    }

    [Test]
    public void AStateWithNothingTrainedBeforeItRecordsNoGradient()
    {
        // Only B.w is trained: nothing before B records a gradient, so L's membrane (as unfused) is a plain tensor, and the
        // next block neither records L's recurrence nor keeps this block's graph alive through it.
        var x = torch.rand(new long[] { 3, 8, 24 }, generator: new torch.Generator(1)).lt(0.5).to_type(ScalarType.Float32);
        var flags = new List<(bool L, bool O)>();
        foreach (var fuse in new[] { true, false })
        {
            var net = Chain(fuse);
            var a = net["A"].Variable("w");
            a.Tensor = a.Value.detach().clone().DetachFromDisposeScope();
            net.Run(x);
            flags.Add((net["L"].Variable("u").Value.requires_grad, net["O"].Variable("u").Value.requires_grad));
        }
        Assert.That(flags[1], Is.EqualTo((false, true)), "unfused: L records nothing, O's membrane depends on B.w");
        Assert.That(flags[0], Is.EqualTo(flags[1]), "fused as unfused");
    }

    [TestCase(false, ScalarType.Float32)]
    [TestCase(true, ScalarType.Float32)]
    [TestCase(false, ScalarType.Float64)]
    public void ANarrowFirstLayerOverAStridedInputThatRequiresGrad(bool trainA, ScalarType dtype)
    {
        // 40 → 8: the transposed product, on blocks narrowed from a batch's input.
        var plan = Compare(net =>
        {
            net.Add("I", new TensorInput(40));
            net.Add("A", new Dense(Init.Uniform(-0.05, 0.2), bias: 0.01), "I", "L");
            net.Add("L", new Lif(8, tau: 5e-3, threshold: 0.5));
            net.MarkOutput("L");
        }, trainA ? new[] { "A" } : Array.Empty<string>(), n => Bits(n, 40), inputGrad: true, batch: 3, blockSteps: 3, dtype: dtype);
        Assert.That(plan, Does.Contain("fused chain 1, link 2 of 2"), plan);
    }
}
