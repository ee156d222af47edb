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
    public sealed record Row(string Variant, int N, double WeightScale, double TotalS, double RunS, double[] RatesHz, double OthersLoad);

    private static readonly string[] Layers = { "N1", "N2", "N3", "O" };

    public static Network Build(int n, double weightScale, Device device, long seed = 0)
    {
        var net = new Network("bench-B") { Dt = 1e-3, Steps = 1000, BatchSize = 1, Seed = seed, Device = device };
        net.Add("I", new PoissonSource(n, rate: 100));
        string prev = "I";
        foreach (var layer in Layers)
        {
            net.Add(prev + layer, new FirstOrder(Init.Uniform(0, 1), tau: 1e-3, weightScale: weightScale), prev, layer);
            net.Add(layer, new Lif(n, tau: 10e-3));
            prev = layer;
        }
        net.MarkOutput(Layers);
        return net;
    }

    /// Mean firing rate (Hz) of each LIF layer for a given weight scale.
    public static double[] Rates(int n, double scale, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var r = Build(n, scale, device).Run();
        return Layers.Select(l => r[l].mean().item<float>() / 1e-3).ToArray();
    }

    /// The weight scale that makes every layer fire within [10, 50] Hz (scanned on a log grid; the middle of the admissible range).
    public static double FiringScale(int n, Device device)
    {
        var ok = new List<double>();
        foreach (var s in Enumerable.Range(0, 41).Select(k => Math.Pow(10, 0.5 + k * 0.05)))
        {
            var rates = Rates(n, s, device);
            if (rates.All(r => r >= 10 && r <= 50)) ok.Add(s);
            else if (ok.Count > 0) break;
        }
        if (ok.Count == 0) throw new InvalidOperationException("no weight scale gives 10–50 Hz in every layer");
        return ok[ok.Count / 2];
    }

    public static Row Run(string variant, int n, double scale, int reps, Device device)
    {
        var s0 = Measure.CpuSample();
        var totals = new List<double>();
        var runs = new List<double>();
        double[] rates = Array.Empty<double>();
        for (int k = 0; k < reps + 1; k++)
        {
            using var scope = torch.NewDisposeScope();
            var sw = Stopwatch.StartNew();
            var net = Build(n, scale, device);
            net.Initialize();
            var build = sw.Elapsed.TotalSeconds;
            var r = net.Run();
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
            var total = sw.Elapsed.TotalSeconds;
            if (k == 0) { rates = Layers.Select(l => r[l].mean().item<float>() / 1e-3).ToArray(); continue; } // warm-up
            totals.Add(total);
            runs.Add(total - build);
        }
        totals.Sort();
        runs.Sort();
        return new Row(variant, n, scale, totals[totals.Count / 2], runs[runs.Count / 2], rates, Measure.OthersLoad(s0, Measure.CpuSample()));
    }
}
