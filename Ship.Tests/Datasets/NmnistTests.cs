using NUnit.Framework;
using Ship.Datasets;
using Ship.Datasets.Events;
using Ship.Datasets.Readers;

namespace Ship.Tests.Datasets;

/// <summary>N-MNIST reader on files whose bytes are written by hand from the 40-bit layout (x, y, polarity, 23-bit µs time).</summary>
public class NmnistTests
{
    // (x = 5, y = 7, ON, t = 1000 µs = 0x0003E8), (x = 0, y = 33, OFF, t = 70000 µs = 0x011170),
    // (x = 33, y = 0, OFF, t = 8388607 µs = 0x7FFFFF, the largest 23-bit time stamp).
    private static readonly byte[] ThreeEvents =
    {
        5, 7, 0x80, 0x03, 0xE8,
        0, 33, 0x01, 0x11, 0x70,
        33, 0, 0x7F, 0xFF, 0xFF,
    };

    private static string Write(TempDir dir, byte[] bytes, string name = "00001.bin")
    {
        var path = dir.File(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Test]
    public void DecodesAddressesPolarityAndTimeStampOfEachEvent()
    {
        using var dir = new TempDir();
        var e = Nmnist.ReadEvents(Write(dir, ThreeEvents));
        Assert.That(e, Is.EqualTo(new[]
        {
            new NmnistEvent(5, 7, 1, 1000),
            new NmnistEvent(0, 33, 0, 70000),
            new NmnistEvent(33, 0, 0, 8388607),
        }));
    }

    [Test]
    public void SampleTimesAreSecondsAndChannelsArePolarityRowColumn()
    {
        using var dir = new TempDir();
        var s = Nmnist.ReadSample(Write(dir, ThreeEvents));
        Assert.That(s.Times, Is.EqualTo(new[] { 1e-3, 0.07, 8.388607 }).Within(1e-12));
        // ON·34·34 + 7·34 + 5 = 1156 + 238 + 5; OFF, row 33, column 0 = 1122; OFF, row 0, column 33 = 33.
        Assert.That(s.Channels, Is.EqualTo(new[] { 1399, 1122, 33 }));
        Assert.That(Nmnist.Channels, Is.EqualTo(2312));
    }

    [Test]
    public void AnEmptyFileIsAnEmptySample()
    {
        using var dir = new TempDir();
        Assert.That(Nmnist.ReadSample(Write(dir, Array.Empty<byte>())).Count, Is.Zero);
    }

    [Test]
    public void SaccadeWindowKeepsItsEventsShiftedToZero()
    {
        using var dir = new TempDir();
        var s = Nmnist.ReadSample(Write(dir, ThreeEvents));
        var second = s.Window(0.05, 0.1);
        Assert.That(second.Times, Is.EqualTo(new[] { 0.02 }).Within(1e-12));
        Assert.That(second.Channels, Is.EqualTo(new[] { 1122 }));
    }

    [Test]
    public void LoadFolderLabelsByDigitFolderAndLimitsPerClass()
    {
        using var dir = new TempDir();
        for (int d = 0; d <= 9; d++) Directory.CreateDirectory(Path.Combine(dir.Path, "Test", d.ToString()));
        Write(dir, ThreeEvents[..5], Path.Combine("Test", "3", "00002.bin"));
        Write(dir, ThreeEvents, Path.Combine("Test", "3", "00001.bin"));
        Write(dir, ThreeEvents[5..10], Path.Combine("Test", "8", "00007.bin"));
        var set = Nmnist.LoadFolder(dir.Path, train: false);
        Assert.That(set.Labels, Is.EqualTo(new long[] { 3, 3, 8 }));
        Assert.That(set.Samples.Select(s => s.Count), Is.EqualTo(new[] { 3, 1, 1 }), "files of a digit in name order");
        Assert.That(set.Channels, Is.EqualTo(2312));
        Assert.That(Nmnist.LoadFolder(dir.Path, train: false, perClass: 1).Labels, Is.EqualTo(new long[] { 3, 8 }));
        var e = Assert.Throws<Ship.Core.Errors.MissingFileException>(() => Nmnist.LoadFolder(dir.Path, train: true))!;
        Assert.That((e.Path, e.Found), Is.EqualTo((Path.Combine(dir.Path, "Train"), "no such folder")));
    }

    [Test]
    public void BinnedSampleHasOneAtEachHandComputedStep()
    {
        using var dir = new TempDir();
        var set = new EventSet(new[] { Nmnist.ReadSample(Write(dir, ThreeEvents)) }, new long[] { 4 }, Nmnist.Channels);
        // dt = 10 ms over 100 ms: t = 1 ms → step 0 at channel 1399, t = 70 ms → step 7 at 1122, t = 8.39 s is dropped.
        using var ls = set.ToLabeledSet(dt: 0.01, duration: 0.1);
        Assert.That(ls.Inputs.shape, Is.EqualTo(new long[] { 1, 10, 2312 }));
        Assert.That(ls.Inputs.sum().item<float>(), Is.EqualTo(2f));
        Assert.That(ls.Inputs[0, 0, 1399].item<float>(), Is.EqualTo(1f));
        Assert.That(ls.Inputs[0, 7, 1122].item<float>(), Is.EqualTo(1f));
    }

    // ---- malformed-file catalogue ----

    [Test]
    public void TruncatedEventIsReportedAtTheStartOfTheIncompleteEvent()
    {
        using var dir = new TempDir();
        var path = Write(dir, ThreeEvents[..12]);
        var e = Assert.Throws<DataFormatException>(() => Nmnist.ReadEvents(path))!;
        Assert.That((e.File, e.ByteOffset), Is.EqualTo((path, (long?)10)));
        Assert.That(e.Message, Does.Contain("12 bytes").And.Contain("2 events"));
    }

    [Test]
    public void OverflowMarkersAreDroppedAndShiftLaterTimeStamps()
    {
        // The format's definition (Orchard's reference reader): a record with y = 240 is a time-stamp overflow marker,
        // not an event; every record from it on gets 2^13 = 8192 µs more. Raw stamps 8000, 100 and 50 µs with one
        // marker before the second event and two more before the third: 8000, 100 + 8192 = 8292, 50 + 3·8192 = 24626.
        // The markers' other fields (x = 255, a polarity bit) mean nothing and raise nothing.
        byte[] bytes =
        {
            5, 7, 0x80, 0x1F, 0x40,     // x 5, y 7, ON, 8000 µs (0x001F40)
            255, 240, 0x80, 0x00, 0x00, // overflow marker
            1, 2, 0x00, 0x00, 0x64,     // x 1, y 2, OFF, raw 100 µs
            0, 240, 0x00, 0x00, 0x00,   // overflow marker
            0, 240, 0x00, 0x12, 0x34,   // overflow marker (its stamp field is ignored)
            3, 4, 0x80, 0x00, 0x32,     // x 3, y 4, ON, raw 50 µs
        };
        using var dir = new TempDir();
        var e = Nmnist.ReadEvents(Write(dir, bytes));
        Assert.That(e, Is.EqualTo(new[]
        {
            new NmnistEvent(5, 7, 1, 8000),
            new NmnistEvent(1, 2, 0, 8292),
            new NmnistEvent(3, 4, 1, 24626),
        }));
        var sample = Nmnist.ReadSample(Write(dir, bytes, "00002.bin"));
        Assert.That(sample.Count, Is.EqualTo(3), "markers are not events");
        Assert.That(sample.Times[2], Is.EqualTo(24626e-6).Within(1e-15));
    }

    [TestCase(0, (byte)34, "x", "found 34")]
    [TestCase(1, (byte)200, "y", "found 200")]
    public void AddressOutsideTheSensorNamesEventAndField(int field, byte value, string name, string found)
    {
        using var dir = new TempDir();
        var bytes = (byte[])ThreeEvents.Clone();
        bytes[5 + field] = value;                                 // event 1
        var path = Write(dir, bytes);
        var e = Assert.Throws<DataFormatException>(() => Nmnist.ReadEvents(path))!;
        Assert.That((e.Field, e.Row, e.ByteOffset), Is.EqualTo((name, (long?)1, (long?)(5 + field))));
        Assert.That(e.Message, Does.Contain("[0, 34)").And.Contain(found).And.Contain(path));
    }

    [Test]
    public void TimeStampGoingBackwardsIsRejectedOnlyWhenSortingIsRequired()
    {
        using var dir = new TempDir();
        // event 1 at 999 µs = 0x0003E7 after event 0 at 1000 µs.
        var bytes = ThreeEvents[..5].Concat(new byte[] { 1, 1, 0x00, 0x03, 0xE7 }).ToArray();
        var path = Write(dir, bytes);
        var e = Assert.Throws<DataFormatException>(() => Nmnist.ReadEvents(path))!;
        Assert.That((e.Field, e.Row, e.ByteOffset), Is.EqualTo(("timestamp", (long?)1, (long?)7)));
        Assert.That(e.Message, Does.Contain("1000 µs").And.Contain("found 999 µs"));
        Assert.That(Nmnist.ReadEvents(path, requireSortedTimes: false)[1].TimeUs, Is.EqualTo(999));
    }
}
