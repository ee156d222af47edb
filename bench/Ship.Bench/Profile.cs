using System.Diagnostics;
using Ship.Core.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Bench;

/// Where the time of benchmark A and B goes: phases timed with a stopwatch, medians over repeated runs.
internal static class Profile
{
    private static double Median(List<double> v) { v.Sort(); return v.Count == 0 ? double.NaN : v[v.Count / 2]; }

    /// Times fn reps times (after one warm-up) and returns the median in milliseconds.
    private static double Ms(Action fn, int reps = 9)
    {
        Console.WriteLine($"-- rss {Measure.RssMiB():F0} MiB");
        fn();
        var t = new List<double>();
        for (int k = 0; k < reps; k++) { var sw = Stopwatch.StartNew(); fn(); t.Add(sw.Elapsed.TotalMilliseconds); }
        return Median(t);
    }

    /// Minor page faults of this process so far (first touches of memory the kernel must map).
    public static long Faults() => long.Parse(File.ReadAllText("/proc/self/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[7]);

    public static void RunA(int n, Options o)
    {
        var (net, w, x) = BenchmarkA.BuildForProfile(n, o);
        if (Environment.GetEnvironmentVariable("SHIP_NET") == "lif")
        {
            net = new Network("lif-only") { Dt = 1e-3, Steps = o.Steps, BatchSize = o.Batch, Seed = 0 };
            net.Add("I", new Ship.Devices.Inputs.TensorInput(n));
            net.Add("L", new Ship.Devices.Neurons.Lif(n));
            net.Connect("I", "L");
            net.MarkOutput("L");
        }
        if (Environment.GetEnvironmentVariable("SHIP_NET") == "dense")
        {
            net = new Network("dense-only") { Dt = 1e-3, Steps = o.Steps, BatchSize = o.Batch, Seed = 0 };
            net.Add("I", new Ship.Devices.Inputs.TensorInput(n));
            net.Add("IL", new Ship.Devices.Synapses.Dense(Ship.Core.Parameters.Init.Uniform(0, 1)), "I", "L");
            net.Add("L", new Ship.Devices.Inputs.TensorInput(n));
            net.MarkOutput("IL");
        }
        Console.WriteLine($"# profile A, N={n}");
        if (Environment.GetEnvironmentVariable("SHIP_LEAK") == "1")
        {
            net.TrackGradients = Environment.GetEnvironmentVariable("SHIP_GRAD") == "1";
            for (int k = 0; k < 8; k++)
            {
                long f0 = Faults();
                var sw = Stopwatch.StartNew();
                TorchSharp.DisposeScopeManager.Statistics.Reset();
                net.Run(x)["L"].Dispose();
                Console.WriteLine($"run {k}: {sw.Elapsed.TotalMilliseconds:F1} ms, faults {Faults() - f0}, rss {Measure.RssMiB():F0} {TorchSharp.DisposeScopeManager.Statistics}");
            }
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
            Console.WriteLine($"after GC: rss {Measure.RssMiB():F0}");
            return;
        }
        var pieces = new List<(string, double)>();
        pieces.Add(("run, output kept until next (as the original bench)", MsKeep(net, x)));
        pieces.Add(("run + dispose output", Ms(() => { net.Run(x)["L"].Dispose(); })));
        pieces.Add(("run + dispose output in scope", Ms(() => { using var s = torch.NewDisposeScope(); net.Run(x)["L"].Dispose(); })));
        pieces.Add(("run no grad", Ms(() => { net.TrackGradients = false; net.Run(x)["L"].Dispose(); net.TrackGradients = true; })));
        using var flat = x.reshape(o.Batch * o.Steps, n);
        using var wd = w.detach();
        pieces.Add(("GEMM [B·T,N]x[N,N]", Ms(() => { using var _ = flat.matmul(wd); })));
        pieces.Add(("GEMM with grad on w", Ms(() => { using var s = torch.NewDisposeScope(); x.matmul(w).add_(0.0); })));
        var lif = (Ship.Devices.Neurons.Lif)net["L"];
        using var cur = x.matmul(w.detach());
        Tensor Lif(Tensor input)
        {
            lif.ResetState();
            var y = lif.StepSequence(input, o.Steps);
            foreach (var v in lif.AllVariables) v.Tensor?.DetachFromDisposeScope();
            return y;
        }
        pieces.Add(("LIF StepSequence no grad", Ms(() => { using var s = torch.NewDisposeScope(); using var _ = torch.no_grad(); Lif(cur); })));
        using var curg = cur.detach().requires_grad_(true);
        pieces.Add(("LIF StepSequence grad", Ms(() => { using var s = torch.NewDisposeScope(); Lif(curg); })));
        pieces.Add(("LIF StepSequence grad + backward", Ms(() => { using var s = torch.NewDisposeScope(); Lif(curg).sum().backward(); })));
        var shape = new long[] { o.Batch, o.Steps, n };
        pieces.Add(("alloc+fill [B,T,N]", Ms(() => { using var t = torch.empty(shape); t.fill_(1.0); })));
        using var keep = torch.empty(shape);
        pieces.Add(("fill [B,T,N] reused", Ms(() => { keep.fill_(1.0); })));
        foreach (var (name, ms) in pieces) Console.WriteLine($"{n},{name},{ms:F3}");
    }

    private static double MsKeep(Network net, Tensor x)
    {
        Tensor? y = null;
        var r = Ms(() => { y?.Dispose(); y = net.Run(x)["L"]; });
        y?.Dispose();
        return r;
    }
}
