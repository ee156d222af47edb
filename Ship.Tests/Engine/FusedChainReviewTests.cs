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

    private static Tensor Loss(IEnumerable<Tensor> outputs)
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

    private static void Same(Tensor a, Tensor b, string what)
    {
        Assert.That(a.shape, Is.EqualTo(b.shape), $"{what}: shape");
        var x = Identical.D(a);
        var y = Identical.D(b);
        for (int i = 0; i < x.Length; i++)
            if (!(x[i] == y[i] || double.IsNaN(x[i]) && double.IsNaN(y[i])))
                Assert.Fail($"{what}: element {i} is {x[i]:R} fused, {y[i]:R} unfused");
    }

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
}
