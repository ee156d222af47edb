using System.Diagnostics;
using Ship.Core.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Bench;

/// Where the time of benchmarks A and B goes ("profile" mode): each phase timed alone, with the minor page faults and
/// the tensor handles (each one native call that returns a tensor) it costs per call.
internal static class Profile
{
    /// Minor page faults of this process so far (first touches of memory that the kernel must map).
    public static long Faults() => long.Parse(File.ReadAllText("/proc/self/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[7]);

    /// Runs fn twice as warm-up (a network's block pool engages after its first call and fills in its second), then reps
    /// times; prints min and median ms, faults and tensor handles created per call.
    private static void Phase(string label, int n, Action fn, int reps = 11)
    {
        fn();
        fn();
        var t = new List<double>();
        long faults = 0, handles = 0;
        for (int k = 0; k < reps; k++)
        {
            DisposeScopeManager.Statistics.Reset();
            long f0 = Faults();
            var sw = Stopwatch.StartNew();
            fn();
            t.Add(sw.Elapsed.TotalMilliseconds);
            faults += Faults() - f0;
            handles += DisposeScopeManager.Statistics.CreatedInScopeCount + DisposeScopeManager.Statistics.CreatedOutsideScopeCount;
        }
        t.Sort();
        Console.WriteLine($"{n},{label},{t[0]:F3},{t[t.Count / 2]:F3},{faults / reps},{handles / reps}");
    }

    public static void Run(int n, Options o)
    {
        var s0 = Measure.CpuSample();
        Console.WriteLine("N,phase,min_ms,median_ms,page_faults_per_call,tensor_handles_per_call");
        if (o.Which == "profileB") { RunB(n, o); }
        else RunA(n, o);
        Console.WriteLine($"# others_load {Measure.OthersLoad(s0, Measure.CpuSample()):F2}");
    }

    private static void RunA(int n, Options o)
    {
        var (net, w, x) = BenchmarkA.BuildForProfile(n, o);
        Phase("A forward (run, output freed)", n, () => net.Run(x)["L"].Dispose());
        using (var y = net.Run(x)["L"])
        using (var sum = y.sum())
            Phase("A backward (retained graph)", n, () => { using var s = torch.NewDisposeScope(); sum.backward(retain_graph: true); });
        w.grad?.Dispose();
        net.TrackGradients = false;
        Phase("A forward without gradients", n, () => net.Run(x)["L"].Dispose());
        net.TrackGradients = true;
        using var flat = x.reshape(o.Batch * o.Steps, n);
        using var wd = w.detach();
        Phase("GEMM bound [B*T,N]x[N,N]", n, () => { using var _ = flat.matmul(wd); });
        var lif = (Ship.Devices.Neurons.Lif)net["L"];
        using var cur = x.matmul(wd);
        Tensor Lif(Tensor input)
        {
            // The previous call's final states hold its graph (and the blocks it saved): freed here, not by the collector.
            var old = lif.AllVariables.OfType<Ship.Core.Parameters.StateVariable>().Select(v => v.Tensor).ToList();
            lif.ResetState();
            foreach (var t in old) t?.Dispose();
            var y = lif.StepSequence(input, o.Steps);
            foreach (var v in lif.AllVariables) v.Tensor?.DetachFromDisposeScope();
            return y;
        }
        Phase("LIF sequence alone, no gradients", n, () => { using var s = torch.NewDisposeScope(); using var _ = torch.no_grad(); Lif(cur); });
        using var curg = cur.detach().requires_grad_(true);
        Phase("LIF sequence alone, forward with graph", n, () => { using var s = torch.NewDisposeScope(); Lif(curg); });
        Phase("LIF sequence alone, forward + backward", n, () => { using var s = torch.NewDisposeScope(); Lif(curg).sum().backward(); });
        var shape = new long[] { o.Batch, o.Steps, n };
        Phase("allocate + fill one [B,T,N] (page-fault cost)", n, () => { using var t = torch.empty(shape); t.fill_(1.0); });
    }

    private static void RunB(int n, Options o)
    {
        var scales = new[] { 1.0, 1.0, 1.0, 1.0 };
        Phase("B build + initialize (weights drawn)", n, () => { using var s = torch.NewDisposeScope(); BenchmarkB.Build(n, scales, o.Device).Initialize(); }, 5);
        var net = BenchmarkB.Build(n, scales, o.Device);
        net.Initialize();
        Phase("B run (1000 steps)", n, () => { using var s = torch.NewDisposeScope(); net.Run(); }, 5);
        var g = new torch.Generator(0);
        Phase("draw 4 x [N,N] uniform weights", n, () => { using var s = torch.NewDisposeScope(); for (int k = 0; k < 4; k++) torch.rand(new long[] { n, n }, generator: g); }, 5);
        Phase("draw Poisson uniforms [1000,1,N] float64", n, () => { using var s = torch.NewDisposeScope(); torch.rand(new long[] { 1000, 1, n }, dtype: ScalarType.Float64, generator: g); }, 5);
    }
}
