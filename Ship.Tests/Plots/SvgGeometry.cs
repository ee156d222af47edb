using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using NUnit.Framework;

namespace Ship.Tests.Plots;

/// <summary>
/// What an SVG figure actually draws, read back from the file (not from the plot model): polylines and polygons with
/// their colours, and the left axis's tick labels, which calibrate screen y into data values. Lets a test compare the
/// drawn geometry with the CSV independently of how the library asked OxyPlot to draw it.
/// </summary>
internal sealed partial class SvgGeometry
{
    public sealed record Shape(IReadOnlyList<(double X, double Y)> Points, string? Stroke, double StrokeWidth, string? Fill);
    public sealed record Label(double X, double Y, string Anchor, string Baseline, string Text);

    public List<Shape> Polylines { get; } = new();
    public List<Shape> Polygons { get; } = new();
    public List<Label> Texts { get; } = new();

    public static SvgGeometry Read(string path)
    {
        var g = new SvgGeometry();
        var doc = XDocument.Load(path);
        foreach (var e in doc.Descendants())
        {
            switch (e.Name.LocalName)
            {
                case "polyline":
                case "polygon":
                    var style = Style((string?)e.Attribute("style"));
                    var shape = new Shape(ParsePoints((string)e.Attribute("points")!), style.GetValueOrDefault("stroke"),
                        style.TryGetValue("stroke-width", out var w) ? D(w) : 0, style.GetValueOrDefault("fill"));
                    (e.Name.LocalName == "polyline" ? g.Polylines : g.Polygons).Add(shape);
                    break;
                case "text":
                    var m = Translate().Match((string?)e.Attribute("transform") ?? "");
                    if (m.Success)
                        g.Texts.Add(new Label(D(m.Groups[1].Value), D(m.Groups[2].Value), (string?)e.Attribute("text-anchor") ?? "",
                            (string?)e.Attribute("dominant-baseline") ?? "", e.Value));
                    break;
            }
        }
        return g;
    }

    /// <summary>
    /// Screen y → data value from the left axis: its tick labels are right-aligned, vertically centred on their tick
    /// (text-anchor end, dominant-baseline middle) and left of everything else; a least-squares line through them.
    /// </summary>
    public (Func<double, double> ToValue, double PerPixel) LeftAxis()
    {
        var ticks = Texts.Where(t => t.Anchor == "end" && t.Baseline == "middle" && !t.Text.Contains(' '))
            .Select(t => (t.X, t.Y, Ok: double.TryParse(t.Text.Replace('−', '-'), NumberStyles.Float, CultureInfo.InvariantCulture, out var v), V: v))
            .Where(t => t.Ok).ToList();
        double minX = ticks.Min(t => t.X);
        ticks = ticks.Where(t => Math.Abs(t.X - minX) < 1).ToList();
        Assert.That(ticks, Has.Count.GreaterThanOrEqualTo(2), "the left axis has at least two numeric tick labels");
        double my = ticks.Average(t => t.Y), mv = ticks.Average(t => t.V);
        double b = ticks.Sum(t => (t.Y - my) * (t.V - mv)) / ticks.Sum(t => (t.Y - my) * (t.Y - my));
        double a = mv - b * my;
        foreach (var t in ticks)
            Assert.That(a + b * t.Y, Is.EqualTo(t.V).Within(0.01 * Math.Abs(b)), $"tick label '{t.V}' sits on a linear axis");
        return (y => a + b * y, Math.Abs(b));
    }

    /// <summary>Polygons filled with a colour (the spread bands), in drawing order.</summary>
    public List<Shape> FilledPolygons() => Polygons.Where(p => p.Fill is { } f && f != "none").ToList();

    /// <summary>Vertical two-point polylines of the given stroke width (error bars), grouped by colour in drawing order.</summary>
    public List<List<Shape>> VerticalBarsByColour(double strokeWidth)
    {
        var bars = Polylines.Where(p => Math.Abs(p.StrokeWidth - strokeWidth) < 1e-9 && p.Points.Count == 2
                                        && Math.Abs(p.Points[0].X - p.Points[1].X) < 1e-6 && Math.Abs(p.Points[0].Y - p.Points[1].Y) > 1e-6).ToList();
        return bars.GroupBy(b => b.Stroke).Select(g => g.ToList()).ToList();
    }

    /// <summary>The vertices of a polygon grouped by screen x (left to right): each group's lowest and highest data value.</summary>
    public static List<(double ScreenX, double Low, double High)> Columns(Shape polygon, Func<double, double> yToValue) =>
        polygon.Points.GroupBy(p => Math.Round(p.X, 2)).OrderBy(g => g.Key)
            .Select(g => (g.Key, g.Min(p => yToValue(p.Y)), g.Max(p => yToValue(p.Y)))).ToList();

    private static Dictionary<string, string> Style(string? style) =>
        (style ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => s.Split(':', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0].Trim(), p => p[1].Trim());

    private static List<(double, double)> ParsePoints(string s) =>
        s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split(',')).Select(p => (D(p[0]), D(p[1]))).ToList();

    private static double D(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"translate\(([-0-9.eE]+),([-0-9.eE]+)\)")]
    private static partial Regex Translate();
}
