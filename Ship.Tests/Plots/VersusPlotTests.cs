using System.Xml.Linq;
using NUnit.Framework;
using Ship.Plots;
using static Ship.Tests.Plots.PlotAssert;

namespace Ship.Tests.Plots;

/// <summary>
/// A result drawn against a reference it nearly coincides with (examples/variable-dt.cs's membrane-vs-reference):
/// read from the SVG, both curves are drawn, the reference underneath and distinguishable from the result on top.
/// </summary>
public class VersusPlotTests
{
    [Test]
    public void ReferenceStaysVisibleUnderACoincidingResult()
    {
        var dir = NewFolder("versus");
        // The same decay e^(−t/3) sampled finely (reference) and coarsely (result): the curves coincide everywhere.
        double[] Times(int n) => Enumerable.Range(0, n).Select(i => 10.0 * i / (n - 1)).ToArray();
        var tRef = Times(101);
        var tRes = Times(21);
        var reference = new LineData("reference", tRef, tRef.Select(t => Math.Exp(-t / 3)).ToArray());
        var result = new LineData("result", tRes, tRes.Select(t => Math.Exp(-t / 3)).ToArray());
        var f = LinePlots.Versus(dir, "versus", reference, result, "Time (ms)", "u");
        FilesWritten(f, dir, "versus");

        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "series", "x", "y" }));
        Assert.That(rows.Select(r => r[0]), Is.EqualTo(Enumerable.Repeat("reference", 101).Concat(Enumerable.Repeat("result", 21))), "the reference's rows first");
        for (int i = 0; i < 21; i++)
            Assert.That(D(rows[101 + i][2]), Is.EqualTo(Math.Exp(-tRes[i] / 3)).Within(1e-12));

        string Rgb(OxyPlot.OxyColor c) => $"rgb({c.R},{c.G},{c.B})";
        var refStroke = Rgb(Figure.Color(0));
        var resStroke = Rgb(Figure.Color(1));
        Assert.That(refStroke, Is.Not.EqualTo(resStroke), "the two curves have different colours");

        // The raw style of every polyline, in document (drawing) order.
        var lines = XDocument.Load(f.Svg).Descendants().Where(e => e.Name.LocalName == "polyline")
            .Select(e => Style((string?)e.Attribute("style"))).ToList();
        var svg = SvgGeometry.Read(f.Svg);
        Assert.That(svg.Polylines, Has.Count.EqualTo(lines.Count));
        var (toValue, perPixel) = svg.LeftAxis();

        // A legend sample is a 2-point line; the curves have many vertices.
        var refIdx = Enumerable.Range(0, lines.Count).Where(i => svg.Polylines[i].Stroke == refStroke && svg.Polylines[i].Points.Count > 2).ToList();
        var resIdx = Enumerable.Range(0, lines.Count).Where(i => svg.Polylines[i].Stroke == resStroke && svg.Polylines[i].Points.Count > 2).ToList();
        Assert.That(refIdx, Is.Not.Empty, "the reference curve is drawn");
        Assert.That(resIdx, Is.Not.Empty, "the result curve is drawn");
        Assert.That(refIdx.Max(), Is.LessThan(resIdx.Min()), "the reference is drawn first, i.e. underneath");

        foreach (var i in refIdx)
        {
            Assert.That(svg.Polylines[i].StrokeWidth, Is.EqualTo(LinePlots.VersusReferenceThickness).Within(1e-9), "reference: wide");
            Assert.That(lines[i].ContainsKey("stroke-dasharray"), Is.False, "reference: solid");
            Assert.That(double.Parse(lines[i]["stroke-opacity"], System.Globalization.CultureInfo.InvariantCulture), Is.LessThan(1), "reference: translucent, so the result shows through");
        }
        foreach (var i in resIdx)
        {
            Assert.That(svg.Polylines[i].StrokeWidth, Is.EqualTo(LinePlots.VersusResultThickness).Within(1e-9), "result: thin");
            Assert.That(lines[i].ContainsKey("stroke-dasharray"), Is.True, "result: dashed, so the reference shows between the dashes");
        }
        Assert.That(LinePlots.VersusReferenceThickness, Is.GreaterThanOrEqualTo(3 * LinePlots.VersusResultThickness), "the result line lies inside the reference line");

        // Both curves carry their own data: every CSV value has a drawn vertex of its curve at that height.
        void Drawn(IEnumerable<int> idx, IEnumerable<double> values, string what)
        {
            var ys = idx.SelectMany(i => svg.Polylines[i].Points).Select(p => toValue(p.Y)).ToList();
            foreach (var v in values)
                Assert.That(ys.Min(y => Math.Abs(y - v)), Is.LessThan(0.5 * perPixel), $"{what}: a vertex at u = {v}");
        }
        Drawn(refIdx, reference.Y, "reference");
        Drawn(resIdx, result.Y, "result");

        // A marker at every result point: OxyPlot draws circle markers as ellipses.
        var markers = XDocument.Load(f.Svg).Descendants().Count(e => e.Name.LocalName == "ellipse");
        Assert.That(markers, Is.GreaterThanOrEqualTo(result.X.Count), "one marker per result point");
    }

    private static Dictionary<string, string> Style(string? style) =>
        (style ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split(':', 2))
            .Where(p => p.Length == 2).ToDictionary(p => p[0].Trim(), p => p[1].Trim());
}
