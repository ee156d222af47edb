using OxyPlot;
using OxyPlot.Axes;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Plots;

/// <summary>One named curve: y over x.</summary>
/// <param name="Label">Legend entry and value of the CSV "series" column.</param>
/// <param name="X">Abscissae.</param>
/// <param name="Y">Ordinates, one per abscissa.</param>
public sealed record LineData(string Label, IReadOnlyList<double> X, IReadOnlyList<double> Y)
{
    /// <summary>A curve from two 1-D tensors.</summary>
    public static LineData From(string label, Tensor x, Tensor y) => new(label, PlotData.ToDoubles(x), PlotData.ToDoubles(y));
}

/// <summary>Samples of one quantity at each x (e.g. one value per device or per seed), drawn as mean ± spread.</summary>
/// <param name="Label">Legend entry and value of the CSV "series" column.</param>
/// <param name="X">Abscissae.</param>
/// <param name="Samples">Samples[i] holds every sample taken at X[i]; the counts may differ between points.</param>
public sealed record BandData(string Label, IReadOnlyList<double> X, IReadOnlyList<IReadOnlyList<double>> Samples)
{
    /// <summary>From runs[r][i] (one curve per run, e.g. per seed or device), which is how repeated experiments usually come.</summary>
    public static BandData FromRuns(string label, IReadOnlyList<double> x, IReadOnlyList<IReadOnlyList<double>> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0) throw new ArgumentException($"Band '{label}': no runs.", nameof(runs));
        foreach (var r in runs)
            if (r.Count != x.Count) throw new ArgumentException($"Band '{label}': a run has {r.Count} points, x has {x.Count}.", nameof(runs));
        var samples = Enumerable.Range(0, x.Count).Select(i => (IReadOnlyList<double>)runs.Select(r => r[i]).ToArray()).ToArray();
        return new BandData(label, x, samples);
    }

    /// <summary>From a [runs, points] tensor.</summary>
    public static BandData FromRuns(string label, IReadOnlyList<double> x, Tensor runs) =>
        FromRuns(label, x, PlotData.ToRows(runs, $"Band '{label}' runs [runs, points]"));
}

/// <summary>Generic curves: several lines, or mean ± spread bands over x.</summary>
public static class LinePlots
{
    /// <summary>
    /// Draws several curves on shared axes. CSV columns: <c>series, x, y</c> (one row per point, in drawing order).
    /// </summary>
    public static FigureFiles Lines(string folder, string name, IReadOnlyList<LineData> series, string xTitle, string yTitle,
        bool logX = false, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException("A line plot needs at least one series.", nameof(series));
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Axis(AxisPosition.Bottom, xTitle, logX));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, yTitle));
        var rows = new List<object[]>();
        for (int k = 0; k < series.Count; k++)
        {
            var s = series[k];
            PlotData.CheckFinite(s.X, $"Series '{s.Label}' x");
            PlotData.CheckFinite(s.Y, $"Series '{s.Label}' y");
            if (logX) PlotData.CheckPositive(s.X, $"Series '{s.Label}' x");
            model.Series.Add(PlotData.Line(s.X, s.Y, Figure.Color(k), s.Label));
            for (int i = 0; i < s.X.Count; i++) rows.Add(new object[] { s.Label, s.X[i], s.Y[i] });
        }
        Figure.LegendIfSeveral(model);
        return Figure.Save(model, folder, name, new[] { "series", "x", "y" }, rows, options);
    }

    /// <summary>
    /// A result against its reference when the two nearly coincide (a variable-dt run against a fixed fine step, a
    /// model against its closed form): the reference is drawn first as a wide, half-transparent line and the result on
    /// top as a thin dashed line with a marker per point, so neither hides the other where they overlap. CSV columns as
    /// <see cref="Lines"/>: <c>series, x, y</c>, the reference's rows first.
    /// </summary>
    public static FigureFiles Versus(string folder, string name, LineData reference, LineData result, string xTitle, string yTitle,
        bool logX = false, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(result);
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Axis(AxisPosition.Bottom, xTitle, logX));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, yTitle));
        var rows = new List<object[]>();
        foreach (var s in new[] { reference, result })
        {
            PlotData.CheckFinite(s.X, $"Series '{s.Label}' x");
            PlotData.CheckFinite(s.Y, $"Series '{s.Label}' y");
            if (logX) PlotData.CheckPositive(s.X, $"Series '{s.Label}' x");
            for (int i = 0; i < s.X.Count; i++) rows.Add(new object[] { s.Label, s.X[i], s.Y[i] });
        }
        var under = PlotData.Line(reference.X, reference.Y, Figure.Color(0), reference.Label);
        under.StrokeThickness = VersusReferenceThickness;
        under.Color = OxyColor.FromAColor(110, under.Color);
        var over = PlotData.Line(result.X, result.Y, Figure.Color(1), result.Label);
        over.StrokeThickness = VersusResultThickness;
        over.LineStyle = LineStyle.Dash;
        over.MarkerType = MarkerType.Circle;
        over.MarkerSize = 2;
        over.MarkerFill = over.Color;
        model.Series.Add(under);
        model.Series.Add(over);
        Figure.LegendIfSeveral(model);
        return Figure.Save(model, folder, name, new[] { "series", "x", "y" }, rows, options);
    }

    /// <summary>Stroke width of the reference line of <see cref="Versus"/> (wide, so the result drawn on it stays inside it).</summary>
    public const double VersusReferenceThickness = 6;
    /// <summary>Stroke width of the result line of <see cref="Versus"/>.</summary>
    public const double VersusResultThickness = 1.5;

    /// <summary>
    /// Draws each set as its mean line with a shaded spread band (std, standard error, or min–max). CSV columns:
    /// <c>series, x, mean, lower, upper, n</c>, where lower/upper are the band edges drawn and n the sample count.
    /// </summary>
    public static FigureFiles Bands(string folder, string name, IReadOnlyList<BandData> sets, string xTitle, string yTitle,
        Spread spread = Spread.Std, bool logX = false, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sets);
        if (sets.Count == 0) throw new ArgumentException("A band plot needs at least one set.", nameof(sets));
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Axis(AxisPosition.Bottom, xTitle, logX));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, yTitle));
        var rows = new List<object[]>();
        AddBands(model, sets, spread, logX, rows, (set, i, b) => new object[] { set.Label, set.X[i], b.Mean, b.Lower, b.Upper, b.Count });
        Figure.LegendIfSeveral(model);
        return Figure.Save(model, folder, name, new[] { "series", "x", "mean", "lower", "upper", "n" }, rows, options);
    }

    /// <summary>
    /// A piecewise-constant quantity (a step length dt, a learning rate schedule…) drawn as a step: value i holds on
    /// [edges[i], edges[i + 1]), so <paramref name="edges"/> has one more entry than <paramref name="values"/> and
    /// rises strictly. Drawn as horizontal runs joined by vertical risers, never as slopes between samples. CSV columns:
    /// <c>series, x_start, x_end, value</c> (one row per interval).
    /// </summary>
    public static FigureFiles Steps(string folder, string name, string label, IReadOnlyList<double> edges, IReadOnlyList<double> values,
        string xTitle, string yTitle, bool logX = false, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(edges);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) throw new ArgumentException("A step plot needs at least one interval.", nameof(values));
        if (edges.Count != values.Count + 1) throw new ArgumentException($"{values.Count} values need {values.Count + 1} edges, got {edges.Count}.", nameof(edges));
        PlotData.CheckFinite(edges, $"Series '{label}' edges");
        PlotData.CheckFinite(values, $"Series '{label}' values");
        if (logX) PlotData.CheckPositive(edges, $"Series '{label}' edges");
        for (int i = 1; i < edges.Count; i++)
            if (!(edges[i] > edges[i - 1])) throw new ArgumentException($"Series '{label}': the edges must rise strictly; edge {i} is {edges[i]} after {edges[i - 1]}.", nameof(edges));
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Axis(AxisPosition.Bottom, xTitle, logX));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, yTitle));
        var xs = new List<double>(2 * values.Count);
        var ys = new List<double>(2 * values.Count);
        var rows = new List<object[]>(values.Count);
        for (int i = 0; i < values.Count; i++)
        {
            xs.Add(edges[i]); ys.Add(values[i]);
            xs.Add(edges[i + 1]); ys.Add(values[i]);
            rows.Add(new object[] { label, edges[i], edges[i + 1], values[i] });
        }
        // No point reduction: dropping a corner vertex closer than 2 px would turn a riser into a slope.
        var line = PlotData.Line(xs, ys, Figure.Color(0), label);
        line.MinimumSegmentLength = 0;
        model.Series.Add(line);
        return Figure.Save(model, folder, name, new[] { "series", "x_start", "x_end", "value" }, rows, options);
    }

    /// <summary>
    /// Histograms of several series over the same bins, each drawn as an outline (no fill, so overlapping series stay
    /// readable): bin i is [edges[i], edges[i + 1]) and holds counts[i]; the outline starts and ends at zero.
    /// <paramref name="edges"/> has one more entry than each series' counts and rises strictly. CSV columns:
    /// <c>series, bin_start, bin_end, count</c> (one row per series and bin, exactly the drawn heights).
    /// </summary>
    public static FigureFiles Histogram(string folder, string name, IReadOnlyList<(string Label, IReadOnlyList<double> Counts)> series,
        IReadOnlyList<double> edges, string xTitle, string yTitle = "Count", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(edges);
        if (series.Count == 0) throw new ArgumentException("Nothing to plot: no series.", nameof(series));
        if (edges.Count < 2) throw new ArgumentException($"A histogram needs at least one bin (two edges), got {edges.Count} edges.", nameof(edges));
        PlotData.CheckFinite(edges, "Histogram edges");
        for (int i = 1; i < edges.Count; i++)
            if (!(edges[i] > edges[i - 1])) throw new ArgumentException($"Histogram edges must rise strictly; edge {i} is {edges[i]} after {edges[i - 1]}.", nameof(edges));
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Linear(AxisPosition.Bottom, xTitle));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, yTitle).With(a => a.Minimum = 0));
        var rows = new List<object[]>();
        for (int k = 0; k < series.Count; k++)
        {
            var (label, counts) = series[k];
            if (counts.Count != edges.Count - 1)
                throw new ArgumentException($"Series '{label}': {counts.Count} counts for {edges.Count - 1} bins.", nameof(series));
            PlotData.CheckFinite(counts, $"Series '{label}' counts");
            var xs = new List<double> { edges[0] };
            var ys = new List<double> { 0 };
            for (int i = 0; i < counts.Count; i++)
            {
                xs.Add(edges[i]); ys.Add(counts[i]);
                xs.Add(edges[i + 1]); ys.Add(counts[i]);
                rows.Add(new object[] { label, edges[i], edges[i + 1], counts[i] });
            }
            xs.Add(edges[^1]); ys.Add(0);
            var line = PlotData.Line(xs, ys, Figure.Color(k), label);
            line.MinimumSegmentLength = 0; // keep every corner: a dropped one would turn a bin's side into a slope
            model.Series.Add(line);
        }
        Figure.LegendIfSeveral(model);
        return Figure.Save(model, folder, name, new[] { "series", "bin_start", "bin_end", "count" }, rows, options);
    }

    /// <summary>One set drawn as mean ± spread: a shortcut for <see cref="Bands"/> from runs[r][i].</summary>
    public static FigureFiles Band(string folder, string name, string label, IReadOnlyList<double> x, IReadOnlyList<IReadOnlyList<double>> runs,
        string xTitle, string yTitle, Spread spread = Spread.Std, bool logX = false, PlotOptions? options = null) =>
        Bands(folder, name, new[] { BandData.FromRuns(label, x, runs) }, xTitle, yTitle, spread, logX, options);

    /// <summary>Adds a band and a mean line per set and collects one CSV row per point through <paramref name="row"/>.</summary>
    internal static void AddBands(PlotModel model, IReadOnlyList<BandData> sets, Spread spread, bool logX, List<object[]> rows,
        Func<BandData, int, BandPoint, object[]> row, int colorOffset = 0)
    {
        for (int k = 0; k < sets.Count; k++)
        {
            var set = sets[k];
            if (set.X.Count != set.Samples.Count)
                throw new ArgumentException($"Band '{set.Label}': {set.X.Count} x values but {set.Samples.Count} sample sets.");
            PlotData.CheckFinite(set.X, $"Band '{set.Label}' x");
            if (logX) PlotData.CheckPositive(set.X, $"Band '{set.Label}' x");
            var band = new BandPoint[set.X.Count];
            for (int i = 0; i < band.Length; i++)
            {
                PlotData.CheckFinite(set.Samples[i], $"Band '{set.Label}' samples at x = {set.X[i]}");
                band[i] = PlotData.Band(set.Samples[i], spread);
                rows.Add(row(set, i, band[i]));
            }
            var color = Figure.Color(k + colorOffset);
            model.Series.Add(PlotData.BandSeries(set.X, band, color));
            model.Series.Add(PlotData.Line(set.X, band.Select(b => b.Mean).ToArray(), color, set.Label));
        }
    }
}
