using NUnit.Framework;
using OxyPlot.Axes;
using OxyPlot.Series;
using Ship.Plots;
using SkiaSharp;
using TorchSharp;
using static Ship.Tests.Plots.PlotAssert;

namespace Ship.Tests.Plots;

public class GenericPlotTests
{
    [Test]
    public void LinesWriteAllFilesAndCsvHoldsThePlottedPoints()
    {
        var dir = NewFolder("lines");
        var x = Enumerable.Range(0, 30).Select(i => i * 0.1).ToArray();
        var a = new LineData("sin", x, x.Select(Math.Sin).ToArray());
        var b = new LineData("cos", x, x.Select(v => Math.Cos(v) / 3).ToArray());
        var f = LinePlots.Lines(dir, "two", new[] { a, b }, "Phase (rad)", "Amplitude (a.u.)");

        FilesWritten(f, dir, "two");
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "series", "x", "y" }));
        Assert.That(rows, Has.Count.EqualTo(60));
        var lines = Lines(f.Model);
        Assert.That(lines.Select(l => l.Title), Is.EqualTo(new[] { "sin", "cos" }));
        foreach (var (line, data) in lines.Zip(new[] { a, b }))
        {
            var csv = rows.Where(r => r[0] == data.Label).Select(r => (D(r[1]), D(r[2]))).ToArray();
            Assert.That(csv, Is.EqualTo(Points(line)), "CSV = plotted points");
            Assert.That(csv, Is.EqualTo(data.X.Zip(data.Y).ToArray()), "CSV = input data (round-trip doubles)");
        }
        Assert.That(f.Model.Legends, Has.Count.EqualTo(1), "several series get a legend");
        Assert.That(f.Model.Axes.Select(ax => ax.Title), Is.EquivalentTo(new[] { "Phase (rad)", "Amplitude (a.u.)" }));
    }

    [Test]
    public void OneSeriesHasNoLegend()
    {
        var dir = NewFolder("one");
        var f = LinePlots.Lines(dir, "one", new[] { new LineData("y", new[] { 1.0, 2, 3 }, new[] { 2.0, 1, 3 }) }, "x (s)", "y (V)");
        Assert.That(f.Model.Legends, Is.Empty);
    }

    [Test]
    public void BandsShowMeanAndStdOverRunsOnLogAxis()
    {
        var dir = NewFolder("bands");
        var rng = new Random(5);
        var x = new[] { 1e-3, 1e-2, 1e-1, 1, 10 };
        var runsA = Enumerable.Range(0, 6).Select(_ => (IReadOnlyList<double>)x.Select(v => Math.Log10(v) + rng.NextDouble()).ToArray()).ToArray();
        var runsB = Enumerable.Range(0, 4).Select(_ => (IReadOnlyList<double>)x.Select(v => -Math.Log10(v) + rng.NextDouble()).ToArray()).ToArray();
        var sets = new[] { BandData.FromRuns("A", x, runsA), BandData.FromRuns("B", x, runsB) };
        var f = LinePlots.Bands(dir, "bands", sets, "Time (s)", "Value (a.u.)", Spread.Std, logX: true);

        FilesWritten(f, dir, "bands");
        Assert.That(f.Model.Axes.Single(ax => ax.Position == AxisPosition.Bottom), Is.TypeOf<LogarithmicAxis>());
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "series", "x", "mean", "lower", "upper", "n" }));
        var areas = SeriesOf<AreaSeries>(f.Model);
        var lines = Lines(f.Model);
        for (int k = 0; k < 2; k++)
        {
            var runs = k == 0 ? runsA : runsB;
            var mine = rows.Where(r => r[0] == sets[k].Label).ToList();
            Assert.That(mine, Has.Count.EqualTo(x.Length));
            for (int i = 0; i < x.Length; i++)
            {
                var (m, s) = MeanStd(runs.Select(r => r[i]).ToArray());
                Assert.That(D(mine[i][1]), Is.EqualTo(x[i]));
                Assert.That(D(mine[i][2]), Is.EqualTo(m).Within(1e-12));
                Assert.That(D(mine[i][3]), Is.EqualTo(m - s).Within(1e-12));
                Assert.That(D(mine[i][4]), Is.EqualTo(m + s).Within(1e-12));
                Assert.That(int.Parse(mine[i][5]), Is.EqualTo(runs.Length));
                // Same numbers in the drawing as in the CSV, exactly.
                Assert.That(lines[k].Points[i].Y, Is.EqualTo(D(mine[i][2])));
                Assert.That(areas[k].Points[i].Y, Is.EqualTo(D(mine[i][4])));
                Assert.That(areas[k].Points2[i].Y, Is.EqualTo(D(mine[i][3])));
                Assert.That(areas[k].Points[i].X, Is.EqualTo(x[i]));
            }
        }
    }

    [Test]
    public void MinMaxAndStdErrSpreads()
    {
        var dir = NewFolder("spread");
        var runs = new IReadOnlyList<double>[] { new[] { 1.0, 5 }, new[] { 3.0, 2 }, new[] { 2.0, 8 } };
        var mm = ReadCsv(LinePlots.Band(dir, "mm", "s", new[] { 0.0, 1 }, runs, "x (1)", "y (1)", Spread.MinMax).Csv).Rows;
        Assert.That(Column(mm, 3), Is.EqualTo(new[] { 1.0, 2 }));
        Assert.That(Column(mm, 4), Is.EqualTo(new[] { 3.0, 8 }));
        var se = ReadCsv(LinePlots.Band(dir, "se", "s", new[] { 0.0, 1 }, runs, "x (1)", "y (1)", Spread.StdErr).Csv).Rows;
        var (m, s) = MeanStd(new[] { 5.0, 2, 8 });
        Assert.That(D(se[1][4]), Is.EqualTo(m + s / Math.Sqrt(3)).Within(1e-12));
    }

    [Test]
    public void LogAxisRejectsNonPositiveX()
    {
        var dir = NewFolder("logx");
        Assert.Throws<ArgumentException>(() =>
            LinePlots.Lines(dir, "bad", new[] { new LineData("y", new[] { 0.0, 1 }, new[] { 1.0, 2 }) }, "x (s)", "y", logX: true));
    }

    [Test]
    public void HeatmapCsvAndCellsEqualTheMatrix()
    {
        var dir = NewFolder("heat");
        var w = torch.randn(new long[] { 5, 3 }, generator: new torch.Generator(11), dtype: torch.ScalarType.Float64);
        var f = MatrixPlots.Heatmap(dir, "w", w);

        FilesWritten(f, dir, "w");
        var expected = w.data<double>().ToArray();
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "source", "target", "value" }));
        Assert.That(rows, Has.Count.EqualTo(15));
        var hm = SeriesOf<HeatMapSeries>(f.Model).Single();
        foreach (var r in rows)
        {
            int i = int.Parse(r[0]), j = int.Parse(r[1]);
            Assert.That(D(r[2]), Is.EqualTo(expected[i * 3 + j]), "CSV = matrix");
            Assert.That(hm.Data[j, i], Is.EqualTo(D(r[2])), "drawn cell = CSV");
        }
        var color = f.Model.Axes.OfType<LinearColorAxis>().Single();
        double lim = expected.Max(Math.Abs);
        Assert.That((color.Minimum, color.Maximum), Is.EqualTo((-lim, lim)), "signed weights: scale symmetric about 0");
    }

    [Test]
    public void LargeHeatmapIsOneImageInTheSvg()
    {
        var dir = NewFolder("bigheat");
        var w = torch.rand(new long[] { 200, 150 }, generator: new torch.Generator(2), dtype: torch.ScalarType.Float64);
        var f = MatrixPlots.Heatmap(dir, "big", w);
        FilesWritten(f, dir, "big");
        Assert.That(SeriesOf<HeatMapSeries>(f.Model).Single().RenderMethod, Is.EqualTo(HeatMapRenderMethod.Bitmap));
        Assert.That(File.ReadAllText(f.Svg), Does.Contain("<image"), "embedded raster, not 30,000 rectangles");
        var rows = ReadCsv(f.Csv).Rows;
        Assert.That(rows, Has.Count.EqualTo(200 * 150));
        Assert.That(Column(rows, 2), Is.EqualTo(w.data<double>().ToArray()), "row-major values");
        var color = f.Model.Axes.OfType<LinearColorAxis>().Single();
        Assert.That(double.IsNaN(color.Minimum), "non-negative weights: automatic (viridis) scale, not a symmetric one");
    }

    [Test]
    public void SaveWritesAHandMadeModelWithItsCsv()
    {
        var dir = NewFolder("custom");
        var m = Figure.NewModel(new PlotOptions(400, 300, "custom"));
        m.Axes.Add(Figure.Linear(OxyPlot.Axes.AxisPosition.Bottom, "x (m)"));
        m.Axes.Add(Figure.Linear(OxyPlot.Axes.AxisPosition.Left, "y (m)"));
        var s = new LineSeries();
        s.Points.Add(new OxyPlot.DataPoint(0.1, 1.0 / 3));
        s.Points.Add(new OxyPlot.DataPoint(0.2, Math.PI));
        m.Series.Add(s);
        var f = Figure.Save(m, dir, "custom", new[] { "x", "y" }, s.Points.Select(p => new object[] { p.X, p.Y }), new PlotOptions(400, 300));
        FilesWritten(f, dir, "custom");
        using var bmp = SKBitmap.Decode(f.Png);
        Assert.That((bmp.Width, bmp.Height), Is.EqualTo((400, 300)));
        var rows = ReadCsv(f.Csv).Rows;
        Assert.That(Column(rows, 1), Is.EqualTo(new[] { 1.0 / 3, Math.PI }), "doubles round-trip exactly");
        Assert.That(m.DefaultFont, Is.Not.EqualTo(Figure.SvgFont), "the model's font is restored after saving");
    }

    [Test]
    public void TrainingCurveHasLossAndAccuracyOnTwoAxes()
    {
        var dir = NewFolder("train");
        var loss = Enumerable.Range(0, 40).Select(i => 2.3 * Math.Exp(-i / 10.0)).ToArray();
        var acc = new[] { 0.3, 0.55, 0.7, 0.78 };
        var accX = new[] { 10.0, 20, 30, 40 };
        var f = TrainingPlots.Curve(dir, "curve", loss, acc, accuracyX: accX, xTitle: "Batch");

        FilesWritten(f, dir, "curve");
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "series", "x", "value" }));
        var lossRows = rows.Where(r => r[0] == "loss").ToList();
        var accRows = rows.Where(r => r[0] == "accuracy").ToList();
        Assert.That(Column(lossRows, 2), Is.EqualTo(loss));
        Assert.That(Column(lossRows, 1), Is.EqualTo(Enumerable.Range(1, 40).Select(i => (double)i)));
        Assert.That(Column(accRows, 1), Is.EqualTo(accX));
        Assert.That(Column(accRows, 2), Is.EqualTo(acc));
        var lines = Lines(f.Model);
        Assert.That(lines[0].Points.Select(p => p.Y), Is.EqualTo(loss));
        Assert.That(lines[1].Points.Select(p => (p.X, p.Y)), Is.EqualTo(accX.Zip(acc)));
        Assert.That(lines[1].YAxisKey, Is.EqualTo("acc"));
        Assert.That(f.Model.Axes.Single(a => a.Key == "acc").Position, Is.EqualTo(AxisPosition.Right));
    }

    [Test]
    public void AccuracyVsLevelsHasMeanAndStdErrorBars()
    {
        var dir = NewFolder("levels");
        var levels = new[] { 2, 4, 8, 16 };
        var acc = new IReadOnlyList<double>[] { new[] { 0.5, 0.6, 0.55 }, new[] { 0.8, 0.82, 0.78 }, new[] { 0.9, 0.91, 0.93 }, new[] { 0.95, 0.94, 0.96 } };
        var f = TrainingPlots.AccuracyVsLevels(dir, "levels", levels, acc);

        FilesWritten(f, dir, "levels");
        Assert.That(f.Model.Axes.Single(a => a.Position == AxisPosition.Bottom), Is.TypeOf<LogarithmicAxis>());
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "series", "levels", "mean", "lower", "upper", "n" }));
        var bars = SeriesOf<ScatterErrorSeries>(f.Model).Single();
        var line = Lines(f.Model).Single();
        for (int i = 0; i < levels.Length; i++)
        {
            var (m, s) = MeanStd(acc[i]);
            Assert.That(D(rows[i][1]), Is.EqualTo(levels[i]));
            Assert.That(D(rows[i][2]), Is.EqualTo(m).Within(1e-12));
            Assert.That(D(rows[i][3]), Is.EqualTo(m - s).Within(1e-12));
            Assert.That(D(rows[i][4]), Is.EqualTo(m + s).Within(1e-12));
            Assert.That(line.Points[i].Y, Is.EqualTo(D(rows[i][2])));
            var p = bars.Points[i];
            // OxyPlot draws ErrorY as ±ErrorY/2 (ScatterErrorSeries.Render); DrawnGeometryTests checks the drawn bar itself.
            Assert.That(p.Y - p.ErrorY / 2, Is.EqualTo(D(rows[i][3])).Within(1e-15), "bar bottom = lower");
            Assert.That(p.Y + p.ErrorY / 2, Is.EqualTo(D(rows[i][4])).Within(1e-15), "bar top = upper");
        }
    }

    [Test]
    public void AccuracyVsTimeIsABandOnLogTime()
    {
        var dir = NewFolder("acctime");
        var t = new[] { 1.0, 10, 100, 1e3, 1e4 };
        var acc = t.Select(v => (IReadOnlyList<double>)new[] { 0.9 - 0.02 * Math.Log10(v), 0.92 - 0.03 * Math.Log10(v) }).ToArray();
        var f = TrainingPlots.AccuracyVsTime(dir, "acc", t, acc);

        FilesWritten(f, dir, "acc");
        Assert.That(f.Model.Axes.Single(a => a.Position == AxisPosition.Bottom), Is.TypeOf<LogarithmicAxis>());
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header[1], Is.EqualTo("time_s"));
        Assert.That(Column(rows, 1), Is.EqualTo(t));
        Assert.That(Column(rows, 2), Is.EqualTo(Lines(f.Model).Single().Points.Select(p => p.Y)));
        for (int i = 0; i < t.Length; i++) Assert.That(D(rows[i][2]), Is.EqualTo((acc[i][0] + acc[i][1]) / 2).Within(1e-12));
    }

    [Test]
    public void PngTextIsRendered()
    {
        // Fails on a machine without any font file (install fonts-dejavu-core): then PNGs have no text.
        Assert.That(Figure.PngFont, Is.Not.Null, "no font found: apt-get install fonts-dejavu-core");
        var dir = NewFolder("text");
        var x = new[] { 1.0, 2 };
        // Same layout, different glyphs: with a working font the two images differ in the title band, without one they are identical.
        var wide = LinePlots.Lines(dir, "wide", new[] { new LineData("a", x, x) }, "", "", options: new PlotOptions(Title: "WWWWWWWWWWWW"));
        var thin = LinePlots.Lines(dir, "thin", new[] { new LineData("a", x, x) }, "", "", options: new PlotOptions(Title: "iiiiiiiiiiii"));
        Assert.That(wide.PngHasText && thin.PngHasText);
        using var a = SKBitmap.Decode(wide.Png);
        using var b = SKBitmap.Decode(thin.Png);
        Assert.That((a.Width, a.Height), Is.EqualTo((800, 500)));
        int differ = 0, dark = 0;
        for (int y = 0; y < 40; y++)
            for (int xx = 0; xx < a.Width; xx++)
            {
                if (a.GetPixel(xx, y) != b.GetPixel(xx, y)) differ++;
                if (a.GetPixel(xx, y).Red < 100) dark++;
            }
        Assert.That(differ, Is.GreaterThan(100), "the title glyphs are drawn");
        Assert.That(dark, Is.GreaterThan(100), "dark text on the white background");
    }

    [Test]
    public void SaveRejectsBadNamesAndSizes()
    {
        var dir = NewFolder("bad");
        var m = Figure.NewModel();
        Assert.Throws<ArgumentException>(() => Figure.Save(m, dir, "a/b", new[] { "x" }, Array.Empty<object[]>()));
        Assert.Throws<ArgumentException>(() => Figure.Save(m, dir, "ok", new[] { "x" }, Array.Empty<object[]>(), new PlotOptions(0, 10)));
        Assert.Throws<ArgumentException>(() => Figure.Save(m, dir, "rows", new[] { "x", "y" }, new[] { new object[] { 1.0 } }));
    }

    [Test]
    public void MarkXAndRedrawChangeTheImagesButNotTheCsv()
    {
        var dir = NewFolder("redraw");
        var x = new[] { 0.0, 10, 20, 30 };
        var f = LinePlots.Lines(dir, "marked", new[] { new LineData("u", x, new[] { 0.0, 1, 0.5, 0.2 }) }, "Time (ms)", "u (a.u.)");
        var csvBefore = File.ReadAllBytes(f.Csv);
        var svgBefore = File.ReadAllText(f.Svg);

        Figure.MarkX(f.Model, new[] { 12.5, 25.0 }, new[] { "dt = 0.1 ms", "dt = 1 ms" });
        var g = Figure.Redraw(f);

        FilesWritten(g, dir, "marked");
        Assert.That(File.ReadAllBytes(g.Csv), Is.EqualTo(csvBefore), "decorations leave the plotted numbers alone");
        var marks = f.Model.Annotations.OfType<OxyPlot.Annotations.LineAnnotation>().ToArray();
        Assert.That(marks.Select(m => m.X), Is.EqualTo(new[] { 12.5, 25.0 }));
        Assert.That(marks.All(m => m.Type == OxyPlot.Annotations.LineAnnotationType.Vertical));
        var svg = File.ReadAllText(g.Svg);
        Assert.That(svg, Is.Not.EqualTo(svgBefore));
        Assert.That(svg, Does.Contain("dt = 0.1 ms").And.Contain("dt = 1 ms"), "labels are drawn");
        Assert.Throws<ArgumentException>(() => Figure.MarkX(f.Model, new[] { 1.0 }, new[] { "a", "b" }));
        Assert.Throws<ArgumentException>(() => Figure.MarkX(f.Model, new[] { double.NaN }));
    }
}
