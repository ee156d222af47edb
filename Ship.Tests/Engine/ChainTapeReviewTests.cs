using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// The chain tape against the autograd nodes (<see cref="KernelPolicy.ChainTape"/> off) where a training step is not
/// alone: gradients accumulated over steps with a loss that also reads the weights, and a Continue with gradients after
/// the step. Same numbers on both paths, bit for bit.
/// </summary>
public class ChainTapeReviewTests
{
    /// <summary>I → S → N → S2 → R, one chain of four, both dense weights trained.</summary>
    private static (Network Net, Tensor W, Tensor W2) Build(bool tape)
    {
        var net = new Network("tape review") { Dt = 1e-3, BatchSize = 3, Seed = 4 };
        net.UseKernels(new KernelPolicy { ChainTape = tape });
        net.Add("I", new TensorInput(6));
        net.Add("S", new Dense(Init.Uniform(0, 0.9)), "I", "N");
        net.Add("N", new Lif(8, tau: 5e-3, threshold: 0.5));
        net.Add("S2", new Dense(Init.Uniform(-0.3, 0.9)), "N", "R");
        net.Add("R", new LeakyIntegrator(3, tau: 4e-3));
        net.MarkOutput("R");
        net.Initialize();
        Tensor Train(string tag)
        {
            var p = net[tag].AllVariables.OfType<Parameter>().Single(v => v.Name == "w");
            p.Tensor = new TorchSharp.Modules.Parameter(p.Tensor!.detach().clone(), requires_grad: true);
            return p.Tensor;
        }
        var (w, w2) = (Train("S"), Train("S2"));
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
        return (net, w, w2);
    }

    private static Dictionary<string, Tensor> Input(int seed) =>
        new() { ["I"] = torch.rand(new long[] { 3, 10, 6 }, generator: new torch.Generator((ulong)seed)).lt(0.5).to_type(ScalarType.Float32) };

    [Test]
    public void GradientsAccumulatedOverStepsWithALossThatReadsTheWeightsAreTheNodes()
    {
        // A weight decay in the loss: each weight gets two gradients per backward (the decay's and the chain's). libtorch
        // adds their sum to the gradient held from the step before; adding them one after the other rounds differently.
        var (a, wa, w2a) = Build(tape: true);
        var (b, wb, w2b) = Build(tape: false);
        Assert.That(a.TapeRefusal(Input(0)), Is.Null, "the tape is used");
        Func<RunResult, Tensor> Loss(Tensor w, Tensor w2) => r =>
            FusedChainTests.Loss(r.Outputs.Values) + w.pow(2).sum().to_type(ScalarType.Float64) * 0.37 + w2.pow(2).sum().to_type(ScalarType.Float64) * 0.11;
        for (int i = 0; i < 4; i++)
        {
            a.RunAndBackward(Input(i), Loss(wa, w2a));
            b.RunAndBackward(Input(i), Loss(wb, w2b));
            FusedChainTests.Same(wa.grad!, wb.grad!, $"S.w's gradient after {i + 1} steps");
            FusedChainTests.Same(w2a.grad!, w2b.grad!, $"S2.w's gradient after {i + 1} steps");
        }
    }

    [Test]
    public void AContinueWithGradientsAfterRunAndBackwardGivesTheNodesGradients()
    {
        var grads = new List<(Tensor W, Tensor W2)>();
        foreach (var tape in new[] { true, false })
        {
            var (net, w, w2) = Build(tape);
            Assert.That(net.TapeRefusal(Input(1)) is null, Is.EqualTo(tape));
            // A loss that reads N's final membrane too: on the tape that state is a leaf that receives a gradient.
            net.RunAndBackward(Input(1), r => FusedChainTests.Loss(r.Outputs.Values) + net["N"].Get("u").sum().to_type(ScalarType.Float64));
            foreach (var tag in new[] { "N", "R" })
            {
                var u = net[tag].Get("u");
                Assert.That(u.requires_grad, Is.False, $"tape {tape}: {tag}.u after the step carries no graph");
                Assert.That(u.grad, Is.Null, $"tape {tape}: {tag}.u holds no gradient");
            }
            w.grad!.zero_();
            w2.grad!.zero_();
            // Then a Continue with gradients and its own loss: the same gradients whichever path the step took.
            net.TrackGradients = true;
            var r2 = net.Continue(Input(2));
            FusedChainTests.Loss(r2.Outputs.Values).backward();
            net.TrackGradients = false;
            grads.Add((w.grad!, w2.grad!));
        }
        FusedChainTests.Same(grads[0].W, grads[1].W, "S.w's gradient from the Continue");
        FusedChainTests.Same(grads[0].W2, grads[1].W2, "S2.w's gradient from the Continue");
    }

    [Test]
    public void ALossThatChangesAnOutputInPlaceOnTheTapeGetsANamedRefusalAndTheNetworkTrainsOn()
    {
        // With autograd nodes the output is a view of the node's output, which libtorch lets change in place.
        var (b, wb, _) = Build(tape: false);
        var (_, lb) = b.RunAndBackward(Input(1), r => r["R"].mul_(2.0).sum());
        Assert.That(wb.grad, Is.Not.Null, "the nodes' step back-propagates");
        // On the tape the last block is a leaf that records a gradient: libtorch refuses the in-place change; the call
        // names it instead of passing libtorch's message on alone, and leaves the network as it was.
        var (a, wa, _) = Build(tape: true);
        var e = Assert.Throws<ShipException>(() => a.RunAndBackward(Input(1), r => r["R"].mul_(2.0).sum()));
        Assert.That(e!.Message, Does.Contain("Network 'tape review'").And.Contain("in place").And.Contain("KernelPolicy.ChainTape"));
        Assert.That(a.TrackGradients, Is.False);
        Assert.That(wa.grad, Is.Null, "nothing was back-propagated");
        var (_, la) = a.RunAndBackward(Input(1), r => r["R"].mul(2.0).sum());
        FusedChainTests.Same(la, lb, "the same step written out of place");
        FusedChainTests.Same(wa.grad!, wb.grad!, "its gradient");
    }
}
