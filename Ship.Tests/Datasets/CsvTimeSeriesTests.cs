using System.IO.Compression;
using NUnit.Framework;
using Ship.Datasets;
using Ship.Datasets.Readers;
using static TorchSharp.torch;

namespace Ship.Tests.Datasets;

public class CsvTimeSeriesTests
{
    private const string Sample =
        "time,ecg,resp,label\n" +
        "0.000,0.5,-1.25,0\n" +
        "0.001,0.75,-1.5,0\n" +
        "0.002,1e-3,2,1\n";

    private static string Write(TempDir dir, string text, string name = "series.csv")
    {
        var p = dir.File(name);
        File.WriteAllText(p, text);
        return p;
    }

    [Test]
    public void ColumnsByNameBecomeChannelsInGivenOrder()
    {
        using var dir = new TempDir();
        var path = Write(dir, Sample);
        using var ts = CsvTimeSeries.Read(path, new CsvTimeSeriesOptions { Columns = new[] { "resp", "ecg" }, LabelColumn = "label" });
        Assert.That(ts.Values.shape, Is.EqualTo(new long[] { 3, 2 }));
        Assert.That(ts.Channels, Is.EqualTo(new[] { "resp", "ecg" }));
        Assert.That(ts.Values.data<float>().ToArray(), Is.EqualTo(new[] { -1.25f, 0.5f, -1.5f, 0.75f, 2f, 1e-3f }));
        Assert.That(ts.Labels!.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 0, 1 }));
        Assert.That(ts.Steps, Is.EqualTo(3));
    }

    [Test]
    public void DefaultChannelsAreAllColumnsButTheLabel()
    {
        using var dir = new TempDir();
        var path = Write(dir, Sample);
        using var ts = CsvTimeSeries.Read(path, new CsvTimeSeriesOptions { LabelColumnIndex = 3, DType = ScalarType.Float64 });
        Assert.That(ts.Channels, Is.EqualTo(new[] { "time", "ecg", "resp" }));
        Assert.That(ts.Values[2, 0].item<double>(), Is.EqualTo(0.002));
    }

    [Test]
    public void NoHeaderSelectsByIndexAndReadsGzip()
    {
        using var dir = new TempDir();
        var path = dir.File("plain.csv.gz");
        using (var f = File.Create(path))
        using (var gz = new GZipStream(f, CompressionLevel.Optimal))
        using (var w = new StreamWriter(gz))
            w.Write("1;2;3\n4;5;6\n");
        using var ts = CsvTimeSeries.Read(path, new CsvTimeSeriesOptions { HasHeader = false, Separator = ';', ColumnIndices = new[] { 2, 0 } });
        Assert.That(ts.Values.data<float>().ToArray(), Is.EqualTo(new[] { 3f, 1f, 6f, 4f }));
        Assert.That(ts.Labels, Is.Null);
        Assert.That(ts.Channels, Is.EqualTo(new[] { "column 2", "column 0" }));
    }

    [Test]
    public void MissingColumnNameNamesFileAndHeaderLine()
    {
        using var dir = new TempDir();
        var path = Write(dir, Sample);
        var e = Assert.Throws<DataFormatException>(() => CsvTimeSeries.Read(path, new CsvTimeSeriesOptions { Columns = new[] { "ecg", "spo2" } }))!;
        Assert.That(e.File, Is.EqualTo(path));
        Assert.That(e.Line, Is.EqualTo(1));
        Assert.That(e.Message, Does.Contain(path).And.Contain("line 1").And.Contain("'spo2'"));
    }

    [Test]
    public void ColumnIndexOutOfRangeIsReported()
    {
        using var dir = new TempDir();
        var path = Write(dir, Sample);
        var e = Assert.Throws<DataFormatException>(() => CsvTimeSeries.Read(path, new CsvTimeSeriesOptions { ColumnIndices = new[] { 1, 4 } }))!;
        Assert.That(e.Message, Does.Contain("index 4").And.Contain("4 column(s)"));
    }

    [Test]
    public void WrongFieldCountNamesTheLine()
    {
        using var dir = new TempDir();
        // line 4 has one field too few; the blank line 3 counts as a line of the file.
        var path = Write(dir, "a,b\n1,2\n\n3\n5,6\n");
        var e = Assert.Throws<DataFormatException>(() => CsvTimeSeries.Read(path))!;
        Assert.That(e.File, Is.EqualTo(path));
        Assert.That(e.Line, Is.EqualTo(4));
        Assert.That(e.Message, Does.Contain("line 4").And.Contain("1 field(s)").And.Contain("header has 2"));
    }

    [Test]
    public void NonNumericFieldNamesLineColumnAndValue()
    {
        using var dir = new TempDir();
        var path = Write(dir, "a,b\n1,2\n3,4\n5,n/a\n");
        var e = Assert.Throws<DataFormatException>(() => CsvTimeSeries.Read(path))!;
        Assert.That(e.Line, Is.EqualTo(4));
        Assert.That(e.Message, Does.Contain("column 1 ('b')").And.Contain("'n/a'"));
    }

    [Test]
    public void NonIntegerLabelIsRejected()
    {
        using var dir = new TempDir();
        var path = Write(dir, "x,y\n1,0\n2,0.5\n");
        var e = Assert.Throws<DataFormatException>(() => CsvTimeSeries.Read(path, new CsvTimeSeriesOptions { LabelColumn = "y" }))!;
        Assert.That(e.Line, Is.EqualTo(3));
        Assert.That(e.Message, Does.Contain("not an integer label"));
    }

    [Test]
    public void HeaderOnlyFileHasNoDataRows()
    {
        using var dir = new TempDir();
        var path = Write(dir, "a,b\n");
        var e = Assert.Throws<DataFormatException>(() => CsvTimeSeries.Read(path))!;
        Assert.That(e.Message, Does.Contain("no data rows"));
    }

    [Test]
    public void NamesWithoutHeaderAreAConfigurationError()
    {
        using var dir = new TempDir();
        var path = Write(dir, "1,2\n");
        Assert.Throws<ArgumentException>(() => CsvTimeSeries.Read(path, new CsvTimeSeriesOptions { HasHeader = false, Columns = new[] { "a" } }));
    }
}
