using System.Diagnostics;
using System.Globalization;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Training;
using Ship.Training.Losses;
using Ship.Training.Optimizers;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

/// <summary>
/// The training stress of issue 18, run as a child process (<c>Ship.Tests.dll stress …</c>) so that a native abort fails
/// a test instead of killing the test host: the main job's network (64 → 128 LIF → 10 leaky integrators, 25 steps,
/// batch 32) trained for many epochs at the given intra-op threads, every batch in the caller's own dispose scope, while
/// other threads allocate and force garbage collections and finalizers without pause. A finalizer that frees a native
/// object still in use by a call (TorchSharp's temporary scalars: docs/reliability.md) aborts the process with libtorch's
/// "Expected false to be true"; the epochs alternate time-batched and step-by-step runs so both engine paths are under fire.
/// </summary>
internal static class StressProgram
{
    public static int Run(int epochs, int threads, int pressureThreads, double maxSeconds, string optimizer = "sgd")
    {
        Ship.Core.Native.TorchSharpLoad.EnsureLoaded(); // as a Ship program starts: libtorch's threads wait passively
        torch.set_num_threads(threads);
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        long collections = 0;
        var pressure = Enumerable.Range(0, pressureThreads).Select(k => new Thread(() =>
        {
            // Garbage of mixed sizes keeps the collector busy; every round also runs the finalizers at once, so an
            // unreachable native wrapper is freed within microseconds of becoming unreachable.
            var keep = new object[64];
            int i = 0;
            while (!stop.IsCancellationRequested)
            {
                for (int j = 0; j < 200; j++) keep[(i++) & 63] = new byte[(j & 7) == 0 ? 40_000 : 200];
                GC.Collect();
                GC.WaitForPendingFinalizers();
                Interlocked.Increment(ref collections);
            }
        }) { IsBackground = true, Name = $"gc-pressure-{k}" }).ToList();
        var (net, trainer, xs, ys) = Build(optimizer);
        // The engine would run this small network at 1 thread whatever the caller set: force the caller's count, so
        // the 2-thread paths (libtorch's parallel regions, the fused kernels' row workers) stay under fire.
        net.UseKernels(KernelPolicy.FromEnvironment() with { IntraOpThreads = threads });
        foreach (var t in pressure) t.Start();
        int batches = xs.Count;
        double first = double.NaN, last = double.NaN;
        int done = 0;
        for (int epoch = 0; epoch < epochs && clock.Elapsed.TotalSeconds < maxSeconds; epoch++)
        {
            net.TimeBatching = epoch % 2 == 0;
            double sum = 0;
            for (int b = 0; b < batches; b++)
            {
                using var scope = torch.NewDisposeScope();
                sum += trainer.TrainBatch(xs[b], ys[b]);
                // Extra allocations between batches, as a study's own bookkeeping makes.
                var junk = new List<int[]>();
                for (int k = 0; k < 50; k++) junk.Add(new int[500]);
            }
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epoch {epoch} loss {sum / batches:F4} at {clock.Elapsed.TotalSeconds:F1} s"));
            if (epoch == 0) first = sum / batches;
            last = sum / batches;
            done++;
        }
        stop.Cancel();
        foreach (var t in pressure) t.Join();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"stress-ok epochs={done} threads={torch.get_num_threads()} omp_wait_policy={Ship.Core.Native.OpenMpWaitPolicy.NativeValue("OMP_WAIT_POLICY") ?? "unset"} first_loss={first:R} last_loss={last:R} collections={Interlocked.Read(ref collections)} seconds={clock.Elapsed.TotalSeconds:F1}"));
        return double.IsFinite(last) ? 0 : 3;
    }

    /// <summary>
    /// The main job's network with Ship's plain <see cref="HeldSgd"/> (<c>sgd</c>) or Ship's <see cref="HeldAdam"/> (<c>adam</c>, the
    /// optimizer the main job trains with), and six fixed batches of class-coded input spikes.
    /// </summary>
    public static (Network Net, Trainer Trainer, List<Tensor> Xs, List<Tensor> Ys) Build(string optimizer = "sgd")
    {
        const int batch = 32, steps = 25, inputs = 64, hidden = 128, classes = 10, batches = 6;
        var net = new Network("stress") { Dt = 1e-3, Steps = steps, BatchSize = batch, Seed = 5 };
        net.Add("input", new TensorInput(inputs));
        net.Add("in_hidden", new Dense(Init.Normal(0, 3.0 / Math.Sqrt(inputs))), "input", "hidden");
        net.Add("hidden", new Lif(hidden, tau: 10e-3, threshold: 1.0));
        net.Add("hidden_out", new Dense(Init.Normal(0, 1.0 / Math.Sqrt(hidden))), "hidden", "out");
        net.Add("out", new LeakyIntegrator(classes, tau: 20e-3));
        net.MarkOutput("out");
        var trainer = new Trainer(net, new MaxOverTime("out"), new NllLoss(), optimizer switch
        {
            "sgd" => ps => new HeldSgd(ps, 0.05),
            "adam" => ps => new HeldAdam(ps, 5e-3),
            _ => throw new ArgumentException($"optimizer '{optimizer}': expected sgd or adam", nameof(optimizer)),
        });

        // Fixed data: each class fires its own block of input channels more often.
        var g = new torch.Generator(7);
        var xs = new List<Tensor>();
        var ys = new List<Tensor>();
        for (int b = 0; b < batches; b++)
        {
            var y = torch.randint(classes, new long[] { batch }, generator: g);
            var rate = torch.full(new long[] { batch, 1, inputs }, 0.05f);
            for (int s = 0; s < batch; s++)
            {
                long c = y[s].item<long>();
                rate[s, 0, TensorIndex.Slice(c * 6, c * 6 + 6)] = 0.5f;
            }
            xs.Add(torch.rand(new long[] { batch, steps, inputs }, generator: g).lt(rate).to_type(ScalarType.Float32));
            ys.Add(y);
        }
        return (net, trainer, xs, ys);
    }
}
