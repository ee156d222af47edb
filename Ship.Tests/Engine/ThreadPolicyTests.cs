using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Networks.Observers;
using Ship.Core.Native;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.Reliability;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// The intra-op thread policy of issue 18 item 3: the kernel policy chooses a run's threads from its work (never more
/// than the caller set, the user may override), a scope applies it to the calling thread only and restores the
/// caller's setting, also on exceptions; results are bit-identical whichever count it picks.
/// </summary>
[NonParallelizable]
public class ThreadPolicyTests
{
    private static readonly Device Gpu = new(DeviceType.CUDA, 0);

    [Test]
    public void ThePolicyChoosesFromTheWorkNeverAboveTheCallerAndSaysWhy()
    {
        var policy = new KernelPolicy { ParallelWorkThreshold = 1000 };
        Assert.That(policy.ChooseThreads(CPU, 999, 2).Threads, Is.EqualTo(1), "below the threshold: one thread");
        Assert.That(policy.ChooseThreads(CPU, 1000, 2).Threads, Is.EqualTo(2), "at the threshold: the caller's");
        Assert.That(policy.ChooseThreads(CPU, 1_000_000, 8).Threads, Is.EqualTo(8));
        Assert.That(policy.ChooseThreads(CPU, 1_000_000, 1).Threads, Is.EqualTo(1), "never more than the caller's");
        Assert.That(policy.ChooseThreads(Gpu, 10, 4).Threads, Is.EqualTo(4), "a GPU network leaves the host threads as set");
        var small = policy.ChooseThreads(CPU, 999, 2);
        Assert.That(small.Reason, Does.Contain("999").And.Contain("1,000"), "the reason names the work and the threshold");

        var user = policy with { IntraOpThreads = 3 };
        Assert.That(user.ChooseThreads(CPU, 10, 4).Threads, Is.EqualTo(3), "the user's choice overrides the work rule");
        Assert.That(user.ChooseThreads(CPU, 10, 2).Threads, Is.EqualTo(2), "…but is capped at the caller's");
        Assert.That(user.ChooseThreads(CPU, 10, 2).Reason, Does.Contain("capped"));
        Assert.Throws<ShipException>(() => (policy with { IntraOpThreads = 0 }).ChooseThreads(CPU, 10, 2));
    }

    [Test]
    public void TheEnvironmentCanSetTheThreadsAndABadValueIsRefused()
    {
        var previous = Environment.GetEnvironmentVariable("SHIP_INTRAOP_THREADS");
        try
        {
            Environment.SetEnvironmentVariable("SHIP_INTRAOP_THREADS", "2");
            Assert.That(KernelPolicy.FromEnvironment().IntraOpThreads, Is.EqualTo(2));
            Environment.SetEnvironmentVariable("SHIP_INTRAOP_THREADS", null);
            Assert.That(KernelPolicy.FromEnvironment().IntraOpThreads, Is.Null, "unset: the work decides");
            foreach (var bad in new[] { "0", "-1", "two", "1.5" })
            {
                Environment.SetEnvironmentVariable("SHIP_INTRAOP_THREADS", bad);
                var e = Assert.Throws<ShipException>(() => KernelPolicy.FromEnvironment());
                Assert.That(e!.Message, Does.Contain("SHIP_INTRAOP_THREADS").And.Contain(bad));
            }
        }
        finally { Environment.SetEnvironmentVariable("SHIP_INTRAOP_THREADS", previous); }
    }

    [Test]
    public void RunWorkCountsSynapseProductsAndGroupWidths()
    {
        var (net, _, _, _) = StressProgram.Build();
        // 64 inputs, 64×128 dense, 128 LIF, 128×10 dense, 10 integrators; batch 32, 25 steps.
        long perStep = 64 + 64 * 128 + 128 + 128 * 10 + 10;
        Assert.That(KernelPolicy.RunWork(net.Groups, 32, 25), Is.EqualTo(perStep * 32 * 25));
    }

    [Test]
    public void TheChoiceUsesTheRunsStepsFromItsScheduleOrItsInputs()
    {
        Assume.That(IntraOpThreads.Available, "libtorch_cpu's per-thread setters resolve on this build");
        using var caller = IntraOpThreads.Enter(2);
        var (net, _, xs, _) = StressProgram.Build();
        // 9,674 multiply-adds per sample and step, batch 32; the threshold at 109 steps' work: 108 stay below, 109 reach it.
        var policy = new KernelPolicy { ParallelWorkThreshold = 9674L * 32 * 109 };
        net.UseKernels(policy);
        Assert.That(net.ThreadsFor(108).Threads, Is.EqualTo(1));
        Assert.That(net.ThreadsFor(109).Threads, Is.EqualTo(2));
        var input = new Dictionary<string, Tensor> { ["input"] = torch.zeros(32, 109, 64) };
        Assert.That(net.ThreadsFor(input, null).Threads, Is.EqualTo(2), "the steps the input asks for");
        Assert.That(net.ThreadsFor(input, Ship.Core.Clocks.Schedule.Fixed(1e-3, 108)).Threads, Is.EqualTo(1), "a schedule wins over the input");
        Assert.That(net.ThreadsFor(null, null).Threads, Is.EqualTo(1), "no input: the network's 25 steps");
    }

    [Test]
    public void TheKeptChoiceFollowsTheCallerStepsPolicyAndBatch()
    {
        // The network keeps its last answer for the same caller setting and steps; each of these changes must show.
        Assume.That(IntraOpThreads.Available, "libtorch_cpu's per-thread setters resolve on this build");
        var (net, _, _, _) = StressProgram.Build();
        net.UseKernels(new KernelPolicy { ParallelWorkThreshold = 9674L * 32 * 109 });
        using (IntraOpThreads.Enter(2))
        {
            Assert.That(net.ThreadsFor(109).Threads, Is.EqualTo(2));
            Assert.That(net.ThreadsFor(109).Threads, Is.EqualTo(2), "asked again");
            Assert.That(net.ThreadsFor(108).Threads, Is.EqualTo(1), "other steps");
        }
        using (IntraOpThreads.Enter(1))
            Assert.That(net.ThreadsFor(109), Is.EqualTo(new ThreadChoice(1, "the caller's setting (1)")), "the caller's setting changed");
        using (IntraOpThreads.Enter(2))
        {
            Assert.That(net.ThreadsFor(109).Threads, Is.EqualTo(2));
            net.UseKernels(new KernelPolicy { IntraOpThreads = 1 });
            Assert.That(net.ThreadsFor(109).Threads, Is.EqualTo(1), "another policy");
            net.UseKernels(new KernelPolicy { ParallelWorkThreshold = 9674L * 32 * 109 });
            Assert.That(net.ThreadsFor(109).Threads, Is.EqualTo(2));
            net.BatchSize = 16; // half the work: below the threshold
            Assert.That(net.ThreadsFor(109).Threads, Is.EqualTo(1), "another batch size");
        }
    }

    [Test]
    public void TheScopeChangesOnlyTheCallingThreadAndRestoresIt()
    {
        Assume.That(IntraOpThreads.Available, "libtorch_cpu's per-thread setters resolve on this build");
        int fresh = FreshThreadCount();
        using (IntraOpThreads.Enter(2))
        {
            Assert.That(torch.get_num_threads(), Is.EqualTo(2));
            using (IntraOpThreads.Enter(1)) Assert.That(torch.get_num_threads(), Is.EqualTo(1));
            Assert.That(torch.get_num_threads(), Is.EqualTo(2), "the inner scope restored the outer setting");
            Assert.That(IntraOpThreads.Enter(2), Is.Null, "no change, no scope");
            try
            {
                using var s = IntraOpThreads.Enter(1);
                throw new InvalidOperationException("inside");
            }
            catch (InvalidOperationException) { }
            Assert.That(torch.get_num_threads(), Is.EqualTo(2), "restored on an exception");
            using (IntraOpThreads.Enter(1))
                Assert.That(FreshThreadCount(), Is.EqualTo(fresh), "a thread started inside the scope starts with the process default, not the scope's count");
        }
        Assert.That(FreshThreadCount(), Is.EqualTo(fresh), "the process-wide default is untouched");
    }

    [Test]
    public void TwoNetworksOnTwoThreadsKeepTheirOwnCountsAndTheCallers()
    {
        Assume.That(IntraOpThreads.Available, "libtorch_cpu's per-thread setters resolve on this build");
        int mine = torch.get_num_threads();
        int fresh = FreshThreadCount();
        using var barrier = new Barrier(2);
        var seen = new List<int>[2] { new(), new() };
        var after = new int[2];
        Exception? failure = null;
        var threads = Enumerable.Range(0, 2).Select(k => new Thread(() =>
        {
            try
            {
                using var caller = IntraOpThreads.Enter(2); // each thread's caller allows 2
                var (net, _, xs, _) = StressProgram.Build();
                net.UseKernels(new KernelPolicy { IntraOpThreads = k == 0 ? 1 : 2 });
                var probe = new ThreadProbe();
                net.AddObserver(probe);
                barrier.SignalAndWait();
                for (int r = 0; r < 20; r++)
                {
                    using var scope = torch.NewDisposeScope();
                    net.Run(xs[r % xs.Count]);
                }
                seen[k] = probe.Seen;
                after[k] = torch.get_num_threads();
            }
            catch (Exception e) { failure = e; }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.That(failure, Is.Null, failure?.ToString());
        Assert.That(seen[0].Distinct(), Is.EqualTo(new[] { 1 }), "network A ran at its policy's 1 thread on every step");
        Assert.That(seen[1].Distinct(), Is.EqualTo(new[] { 2 }), "network B ran at 2 threads while A ran at 1 beside it");
        Assert.That(after, Is.EqualTo(new[] { 2, 2 }), "each caller's setting came back");
        Assert.That(torch.get_num_threads(), Is.EqualTo(mine), "this thread was not touched");
        Assert.That(FreshThreadCount(), Is.EqualTo(fresh), "nor the process-wide default");
    }

    [Test]
    public void TheRunRestoresTheCallersSettingWhenItThrows()
    {
        Assume.That(IntraOpThreads.Available, "libtorch_cpu's per-thread setters resolve on this build");
        using var caller = IntraOpThreads.Enter(2);
        var (net, _, xs, _) = StressProgram.Build();
        net.CheckFinite = true;
        var probe = new ThreadProbe();
        net.AddObserver(probe);
        net.Initialize();
        using (torch.no_grad()) net["in_hidden"].Parameters.Single(p => p.Name == "w").Value[0, 0] = float.NaN;
        Assert.Throws<NonFiniteValueException>(() => net.Run(xs[0]));
        Assert.That(probe.Seen, Is.Not.Empty.And.All.EqualTo(1), "the run was at 1 thread before it threw");
        Assert.That(torch.get_num_threads(), Is.EqualTo(2));
    }

    [Test]
    public void TheBackwardRunsOnTheCallingThreadUnderItsSetting()
    {
        Assume.That(IntraOpThreads.Available, "libtorch_cpu's per-thread setters resolve on this build");
        using var caller = IntraOpThreads.Enter(2);
        var x = torch.ones(new long[] { 4, 3 }, requires_grad: true);
        RecordingFunction.Thread = -1;
        RecordingFunction.Threads = -1;
        using (IntraOpThreads.Enter(1))
            RecordingFunction.apply(x).sum().backward();
        Assert.That(RecordingFunction.Thread, Is.EqualTo(Environment.CurrentManagedThreadId), "libtorch's CPU autograd ran the node on the caller's thread");
        Assert.That(RecordingFunction.Threads, Is.EqualTo(1), "under the caller's scope");
        Assert.That(x.grad!.sum().item<float>(), Is.EqualTo(24f), "d/dx sum(2x) = 2 per element, 12 elements");
    }

    [Test]
    public void TrainingIsBitIdenticalAtOneAndTwoThreadsAndThePlanSaysWhich()
    {
        Assume.That(IntraOpThreads.Available, "libtorch_cpu's per-thread setters resolve on this build");
        using var caller = IntraOpThreads.Enter(2);
        var results = new List<(double[] Losses, Tensor[] Weights)>();
        foreach (int? threads in new int?[] { 1, 2, null })
        {
            var (net, trainer, xs, ys) = StressProgram.Build();
            net.UseKernels(new KernelPolicy { IntraOpThreads = threads });
            net.Initialize();
            if (threads is null) Assert.That(net.DescribePlan(), Does.Contain("intra-op threads: 1 — 1 of the caller's 2"), "the main job's network is below the work threshold");
            else Assert.That(net.DescribePlan(), Does.Contain($"intra-op threads: {threads}"));
            var losses = new double[2 * xs.Count];
            for (int e = 0; e < 2; e++)
                for (int b = 0; b < xs.Count; b++)
                {
                    using var scope = torch.NewDisposeScope();
                    losses[e * xs.Count + b] = trainer.TrainBatch(xs[b], ys[b]);
                    Assert.That(torch.get_num_threads(), Is.EqualTo(2), "the trainer restored the caller's setting");
                }
            results.Add((losses, trainer.Parameters.Select(p => p.detach().clone()).ToArray()));
        }
        for (int i = 1; i < results.Count; i++)
        {
            Assert.That(results[i].Losses, Is.EqualTo(results[0].Losses), "losses bit for bit");
            for (int w = 0; w < results[0].Weights.Length; w++)
                Assert.That(Same(results[i].Weights[w], results[0].Weights[w]), Is.True, $"weight {w} bit for bit");
        }
    }

    [Test]
    public void ALargeForwardAndBackwardAreBitIdenticalAtOneAndTwoThreads()
    {
        Assume.That(IntraOpThreads.Available, "libtorch_cpu's per-thread setters resolve on this build");
        using var caller = IntraOpThreads.Enter(2);
        const int n = 512, batch = 10, steps = 100;
        var x = torch.randn(new long[] { batch, steps, n }, generator: new torch.Generator(3));
        var outs = new List<(Tensor Out, Tensor Grad)>();
        foreach (int threads in new[] { 1, 2 })
        {
            var net = new Network("A") { Dt = 1e-3, Steps = steps, BatchSize = batch, Seed = 1, TrackGradients = true };
            net.Add("input", new TensorInput(n));
            net.Add("syn", new Dense(Init.Uniform(0, 1)), "input", "lif");
            net.Add("lif", new Lif(n, tau: 10e-3, threshold: 1.0));
            net.MarkOutput("lif");
            net.UseKernels(new KernelPolicy { IntraOpThreads = threads });
            net.Initialize();
            var w = net["syn"].Parameters.Single(p => p.Name == "w");
            var leaf = w.Value.detach().clone().requires_grad_(true);
            w.Tensor = leaf;
            net.SpikeFunction = new Ship.Core.Spikes.SurrogateSpikes(new Ship.Core.Spikes.FastSigmoid());
            Assert.That(net.ThreadsFor(steps).Threads, Is.EqualTo(threads));
            var y = net.Run(x).Outputs["lif"];
            using (net.EnterThreads(null, null)) y.sum().backward();
            outs.Add((y.detach().clone(), leaf.grad!.clone()));
        }
        Assert.That(Same(outs[0].Out, outs[1].Out), Is.True, "spikes bit for bit");
        Assert.That(Same(outs[0].Grad, outs[1].Grad), Is.True, "weight gradient bit for bit");
    }

    /// <summary>Same shape and every element equal (TorchSharp's torch.equal compares element by element).</summary>
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>The intra-op count a thread started now begins with (ATen initializes it from the process-wide atomic).</summary>
    private static int FreshThreadCount()
    {
        int n = -1;
        var t = new Thread(() => n = torch.get_num_threads());
        t.Start();
        t.Join();
        return n;
    }

    private sealed class ThreadProbe : IRunObserver
    {
        public List<int> Seen { get; } = new();
        public bool NeedsStepOutput(Ship.Core.Groups.Group group) => false;
        public void OnRunStart(RunStartView run) => Seen.Add(torch.get_num_threads());
        public void OnStep(StepView step) => Seen.Add(torch.get_num_threads());
        public void OnBlockEnd(BlockView block) => Seen.Add(torch.get_num_threads());
        public void OnRunEnd(bool completed) { }
    }

    private sealed class RecordingFunction : torch.autograd.SingleTensorFunction<RecordingFunction>
    {
        public static int Thread = -1, Threads = -1;
        public override string Name => "ThreadRecorder";
        public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars) => ((Tensor)vars[0]).mul(2);
        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
        {
            Thread = Environment.CurrentManagedThreadId;
            Threads = torch.get_num_threads();
            return new List<Tensor> { gradOutput.mul(2) };
        }
    }
}
