using System.Globalization;
using CsvHelper;
using NUnit.Framework;
using OxyPlot;
using OxyPlot.Series;
using Ship.Plots;

namespace Ship.Tests.Plots;

/// <summary>Checks shared by the plot tests: files exist and are what they claim, and the CSV can be read back.</summary>
internal static class PlotAssert
{
    private static readonly byte[] PngSignature = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };

    /// <summary>One folder per test run; deleted afterwards unless SHIP_KEEP_PLOTS=1 (to look at the images).</summary>
    public static readonly string Root = Path.Combine(Path.GetTempPath(), "ship-plots-tests", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss") + "-" + Guid.NewGuid().ToString("N")[..6]);

    public static string NewFolder(string test)
    {
        var dir = Path.Combine(Root, test);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>PNG starts with its 8-byte signature and has more than a header; SVG is an svg document; all three named as asked.</summary>
    public static void FilesWritten(FigureFiles f, string folder, string name)
    {
        Assert.That(f.Png, Is.EqualTo(Path.Combine(folder, name + ".png")));
        Assert.That(f.Svg, Is.EqualTo(Path.Combine(folder, name + ".svg")));
        Assert.That(f.Csv, Is.EqualTo(Path.Combine(folder, name + ".csv")));
        var png = File.ReadAllBytes(f.Png);
        Assert.That(png.Length, Is.GreaterThan(1000), "a rendered PNG is more than a header");
        Assert.That(png.Take(8).ToArray(), Is.EqualTo(PngSignature), "PNG signature");
        var svg = File.ReadAllText(f.Svg);
        Assert.That(svg, Does.Contain("<svg"));
        Assert.That(svg, Does.Contain("</svg>"));
    }

    /// <summary>The CSV as header + rows of strings, read with CsvHelper (quotes and commas handled).</summary>
    public static (string[] Header, List<string[]> Rows) ReadCsv(string path)
    {
        using var csv = CsvReader.FromFile(path);
        var header = csv.Headers.ToArray();
        var rows = new List<string[]>();
        while (csv.Read())
        {
            Assert.That(csv.FieldCount, Is.EqualTo(header.Length), "every row has as many fields as the header");
            rows.Add(Enumerable.Range(0, header.Length).Select(i => csv.GetString(i)).ToArray());
        }
        return (header, rows);
    }

    public static double D(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>Column c of every row as doubles.</summary>
    public static double[] Column(List<string[]> rows, int c) => rows.Select(r => D(r[c])).ToArray();

    /// <summary>The data points of a line series, as (x, y).</summary>
    public static (double X, double Y)[] Points(LineSeries s) => s.Points.Select(p => (p.X, p.Y)).ToArray();

    /// <summary>Plain line series only (AreaSeries derives from LineSeries, so OfType would include the bands).</summary>
    public static LineSeries[] Lines(PlotModel m) => m.Series.Where(s => s.GetType() == typeof(LineSeries)).Cast<LineSeries>().ToArray();

    /// <summary>Mean and sample std (n − 1) computed here, independently of the library.</summary>
    public static (double Mean, double Std) MeanStd(IReadOnlyList<double> v)
    {
        double m = v.Sum() / v.Count;
        double ss = v.Sum(x => (x - m) * (x - m));
        return (m, v.Count > 1 ? Math.Sqrt(ss / (v.Count - 1)) : 0);
    }

    public static T[] SeriesOf<T>(PlotModel m) where T : Series => m.Series.OfType<T>().ToArray();
}

[SetUpFixture]
public class PlotFolderCleanup
{
    [OneTimeTearDown]
    public void RemoveOutputs()
    {
        if (Environment.GetEnvironmentVariable("SHIP_KEEP_PLOTS") == "1") { TestContext.Progress.WriteLine($"plots kept in {PlotAssert.Root}"); return; }
        if (Directory.Exists(PlotAssert.Root)) Directory.Delete(PlotAssert.Root, recursive: true);
    }
}
