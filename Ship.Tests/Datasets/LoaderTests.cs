using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Datasets.Batching;
using Ship.Devices.Inputs;
using Ship.Devices.Synapses;
using Ship.Devices.Neurons;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Datasets;

public class DenseLoaderTests
{
    private const int N = 23;

    private static (Tensor x, Tensor y) Data()
    {
        var y = arange(N, ScalarType.Int64);
        // Row i of x is [i, 10 i, 100 i] so a batch's x can be checked against its labels.
        var x = y.to_type(ScalarType.Float32).unsqueeze(1) * tensor(new[] { 1f, 10f, 100f });
        return (x, y);
    }

    private static List<long[]> EpochLabels(IEnumerable<Ship.Datasets.Batching.Batch> epoch)
    {
        var list = new List<long[]>();
        foreach (var b in epoch)
            using (b)
            {
                var y = b.Y.data<long>().ToArray();
                Assert.That(b.X.select(1, 1).data<float>().ToArray(), Is.EqualTo(y.Select(v => 10f * v).ToArray()), "x rows follow y");
                Assert.That(b.Indices.data<long>().ToArray(), Is.EqualTo(y), "indices name the samples");
                list.Add(y);
            }
        return list;
    }

    [Test]
    public void EverySampleOncePerEpochAndLastBatchKept()
    {
        var (x, y) = Data();
        var loader = new DenseLoader(x, y, batchSize: 5, seed: 1);
        Assert.That(loader.BatchesPerEpoch, Is.EqualTo(5));
        for (int e = 0; e < 3; e++)
        {
            var batches = EpochLabels(loader);
            Assert.That(batches.Select(b => b.Length), Is.EqualTo(new[] { 5, 5, 5, 5, 3 }));
            Assert.That(batches.SelectMany(b => b).OrderBy(v => v), Is.EqualTo(Enumerable.Range(0, N).Select(v => (long)v)));
        }
        Assert.That(loader.NextEpoch, Is.EqualTo(3));
    }

    [Test]
    public void DropLastSkipsThePartialBatch()
    {
        var (x, y) = Data();
        var loader = new DenseLoader(x, y, batchSize: 5, dropLast: true, seed: 1);
        Assert.That(loader.BatchesPerEpoch, Is.EqualTo(N / 5));
        var batches = EpochLabels(loader);
        Assert.That(batches.Select(b => b.Length), Is.EqualTo(new[] { 5, 5, 5, 5 }));
        var seen = batches.SelectMany(b => b).ToArray();
        Assert.That(seen.Distinct().Count(), Is.EqualTo(20), "no sample twice");
        // The dropped samples are the tail of that epoch's order.
        using var order = loader.Order(0);
        Assert.That(seen, Is.EqualTo(order.data<long>().ToArray().Take(20)));
    }

    [Test]
    public void SameSeedSameOrdersDifferentEpochsDifferentOrders()
    {
        var (x, y) = Data();
        var a = new DenseLoader(x, y, 4, seed: 7);
        var b = new DenseLoader(x, y, 4, seed: 7);
        var c = new DenseLoader(x, y, 4, seed: 8);
        var a0 = EpochLabels(a).SelectMany(v => v).ToArray();
        var a1 = EpochLabels(a).SelectMany(v => v).ToArray();
        var b0 = EpochLabels(b).SelectMany(v => v).ToArray();
        var b1 = EpochLabels(b).SelectMany(v => v).ToArray();
        var c0 = EpochLabels(c).SelectMany(v => v).ToArray();
        Assert.That(b0, Is.EqualTo(a0));
        Assert.That(b1, Is.EqualTo(a1));
        Assert.That(a1, Is.Not.EqualTo(a0), "epochs differ");
        Assert.That(c0, Is.Not.EqualTo(a0), "seeds differ");
        Assert.That(a0, Is.Not.EqualTo(Enumerable.Range(0, N).Select(v => (long)v)), "shuffled");
        // Epoch e is reproducible on its own (resuming training at epoch 1).
        Assert.That(EpochLabels(new DenseLoader(x, y, 4, seed: 7).Epoch(1)).SelectMany(v => v), Is.EqualTo(a1));
    }

    [Test]
    public void NoShuffleKeepsTheDataOrderAndGlobalGeneratorIsUntouched()
    {
        var (x, y) = Data();
        manual_seed(5);
        var expected = rand(3).data<float>().ToArray();
        manual_seed(5);
        var shuffled = EpochLabels(new DenseLoader(x, y, 6, seed: 3));
        Assert.That(rand(3).data<float>().ToArray(), Is.EqualTo(expected));
        var plain = EpochLabels(new DenseLoader(x, y, 6, shuffle: false));
        Assert.That(plain.SelectMany(v => v), Is.EqualTo(Enumerable.Range(0, N).Select(v => (long)v)));
        Assert.That(shuffled.Count, Is.EqualTo(4));
    }

    [Test]
    public void MismatchedSizesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new DenseLoader(zeros(5, 2), zeros(4), 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DenseLoader(zeros(5, 2), zeros(5), 0));
    }
}

public class RaggedLoaderTests
{
    private static readonly int[] Lengths = { 7, 3, 9, 3, 1, 5, 8, 2, 6, 4, 10 };
    private const int Channels = 3;

    /// <summary>Train i: value i + 1 at every (step, channel) where (step + channel) is even, 0 elsewhere.</summary>
    private static List<Tensor> Trains() => Lengths.Select((len, i) =>
    {
        var t = zeros(len, Channels);
        for (int s = 0; s < len; s++)
            for (int c = 0; c < Channels; c++)
                if ((s + c) % 2 == 0) t[s, c] = tensor((float)(i + 1));
        return t;
    }).ToList();

    private static List<long[]> Epoch(RaggedLoader loader, List<Tensor> trains, int? fixedSteps = null)
    {
        var result = new List<long[]>();
        foreach (var b in loader)
            using (b)
            {
                var idx = b.Indices.data<long>().ToArray();
                var len = b.Lengths.data<long>().ToArray();
                long tmax = fixedSteps ?? idx.Max(i => (long)Lengths[i]);
                Assert.That(b.X.shape, Is.EqualTo(new long[] { idx.Length, tmax, Channels }));
                Assert.That(b.Y!.data<long>().ToArray(), Is.EqualTo(idx.Select(i => 100L + i)), "labels follow samples");
                for (int j = 0; j < idx.Length; j++)
                {
                    long kept = Math.Min(Lengths[idx[j]], tmax);
                    Assert.That(len[j], Is.EqualTo(kept));
                    using var real = b.X[j].narrow(0, 0, kept);
                    using var src = trains[(int)idx[j]].narrow(0, 0, kept);
                    Assert.That(real.eq(src).all().item<bool>(), Is.True, $"sample {idx[j]} content");
                    if (kept < tmax)
                    {
                        using var pad = b.X[j].narrow(0, kept, tmax - kept);
                        Assert.That(pad.abs().sum().item<float>(), Is.EqualTo(0f), $"sample {idx[j]} padding");
                    }
                }
                result.Add(idx);
            }
        return result;
    }

    private static Tensor Labels() => arange(100, 100 + Lengths.Length, ScalarType.Int64);

    [Test]
    public void ShuffledEpochsCoverEverySampleOnceAndDiffer()
    {
        var trains = Trains();
        var loader = new RaggedLoader(trains, Labels(), 4, RaggedOrder.Shuffled, seed: 2);
        var e0 = Epoch(loader, trains);
        var e1 = Epoch(loader, trains);
        Assert.That(e0.Select(b => b.Length), Is.EqualTo(new[] { 4, 4, 3 }));
        foreach (var e in new[] { e0, e1 })
            Assert.That(e.SelectMany(b => b).OrderBy(v => v), Is.EqualTo(Enumerable.Range(0, Lengths.Length).Select(v => (long)v)));
        Assert.That(e1.SelectMany(b => b), Is.Not.EqualTo(e0.SelectMany(b => b)));
        var again = new RaggedLoader(trains, Labels(), 4, RaggedOrder.Shuffled, seed: 2);
        Assert.That(Epoch(again, trains).SelectMany(b => b), Is.EqualTo(e0.SelectMany(b => b)), "same seed, same order");
    }

    [Test]
    public void ByLengthVisitsShortestFirst()
    {
        var trains = Trains();
        var loader = new RaggedLoader(trains, Labels(), 4, RaggedOrder.ByLength, dropLast: true);
        var e = Epoch(loader, trains);
        Assert.That(e.Count, Is.EqualTo(2), "11 samples, batches of 4, drop last → 2");
        var lengths = e.SelectMany(b => b).Select(i => Lengths[i]).ToArray();
        Assert.That(lengths, Is.EqualTo(Lengths.OrderBy(v => v).Take(8)));
    }

    [Test]
    public void BucketedBatchesAreFixedSetsInShuffledOrder()
    {
        var trains = Trains();
        var loader = new RaggedLoader(trains, Labels(), 3, RaggedOrder.BucketedByLength, seed: 4);
        var epochs = Enumerable.Range(0, 4).Select(_ => Epoch(loader, trains)).ToList();
        string Key(long[] b) => string.Join(",", b.OrderBy(v => v));
        var sets = epochs[0].Select(Key).OrderBy(k => k).ToArray();
        foreach (var e in epochs)
        {
            Assert.That(e.Select(Key).OrderBy(k => k), Is.EqualTo(sets), "same buckets every epoch");
            foreach (var b in e)
            {
                var lens = b.Select(i => Lengths[i]).ToArray();
                // A bucket is a run of the sorted lengths: nothing outside it lies strictly between its min and max.
                Assert.That(Lengths.Where((l, i) => !b.Contains(i) && l > lens.Min() && l < lens.Max()), Is.Empty);
            }
        }
        Assert.That(epochs.Select(e => string.Join("|", e.Select(Key))).Distinct().Count(), Is.GreaterThan(1), "bucket order changes");
    }

    [Test]
    public void FixedLengthPadsAndCuts()
    {
        var trains = Trains();
        var loader = new RaggedLoader(trains, Labels(), 5, RaggedOrder.AsGiven, steps: 6);
        var e = Epoch(loader, trains, fixedSteps: 6);
        Assert.That(e.SelectMany(b => b), Is.EqualTo(Enumerable.Range(0, Lengths.Length).Select(v => (long)v)));
    }

    [Test]
    public void InconsistentTrainsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new RaggedLoader(new[] { zeros(3, 2), zeros(4, 3) }, null, 2));
        Assert.Throws<ArgumentException>(() => new RaggedLoader(new[] { zeros(3, 2) }, zeros(2), 2));
    }
}

public class ScheduledLoaderTests
{
    [Test]
    public void SchedulesFromDurationsAndTimesMergeEqualSteps()
    {
        var s = Schedules.FromStepDurations(new[] { 1e-3, 1e-3, 1e-3, 0.5e-3, 0.5e-3, 1e-3 });
        Assert.That(s.Segments, Is.EqualTo(new[] { new Segment(1e-3, 3), new Segment(0.5e-3, 2), new Segment(1e-3, 1) }));
        // End times 1, 2, 3, 3.5, 4 ms: the round-off of 0.003 − 0.002 is merged within the tolerance.
        var t = Schedules.FromTimes(new[] { 0.001, 0.002, 0.003, 0.0035, 0.004 });
        Assert.That(t.Segments.Select(g => g.Steps), Is.EqualTo(new[] { 3, 2 }));
        Assert.That(t.Segments[0].Dt, Is.EqualTo(1e-3).Within(1e-15));
        Assert.That(t.Segments[1].Dt, Is.EqualTo(0.5e-3).Within(1e-15));
        Assert.Throws<NetworkConfigurationException>(() => Schedules.FromTimes(new[] { 0.001, 0.001 }));
        Assert.Throws<NetworkConfigurationException>(() => Schedules.FromStepDurations(new[] { 1e-3, -1 }));
    }

    private static (List<Tensor> X, List<Schedule> S, Tensor Y) Samples()
    {
        var a = new Schedule((1e-3, 4), (2e-3, 2));   // 6 steps
        var b = Schedule.Fixed(0.5e-3, 6);             // 6 steps, another schedule
        var c = new Schedule((1e-3, 4), (2e-3, 2));   // equal to a
        var schedules = new List<Schedule>();
        var x = new List<Tensor>();
        for (int i = 0; i < 11; i++)
        {
            schedules.Add(i % 3 == 0 ? b : i % 2 == 0 ? a : c);
            x.Add(full(6, 2, (float)i));
        }
        return (x, schedules, arange(11, ScalarType.Int64));
    }

    [Test]
    public void BatchesShareOneScheduleAndCoverEverySampleOnce()
    {
        var (x, s, y) = Samples();
        var loader = new ScheduledLoader(x, s, y, 3, seed: 5);
        Assert.That(loader.Groups.Count, Is.EqualTo(2), "equal segments form one group");
        var seen = new List<long>();
        foreach (var batch in loader)
            using (batch)
            {
                var idx = batch.Indices.data<long>().ToArray();
                Assert.That(idx.All(i => Schedules.SameSegments(s[(int)i], batch.Schedule)), Is.True);
                Assert.That(batch.X.shape, Is.EqualTo(new long[] { idx.Length, 6, 2 }));
                Assert.That(batch.X.select(2, 0).select(1, 0).data<float>().ToArray(), Is.EqualTo(idx.Select(i => (float)i)));
                Assert.That(batch.Y!.data<long>().ToArray(), Is.EqualTo(idx));
                seen.AddRange(idx);
            }
        Assert.That(seen.OrderBy(v => v), Is.EqualTo(Enumerable.Range(0, 11).Select(v => (long)v)));
        var dropped = new ScheduledLoader(x, s, y, 3, dropLast: true, seed: 5);
        // Groups of 4 and 7 samples: 1 + 2 full batches of 3.
        Assert.That(dropped.BatchesPerEpoch, Is.EqualTo(3));
        Assert.That(dropped.BatchIndices(0).All(b => b.Indices.Length == 3), Is.True);
        var again = new ScheduledLoader(x, s, y, 3, seed: 5);
        Assert.That(again.BatchIndices(0).SelectMany(b => b.Indices), Is.EqualTo(loader.BatchIndices(0).SelectMany(b => b.Indices)));
        Assert.That(loader.BatchIndices(1).SelectMany(b => b.Indices), Is.Not.EqualTo(loader.BatchIndices(0).SelectMany(b => b.Indices)));
    }

    [Test]
    public void ABatchRunsOnANetworkWithItsSchedule()
    {
        var (x, s, y) = Samples();
        var loader = new ScheduledLoader(x, s, y, 2, shuffle: false);
        var batch = loader.Epoch(0).First();
        using (batch)
        {
            var net = new Network { Dt = 1e-3, Steps = 6, BatchSize = (int)batch.Size, Seed = 1 };
            net.Add("I", new TensorInput(2));
            net.Add("S", new Dense(ones(2, 1)), "I", "L");
            net.Add("L", new Lif(1));
            net.MarkOutput("L");
            var r = net.Run(batch.X, batch.Schedule);
            Assert.That(r["L"].shape, Is.EqualTo(new long[] { batch.Size, 6, 1 }));
            Assert.That(net.Timeline.Times.Last(), Is.EqualTo(batch.Schedule.Duration).Within(1e-12));
        }
    }

    [Test]
    public void StepCountMustMatchTheSchedule()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            new ScheduledLoader(new[] { zeros(5, 2) }, new[] { Schedule.Fixed(1e-3, 6) }, null, 1))!;
        Assert.That(e.Message, Does.Contain("steps = 6"));
    }
}
