using NUnit.Framework;
using Ship.Core.Memory;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// The per-network pool of host blocks: a block is handed out again only after libtorch freed every reference to its
/// storage (a held output, a view, a tensor saved for the backward), results are bit-identical with and without it,
/// a steady run allocates nothing new, and networks never share or disturb each other's pools.
public class BlockPoolTests
{
    private static readonly long[] Shape = { 4, 50, 128 }; // 100 KiB of float32: above the pool's minimum

    [Test]
    public void AFreedBlockIsHandedOutAgain()
    {
        using var pool = new BlockPool();
        var a = pool.Empty(Shape, ScalarType.Float32, CPU);
        Assert.That((pool.BlocksAllocated, pool.BlocksInUse), Is.EqualTo((1L, 1)));
        a.Dispose();
        Assert.That((pool.BlocksInUse, pool.BlocksFree), Is.EqualTo((0, 1)), "the deleter returned the block when the storage was freed");
        using var b = pool.Empty(Shape, ScalarType.Float32, CPU);
        Assert.That((pool.BlocksAllocated, pool.BlocksReused), Is.EqualTo((1L, 1L)));
        Assert.That(b.shape, Is.EqualTo(Shape));
        Assert.That(b.dtype, Is.EqualTo(ScalarType.Float32));
    }

    [Test]
    public void AHeldBlockIsNeverOverwritten()
    {
        using var pool = new BlockPool();
        using var held = pool.Empty(Shape, ScalarType.Float32, CPU);
        held.fill_(7.0);
        for (int k = 0; k < 5; k++)
        {
            using var other = pool.Empty(Shape, ScalarType.Float32, CPU);
            other.fill_(-1.0);
        }
        Assert.That(held.eq(7.0).all().item<bool>(), Is.True);
        Assert.That(pool.BlocksAllocated, Is.EqualTo(2), "one block held, one reused by the other five");
    }

    [Test]
    public void AViewKeepsItsBlockAfterTheTensorIsFreed()
    {
        using var pool = new BlockPool();
        var t = pool.Empty(Shape, ScalarType.Float32, CPU);
        t.fill_(3.0);
        using var view = t.narrow(1, 10, 5);
        t.Dispose();
        Assert.That(pool.BlocksInUse, Is.EqualTo(1), "the view's storage is the block");
        using (var other = pool.Empty(Shape, ScalarType.Float32, CPU)) other.fill_(-1.0);
        Assert.That(view.eq(3.0).all().item<bool>(), Is.True);
        view.Dispose();
        Assert.That(pool.BlocksInUse, Is.EqualTo(0));
    }

    [Test]
    public void ATensorTheCollectorFinalizesReturnsItsBlock()
    {
        using var pool = new BlockPool();
        static void Drop(BlockPool p) => p.Empty(Shape, ScalarType.Float32, CPU); // never disposed
        Drop(pool);
        for (int k = 0; k < 10 && pool.BlocksInUse > 0; k++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.That((pool.BlocksInUse, pool.BlocksFree), Is.EqualTo((0, 1)), "the finalizer thread ran the deleter");
    }

    [Test]
    public void DisposingFreesTheFreeBlocksAndLeavesHeldOnesValid()
    {
        var pool = new BlockPool();
        var held = pool.Empty(Shape, ScalarType.Float64, CPU);
        held.fill_(2.5);
        pool.Empty(Shape, ScalarType.Float64, CPU).Dispose();
        Assert.That(pool.BlocksFree, Is.EqualTo(1));
        pool.Dispose();
        Assert.That((pool.BlocksFree, pool.FreeBytes, pool.IsDisposed), Is.EqualTo((0, 0L, true)));
        Assert.That(held.eq(2.5).all().item<bool>(), Is.True, "a block still in use outlives its pool");
        using (var after = pool.Empty(Shape, ScalarType.Float64, CPU)) after.fill_(1.0);
        Assert.That(pool.BlocksAllocated, Is.EqualTo(2), "a disposed pool serves from libtorch's allocator");
        held.Dispose(); // the deleter frees the orphan
        Assert.That(pool.BlocksInUse, Is.EqualTo(0));
    }

    [Test]
    public void SmallAndDeviceTensorsAreNotPooled()
    {
        using var pool = new BlockPool();
        using var small = pool.Empty(new long[] { 4, 4 }, ScalarType.Float32, CPU);
        Assert.That(pool.BlocksAllocated, Is.EqualTo(0));
        Assert.That(small.shape, Is.EqualTo(new long[] { 4, 4 }));
    }

    [Test]
    public void FreeBlocksNeverExceedTheMostEverInUse()
    {
        using var pool = new BlockPool();
        // One block at a time, each of a new size: the pool keeps at most what one use needed.
        long largest = 0;
        for (int steps = 10; steps <= 100; steps += 10)
        {
            using var t = pool.Empty(new long[] { 4, steps, 256 }, ScalarType.Float32, CPU);
            largest = Math.Max(largest, 4L * steps * 256 * 4);
        }
        Assert.That(pool.FreeBytes, Is.LessThanOrEqualTo((largest + 4095) & ~4095L));
        Assert.That(pool.BlocksFree, Is.EqualTo(1));
    }

    private static (Network Net, Tensor W) Trainable(ScalarType dtype, ISurrogate? surrogate = null)
    {
        var net = new Network("pool") { Dt = 1e-3, Steps = 50, BatchSize = 4, Seed = 11, DType = dtype };
        // [4, 50, ≥ 96] blocks of float32 are above the pool's smallest size.
        net.Add("I", new TensorInput(128));
        net.Add("IL", new Dense(Init.Uniform(0, 0.04)), "I", "L");
        net.Add("L", new Lif(128));
        net.Add("LO", new Dense(Init.Uniform(-0.02, 0.05)), "L", "O");
        net.Add("O", new Lif(96));
        net.MarkOutput("L");
        net.MarkOutput("O");
        net.Initialize();
        var w = net["IL"].Variable("w");
        w.Tensor = new TorchSharp.Modules.Parameter(w.Value.detach().clone(), requires_grad: true).DetachFromDisposeScope();
        ((Parameter)w).Pinned = true;
        net.SpikeFunction = new SurrogateSpikes(surrogate ?? new FastSigmoid(100));
        net.TrackGradients = true;
        return (net, w.Value);
    }

    private static void Free(RunResult r)
    {
        foreach (var t in r.Outputs.Values) t.Dispose();
    }

    /// <summary>The sum of all elements as a double, whatever the dtype.</summary>
    private static double Total(Tensor t)
    {
        using var s = t.sum();
        using var d = s.to_type(ScalarType.Float64);
        return d.item<double>();
    }

    /// <summary>Bit-identical: same shape and every element equal.</summary>
    private static bool Same(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }

    private static Tensor Input(int seed, ScalarType dtype) =>
        torch.rand(new long[] { 4, 50, 128 }, dtype: dtype, generator: new torch.Generator((ulong)seed)).mul_(0.6);

    [TestCase(ScalarType.Float32)]
    [TestCase(ScalarType.Float64)]
    public void RunsAreBitIdenticalWithAndWithoutThePool(ScalarType dtype)
    {
        var (pooled, wp) = Trainable(dtype);
        var (plain, wq) = Trainable(dtype);
        plain.Dispose(); // a disposed network allocates every block afresh
        for (int run = 0; run < 4; run++)
        {
            using var scope = torch.NewDisposeScope();
            using var x = Input(run, dtype);
            var rp = pooled.Run(x);
            var rq = plain.Run(x);
            Assert.That(Same(rp["L"], rq["L"]), Is.True, $"run {run}: hidden spikes");
            Assert.That(Same(rp["O"], rq["O"]), Is.True, $"run {run}: output spikes");
            Assert.That(Total(rp["O"]), Is.GreaterThan(0), "the output layer fires, so the comparison is not vacuous");
            wp.grad?.zero_();
            wq.grad?.zero_();
            rp["O"].sum().backward();
            rq["O"].sum().backward();
            Assert.That(Same(wp.grad!, wq.grad!), Is.True, $"run {run}: gradient of the input weights");
            Assert.That(Total(wp.grad!.abs()), Is.GreaterThan(0), "the gradient is not vacuous");
            Free(rp);
            Free(rq);
        }
        Assert.That(pooled.Context.Blocks.BlocksReused, Is.GreaterThan(0), "the pooled network did reuse blocks");
        Assert.That(plain.Context.Blocks.BlocksAllocated, Is.EqualTo(0), "the disposed network pooled nothing");
        pooled.Dispose();
    }

    [Test]
    public void HeldOutputsAndSavedBlocksSurviveLaterRuns()
    {
        var (net, w) = Trainable(ScalarType.Float64);
        var (reference, wr) = Trainable(ScalarType.Float64);
        reference.Dispose();
        using var x1 = Input(1, ScalarType.Float64);
        using var x2 = Input(2, ScalarType.Float64);
        // After a first call the pool is engaged. Run 1's output and graph (with its saved membranes and masks) are then
        // held while runs 2 and 3 use the pool.
        using (torch.NewDisposeScope()) Free(net.Run(x2));
        Assert.That(net.Context.Blocks.IsEngaged, Is.True);
        var first = net.Run(x1);
        using var expected = first["O"].detach().clone();
        using var loss1 = first["O"].sum();
        for (int k = 0; k < 2; k++)
        {
            using var scope = torch.NewDisposeScope();
            var r2 = net.Run(x2);
            r2["O"].sum().backward();
            Free(r2);
        }
        Assert.That(Same(first["O"], expected), Is.True, "the held output was not overwritten");
        w.grad!.zero_();
        loss1.backward();
        using var r = reference.Run(x1)["O"];
        using var lr = r.sum();
        lr.backward();
        Assert.That(Same(w.grad!, wr.grad!), Is.True, "the backward of run 1 read its own saved blocks");
        Assert.That(w.grad!.abs().sum().item<double>(), Is.GreaterThan(0));
        foreach (var t in first.Outputs.Values) t.Dispose();
        net.Dispose();
    }

    [Test]
    public void ASteadyRunAllocatesNoNewBlocks()
    {
        var (net, _) = Trainable(ScalarType.Float32);
        using var x = Input(3, ScalarType.Float32);
        void Once()
        {
            // Outputs are the caller's (no dispose scope of the caller reaches them): freed here, with their graph.
            var r = net.Run(x);
            using (var loss = r["O"].sum()) loss.backward();
            Free(r);
        }
        Once();
        Once();
        var pool = net.Context.Blocks;
        long allocated = pool.BlocksAllocated, reused = pool.BlocksReused;
        for (int k = 0; k < 5; k++) Once();
        Assert.That(pool.BlocksAllocated, Is.EqualTo(allocated), "every block of a forward + backward came back from an earlier run");
        Assert.That(pool.BlocksReused - reused, Is.GreaterThanOrEqualTo(5 * 8), "each run takes its [B, T, N] blocks from the pool");
        net.Dispose();
        Assert.That(pool.BlocksFree, Is.EqualTo(0), "disposing the network freed what its pool kept");
    }

    [Test]
    public void ANetworkRunOnceKeepsNoBlocks()
    {
        // A network made per call would otherwise hold its blocks until the collector finalized its pool.
        var (net, _) = Trainable(ScalarType.Float32);
        using (var x = Input(9, ScalarType.Float32))
        using (torch.NewDisposeScope()) Free(net.Run(x));
        var pool = net.Context.Blocks;
        Assert.That((pool.BlocksAllocated, pool.BlocksFree, pool.IsEngaged), Is.EqualTo((0L, 0, true)));
        using (var x = Input(9, ScalarType.Float32))
        using (torch.NewDisposeScope()) Free(net.Run(x));
        Assert.That(pool.BlocksFree, Is.GreaterThan(0), "from the second call on the network keeps its blocks");
        net.Dispose();
    }

    [Test]
    public void TwoNetworksNeverShareAPool()
    {
        var (a, _) = Trainable(ScalarType.Float32);
        var (b, _) = Trainable(ScalarType.Float32);
        Assert.That(a.Context.Blocks, Is.Not.SameAs(b.Context.Blocks));
        using (var x = Input(4, ScalarType.Float32))
        using (torch.NewDisposeScope()) Free(a.Run(x));
        long before = b.Context.Blocks.BlocksAllocated + b.Context.Blocks.BlocksReused;
        Assert.That(before, Is.EqualTo(0), "running one network took nothing from the other's pool");
        a.Dispose();
        Assert.That(b.Context.Blocks.IsDisposed, Is.False, "disposing one network leaves the other's pool alone");
        b.Dispose();
    }

    [Test]
    public void ReinitializingReleasesThePreviousPool()
    {
        var (net, _) = Trainable(ScalarType.Float32);
        using (var x = Input(5, ScalarType.Float32))
            for (int k = 0; k < 2; k++)
                using (torch.NewDisposeScope()) Free(net.Run(x));
        var old = net.Context.Blocks;
        Assert.That(old.BlocksFree, Is.GreaterThan(0));
        net.Initialize();
        Assert.That((old.IsDisposed, old.BlocksFree), Is.EqualTo((true, 0)));
        Assert.That(net.Context.Blocks, Is.Not.SameAs(old));
        net.Dispose();
    }

    [TestCase(ScalarType.Float32, 100.0)]
    [TestCase(ScalarType.Float32, 37.3)]
    [TestCase(ScalarType.Float64, 37.3)]
    public void FusedFastSigmoidBackwardEqualsTheTensorForm(ScalarType dtype, double slope)
    {
        // The same derivative as a user-defined surrogate takes the unfused path (a tensor computed with torch ops).
        var fs = new FastSigmoid(slope);
        var (fused, wf) = Trainable(dtype, fs);
        var (tensorForm, wt) = Trainable(dtype, new CustomSurrogate("fast-sigmoid by hand", fs.Derivative));
        using var x = Input(6, dtype);
        foreach (var net in new[] { fused, tensorForm })
            using (torch.NewDisposeScope())
            {
                var r = net.Run(x);
                r["O"].sum().backward();
                Free(r);
            }
        Assert.That(Same(wf.grad!, wt.grad!), Is.True);
        Assert.That(Total(wf.grad!.abs()), Is.GreaterThan(0));
        fused.Dispose();
        tensorForm.Dispose();
    }

    [Test]
    public void ASurrogateThatReturnsItsArgumentChangedInPlaceWorks()
    {
        // The unfused path computes u − thr and hands it to the surrogate; a result that is that tensor must survive.
        var (inPlace, wi) = Trainable(ScalarType.Float64, new CustomSurrogate("exp(-|x|) in place", x => x.abs_().neg_().exp_()));
        var (fresh, wf) = Trainable(ScalarType.Float64, new CustomSurrogate("exp(-|x|)", x => x.abs().neg().exp()));
        using var x = Input(8, ScalarType.Float64);
        foreach (var net in new[] { inPlace, fresh })
            using (torch.NewDisposeScope())
            {
                var r = net.Run(x);
                r["O"].sum().backward();
                Free(r);
            }
        Assert.That(Same(wi.grad!, wf.grad!), Is.True);
        Assert.That(Total(wi.grad!.abs()), Is.GreaterThan(0));
        inPlace.Dispose();
        fresh.Dispose();
    }

    [Test]
    public void AGradientThroughTheFinalMembraneAloneReachesTheWeights()
    {
        // A loss on the final state only: the spikes output of the fused node gets no gradient, which must read as zero.
        var (net, w) = Trainable(ScalarType.Float64);
        var (stepped, ws) = Trainable(ScalarType.Float64);
        stepped.TimeBatching = false;
        using var x = Input(7, ScalarType.Float64);
        using (torch.NewDisposeScope())
        {
            Free(net.Run(x));
            ((Lif)net["L"]).U.Value.sum().backward();
            Free(stepped.Run(x));
            ((Lif)stepped["L"]).U.Value.sum().backward();
        }
        Assert.That(w.grad!.abs().sum().item<double>(), Is.GreaterThan(0));
        Assert.That(w.grad!.sub(ws.grad!).abs().max().item<double>(), Is.LessThanOrEqualTo(1e-12 * ws.grad!.abs().max().item<double>()));
        net.Dispose();
    }
}
