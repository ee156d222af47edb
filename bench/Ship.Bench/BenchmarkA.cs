using System.Diagnostics;
using System.Globalization;
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
    public sealed record Row(int N, double ForwardS, double BackwardS, double GemmS, double PeakMiB, double BaseMiB, double SpikeRate, int RunsF, int RunsB, double OthersLoad);

    /// The benchmark network with trainable weights and the surrogate spike function, and its input.
    private static (Network Net, Tensor W, Tensor X) Build(int n, Options o)
    {
        var (net, w) = BuildNetwork(n, o);
        return (net, w, Input(n, o));
    }

    /// The network alone; timeBatching off steps every group one step at a time (the reference for identity checks).
    public static (Network Net, Tensor W) BuildNetwork(int n, Options o, bool timeBatching = true)
    {
        var net = new Network("bench-A") { Dt = 1e-3, Steps = o.Steps, BatchSize = o.Batch, Seed = 0, Device = o.Device, TimeBatching = timeBatching };
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
        return (net, w.Value);
    }

    /// The benchmark's random normal input [batch, steps, N], the same for every call.
    public static Tensor Input(int n, Options o) =>
        Ship.Core.Networks.Draw.Randn(new long[] { o.Batch, o.Steps, n }, ScalarType.Float32, o.Device, new torch.Generator(0));

    public static (Network Net, Tensor W, Tensor X) BuildForProfile(int n, Options o) => Build(n, o);

    public static Row Run(int n, Options o)
    {
        var device = o.Device;
        // Memory first, in a fresh process: the peak of exactly one forward + backward, nothing left from timing loops.
        var (peak, baseMiB) = PeakInChild(n, o);
        var s0 = Measure.CpuSample();
        var (net, w, x) = Build(n, o);
        var choice = net.ThreadsFor(o.Steps);
        Console.WriteLine($"# A N={n}: intra-op threads per run {choice.Threads} ({choice.Reason})");
        Action sync = device.type == DeviceType.CUDA ? () => torch.cuda.synchronize() : () => { };

        // Every timed forward frees what it made (output, graph, saved tensors) before the next one.
        var (fwd, nf) = Measure.Time(() =>
        {
            using var scope = torch.NewDisposeScope();
            using var y = net.Run(x)["L"];
        }, o.MinRuns, o.MinTime, sync: sync);

        var output = net.Run(x)["L"];
        double rate;
        using (torch.NewDisposeScope()) rate = output.mean().item<float>();
        var sum = output.sum();
        var (bwd, nb) = Measure.Time(() =>
        {
            using var scope = torch.NewDisposeScope();
            // The run's intra-op threads for its backward too, as the trainer does (the forward applies them itself).
            using var threads = net.EnterThreads();
            sum.backward(retain_graph: true);
        }, o.MinRuns, o.MinTime, sync: sync);
        sum.Dispose();
        output.Dispose();
        w.grad?.Dispose();

        // Lower bound: one matrix product of the same total size, [batch·steps, N] × [N, N].
        using var flat = x.reshape(o.Batch * o.Steps, n);
        using var wd = w.detach();
        var (gemm, _) = Measure.Time(() => { using var _ = flat.matmul(wd); }, o.MinRuns, Math.Min(o.MinTime, 2), sync: sync);
        var load = Measure.OthersLoad(s0, Measure.CpuSample());
        x.Dispose();
        return new Row(n, fwd, bwd, gemm, peak, baseMiB, rate, nf, nb, load);
    }

    /// Child-process mode ("memA"): builds the network, runs one forward + backward and prints the peak and the resident memory before the forward.
    public static void PeakOnce(int n, Options o)
    {
        var (net, _, x) = Build(n, o);
        GC.Collect();
        double before = Measure.RssMiB();
        Measure.ResetPeakRss();
        var y = net.Run(x)["L"];
        using (net.EnterThreads()) y.sum().backward();
        if (o.Device.type == DeviceType.CUDA) torch.cuda.synchronize();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"peak,{n},{Measure.PeakRssMiB():F1},{before:F1}"));
    }

    /// Runs <see cref="PeakOnce"/> in a fresh process of this program; (peak, resident before the forward) in MiB, NaN if it failed.
    private static (double Peak, double Base) PeakInChild(int n, Options o)
    {
        var args = new List<string> { "memA", "--ns", n.ToString(CultureInfo.InvariantCulture), "--batch", o.Batch.ToString(CultureInfo.InvariantCulture),
            "--steps", o.Steps.ToString(CultureInfo.InvariantCulture), "--threads", o.Threads.ToString(CultureInfo.InvariantCulture), "--device", o.Device.type == DeviceType.CUDA ? "cuda" : "cpu" };
        foreach (var line in SelfProcess.Run(args, 600))
            if (line.StartsWith("peak,", StringComparison.Ordinal))
            {
                var f = line.Split(',');
                return (Peers.D(f[2]), Peers.D(f[3]));
            }
        return (double.NaN, double.NaN);
    }
}

/// Starts this benchmark program again as a child process (fresh memory counters).
internal static class SelfProcess
{
    public static List<string> Run(IEnumerable<string> args, int timeoutS)
    {
        var exe = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true };
        // Under `dotnet Ship.Bench.dll` (or dotnet run) the host is dotnet: pass the program's assembly first.
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(typeof(SelfProcess).Assembly.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var lines = new List<string>();
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null) lines.Add(line);
        if (!p.WaitForExit(timeoutS * 1000)) p.Kill(true);
        return lines;
    }
}
