using System.Diagnostics;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Bench;

/// Benchmark B (SHIP's "large network"): Poisson (N, 100 Hz) → 4 × [first-order leaky synapse (τ 1 ms, w ~ U[0,1)) → LIF (N, τ 10 ms)], 1000 steps, dt 1 ms, batch 1.
internal static class BenchmarkB
{
    public sealed record Row(string Variant, int N, double[] WeightScales, double TotalS, double RunS, double[] RatesHz, double OthersLoad);

    private static readonly string[] Layers = { "N1", "N2", "N3", "O" };

    public static Network Build(int n, double[] weightScales, Device device, long seed = 0)
    {
        var net = new Network("bench-B") { Dt = 1e-3, Steps = 1000, BatchSize = 1, Seed = seed, Device = device };
        net.Add("I", new PoissonSource(n, rate: 100));
        string prev = "I";
        for (int k = 0; k < Layers.Length; k++)
        {
            var layer = Layers[k];
            net.Add(prev + layer, new FirstOrder(Init.Uniform(0, 1), tau: 1e-3, weightScale: weightScales[k]), prev, layer);
            net.Add(layer, new Lif(n, tau: 10e-3));
            prev = layer;
        }
        net.MarkOutput(Layers);
        return net;
    }

    /// Mean firing rate (Hz) of each LIF layer for given weight scales.
    public static double[] Rates(int n, double[] scales, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var r = Build(n, scales, device).Run();
        return Layers.Select(l => (double)r[l].mean().item<float>() / 1e-3).ToArray();
    }

    /// Weight scales, calibrated layer by layer (bisection on a log scale), that make every layer fire at about 30 Hz (within 10–50 Hz).
    public static double[] FiringScales(int n, Device device)
    {
        var scales = Enumerable.Repeat(1.0, Layers.Length).ToArray();
        for (int k = 0; k < Layers.Length; k++)
        {
            double lo = -1, hi = 4;
            for (int it = 0; it < 14; it++)
            {
                double mid = 0.5 * (lo + hi);
                scales[k] = Math.Pow(10, mid);
                double rate = Rates(n, scales, device)[k];
                if (rate < 30) lo = mid; else hi = mid;
            }
            scales[k] = Math.Pow(10, 0.5 * (lo + hi));
        }
        return scales;
    }

    public static Row Run(string variant, int n, double[] scales, int reps, Device device)
    {
        var s0 = Measure.CpuSample();
        var totals = new List<double>();
        var runs = new List<double>();
        double[] rates = Array.Empty<double>();
        for (int k = 0; k < reps + 1; k++)
        {
            using var scope = torch.NewDisposeScope();
            var sw = Stopwatch.StartNew();
            var net = Build(n, scales, device);
            net.Initialize();
            var build = sw.Elapsed.TotalSeconds;
            var r = net.Run();
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
            var total = sw.Elapsed.TotalSeconds;
            if (k == 0) { rates = Layers.Select(l => (double)r[l].mean().item<float>() / 1e-3).ToArray(); continue; } // warm-up
            totals.Add(total);
            runs.Add(total - build);
        }
        totals.Sort();
        runs.Sort();
        return new Row(variant, n, scales, totals[totals.Count / 2], runs[runs.Count / 2], rates, Measure.OthersLoad(s0, Measure.CpuSample()));
    }
}
