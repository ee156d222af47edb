using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Kernels;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Neurons;

/// The fused LIF node's backward runs on libtorch's autograd thread, outside any dispose scope of the caller: what it
/// makes there must be freed by the node itself, or every backward leaves [batch, steps, N] tensors to the garbage
/// collector (on a GPU that ran an 80 GB H100 out of memory in the benchmark's backward loop). Covers the fused LIF
/// node (time-batched) and the per-step surrogate spike node (step by step).
public class LifSequenceHandleTests
{
    [TestCase(true)]
    [TestCase(false)]
    public void RepeatedForwardBackwardLeavesNoTensorsBehind(bool timeBatching)
    {
        var net = new Network("handles") { Dt = 1e-3, Steps = 50, BatchSize = 2, Seed = 3, TimeBatching = timeBatching };
        net.Add("I", new TensorInput(16));
        net.Add("IL", new Dense(Init.Uniform(0, 1)), "I", "L");
        net.Add("L", new Lif(16));
        net.MarkOutput("L");
        net.Initialize();
        var w = net["IL"].Variable("w");
        w.Tensor = new TorchSharp.Modules.Parameter(w.Value.detach().clone(), requires_grad: true).DetachFromDisposeScope();
        ((Parameter)w).Pinned = true;
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(100));
        net.TrackGradients = true;
        using var x = torch.rand(new long[] { 2, 50, 16 }, generator: new torch.Generator(5));

        // Tensors left alive by the backward alone (the forward's own leftovers are counted out).
        long Once()
        {
            Tensor loss;
            using (var scope = torch.NewDisposeScope()) loss = net.Run(x)["L"].sum().MoveToOuterDisposeScope();
            long before = torch.Tensor.TotalCount;
            loss.backward();
            long after = torch.Tensor.TotalCount;
            loss.Dispose();
            return after - before;
        }
        Once();
        const int runs = 20;
        long grown = 0;
        for (int i = 0; i < runs; i++) grown += Once();
        Assert.That(w.Value.grad, Is.Not.Null, "the gradient reached the weights");
        Assert.That(grown, Is.LessThanOrEqualTo(0), $"{runs} backward passes left {grown} tensors alive");
    }
}
