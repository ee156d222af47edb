using NUnit.Framework;
using System.Runtime.InteropServices;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.Conformance;
using Ship.Training;
using Ship.Training.Losses;
using Ship.Training.Optimizers;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// The chain tape (<see cref="Network.RunAndBackward"/>): fused chains written on a tape instead of recorded as
/// autograd nodes must give exactly what the nodes give (<see cref="KernelPolicy.ChainTape"/> off) — outputs, loss,
/// final states and every gradient, bit for bit — for every catalogue model by reflection, random chains, a chain fed
/// by a graph (which stays an autograd node), a loss that reads final states, and a whole training run.
/// </summary>
public class ChainTapeTests
{
    private static Network Tape(Network net, bool on)
    {
        net.UseKernels(new KernelPolicy { ChainTape = on });
        return net;
    }

    /// <summary>Makes every floating 'w' of the network a trained leaf; returns them by tag.</summary>
    internal static List<(string What, Tensor T)> TrainWeights(Network net, Func<Group, bool>? which = null)
    {
        net.Initialize();
        var targets = new List<(string, Tensor)>();
        foreach (var g in net.Groups.OrderBy(g => g.Tag, StringComparer.Ordinal))
            if ((which?.Invoke(g) ?? true) && g.AllVariables.OfType<Parameter>().FirstOrDefault(v => v.Name == "w") is { Tensor: { } w } p && w.is_floating_point())
            {
                p.Tensor = new TorchSharp.Modules.Parameter(w.detach().clone(), requires_grad: true);
                targets.Add(($"{g.Tag}.w", p.Tensor));
            }
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
        return targets;
    }

    /// <summary>Both runs' outputs, losses, final states and gradients are the same values.</summary>
    private static void SameRun(Network a, Network b, RunResult ra, RunResult rb, Tensor la, Tensor lb, List<(string What, Tensor T)> ga, List<(string What, Tensor T)> gb, string what)
    {
        Assert.That(ra.Outputs.Keys, Is.EquivalentTo(rb.Outputs.Keys), $"{what}: outputs");
        foreach (var (tag, y) in rb.Outputs) FusedChainTests.Same(ra[tag], y, $"{what}: output {tag}");
        FusedChainTests.Same(la, lb, $"{what}: loss");
        foreach (var g in a.Groups)
            foreach (var v in g.AllVariables.OfType<StateVariable>())
                if (v.Tensor is { } t && b[g.Tag].AllVariables.OfType<StateVariable>().Single(s => s.Name == v.Name).Tensor is { } u)
                    FusedChainTests.Same(t, u, $"{what}: state {g.Tag}.{v.Name}");
        Assert.That(ga.Select(x => x.What), Is.EqualTo(gb.Select(x => x.What)));
        for (int k = 0; k < ga.Count; k++)
        {
            Assert.That(ga[k].T.grad is null, Is.EqualTo(gb[k].T.grad is null), $"{what}: {ga[k].What} has a gradient on both paths or on neither");
            if (ga[k].T.grad is { } g) FusedChainTests.Same(g, gb[k].T.grad!, $"{what}: gradient of {ga[k].What}");
        }
    }

    /// <summary>Catalogue entries whose model can be a chain link (by reflection, as <see cref="FusedChainTests.LinkEntries"/>).</summary>
    public static IEnumerable<ModelEntry> LinkEntries() => FusedChainTests.LinkEntries();

    [TestCaseSource(nameof(LinkEntries))]
    public void CatalogueLinkModelGivesTheSameOnTheTapeAsInAnAutogradNode(ModelEntry entry)
    {
        // The entry's model inside a chain of four, as in FusedChainTests, one block long (what the tape covers).
        Network Build(bool tape)
        {
            var net = Tape(new Network(entry.Name) { Dt = ModelCatalog.Dt, BatchSize = ModelCatalog.Batch, Seed = 5, DType = ScalarType.Float64 }, tape);
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
        var (a, b) = (Build(tape: true), Build(tape: false));
        var (ga, gb) = (TrainWeights(a), TrainWeights(b));
        var x = torch.rand(new long[] { ModelCatalog.Batch, 15, ModelCatalog.InputChannels }, generator: new torch.Generator(9), dtype: ScalarType.Float64).lt(0.5).to_type(ScalarType.Float64);
        var inputs = new Dictionary<string, Tensor> { ["I"] = x };
        if (a.DescribePlan().Contains("fused chain")) Assert.That(a.TapeRefusal(inputs), Is.Null, $"{entry.Name}: the tape is used");
        Assert.That(b.TapeRefusal(inputs), Does.Contain("kernel policy"));
        var (ra, la) = a.RunAndBackward(inputs, r => FusedChainTests.Loss(r.Outputs.Values));
        var (rb, lb) = b.RunAndBackward(inputs, r => FusedChainTests.Loss(r.Outputs.Values));
        SameRun(a, b, ra, rb, la, lb, ga, gb, entry.Name);
        Assert.That(ga.Any(g => g.T.grad is not null), $"{entry.Name}: something received a gradient");
    }

    /// <summary>Every catalogue model (by reflection): RunAndBackward gives what Run with gradients and the loss's backward give.</summary>
    public static IEnumerable<object[]> Differentiable => GradientConformanceTests.Differentiable;

    [TestCaseSource(nameof(Differentiable))]
    public void RunAndBackwardIsRunThenBackwardForEveryModel(string name)
    {
        var entry = ModelCatalog.Get(name);
        (RunResult R, Tensor L, List<(string, Tensor)> G, Network N) Go(bool together)
        {
            var c = entry.Build(11);
            var net = c.Network;
            var targets = TrainWeights(net, g => g.Tag is "IM" or "IL" || g.Tag == c.ModelTag);
            var inputs = c.Inputs(12);
            Tensor LossOf(RunResult r) => FusedChainTests.Loss(r.Outputs.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value));
            if (together)
            {
                var (r, l) = net.RunAndBackward(inputs, LossOf);
                Assert.That(net.TrackGradients, Is.False, $"{name}: RunAndBackward leaves TrackGradients as it found it");
                return (r, l, targets, net);
            }
            net.TrackGradients = true;
            var run = net.Run(inputs);
            var loss = LossOf(run);
            if (loss.requires_grad) loss.backward();
            return (run, loss, targets, net);
        }
        var (rb, lb, gb, nb) = Go(together: false);
        if (!lb.requires_grad)
        {
            // Nothing trained reaches this case's loss (its weights are programmed into devices, say): a named refusal.
            var e = Assert.Throws<ShipException>(() => Go(together: true));
            Assert.That(e!.Message, Does.Contain("the loss records no gradient"), name);
            return;
        }
        var (ra, la, ga, na) = Go(together: true);
        SameRun(na, nb, ra, rb, la, lb, ga, gb, name);
    }

    [Test]
    public void RandomChainsGiveTheSameOnTheTape()
    {
        int taped = FusedChainTests.EverySeed(24, CheckRandomChain, "ChainTapeTests.CheckRandomChain(seed)");
        Assert.That(taped, Is.GreaterThanOrEqualTo(20), "most random compositions run on the tape");
    }

    /// <summary>
    /// One random network input → (dense → LIF or leaky integrator) × 1–3 with random widths (narrow read-outs
    /// included), batch, dtype, trained or fixed bias (a trained bias keeps its dense out of the chain, so some chains are
    /// fed by a graph), per-neuron or single τ and threshold, and a loss over the output that also reads a random
    /// group's final state in half the seeds: on the tape and as autograd nodes, bit for bit. Returns whether the tape was used.
    /// </summary>
    public static bool CheckRandomChain(long seed)
    {
        var rng = new Random((int)seed);
        var dtype = rng.Next(2) == 0 ? ScalarType.Float32 : ScalarType.Float64;
        int batch = 1 + rng.Next(3), layers = 1 + rng.Next(3), steps = 3 + rng.Next(18);
        var widths = new List<int> { 2 + rng.Next(40) };
        var kinds = new List<int>();
        var trainedBias = new List<bool>();
        for (int k = 0; k < layers; k++)
        {
            widths.Add(rng.Next(3) == 0 ? 1 + rng.Next(6) : 2 + rng.Next(48));
            kinds.Add(rng.Next(3) == 0 ? 1 : 0);
            trainedBias.Add(rng.Next(5) == 0);
        }
        bool perNeuron = rng.Next(2) == 0, readState = rng.Next(2) == 0;
        int stateLayer = rng.Next(layers);
        TestContext.Out.WriteLine($"seed {seed}: {dtype}, batch {batch}, steps {steps}, widths {string.Join(",", widths)}, kinds {string.Join(",", kinds)}, trained bias {string.Join(",", trainedBias)}, per-neuron {perNeuron}, state read {(readState ? $"N{stateLayer}" : "no")}");
        (Network Net, List<(string, Tensor)> Trained) Build(bool tape)
        {
            var net = Tape(new Network($"tape {seed}") { Dt = 1e-3, BatchSize = batch, Seed = seed, DType = dtype }, tape);
            net.Add("I", new TensorInput(widths[0]));
            string src = "I";
            for (int k = 0; k < layers; k++)
            {
                string s = $"S{k}", n = $"N{k}";
                net.Add(s, new Dense(Init.Uniform(-0.2, 3.0 / Math.Sqrt(widths[k])), bias: 0.1), src, n);
                net.Add(n, kinds[k] == 0 ? (Group)new Lif(widths[k + 1], tau: 4e-3 + 0.002 * k, threshold: 0.6) : new LeakyIntegrator(widths[k + 1], tau: 3e-3));
                src = n;
            }
            net.MarkOutput(src);
            var trained = TrainWeights(net);
            for (int k = 0; k < layers; k++)
                if (trainedBias[k] && net[$"S{k}"].AllVariables.OfType<Parameter>().Single(v => v.Name == "bias") is { Tensor: { } b } p)
                {
                    p.Tensor = new TorchSharp.Modules.Parameter(b.detach().clone(), requires_grad: true);
                    trained.Add(($"S{k}.bias", p.Tensor));
                }
            if (perNeuron)
            {
                var g = new torch.Generator((ulong)seed);
                for (int k = 0; k < layers; k++)
                {
                    int w = widths[k + 1];
                    net[$"N{k}"].Set("tau", torch.rand(new long[] { w }, generator: g, dtype: ScalarType.Float64).mul(6e-3).add(2e-3));
                    if (kinds[k] == 0) net[$"N{k}"].Set("thr", torch.rand(new long[] { w }, generator: g, dtype: ScalarType.Float64).mul(0.8).add(0.3));
                }
            }
            return (net, trained);
        }
        var (a, ga) = Build(tape: true);
        var (b, gb) = Build(tape: false);
        var x = torch.rand(new long[] { batch, steps, widths[0] }, generator: new torch.Generator((ulong)(seed * 31 + 7)), dtype: dtype).lt(0.4).to_type(dtype);
        var inputs = new Dictionary<string, Tensor> { ["I"] = x };
        Func<RunResult, Tensor> LossOn(Network net) => r =>
        {
            var loss = FusedChainTests.Loss(r.Outputs.Values);
            // A final state in the loss: on the tape it is a leaf whose gradient goes back into its chain.
            return readState ? loss + net[$"N{stateLayer}"].Get("u").to_type(ScalarType.Float64).pow(2).sum() * 0.3 : loss;
        };
        bool taped = a.TapeRefusal(inputs) is null;
        var (ra, la) = a.RunAndBackward(inputs, LossOn(a));
        var (rb, lb) = b.RunAndBackward(inputs, LossOn(b));
        SameRun(a, b, ra, rb, la, lb, ga, gb, $"seed {seed}");
        return taped;
    }

    [Test]
    public void AChainFedByAGraphIsAnAutogradNodeAndTheChainBeforeItStaysOnTheTape()
    {
        // I → S0 → N0 | S1 (trained bias: not a link, records a graph from N0's block) | N1 → S2 → N2: the first chain
        // (S0, N0) goes on the tape, the second (N1, S2, N2) is fed by S1's graph and stays an autograd node; the loss's
        // backward reaches the first chain's last block through S1, then the tape finishes S0's gradient.
        Network Build(bool tape)
        {
            var net = Tape(new Network("mixed") { Dt = 1e-3, BatchSize = 2, Seed = 3, DType = ScalarType.Float64 }, tape);
            net.Add("I", new TensorInput(5));
            net.Add("S0", new Dense(Init.Uniform(0, 0.8)), "I", "N0");
            net.Add("N0", new Lif(7, tau: 5e-3, threshold: 0.5));
            net.Add("S1", new Dense(Init.Uniform(-0.2, 0.9), bias: 0.05), "N0", "N1");
            net.Add("N1", new Lif(6, tau: 4e-3, threshold: 0.4));
            net.Add("S2", new Dense(Init.Uniform(-0.3, 0.9)), "N1", "N2");
            net.Add("N2", new LeakyIntegrator(3, tau: 4e-3));
            net.MarkOutput("N2");
            return net;
        }
        (Network, List<(string, Tensor)>) Trained(bool tape)
        {
            var net = Build(tape);
            var t = TrainWeights(net);
            var p = net["S1"].AllVariables.OfType<Parameter>().Single(v => v.Name == "bias");
            p.Tensor = new TorchSharp.Modules.Parameter(p.Tensor!.detach().clone(), requires_grad: true);
            t.Add(("S1.bias", p.Tensor));
            return (net, t);
        }
        var (a, ga) = Trained(tape: true);
        var (b, gb) = Trained(tape: false);
        var plan = a.DescribePlan();
        Assert.That(plan, Does.Match(@"N0 \[whole block\] — fused chain \d, link 2 of 2").And.Match(@"N2 \[whole block\] — fused chain \d, link 3 of 3").And.Not.Contain("S1 [whole block] — fused"), plan);
        var x = torch.rand(new long[] { 2, 14, 5 }, generator: new torch.Generator(4), dtype: ScalarType.Float64).lt(0.5).to_type(ScalarType.Float64);
        var inputs = new Dictionary<string, Tensor> { ["I"] = x };
        Assert.That(a.TapeRefusal(inputs), Is.Null);
        var (ra, la) = a.RunAndBackward(inputs, r => FusedChainTests.Loss(r.Outputs.Values));
        var (rb, lb) = b.RunAndBackward(inputs, r => FusedChainTests.Loss(r.Outputs.Values));
        SameRun(a, b, ra, rb, la, lb, ga, gb, "mixed");
        foreach (var (what, t) in ga) Assert.That(t.grad, Is.Not.Null, $"{what} received a gradient");
    }

    [Test]
    public void TheTapeRefusalSaysWhy()
    {
        Network Net()
        {
            var net = new Network("refusal") { Dt = 1e-3, BatchSize = 2, Seed = 1, SequenceBlockSteps = 8 };
            net.Add("I", new TensorInput(4));
            net.Add("S", new Dense(Init.Uniform(0, 1)), "I", "N");
            net.Add("N", new Lif(3, tau: 5e-3, threshold: 0.5));
            net.MarkOutput("N");
            net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
            return net;
        }
        var x = torch.rand(2, 8, 4);
        var ins = new Dictionary<string, Tensor> { ["I"] = x };
        Assert.That(Net().TapeRefusal(ins), Is.Null);
        Assert.That(Net().UseKernels(new KernelPolicy { ChainTape = false }).TapeRefusal(ins), Is.EqualTo("the chain tape is off (kernel policy)"));
        Assert.That(Net().UseKernels(new KernelPolicy { FusedChains = false }).TapeRefusal(ins), Is.EqualTo("the plan has no fused chain"));
        Assert.That(Net().TapeRefusal(new Dictionary<string, Tensor> { ["I"] = torch.rand(2, 9, 4) }),
            Is.EqualTo("the run's 9 steps take more than one block of 8 (SequenceBlockSteps), and the tape covers runs of one block"));
        Assert.That(Net().TapeRefusal(ins, new Schedule((1e-3, 4), (2e-3, 4))), Is.EqualTo("the schedule has 2 segments, and the tape covers runs of one block"));
        // A refused call runs its chains as autograd nodes: the same training step as on the tape would be, here checked
        // against Run and backward.
        var (a, b) = (Net(), Net());
        var x9 = torch.rand(new long[] { 2, 9, 4 }, generator: new torch.Generator(2));
        var (ga, gb) = (TrainWeights(a), TrainWeights(b));
        var (ra, la) = a.RunAndBackward(new Dictionary<string, Tensor> { ["I"] = x9 }, r => FusedChainTests.Loss(r.Outputs.Values));
        b.TrackGradients = true;
        var rb = b.Run(new Dictionary<string, Tensor> { ["I"] = x9 });
        var lb = FusedChainTests.Loss(rb.Outputs.Values);
        lb.backward();
        b.TrackGradients = false;
        SameRun(a, b, ra, rb, la, lb, ga, gb, "two blocks");
    }

    [Test]
    public void ALossThatFailsLeavesTheNetworkReadyAndTheTapeFreed()
    {
        var net = new Network("failing loss") { Dt = 1e-3, BatchSize = 2, Seed = 1 };
        net.Add("I", new TensorInput(4));
        net.Add("S", new Dense(Init.Uniform(0, 1)), "I", "N");
        net.Add("N", new Lif(3, tau: 5e-3, threshold: 0.5));
        net.MarkOutput("N");
        var trained = TrainWeights(net);
        var ins = new Dictionary<string, Tensor> { ["I"] = torch.rand(new long[] { 2, 6, 4 }, generator: new torch.Generator(3)) };
        Assert.That(net.TapeRefusal(ins), Is.Null);
        var e = Assert.Throws<InvalidOperationException>(() => net.RunAndBackward(ins, _ => throw new InvalidOperationException("loss refused")));
        Assert.That(e!.Message, Is.EqualTo("loss refused"));
        Assert.That(net.TrackGradients, Is.False, "TrackGradients comes back");
        Assert.That(trained[0].T.grad, Is.Null, "nothing was back-propagated");
        var two = Assert.Throws<ShipException>(() => net.RunAndBackward(ins, r => r["N"].sum(1)));
        Assert.That(two!.Message, Does.Contain("returned 6 values; it must return a scalar"));
        // The network trains on as a fresh one does.
        var (_, l1) = net.RunAndBackward(ins, r => r["N"].sum());
        var fresh = new Network("failing loss") { Dt = 1e-3, BatchSize = 2, Seed = 1 };
        fresh.Add("I", new TensorInput(4));
        fresh.Add("S", new Dense(Init.Uniform(0, 1)), "I", "N");
        fresh.Add("N", new Lif(3, tau: 5e-3, threshold: 0.5));
        fresh.MarkOutput("N");
        var freshTrained = TrainWeights(fresh);
        var (_, l2) = fresh.RunAndBackward(ins, r => r["N"].sum());
        FusedChainTests.Same(l1, l2, "loss after the failures");
        FusedChainTests.Same(trained[0].T.grad!, freshTrained[0].T.grad!, "gradient after the failures");
    }

    [Test]
    public void TrainingOnTheTapeIsBitForBitTrainingWithAutogradNodes()
    {
        // The main job's network, small: 10 batches of Adam with the tape and without it.
        (Trainer T, Network N) Make(bool tape)
        {
            var net = Tape(new Network("study") { Dt = 1e-3, Steps = 12, BatchSize = 8, Seed = 1 }, tape);
            net.Add("input", new TensorInput(16));
            net.Add("in_hidden", new Dense(Init.Normal(0.0, 0.5)), "input", "hidden");
            net.Add("hidden", new Lif(24, tau: 20e-3, threshold: 1.0));
            net.Add("hidden_out", new Dense(Init.Normal(0.0, 0.3)), "hidden", "out");
            net.Add("out", new LeakyIntegrator(4, tau: 20e-3));
            net.MarkOutput("out");
            return (new Trainer(net, new MaxOverTime("out"), new NllLoss(), ps => new HeldAdam(ps, 5e-3), surrogate: new FastSigmoid(10)), net);
        }
        var (ta, na) = Make(tape: true);
        var (tb, nb) = Make(tape: false);
        var g = new torch.Generator(5);
        for (int i = 0; i < 10; i++)
        {
            var x = torch.rand(new long[] { 8, 12, 16 }, generator: g).lt(0.3).to_type(ScalarType.Float32);
            var y = torch.randint(0, 4, new long[] { 8 }, generator: g);
            if (i == 0) Assert.That(na.TapeRefusal(new Dictionary<string, Tensor> { ["input"] = x }), Is.Null, "the trainer's steps run on the tape");
            ta.TrainBatch(x, y);
            tb.TrainBatch(x, y);
        }
        Assert.That(ta.LossHistory, Is.EqualTo(tb.LossHistory), "losses batch by batch");
        foreach (var tag in new[] { "in_hidden", "hidden_out" })
            FusedChainTests.Same(na[tag].Get("w"), nb[tag].Get("w"), $"{tag}.w after training");
        Assert.That(ta.LossHistory[^1], Is.LessThan(ta.LossHistory[0]), "it learns");
    }
}
