using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Datasets.Events;
using Ship.Devices.Inputs;
using TorchSharp;

namespace Ship.Tests.Datasets;

/// <summary>Binning of event lists onto a time grid; expected rasters are written out by hand from k = ⌊t/dt⌋.</summary>
public class EventBinningTests
{
    private static readonly EventList A = new(new[] { 0.0, 0.003, 0.0031, 0.0099, 0.010 }, new[] { 1, 2, 2, 3, 0 });
    private static readonly EventList B = new(new[] { 0.0042 }, new[] { 3 });

    [Test]
    public void BinaryRasterPutsEachEventInItsStepAndDropsTheTail()
    {
        // dt = 1 ms, 10 ms: 0 → step 0 (ch 1); 3.0 and 3.1 ms → step 3 (ch 2, once); 9.9 ms → step 9 (ch 3);
        // 10 ms is the first instant after the grid → dropped. B: 4.2 ms → step 4 (ch 3).
        using var r = EventBinning.Bin(new[] { A, B }, channels: 4, dt: 1e-3, duration: 0.01);
        var expected = new float[2, 10, 4];
        expected[0, 0, 1] = 1;
        expected[0, 3, 2] = 1;
        expected[0, 9, 3] = 1;
        expected[1, 4, 3] = 1;
        Assert.That(r.shape, Is.EqualTo(new long[] { 2, 10, 4 }));
        Assert.That(r.dtype, Is.EqualTo(torch.ScalarType.Float32));
        Assert.That(r.data<float>().ToArray(), Is.EqualTo(expected.Cast<float>().ToArray()));
        Assert.That(EventBinning.Dropped(new[] { A, B }, 1e-3, 0.01), Is.EqualTo(1));
    }

    [Test]
    public void CountsAddEventsOfOneStepAndPoolMergesAdjacentChannels()
    {
        using var counts = EventBinning.Bin(new[] { A }, channels: 4, dt: 1e-3, duration: 0.011, counts: true);
        Assert.That(counts.shape, Is.EqualTo(new long[] { 1, 11, 4 }));
        Assert.That(counts[0, 3, 2].item<float>(), Is.EqualTo(2f));
        Assert.That(counts[0, 10, 0].item<float>(), Is.EqualTo(1f), "t = 10 ms is exactly step 10 (round-off tolerance)");
        // pool 2: channels {0,1} → 0, {2,3} → 1; step 0 has ch 1 → out 0; step 9 has ch 3 → out 1.
        using var pooled = EventBinning.Bin(new[] { A }, channels: 4, dt: 1e-3, duration: 0.011, counts: true, pool: 2);
        var expected = new float[1, 11, 2];
        expected[0, 0, 0] = 1;
        expected[0, 3, 1] = 2;
        expected[0, 9, 1] = 1;
        expected[0, 10, 0] = 1;
        Assert.That(pooled.data<float>().ToArray(), Is.EqualTo(expected.Cast<float>().ToArray()));
        // an odd channel count keeps the last partial group: 5 channels, pool 2 → 3 outputs.
        using var odd = EventBinning.Bin(new[] { new EventList(new[] { 0.0 }, new[] { 4 }) }, 5, 1e-3, 1e-3, pool: 2);
        Assert.That(odd.shape, Is.EqualTo(new long[] { 1, 1, 3 }));
        Assert.That(odd[0, 0, 2].item<float>(), Is.EqualTo(1f));
    }

    [Test]
    public void BinEachCutsEverySampleAtItsLastEvent()
    {
        var set = new EventSet(new[] { A, B }, new long[] { 0, 1 }, 4);
        var each = set.BinEach(dt: 1e-3);
        Assert.That(each[0].shape, Is.EqualTo(new long[] { 11, 4 }), "last event at 10 ms → step 10 → 11 steps");
        Assert.That(each[1].shape, Is.EqualTo(new long[] { 5, 4 }), "last event at 4.2 ms → step 4 → 5 steps");
        Assert.That(each[1][4, 3].item<float>(), Is.EqualTo(1f));
        Assert.That(each[0].sum().item<float>(), Is.EqualTo(4f));
    }

    [Test]
    public void BadArgumentsAreParameterExceptionsNamingTheArgument()
    {
        var samples = new[] { A };
        Assert.That(Assert.Throws<ParameterException>(() => EventBinning.Bin(samples, 4, 0, 0.01))!.Parameter, Is.EqualTo("dt"));
        Assert.That(Assert.Throws<ParameterException>(() => EventBinning.Bin(samples, 4, 1e-3, double.NaN))!.Parameter, Is.EqualTo("duration"));
        Assert.That(Assert.Throws<ParameterException>(() => EventBinning.Bin(samples, 4, 1e-3, 0.01, pool: 0))!.Parameter, Is.EqualTo("pool"));
        Assert.That(Assert.Throws<ParameterException>(() => EventBinning.Dropped(samples, 0, 0.01))!.Parameter, Is.EqualTo("dt"));
        Assert.That(Assert.Throws<ParameterException>(() => EventBinning.Dropped(samples, 1e-3, double.PositiveInfinity))!.Parameter, Is.EqualTo("duration"));
        var e = Assert.Throws<ParameterException>(() => EventBinning.Bin(samples, 3, 1e-3, 0.01))!;
        Assert.That(e.Message, Does.Contain("event 3").And.Contain("channel 3").And.Contain("[0, 3)"));
        e = Assert.Throws<ParameterException>(() => EventBinning.Bin(new[] { new EventList(new[] { -1e-3 }, new[] { 0 }) }, 1, 1e-3, 0.01))!;
        Assert.That(e.Message, Does.Contain("-0.001"));
        // 1 sample × 4,000,000 steps × 700 channels = 2.8e9 values: more than one array holds; refused before allocating.
        e = Assert.Throws<ParameterException>(() => EventBinning.Bin(samples, 700, 1e-3, 4000))!;
        Assert.That(e.Message, Does.Contain("2800000000").And.Contain("pool"));
        // The containers refuse bad input with typed errors naming the argument (were bare ArgumentExceptions).
        var ch = Assert.Throws<ParameterException>(() => new EventSet(new[] { A }, new long[] { 0 }, 3))!;
        Assert.That((ch.Group, ch.Parameter), Is.EqualTo(("EventSet", "samples")));
        Assert.That(ch.Message, Does.Contain("channel 3").And.Contain("[0, 3)"));
        Assert.That(Assert.Throws<ParameterException>(() => new EventSet(new[] { A }, new long[] { 0, 1 }, 4))!.Message, Does.Contain("(1), got 2"));
        Assert.That(Assert.Throws<ParameterException>(() => new EventSet(new[] { A }, new long[] { 0 }, 0))!.Parameter, Is.EqualTo("channels"));
        Assert.That(Assert.Throws<ParameterException>(() => new EventList(new[] { 0.0 }, Array.Empty<int>()))!.Message, Does.Contain("(1), got 0"));
        Assert.That(Assert.Throws<ParameterException>(() => A.Window(0.01, 0.01))!.Parameter, Is.EqualTo("end"));
        var set = new EventSet(new[] { A }, new long[] { 0 }, 4, "test");
        var sub = Assert.Throws<ParameterException>(() => set.Subset(new[] { 0, 1 }))!;
        Assert.That((sub.Parameter, sub.Message.Contains("[0, 1)"), sub.Message.Contains("got 1")), Is.EqualTo(("indices", true, true)));
    }

    [Test]
    public void BinnedSetRunsThroughATensorInput()
    {
        var set = new EventSet(new[] { A, B }, new long[] { 0, 1 }, 4);
        using var ls = set.ToLabeledSet(dt: 1e-3, duration: 0.01);
        var net = new Network { Dt = 1e-3, Steps = 10, BatchSize = 2, Seed = 1 };
        net.Add("In", new TensorInput(4));
        net.MarkOutput("In");
        var r = net.Run(ls.Inputs);
        Assert.That(r["In"].data<float>().ToArray(), Is.EqualTo(ls.Inputs.data<float>().ToArray()));
    }
}
