using NUnit.Framework;
using Ship.Plots;
using static Ship.Tests.Plots.PlotAssert;

namespace Ship.Tests.Plots;

/// <summary>
/// Every figure type with error bars or spread bands: the geometry drawn in the SVG, converted back to data values
/// through the axis's own tick labels, spans exactly the [lower, upper] of the CSV row (to a twentieth of a pixel).
/// </summary>
public class DrawnGeometryTests
{
    private const double PixelTolerance = 0.05;

    private static IReadOnlyList<double>[] Samples(int points, int perPoint, double centre, double scale, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, points).Select(i =>
            (IReadOnlyList<double>)Enumerable.Range(0, perPoint).Select(_ => centre + i * scale * 0.3 + scale * (rng.NextDouble() - 0.5)).ToArray()).ToArray();
    }

    /// <summary>Checks the bands of an SVG against CSV rows grouped per set (in drawing order) with lower/upper at the given columns.</summary>
    private static void BandsMatch(FigureFiles f, IReadOnlyList<string> sets, int setColumn, int lowerColumn, int upperColumn, double csvToAxis = 1)
    {
        var svg = SvgGeometry.Read(f.Svg);
        var (toValue, perPixel) = svg.LeftAxis();
        var polygons = svg.FilledPolygons();
        Assert.That(polygons, Has.Count.EqualTo(sets.Count), "one band per set");
        var rows = ReadCsv(f.Csv).Rows;
        AllInsideTheAxis(f, rows.SelectMany(r => new[] { D(r[lowerColumn]) * csvToAxis, D(r[upperColumn]) * csvToAxis }));
        for (int k = 0; k < sets.Count; k++)
        {
            var mine = rows.Where(r => setColumn < 0 || r[setColumn] == sets[k]).ToList();
            var columns = SvgGeometry.Columns(polygons[k], toValue);
            Assert.That(columns, Has.Count.EqualTo(mine.Count), $"{sets[k]}: one band column per CSV row");
            for (int i = 0; i < mine.Count; i++)
            {
                Assert.That(columns[i].Low, Is.EqualTo(D(mine[i][lowerColumn]) * csvToAxis).Within(PixelTolerance * perPixel), $"{sets[k]} row {i}: band bottom = lower");
                Assert.That(columns[i].High, Is.EqualTo(D(mine[i][upperColumn]) * csvToAxis).Within(PixelTolerance * perPixel), $"{sets[k]} row {i}: band top = upper");
            }
        }
    }

    /// <summary>The plot area shows every band and bar end: none is clipped by the axis range.</summary>
    private static void AllInsideTheAxis(FigureFiles f, IEnumerable<double> values)
    {
        var axis = f.Model.Axes.Single(a => a.Position == OxyPlot.Axes.AxisPosition.Left);
        foreach (var v in values)
            Assert.That(v, Is.InRange(axis.ActualMinimum, axis.ActualMaximum), $"{v} is inside the drawn axis [{axis.ActualMinimum}, {axis.ActualMaximum}]");
    }

    [TestCase(Spread.Std)]
    [TestCase(Spread.MinMax)]
    [TestCase(Spread.StdErr)]
    public void AccuracyVsLevelsErrorBarsSpanExactlyLowerToUpper(Spread spread)
    {
        var dir = NewFolder($"geom-levels-{spread}");
        var levels = new[] { 2.0, 4, 8, 16, 32 };
        var sets = new[]
        {
            new BandData("plain", levels, Samples(5, 4, 0.3, 0.2, 1)),
            new BandData("hardware-aware", levels, Samples(5, 5, 0.5, 0.15, 2)),
        };
        var f = TrainingPlots.AccuracyVsLevels(dir, "levels", sets, spread);
        var svg = SvgGeometry.Read(f.Svg);
        var (toValue, perPixel) = svg.LeftAxis();
        var bars = svg.VerticalBarsByColour(1.5);
        Assert.That(bars, Has.Count.EqualTo(2), "one colour of error bars per set");
        var rows = ReadCsv(f.Csv).Rows;
        AllInsideTheAxis(f, rows.SelectMany(r => new[] { D(r[3]), D(r[4]) }));
        for (int k = 0; k < sets.Length; k++)
        {
            var mine = rows.Where(r => r[0] == sets[k].Label).ToList();
            var drawn = bars[k].OrderBy(b => b.Points[0].X).ToList();
            Assert.That(drawn, Has.Count.EqualTo(mine.Count), $"{sets[k].Label}: one bar per CSV row");
            for (int i = 0; i < mine.Count; i++)
            {
                double lo = drawn[i].Points.Min(p => toValue(p.Y)), hi = drawn[i].Points.Max(p => toValue(p.Y));
                Assert.That(lo, Is.EqualTo(D(mine[i][3])).Within(PixelTolerance * perPixel), $"{sets[k].Label} at {levels[i]} levels: bar bottom = lower");
                Assert.That(hi, Is.EqualTo(D(mine[i][4])).Within(PixelTolerance * perPixel), $"{sets[k].Label} at {levels[i]} levels: bar top = upper");
            }
        }
    }

    [TestCase(false, Spread.Std)]
    [TestCase(true, Spread.MinMax)]
    public void LineBandsSpanExactlyLowerToUpper(bool logX, Spread spread)
    {
        var dir = NewFolder($"geom-bands-{logX}-{spread}");
        var x = new[] { 1.0, 3, 10, 30, 100 };
        var sets = new[] { new BandData("a", x, Samples(5, 6, 2, 1.5, 3)), new BandData("b", x, Samples(5, 3, 6, 2, 4)) };
        var f = LinePlots.Bands(dir, "bands", sets, "x (s)", "y (a.u.)", spread, logX);
        BandsMatch(f, new[] { "a", "b" }, 0, 3, 4);
    }

    [Test]
    public void AccuracyVsTimeBandsSpanExactlyLowerToUpper()
    {
        var dir = NewFolder("geom-time");
        var t = new[] { 1.0, 10, 100, 1e3, 1e4 };
        var f = TrainingPlots.AccuracyVsTime(dir, "time", new[] { new BandData("rram", t, Samples(5, 5, 0.6, 0.2, 5)), new BandData("pcm", t, Samples(5, 5, 0.3, 0.2, 6)) });
        BandsMatch(f, new[] { "rram", "pcm" }, 0, 3, 4);
    }

    [Test]
    public void DeviceBandsSpanExactlyLowerToUpperInMicrosiemens()
    {
        var dir = NewFolder("geom-device");
        // Conductances in siemens; the axis and the CSV are in µS.
        var rng = new Random(7);
        var pot = Enumerable.Range(0, 6).Select(_ => (IReadOnlyList<double>)Enumerable.Range(1, 8)
            .Select(n => 50e-6 + 70e-6 * (1 - Math.Exp(-n / 3.0)) * (0.8 + 0.4 * rng.NextDouble())).ToArray()).ToArray();
        var dep = Enumerable.Range(0, 6).Select(i => (IReadOnlyList<double>)Enumerable.Range(1, 8)
            .Select(n => pot[i][7] - 50e-6 * (1 - Math.Exp(-n / 3.0)) * (0.8 + 0.4 * rng.NextDouble())).ToArray()).ToArray();
        var pulses = DevicePlots.PulseResponse(dir, "pulses", pot, dep);
        BandsMatch(pulses, new[] { "potentiation", "depression" }, 0, 3, 4);

        var times = new[] { 1.0, 100, 1e4 };
        var levels = new[] { 60e-6, 90e-6 }.Select((g, l) => new BandData($"G0 = {g * 1e6:0} µS", times,
            times.Select((t, i) => (IReadOnlyList<double>)Enumerable.Range(0, 8).Select(_ => g * (1 - 0.03 * i) * (0.9 + 0.2 * rng.NextDouble())).ToArray()).ToArray())).ToArray();
        var drift = DevicePlots.DriftDistribution(dir, "drift", levels);
        BandsMatch(drift, levels.Select(l => l.Label).ToArray(), 0, 3, 4);
    }

    [Test]
    public void QuantizationTransferBandSpansExactlyLowerToUpper()
    {
        var dir = NewFolder("geom-transfer");
        var input = new[] { -1.0, -0.5, 0, 0.5, 1 };
        var f = DevicePlots.QuantizationTransfer(dir, "transfer", input, Samples(5, 6, -1, 0.6, 8), Spread.MinMax);
        BandsMatch(f, new[] { "quantized" }, -1, 2, 3);
    }
}

/// <summary>Categorical x (seeds): markers only, every category labelled, nothing drawn from one category to the next.</summary>
public class PerCategoryPlotTests
{
    [Test]
    public void SeedsAreCategoriesWithMarkersOnlyAndEveryOneLabelled()
    {
        var dir = NewFolder("per-category");
        var seeds = new[] { "1", "2", "3", "4", "5", "6", "7" };
        var plain = new[] { 0.5, 0.52, 0.48, 0.55, 0.51, 0.49, 0.53 };
        var aware = new[] { 0.9, 0.91, 0.88, 0.92, 0.9, 0.89, 0.93 };
        var f = TrainingPlots.PerCategory(dir, "seeds", seeds, new (string, IReadOnlyList<double>)[] { ("plain", plain), ("hardware-aware", aware) },
            "seed", "Training seed", "Accuracy");
        FilesWritten(f, dir, "seeds");
        Assert.That(f.Model.Series.OfType<OxyPlot.Series.LineSeries>(), Is.Empty, "no line joins one seed to the next");
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "series", "seed", "value" }));
        Assert.That(rows.Select(r => r[1]), Is.EqualTo(seeds.Concat(seeds)));
        Assert.That(Column(rows, 2), Is.EqualTo(plain.Concat(aware).ToArray()));
        var svg = SvgGeometry.Read(f.Svg);
        // No polyline in a series colour: only axes, ticks and grid lines are lines.
        var seriesColours = new[] { Figure.Color(0), Figure.Color(1) }.Select(c => $"rgb({c.R},{c.G},{c.B})").ToArray();
        Assert.That(svg.Polylines.Where(p => seriesColours.Contains(p.Stroke)), Is.Empty, "markers only");
        var bottomLabels = svg.Texts.Where(t => t.Anchor == "middle" && t.Baseline == "hanging").Select(t => t.Text).ToList();
        Assert.That(bottomLabels, Is.SupersetOf(seeds), "every seed has its own tick label");
        Assert.That(bottomLabels.Where(t => double.TryParse(t, out _)), Is.EquivalentTo(seeds), "and no fractional seed ticks");
    }
}

/// <summary>A confusion matrix names every class on both axes.</summary>
public class HeatmapLabelTests
{
    [Test]
    public void ConfusionMatrixLabelsEveryDigitOnBothAxes()
    {
        var dir = NewFolder("confusion-labels");
        var m = Enumerable.Range(0, 10).Select(i => (IReadOnlyList<double>)Enumerable.Range(0, 10).Select(j => i == j ? 30.0 : (i + j) % 3).ToArray()).ToArray();
        var f = MatrixPlots.Heatmap(dir, "confusion", m, "Test samples", "True digit", "Predicted digit");
        var svg = SvgGeometry.Read(f.Svg);
        var digits = Enumerable.Range(0, 10).Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var bottom = svg.Texts.Where(t => t.Anchor == "middle" && t.Baseline == "hanging").Select(t => t.Text).ToList();
        var left = svg.Texts.Where(t => t.Anchor == "end" && t.Baseline == "middle").Select(t => t.Text).ToList();
        Assert.That(bottom, Is.SupersetOf(digits), "every predicted digit is labelled");
        Assert.That(left, Is.SupersetOf(digits), "every true digit is labelled");
        // Large matrices keep automatic (sparser) ticks rather than overlapping labels.
        var big = Enumerable.Range(0, 100).Select(i => (IReadOnlyList<double>)Enumerable.Range(0, 100).Select(j => (double)(i * j % 7)).ToArray()).ToArray();
        var g = SvgGeometry.Read(MatrixPlots.Heatmap(dir, "big", big).Svg);
        Assert.That(g.Texts.Count(t => t.Anchor == "middle" && t.Baseline == "hanging" && int.TryParse(t.Text, out _)), Is.LessThan(30));
    }
}

/// <summary>A piecewise-constant quantity is drawn as a step.</summary>
public class StepPlotTests
{
    [Test]
    public void StepsAreHorizontalRunsJoinedByVerticalRisers()
    {
        var dir = NewFolder("steps");
        // dt = 1 ms for 5 steps, 0.1 ms for 20, 1 ms for 5: edges are the step ends, starting at 0.
        var dts = Enumerable.Repeat(1.0, 5).Concat(Enumerable.Repeat(0.1, 20)).Concat(Enumerable.Repeat(1.0, 5)).ToArray();
        var edges = new List<double> { 0 };
        foreach (var d in dts) edges.Add(edges[^1] + d);
        var f = LinePlots.Steps(dir, "dt", "dt", edges, dts, "Time (ms)", "dt (ms)");
        FilesWritten(f, dir, "dt");
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "series", "x_start", "x_end", "value" }));
        Assert.That(rows, Has.Count.EqualTo(dts.Length));
        for (int i = 0; i < dts.Length; i++)
        {
            Assert.That(D(rows[i][1]), Is.EqualTo(edges[i]));
            Assert.That(D(rows[i][2]), Is.EqualTo(edges[i + 1]));
            Assert.That(D(rows[i][3]), Is.EqualTo(dts[i]));
        }
        var colour = Figure.Color(0);
        var line = SvgGeometry.Read(f.Svg).Polylines.Where(p => p.Stroke == $"rgb({colour.R},{colour.G},{colour.B})").SelectMany(p => p.Points.Zip(p.Points.Skip(1))).ToList();
        Assert.That(line, Is.Not.Empty);
        Assert.That(line.Where(s => Math.Abs(s.First.X - s.Second.X) > 1e-3 && Math.Abs(s.First.Y - s.Second.Y) > 1e-3), Is.Empty, "no sloped segment");
        Assert.That(line.Count(s => Math.Abs(s.First.X - s.Second.X) < 1e-3 && Math.Abs(s.First.Y - s.Second.Y) > 1), Is.EqualTo(2), "two risers: down to 0.1 ms, back up to 1 ms");
        Assert.Throws<ArgumentException>(() => LinePlots.Steps(dir, "bad", "dt", new[] { 0.0, 1 }, new[] { 1.0, 2 }, "x", "y"));
        Assert.Throws<ArgumentException>(() => LinePlots.Steps(dir, "bad", "dt", new[] { 0.0, 1, 1 }, new[] { 1.0, 2 }, "x", "y"));
    }
}

public class HistogramPlotTests
{
    [Test]
    public void HistogramOutlinesStartAndEndAtZeroWithOnlyHorizontalAndVerticalSegments()
    {
        var dir = NewFolder("histogram");
        var edges = new[] { 0.5, 0.6, 0.7, 0.8 };
        var a = new double[] { 1, 4, 2 };
        var b = new double[] { 0, 3, 5 };
        var f = LinePlots.Histogram(dir, "h", new (string, IReadOnlyList<double>)[] { ("a", a), ("b", b) }, edges, "Accuracy");
        FilesWritten(f, dir, "h");
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "series", "bin_start", "bin_end", "count" }));
        Assert.That(rows.Select(r => $"{r[0]} {D(r[1])} {D(r[2])} {D(r[3])}"), Is.EqualTo(new[]
        {
            "a 0.5 0.6 1", "a 0.6 0.7 4", "a 0.7 0.8 2", "b 0.5 0.6 0", "b 0.6 0.7 3", "b 0.7 0.8 5",
        }));
        var colour = Figure.Color(0);
        var lines = SvgGeometry.Read(f.Svg).Polylines.Where(p => p.Stroke == $"rgb({colour.R},{colour.G},{colour.B})").ToList();
        var segments = lines.SelectMany(p => p.Points.Zip(p.Points.Skip(1))).ToList();
        Assert.That(segments, Is.Not.Empty);
        Assert.That(segments.Where(s => Math.Abs(s.First.X - s.Second.X) > 1e-3 && Math.Abs(s.First.Y - s.Second.Y) > 1e-3), Is.Empty, "no sloped segment");
        // Series a: up from 0, three tops, down to 0: 4 risers (0→1, 1→4, 4→2, 2→0).
        Assert.That(segments.Count(s => Math.Abs(s.First.X - s.Second.X) < 1e-3 && Math.Abs(s.First.Y - s.Second.Y) > 1), Is.EqualTo(4));
        // The outline is the longest polyline of the colour (the legend's swatch is a short one).
        var ys = lines.OrderByDescending(p => p.Points.Count).First().Points.Select(p => p.Y).ToArray();
        Assert.That(ys.First(), Is.EqualTo(ys.Max()).Within(1e-3), "starts on the zero line (the lowest point, SVG y grows downwards)");
        Assert.That(ys.Last(), Is.EqualTo(ys.Max()).Within(1e-3), "ends on the zero line");
        Assert.Throws<ArgumentException>(() => LinePlots.Histogram(dir, "bad", new (string, IReadOnlyList<double>)[] { ("a", a) }, new[] { 0.5, 0.6 }, "x"));
        Assert.Throws<ArgumentException>(() => LinePlots.Histogram(dir, "bad", new (string, IReadOnlyList<double>)[] { ("a", a) }, new[] { 0.5, 0.6, 0.6, 0.8 }, "x"));
    }
}
