using NUnit.Framework;
using PureHDF;
using PureHDF.Filters;
using PureHDF.VOL.Native;
using Ship.Core.Errors;
using Ship.Datasets;
using Ship.Datasets.Readers;

namespace Ship.Tests.Datasets;

/// <summary>SHD/SSC reader on small HDF5 files written here with PureHDF's writer; expected values are the hand-made events.</summary>
public class HeidelbergSpikesTests
{
    // Three samples in the SHD layout; sample 2 is empty (a silent recording is legal).
    private static readonly float[][] Times = { new[] { 0.0f, 0.0025f, 0.5f }, new[] { 0.125f }, Array.Empty<float>() };
    private static readonly ushort[][] Units = { new ushort[] { 3, 699, 3 }, new ushort[] { 10 }, Array.Empty<ushort>() };
    private static readonly ushort[] Labels = { 7, 19, 0 };

    private static string Write(TempDir dir, object times, object units, object labels, H5Group? extra = null, string name = "shd.h5")
    {
        var file = new H5File
        {
            ["spikes"] = new H5Group { ["times"] = times, ["units"] = units },
            ["labels"] = labels,
        };
        if (extra is not null) file["extra"] = extra;
        var path = dir.File(name);
        file.Write(path);
        return path;
    }

    private static string Valid(TempDir dir) => Write(dir, Times, Units, Labels,
        new H5Group { ["speaker"] = new ushort[] { 4, 4, 9 }, ["keys"] = new[] { "zero", "one" } });

    [Test]
    public void ReadsEventsLabelsAndExtrasOfTheShdLayout()
    {
        using var dir = new TempDir();
        var data = HeidelbergSpikes.Read(Valid(dir), new HeidelbergReadOptions { Classes = 20 });
        var set = data.Events;
        Assert.That(set.Count, Is.EqualTo(3));
        Assert.That(set.Channels, Is.EqualTo(700));
        Assert.That(set.Labels, Is.EqualTo(new long[] { 7, 19, 0 }));
        for (int s = 0; s < 3; s++)
        {
            Assert.That(set.Samples[s].Times, Is.EqualTo(Times[s].Select(t => (double)t).ToArray()), $"times of sample {s}");
            Assert.That(set.Samples[s].Channels, Is.EqualTo(Units[s].Select(u => (int)u).ToArray()), $"units of sample {s}");
        }
        Assert.That(data.Speakers, Is.EqualTo(new long[] { 4, 4, 9 }));
        Assert.That(data.Keys, Is.EqualTo(new[] { "zero", "one" }));
    }

    [Test]
    public void Float64TimesAndSignedInt32UnitsAndLabelsAreReadToo()
    {
        using var dir = new TempDir();
        var times = new[] { new[] { 0.001, 0.002 }, new[] { 1.5 } };
        var units = new[] { new[] { 0, 1 }, new[] { 2 } };
        var path = Write(dir, times, units, new long[] { 1, 2 });
        var set = HeidelbergSpikes.Read(path).Events;
        Assert.That(set.Samples[0].Times, Is.EqualTo(new[] { 0.001, 0.002 }));
        Assert.That(set.Samples[1].Channels, Is.EqualTo(new[] { 2 }));
        Assert.That(set.Labels, Is.EqualTo(new long[] { 1, 2 }));
        Assert.That(HeidelbergSpikes.Read(path).Speakers, Is.Null, "no /extra group: no speakers");
    }

    [Test]
    public void ChunkedDeflateCompressedDatasetsAreRead()
    {
        // h5py writes large data sets chunked and often gzip-compressed; the reader must not depend on a contiguous layout.
        using var dir = new TempDir();
        H5Dataset Compressed(object data) => new(data, chunks: new uint[] { 2 },
            datasetCreation: new H5DatasetCreation(Filters: new List<H5Filter> { DeflateFilter.Id }));
        var path = Write(dir, Compressed(Times), Compressed(Units), Compressed(Labels));
        var set = HeidelbergSpikes.Read(path, new HeidelbergReadOptions { Start = 1, Count = 2 }).Events;
        Assert.That(set.Samples[0].Times, Is.EqualTo(new[] { 0.125 }));
        Assert.That(set.Samples[0].Channels, Is.EqualTo(new[] { 10 }));
        Assert.That(set.Labels, Is.EqualTo(new long[] { 19, 0 }));
    }

    [Test]
    public void HalfPrecisionTimesAreRead()
    {
        using var dir = new TempDir();
        // 0.5, 0.25 and 0.125 are exact in float16.
        var path = Write(dir, new[] { new[] { (Half)0.125f, (Half)0.5f }, new[] { (Half)0.25f } }, new[] { new byte[] { 1, 2 }, new byte[] { 3 } }, new byte[] { 0, 1 });
        var set = HeidelbergSpikes.Read(path).Events;
        Assert.That(set.Samples[0].Times, Is.EqualTo(new[] { 0.125, 0.5 }));
        Assert.That(set.Samples[1].Times, Is.EqualTo(new[] { 0.25 }));
        Assert.That(set.Samples[0].Channels, Is.EqualTo(new[] { 1, 2 }));
    }

    [Test]
    public void StartAndCountReadOnlyTheChosenRows()
    {
        using var dir = new TempDir();
        var data = HeidelbergSpikes.Read(Valid(dir), new HeidelbergReadOptions { Start = 1, Count = 2 });
        Assert.That(data.Events.Count, Is.EqualTo(2));
        Assert.That(data.Events.Samples[0].Times, Is.EqualTo(new[] { 0.125 }));
        Assert.That(data.Events.Samples[1].Count, Is.Zero);
        Assert.That(data.Events.Labels, Is.EqualTo(new long[] { 19, 0 }));
        Assert.That(data.Speakers, Is.EqualTo(new long[] { 4, 9 }));
        var e = Assert.Throws<ParameterException>(() => HeidelbergSpikes.Read(Valid(dir), new HeidelbergReadOptions { Start = 2, Count = 5 }))!;
        Assert.That((e.Group, e.Parameter), Is.EqualTo(("HeidelbergReadOptions", "Count")));
        Assert.That(e.Message, Does.Contain("2 + 5 = 7"), "the actual value is named");
        Assert.That(Assert.Throws<ParameterException>(() => HeidelbergSpikes.Read(Valid(dir), new HeidelbergReadOptions { Start = -1 }))!.Parameter, Is.EqualTo("Start"));
        Assert.That(Assert.Throws<ParameterException>(() => HeidelbergSpikes.Read(Valid(dir), new HeidelbergReadOptions { Start = 9 }))!.Parameter, Is.EqualTo("Start"));
        // Classes = 0 used to reach the label check and blame the file's labels ("expected a class in [0, 0)").
        var c = Assert.Throws<ParameterException>(() => HeidelbergSpikes.Read(Valid(dir), new HeidelbergReadOptions { Classes = 0 }))!;
        Assert.That((c.Group, c.Parameter), Is.EqualTo(("HeidelbergReadOptions", "Classes")));
        Assert.That(c.Message, Does.Contain("got 0"));
    }

    [Test]
    public void BinnedRasterHasOneAtEachHandComputedStep()
    {
        using var dir = new TempDir();
        var set = HeidelbergSpikes.Read(Valid(dir)).Events;
        // dt = 1 ms over 200 ms: t = 0 → step 0 (unit 3), t = 2.5 ms → step 2 (unit 699) of sample 0, t = 125 ms → step
        // 125 (unit 10 of sample 1); t = 0.5 s lies past the grid and is dropped.
        using var ls = set.ToLabeledSet(dt: 1e-3, duration: 0.2);
        Assert.That(ls.Inputs.shape, Is.EqualTo(new long[] { 3, 200, 700 }));
        Assert.That(ls.Inputs.sum().item<float>(), Is.EqualTo(3f));
        Assert.That(ls.Inputs[0, 0, 3].item<float>(), Is.EqualTo(1f));
        Assert.That(ls.Inputs[0, 2, 699].item<float>(), Is.EqualTo(1f));
        Assert.That(ls.Inputs[1, 125, 10].item<float>(), Is.EqualTo(1f));
        Assert.That(ls.Labels.data<long>().ToArray(), Is.EqualTo(new long[] { 7, 19, 0 }));
    }

    // ---- malformed-file catalogue: each names the file, the dataset path, the row where there is one, expected and found ----

    private static DataFormatException Bad(string path, HeidelbergReadOptions? options = null)
    {
        var e = Assert.Throws<DataFormatException>(() => HeidelbergSpikes.Read(path, options))!;
        Assert.That(e.File, Is.EqualTo(path));
        Assert.That(e.Message, Does.Contain(path));
        return e;
    }

    [Test]
    public void NotAnHdf5FileNamesTheRoot()
    {
        using var dir = new TempDir();
        var path = dir.File("text.h5");
        File.WriteAllText(path, "times,units\n0.1,3\n");
        var e = Bad(path);
        Assert.That(e.Field, Is.EqualTo("/"));
        Assert.That(e.Message, Does.Contain("HDF5"));
    }

    [Test]
    public void TruncatedFileIsReportedNotCrashed()
    {
        using var dir = new TempDir();
        var path = Valid(dir);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Bad(path);
    }

    [Test]
    public void MissingDatasetIsNamed()
    {
        using var dir = new TempDir();
        var path = dir.File("nolabels.h5");
        new H5File { ["spikes"] = new H5Group { ["times"] = Times, ["units"] = Units } }.Write(path);
        var e = Bad(path);
        Assert.That(e.Field, Is.EqualTo("/labels"));
        Assert.That(e.Message, Does.Contain("found nothing"));
    }

    [Test]
    public void FixedShapeTimesAreNotVariableLengthArrays()
    {
        using var dir = new TempDir();
        var e = Bad(Write(dir, new float[] { 0.1f, 0.2f, 0.3f }, Units, Labels));
        Assert.That(e.Field, Is.EqualTo("/spikes/times"));
        Assert.That(e.Message, Does.Contain("variable-length arrays of floats").And.Contain("FloatingPoint"));
    }

    [Test]
    public void TwoDimensionalLabelsAreTheWrongShape()
    {
        using var dir = new TempDir();
        var e = Bad(Write(dir, Times, Units, new ushort[,] { { 1, 2, 3 }, { 4, 5, 6 } }));
        Assert.That(e.Field, Is.EqualTo("/labels"));
        Assert.That(e.Message, Does.Contain("1-D").And.Contain("[2, 3]"));
    }

    [Test]
    public void FloatLabelsAreNotIntegers()
    {
        using var dir = new TempDir();
        var e = Bad(Write(dir, Times, Units, new float[] { 1, 2, 3 }));
        Assert.That(e.Field, Is.EqualTo("/labels"));
        Assert.That(e.Message, Does.Contain("expected integers").And.Contain("FloatingPoint"));
    }

    [Test]
    public void RowCountsMustAgree()
    {
        using var dir = new TempDir();
        var e = Bad(Write(dir, Times, Units[..2], Labels));
        Assert.That((e.Field, e.Row), Is.EqualTo(("/spikes/units", (long?)null)));
        Assert.That(e.Message, Does.Contain("(3)").And.Contain("found 2"));
        e = Bad(Write(dir, Times, Units, new ushort[] { 1, 2, 3, 4 }, name: "labels.h5"));
        Assert.That(e.Field, Is.EqualTo("/labels"));
        Assert.That(e.Message, Does.Contain("(3)").And.Contain("found 4"));
    }

    [Test]
    public void ARowWithMoreTimesThanUnitsIsNamed()
    {
        using var dir = new TempDir();
        var units = new[] { Units[0], new ushort[] { 10, 11 }, Units[2] };
        var e = Bad(Write(dir, Times, units, Labels));
        Assert.That((e.Field, e.Row), Is.EqualTo(("/spikes/units", (long?)1)));
        Assert.That(e.Message, Does.Contain("(1)").And.Contain("found 2"));
    }

    [Test]
    public void UnitOutOfRangeIsNamedWithItsRow()
    {
        using var dir = new TempDir();
        var units = new[] { Units[0], new ushort[] { 700 }, Units[2] };
        var e = Bad(Write(dir, Times, units, Labels));
        Assert.That((e.Field, e.Row), Is.EqualTo(("/spikes/units", (long?)1)));
        Assert.That(e.Message, Does.Contain("[0, 700)").And.Contain("found 700"));
        // A smaller declared channel count makes unit 699 of row 0 the first one out of range.
        e = Bad(Write(dir, Times, Units, Labels, name: "ok.h5"), new HeidelbergReadOptions { Channels = 100 });
        Assert.That((e.Field, e.Row), Is.EqualTo(("/spikes/units", (long?)0)));
        Assert.That(e.Message, Does.Contain("found 699"));
    }

    [TestCase(-0.5f, "found -0.5")]
    [TestCase(float.NaN, "found NaN")]
    public void NegativeOrNaNTimeIsNamedWithItsRow(float bad, string found)
    {
        using var dir = new TempDir();
        var times = new[] { Times[0], new[] { bad }, Times[2] };
        var e = Bad(Write(dir, times, Units, Labels));
        Assert.That((e.Field, e.Row), Is.EqualTo(("/spikes/times", (long?)1)));
        Assert.That(e.Message, Does.Contain(found).And.Contain(">= 0"));
    }

    [Test]
    public void TimesOutOfOrderAreRejectedOnlyWhenSortingIsRequired()
    {
        using var dir = new TempDir();
        var times = new[] { new[] { 0.3f, 0.1f, 0.5f }, Times[1], Times[2] };
        var path = Write(dir, times, Units, Labels);
        Assert.That(HeidelbergSpikes.Read(path).Events.Samples[0].Times[1], Is.EqualTo(0.1).Within(1e-7), "binning does not need sorted times");
        var e = Bad(path, new HeidelbergReadOptions { RequireSortedTimes = true });
        Assert.That((e.Field, e.Row), Is.EqualTo(("/spikes/times", (long?)0)));
        Assert.That(e.Message, Does.Contain("spike 1").And.Contain("non-decreasing"));
    }

    [Test]
    public void LabelOutOfTheDeclaredClassesIsNamedWithItsRow()
    {
        using var dir = new TempDir();
        var e = Bad(Valid(dir), new HeidelbergReadOptions { Classes = 10 });
        Assert.That((e.Field, e.Row), Is.EqualTo(("/labels", (long?)1)), "label 7 of row 0 is a class < 10; 19 of row 1 is not");
        Assert.That(e.Message, Does.Contain("[0, 10)").And.Contain("found 19"));
        e = Bad(Write(dir, Times, Units, new[] { 1, -2, 3 }, name: "neg.h5"));
        Assert.That((e.Field, e.Row), Is.EqualTo(("/labels", (long?)1)));
        Assert.That(e.Message, Does.Contain("found -2"));
    }
}
