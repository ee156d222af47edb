using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Bench;

/// Benchmark A (open-neuromorphic style, as SHIP's forward/backward comparison): input → dense → LIF, batch 10, 500 steps, dt 1 ms.
internal static class BenchmarkA
{
    public sealed record Row(int N, double ForwardS, double BackwardS, double GemmS, double PeakMiB, double SpikeRate, int RunsF, int RunsB, double OthersLoad);

    public static Row Run(int n, Options o)
    {
        var device = o.Device;
        Measure.ResetPeakRss();
        var s0 = Measure.CpuSample();
        var net = new Network("bench-A") { Dt = 1e-3, Steps = o.Steps, BatchSize = o.Batch, Seed = 0, Device = device };
        net.Add("I", new TensorInput(n));
        net.Add("IL", new Dense(Init.Uniform(0, 1)), "I", "L");
        net.Add("L", new Lif(n));
        net.MarkOutput("L");
        net.Initialize();
        // As SHIP's SurrGradTrainer: weights require gradients, spikes use a surrogate backward; the forward builds the graph.
        var w = net["IL"].Variable("w");
        w.Tensor = new TorchSharp.Modules.Parameter(w.Value.detach().clone(), requires_grad: true).DetachFromDisposeScope();
        ((Parameter)w).Pinned = true;
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(100));
        net.TrackGradients = true;
        var x = Ship.Core.Networks.Draw.Randn(new long[] { o.Batch, o.Steps, n }, ScalarType.Float32, device, new torch.Generator(0));
        Action sync = device.type == DeviceType.CUDA ? () => torch.cuda.synchronize() : () => { };

        Tensor? output = null;
        var (fwd, nf) = Measure.Time(() =>
        {
            output?.Dispose();
            output = net.Run(x)["L"];
        }, o.MinRuns, o.MinTime, sync: sync);
        double rate = output!.mean().item<float>();
        var sum = output!.sum();
        var (bwd, nb) = Measure.Time(() => sum.backward(retain_graph: true), o.MinRuns, o.MinTime, sync: sync);

        // Lower bound: one matrix product of the same total size, [batch·steps, N] × [N, N].
        var flat = x.reshape(o.Batch * o.Steps, n);
        var wd = w.Value.detach();
        var (gemm, _) = Measure.Time(() => { using var _ = flat.matmul(wd); }, o.MinRuns, Math.Min(o.MinTime, 2), sync: sync);
        double peak = Measure.PeakRssMiB();
        var load = Measure.OthersLoad(s0, Measure.CpuSample());
        return new Row(n, fwd, bwd, gemm, peak, rate, nf, nb, load);
    }
}
