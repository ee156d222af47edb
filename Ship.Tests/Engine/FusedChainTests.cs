using NUnit.Framework;
using System.Runtime.InteropServices;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Kernels;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.Conformance;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// Fused chains (<see cref="ExecutionPlan.Chains"/>): a chain of whole-block groups run inside one autograd node must
/// give exactly what the same groups give one node each (<see cref="KernelPolicy.FusedChains"/> off) — outputs, final
/// states and gradients, bit for bit, across blocks, segments of another dt and a Continue — and the plan may fuse only
/// where nothing else reads between the links.
/// </summary>
public class FusedChainTests
{
    /// <summary>Catalogue entries whose model can be a chain link (found by reflection: a new link model is covered here without a list).</summary>
    public static IEnumerable<ModelEntry> LinkEntries() => ModelCatalog.All.Where(e => typeof(IChainGroup).IsAssignableFrom(e.ModelType));

    [Test]
    public void TheLinkModelsAreFoundByReflection()
    {
        var types = LinkEntries().Select(e => e.ModelType).Distinct().ToList();
        Assert.That(types, Does.Contain(typeof(Dense)).And.Contain(typeof(Lif)).And.Contain(typeof(LeakyIntegrator)));
    }

    [TestCaseSource(nameof(LinkEntries))]
    public void CatalogueModelInAChainIsBitIdenticalFusedAndUnfused(ModelEntry entry)
    {
        // The entry's model (its catalogue settings) inside a chain of four: in → M → LIF → dense → leaky integrator
        // for a synapse, in → dense → M → dense → leaky integrator for a neuron.
        Network Build(bool fuse)
        {
            var net = new Network(entry.Name) { Dt = ModelCatalog.Dt, BatchSize = ModelCatalog.Batch, Seed = 5, DType = ScalarType.Float64, SequenceBlockSteps = 4 };
            if (!fuse) net.UseKernels(new KernelPolicy { FusedChains = false });
            var m = entry.Create();
            net.Add("I", new TensorInput(ModelCatalog.InputChannels));
            if (m.Kind == GroupKind.Synapse)
            {
                net.Add("M", m, "I", "P");
                net.Add("P", new Lif(6, tau: 6e-3, threshold: 0.7));
                net.Add("B", new Dense(Init.Uniform(-0.3, 0.9)), "P", "R");
            }
            else
            {
                net.Add("A", new Dense(Init.Uniform(0, 1.2)), "I", "M");
                net.Add("M", m);
                net.Add("B", new Dense(Init.Uniform(-0.3, 0.9)), "M", "R");
            }
            net.Add("R", new LeakyIntegrator(3, tau: 4e-3));
            net.MarkOutput("R");
            return net;
        }
        var a = Build(fuse: true);
        var b = Build(fuse: false);
        var (ga, gb) = (Record(a), Record(b));
        var x = torch.rand(new long[] { ModelCatalog.Batch, 15, ModelCatalog.InputChannels }, generator: new torch.Generator(9), dtype: ScalarType.Float64).lt(0.5).to_type(ScalarType.Float64);
        var outs = new List<(Tensor A, Tensor B)>();
        outs.Add((a.Run(x.narrow(1, 0, 8))["R"], b.Run(x.narrow(1, 0, 8))["R"]));
        var sched = new Ship.Core.Clocks.Schedule((ModelCatalog.Dt * 2, 3), (ModelCatalog.Dt, 4));
        var rest = x.narrow(1, 8, 7);
        outs.Add((a.Continue(rest, sched)["R"], b.Continue(rest, sched)["R"]));
        foreach (var (ya, yb) in outs) Same(ya, yb, $"{entry.Name}: output");
        SameStates(a, b, entry.Name);
        Backward(outs.Select(o => o.A));
        Backward(outs.Select(o => o.B));
        for (int k = 0; k < ga.Count; k++)
        {
            Assert.That(ga[k].T.grad is null, Is.EqualTo(gb[k].T.grad is null), $"{entry.Name}: {ga[k].What} has a gradient in both or in neither");
            if (ga[k].T.grad is { } g) Same(g, gb[k].T.grad!, $"{entry.Name}: gradient of {ga[k].What}");
        }
        // Either the model is a link of the chain, or it says why not (a device behind its weights, for instance).
        var plan = a.DescribePlan();
        var refusal = ((IChainGroup)a["M"]).LinkRefusal;
        if (refusal is null) Assert.That(plan, Does.Match(@"M \[whole block\] — fused chain 1, link [12] of 4"), plan);
        else Assert.That(plan, Does.Not.Contain("M [whole block] — fused"), $"{entry.Name} refuses ({refusal}) and is not fused");
        TestContext.Out.WriteLine($"{entry.Name}: {refusal ?? "fused"}");
    }

    [Test]
    public void TheCatalogueCasesRunChains()
    {
        // The catalogue's own conformance cases go through chains (so the conformance suites cover them): a neuron case
        // is in → dense → M → dense → leaky integrator with M an output, i.e. two chains of two.
        foreach (var name in new[] { "Lif", "LeakyIntegrator" })
        {
            var c = ModelCatalog.All.Single(e => e.Name == name).Build(3);
            c.Network.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
            c.Network.Initialize();
            Assert.That(c.Network.DescribePlan(), Does.Match(@"M \[whole block\] — fused chain \d+, link 2 of 2"), name);
        }
    }

    [Test]
    public void RandomChainsAreBitIdenticalFusedAndUnfused()
    {
        int fusedCases = EverySeed(24, CheckRandomChain, "FusedChainTests.CheckRandomChain(seed)");
        Assert.That(fusedCases, Is.GreaterThanOrEqualTo(20), "most random compositions form a chain");
    }

    /// <summary>
    /// Runs <paramref name="check"/> for seeds 1 … <paramref name="count"/>, collecting every failing seed (an assertion or
    /// an engine error) instead of stopping at the first; fails listing them with how to reproduce one; returns how many
    /// seeds the check reported as covering its case.
    /// </summary>
    internal static int EverySeed(int count, Func<long, bool> check, string reproduce)
    {
        var failures = new List<string>();
        int covered = 0;
        for (long seed = 1; seed <= count; seed++)
        {
            try { covered += check(seed) ? 1 : 0; }
            catch (Exception e) when (e is AssertionException or ShipException or InvalidOperationException or ArgumentException or ExternalException)
            {
                failures.Add($"seed {seed}: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
            }
        }
        Assert.That(failures, Is.Empty, $"reproduce with {reproduce}");
        return covered;
    }

    /// <summary>
    /// One random chain input → (dense → LIF or leaky integrator) × 1–3, random widths (narrow read-outs included, the
    /// transposed product), batch, dtype, block length, a trained or fixed bias, per-neuron or single τ and threshold,
    /// then Run + Continue with a dt change and a loss over both: fused and unfused must agree bit for bit. Returns
    /// whether the fused network's plan had a chain.
    /// </summary>
    public static bool CheckRandomChain(long seed)
    {
        var rng = new Random((int)seed);
        var dtype = rng.Next(2) == 0 ? ScalarType.Float32 : ScalarType.Float64;
        int batch = 1 + rng.Next(3), blockSteps = 2 + rng.Next(8), layers = 1 + rng.Next(3);
        var widths = new List<int> { 2 + rng.Next(40) };
        var neuronKinds = new List<int>();
        for (int k = 0; k < layers; k++)
        {
            widths.Add(rng.Next(3) == 0 ? 1 + rng.Next(6) : 2 + rng.Next(48));
            neuronKinds.Add(k == layers - 1 && rng.Next(2) == 0 ? 1 : rng.Next(4) == 0 ? 1 : 0);
        }
        double bias = rng.Next(2) == 0 ? 0 : 0.05 + rng.NextDouble() * 0.2;
        bool perNeuron = rng.Next(2) == 0;
        TestContext.Out.WriteLine($"seed {seed}: {dtype}, batch {batch}, block {blockSteps}, widths {string.Join(",", widths)}, kinds {string.Join(",", neuronKinds)}, bias {bias}, per-neuron {perNeuron}");
        Network Build(bool fuse)
        {
            var net = new Network($"chain {seed}") { Dt = 1e-3, BatchSize = batch, Seed = seed, DType = dtype, SequenceBlockSteps = blockSteps };
            if (!fuse) net.UseKernels(new KernelPolicy { FusedChains = false });
            net.Add("I", new TensorInput(widths[0]));
            string src = "I";
            for (int k = 0; k < layers; k++)
            {
                string s = $"S{k}", n = $"N{k}";
                net.Add(s, new Dense(Init.Uniform(-0.2, 3.0 / Math.Sqrt(widths[k])), bias: bias), src, n);
                net.Add(n, neuronKinds[k] == 0 ? (Group)new Lif(widths[k + 1], tau: 4e-3 + 0.002 * k, threshold: 0.6) : new LeakyIntegrator(widths[k + 1], tau: 3e-3));
                src = n;
            }
            net.MarkOutput(src);
            net.Initialize();
            if (perNeuron)
            {
                var g = new torch.Generator((ulong)seed);
                for (int k = 0; k < layers; k++)
                {
                    int w = widths[k + 1];
                    net[$"N{k}"].Set("tau", torch.rand(new long[] { w }, generator: g, dtype: ScalarType.Float64).mul(6e-3).add(2e-3));
                    if (neuronKinds[k] == 0) net[$"N{k}"].Set("thr", torch.rand(new long[] { w }, generator: g, dtype: ScalarType.Float64).mul(0.8).add(0.3));
                }
            }
            return net;
        }
        var a = Build(fuse: true);
        var b = Build(fuse: false);
        var (ga, gb) = (Record(a), Record(b));
        var gen = new torch.Generator((ulong)(seed * 31 + 7));
        var x = torch.rand(new long[] { batch, 20, widths[0] }, generator: gen, dtype: dtype).lt(0.4).to_type(dtype);
        var first = new Dictionary<string, Tensor> { ["I"] = x.narrow(1, 0, 11) };
        var second = new Dictionary<string, Tensor> { ["I"] = x.narrow(1, 11, 9) };
        var sched = new Ship.Core.Clocks.Schedule((2e-3, 4), (1e-3, 5));
        var outs = new List<(Tensor A, Tensor B, string What)>();
        var (ra, rb) = (a.Run(first), b.Run(first));
        foreach (var (tag, y) in rb.Outputs) outs.Add((ra[tag], y, $"Run output {tag}"));
        (ra, rb) = (a.Continue(second, sched), b.Continue(second, sched));
        foreach (var (tag, y) in rb.Outputs) outs.Add((ra[tag], y, $"Continue output {tag}"));
        foreach (var (ya, yb, what) in outs) Same(ya, yb, $"seed {seed}: {what}");
        SameStates(a, b, $"seed {seed}");
        Backward(outs.Select(o => o.A));
        Backward(outs.Select(o => o.B));
        for (int k = 0; k < ga.Count; k++)
        {
            Assert.That(ga[k].T.grad is null, Is.EqualTo(gb[k].T.grad is null), $"seed {seed}: {ga[k].What} has a gradient in both or in neither");
            if (ga[k].T.grad is { } g) Same(g, gb[k].T.grad!, $"seed {seed}: gradient of {ga[k].What}");
        }
        return a.DescribePlan().Contains("fused chain");
    }

    [Test]
    public void WithoutGradientsTheChainGivesTheSameAsUnfused()
    {
        foreach (var seed in new long[] { 3, 8 })
        {
            var nets = new[] { true, false }.Select(fuse =>
            {
                var net = new Network("nograd") { Dt = 1e-3, BatchSize = 3, Seed = seed, SequenceBlockSteps = 5 };
                if (!fuse) net.UseKernels(new KernelPolicy { FusedChains = false });
                net.Add("I", new TensorInput(20));
                net.Add("A", new Dense(Init.Uniform(0, 0.5), bias: 0.1), "I", "L");
                net.Add("L", new Lif(40, tau: 8e-3, threshold: 0.8));
                net.Add("B", new Dense(Init.Uniform(-0.2, 0.6)), "L", "O");
                net.Add("O", new LeakyIntegrator(7, tau: 5e-3));
                net.MarkOutput("O");
                return net;
            }).ToArray();
            var x = torch.rand(new long[] { 3, 17, 20 }, generator: new torch.Generator((ulong)seed)).lt(0.5).to_type(ScalarType.Float32);
            using var _ = torch.no_grad();
            var ya = nets[0].Run(x)["O"];
            var yb = nets[1].Run(x)["O"];
            Assert.That(ya.requires_grad, Is.False);
            Same(ya, yb, $"seed {seed}: output");
            SameStates(nets[0], nets[1], $"seed {seed}");
            Assert.That(ya.abs().sum().item<float>(), Is.GreaterThan(0f), "the read-out saw spikes (the comparison is not of zeros)");
        }
    }

    [Test]
    public void LifRowsSplitBetweenThreadsGiveTheSameAsOneThread()
    {
        // batch 8 × 64 steps × 512 neurons: the LIF recurrence splits its batch rows into one range per worker at 2
        // intra-op threads; each row is independent, so forward, final state and gradient are bit-identical to 1 thread.
        Assume.That(Ship.Core.Native.IntraOpThreads.Available, "libtorch_cpu's per-thread setters resolve on this build");
        var results = new List<(Tensor Y, Tensor U, Tensor G)>();
        foreach (var threads in new[] { 1, 2 })
        {
            using var caller = Ship.Core.Native.IntraOpThreads.Enter(2);
            var net = new Network("rows") { Dt = 1e-3, BatchSize = 8, Seed = 4, SequenceBlockSteps = 64, SpikeFunction = new SurrogateSpikes(new FastSigmoid(5)) };
            net.UseKernels(new KernelPolicy { IntraOpThreads = threads });
            net.Add("I", new TensorInput(6));
            net.Add("A", new Dense(Init.Uniform(0, 0.6)), "I", "L");
            net.Add("L", new Lif(512, tau: 8e-3, threshold: 0.9));
            net.MarkOutput("L");
            var targets = Record(net);
            var x = torch.rand(new long[] { 8, 64, 6 }, generator: new torch.Generator(2)).lt(0.5).to_type(ScalarType.Float32);
            var y = net.Run(x)["L"];
            y.sum().backward();
            results.Add((y.detach().clone(), net["L"].AllVariables.OfType<StateVariable>().Single(v => v.Name == "u").Tensor!.detach().clone(), targets[0].T.grad!.clone()));
            Assert.That(net.DescribePlan(), Does.Contain("fused chain"));
        }
        Assert.That(results[0].Y.sum().item<float>(), Is.GreaterThan(0f), "the layer spiked");
        Same(results[1].Y, results[0].Y, "spikes at 2 threads vs 1");
        Same(results[1].U, results[0].U, "final membrane at 2 threads vs 1");
        Same(results[1].G, results[0].G, "weight gradient at 2 threads vs 1");
    }

    [Test]
    public void PerRowThresholdsAndDecaysMatchTheSteppedModelWithGradients()
    {
        // τ per neuron and a threshold per batch row and neuron ([B, N]): the recurrence indexes one row for all or a row
        // per sample, forward and in the backward's recomputation. Time-batched (fused) against stepped, float64.
        var results = new List<(Tensor Y, Tensor G)>();
        foreach (var batched in new[] { true, false })
        {
            var net = new Network("rows") { Dt = 1e-3, BatchSize = 3, Seed = 8, DType = ScalarType.Float64, TimeBatching = batched, SequenceBlockSteps = 6 };
            net.Add("I", new TensorInput(5));
            net.Add("A", new Dense(Init.Uniform(0, 0.8)), "I", "L");
            net.Add("L", new Lif(7, tau: 5e-3, threshold: 0.5));
            net.Add("B", new Dense(Init.Uniform(-0.3, 0.9)), "L", "O");
            net.Add("O", new LeakyIntegrator(4, tau: 3e-3));
            net.MarkOutput("O");
            var targets = Record(net);
            var g = new torch.Generator(5);
            net["L"].Set("tau", torch.rand(new long[] { 7 }, generator: g, dtype: ScalarType.Float64).mul(6e-3).add(2e-3));
            net["L"].Set("thr", torch.rand(new long[] { 3, 7 }, generator: g, dtype: ScalarType.Float64).mul(0.6).add(0.2));
            var x = torch.rand(new long[] { 3, 20, 5 }, generator: new torch.Generator(6), dtype: ScalarType.Float64).lt(0.5).to_type(ScalarType.Float64);
            var y = net.Run(x)["O"];
            Backward(new[] { y });
            if (batched) Assert.That(net.DescribePlan(), Does.Contain("fused chain"));
            results.Add((y.detach().clone(), targets[0].T.grad!.clone()));
        }
        var (yb, gb) = results[0];
        var (ys, gs) = results[1];
        Assert.That(yb.sum().item<double>(), Is.GreaterThan(0), "the read-out saw spikes");
        Assert.That((yb - ys).abs().max().item<double>(), Is.LessThanOrEqualTo(1e-12 * ys.abs().max().item<double>()), "output");
        Assert.That(gb.abs().max().item<double>(), Is.GreaterThan(0), "the input layer gets a gradient");
        Assert.That((gb - gs).abs().max().item<double>(), Is.LessThanOrEqualTo(1e-9 * gs.abs().max().item<double>() + 1e-12), "gradient of A.w");
    }

    [Test]
    public void AZeroBiasIsRecognisedExactly()
    {
        Assert.That(DenseSequence.IsZeroBias(torch.zeros(5)), Is.True);
        Assert.That(DenseSequence.IsZeroBias(torch.tensor(-0.0)), Is.True, "−0 added changes no value either");
        Assert.That(DenseSequence.IsZeroBias(torch.tensor(new[] { 0f, 0f, 1e-30f })), Is.False);
        Assert.That(DenseSequence.IsZeroBias(torch.tensor(float.NaN)), Is.False);
        Assert.That(DenseSequence.IsZeroBias(torch.zeros(3, requires_grad: true)), Is.False, "a trained bias is always added (its gradient)");
    }

    /// <summary>I → A → L → B → O with the given changes; returns the plan's text.</summary>
    private static string PlanOf(Action<Network> change, bool initialize = true)
    {
        var net = new Network("plan") { Dt = 1e-3, BatchSize = 2, Seed = 1, SpikeFunction = new SurrogateSpikes(new FastSigmoid(5)) };
        net.Add("I", new TensorInput(6));
        net.Add("A", new Dense(Init.Uniform(0, 1)), "I", "L");
        net.Add("L", new Lif(5));
        net.Add("B", new Dense(Init.Uniform(0, 1)), "L", "O");
        net.Add("O", new LeakyIntegrator(3));
        net.MarkOutput("O");
        change(net);
        if (initialize) net.Initialize();
        return net.DescribePlan();
    }

    [Test]
    public void ThePlanFusesTheWholeFeedForwardChain()
    {
        var plan = PlanOf(_ => { });
        foreach (var (tag, k) in new[] { ("A", 1), ("L", 2), ("B", 3), ("O", 4) })
            Assert.That(plan, Does.Contain($"{tag} [whole block] — fused chain 1, link {k} of 4"), plan);
        Assert.That(plan, Does.Not.Contain("I [whole block] — fused"), "the input is not a link");
    }

    [Test]
    public void AnIntermediateOutputEndsTheChainThere()
    {
        var plan = PlanOf(net => net.MarkOutput("L", "O"));
        Assert.That(plan, Does.Contain("A [whole block] — fused chain 1, link 1 of 2"), plan);
        Assert.That(plan, Does.Contain("L [whole block] — fused chain 1, link 2 of 2"), plan);
        Assert.That(plan, Does.Contain("B [whole block] — fused chain 2, link 1 of 2"), plan);
    }

    [Test]
    public void ASecondReaderEndsTheChainThere()
    {
        var plan = PlanOf(net =>
        {
            net.Add("C", new Dense(Init.Uniform(0, 1)), "L", "P");
            net.Add("P", new LeakyIntegrator(2));
            net.MarkOutput("O", "P");
        });
        Assert.That(plan, Does.Contain("A [whole block] — fused chain 1, link 1 of 2"), plan);
        Assert.That(plan, Does.Contain("L [whole block] — fused chain 1, link 2 of 2"), plan);
        Assert.That(plan, Does.Contain("B [whole block] — fused chain 2, link 1 of 2"), plan);
        Assert.That(plan, Does.Contain("C [whole block] — fused chain 3, link 1 of 2"), plan);
    }

    [Test]
    public void AMonitoredGroupIsNotInsideAChain()
    {
        // The monitored group can end a chain (its block is the chain's output) but nothing reads past it inside one.
        var plan = PlanOf(net => net.Monitor("B", "output"));
        Assert.That(plan, Does.Contain("B [whole block] — fused chain 1, link 3 of 3"), plan);
        Assert.That(plan, Does.Not.Contain("O [whole block] — fused"), plan);
        plan = PlanOf(net => net.Monitor("L", "u"));
        Assert.That(plan, Does.Not.Contain("L [whole block] — fused"), plan);
    }

    [Test]
    public void LinkRefusalsSayWhy()
    {
        var net = new Network("refuse") { Dt = 1e-3, BatchSize = 2, Seed = 1 };
        net.Add("I", new TensorInput(4));
        net.Add("A", new Dense(Init.Uniform(0, 1)), "I", "L");
        net.Add("L", new Lif(3));
        net.MarkOutput("L");
        net.Initialize();
        var dense = (Dense)net["A"];
        var lif = (Lif)net["L"];
        Assert.That(lif.LinkRefusal, Does.Contain("surrogate"), "Heaviside spikes: no link (a link always carries a gradient)");
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
        net.Initialize();
        Assert.That(lif.LinkRefusal, Is.Null);
        Assert.That(dense.LinkRefusal, Is.Null);
        dense.Bias.Tensor = new TorchSharp.Modules.Parameter(dense.Bias.Value.detach().clone(), requires_grad: true);
        Assert.That(dense.LinkRefusal, Does.Contain("bias is trained"));
        Assert.That(net.DescribePlan(), Does.Not.Contain("fused chain"), "the plan follows the refusal");
        net.UseKernels(new KernelPolicy { FusedChains = false });
        net.Initialize();
        Assert.That(lif.LinkRefusal, Does.Contain("fused chains are off"));
    }

    private static List<(string What, Tensor T)> Record(Network net)
    {
        var targets = ChainTapeTests.TrainWeights(net);
        net.TrackGradients = true;
        return targets;
    }

    private static void Backward(IEnumerable<Tensor> outputs)
    {
        var loss = Loss(outputs);
        if (loss.requires_grad) loss.backward();
    }

    /// <summary>A loss that weighs every output's steps differently (0.1 … 1 over time, 0.5·k for the k-th output), so no gradient is uniform.</summary>
    internal static Tensor Loss(IEnumerable<Tensor> outputs)
    {
        Tensor loss = torch.zeros(1, dtype: ScalarType.Float64);
        int k = 1;
        foreach (var y in outputs)
        {
            using var w = torch.linspace(0.1, 1.0, y.shape[1], dtype: ScalarType.Float64).reshape(1, -1, 1);
            loss = loss + (y.to_type(ScalarType.Float64) * w).sum() * (0.5 * k++);
        }
        return loss;
    }

    /// <summary>Exactly the same values (−0 and +0 count as equal, as in every comparison of numbers), same shape.</summary>
    internal static void Same(Tensor a, Tensor b, string what)
    {
        Assert.That(a.shape, Is.EqualTo(b.shape), $"{what}: shape");
        var x = Identical.D(a);
        var y = Identical.D(b);
        for (int i = 0; i < x.Length; i++)
            if (!(x[i] == y[i] || double.IsNaN(x[i]) && double.IsNaN(y[i])))
                Assert.Fail($"{what}: element {i} is {x[i]:R} fused, {y[i]:R} unfused");
    }

    private static void SameStates(Network a, Network b, string what)
    {
        foreach (var g in a.Groups)
            foreach (var v in g.AllVariables.OfType<StateVariable>())
                if (v.Tensor is { } t && b[g.Tag].AllVariables.OfType<StateVariable>().Single(s => s.Name == v.Name).Tensor is { } u)
                    Same(t, u, $"{what}: state {g.Tag}.{v.Name}");
    }
}
