using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Series;

namespace Ship.Plots;

/// <summary>Learning and evaluation results: training curves and accuracy against a swept setting.</summary>
public static class TrainingPlots
{
    /// <summary>
    /// Loss per batch or epoch on the left axis and, when given, accuracy on a second axis at the right (the two may
    /// have different abscissae, e.g. loss per batch and accuracy per epoch). x defaults to 1, 2, … CSV columns:
    /// <c>series, x, value</c> with series "loss" or "accuracy".
    /// </summary>
    public static FigureFiles Curve(string folder, string name, IReadOnlyList<double> loss, IReadOnlyList<double>? accuracy = null,
        IReadOnlyList<double>? lossX = null, IReadOnlyList<double>? accuracyX = null, string xTitle = "Epoch",
        string lossTitle = "Loss", string accuracyTitle = "Accuracy", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        var lx = lossX ?? Enumerable.Range(1, loss.Count).Select(i => (double)i).ToArray();
        if (lx.Count != loss.Count) throw new ArgumentException($"{loss.Count} loss values but {lx.Count} x values.", nameof(lossX));
        PlotData.CheckFinite(loss, "The loss");
        PlotData.CheckFinite(lx, "The loss x values");

        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Linear(AxisPosition.Bottom, xTitle));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, lossTitle, "loss"));
        model.Series.Add(PlotData.Line(lx, loss, Figure.Color(0), "loss", yAxisKey: "loss"));
        var rows = new List<object[]>();
        for (int i = 0; i < loss.Count; i++) rows.Add(new object[] { "loss", lx[i], loss[i] });

        if (accuracy is not null)
        {
            var ax = accuracyX ?? Enumerable.Range(1, accuracy.Count).Select(i => (double)i).ToArray();
            if (ax.Count != accuracy.Count) throw new ArgumentException($"{accuracy.Count} accuracy values but {ax.Count} x values.", nameof(accuracyX));
            PlotData.CheckFinite(accuracy, "The accuracy");
            PlotData.CheckFinite(ax, "The accuracy x values");
            // The right axis keeps its own grid off so the two scales do not produce two crossing grids.
            model.Axes.Add(Figure.Linear(AxisPosition.Right, accuracyTitle, "acc").With(a => a.MajorGridlineStyle = LineStyle.None));
            var s = PlotData.Line(ax, accuracy, Figure.Color(1), "accuracy", yAxisKey: "acc");
            s.MarkerType = MarkerType.Circle;
            s.MarkerSize = 3;
            model.Series.Add(s);
            for (int i = 0; i < accuracy.Count; i++) rows.Add(new object[] { "accuracy", ax[i], accuracy[i] });
        }
        else if (accuracyX is not null) throw new ArgumentException("accuracyX was given without accuracy values.", nameof(accuracyX));
        Figure.LegendIfSeveral(model);
        return Figure.Save(model, folder, name, new[] { "series", "x", "value" }, rows, options);
    }

    /// <summary>
    /// Accuracy against the number of weight levels (quantization), mean with error bars over runs, on a base-2 log axis
    /// unless <paramref name="logX"/> is false. Each set: X = level counts, Samples[i] = accuracies of the runs at X[i].
    /// CSV columns: <c>series, levels, mean, lower, upper, n</c> (lower/upper = the error-bar ends drawn).
    /// </summary>
    public static FigureFiles AccuracyVsLevels(string folder, string name, IReadOnlyList<BandData> sets, Spread spread = Spread.Std,
        bool logX = true, string accuracyTitle = "Accuracy", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sets);
        if (sets.Count == 0) throw new ArgumentException("Nothing to plot: no sets.", nameof(sets));
        var model = Figure.NewModel(options);
        if (logX)
        {
            // Label only the powers of two, the level counts such sweeps use; the other ticks keep their grid lines.
            var lx = Figure.Log(AxisPosition.Bottom, "Number of levels", @base: 2);
            lx.LabelFormatter = v => Math.Abs(Math.Log2(v) - Math.Round(Math.Log2(v))) < 1e-9 ? v.ToString("0", System.Globalization.CultureInfo.InvariantCulture) : "";
            model.Axes.Add(lx);
        }
        else model.Axes.Add(Figure.Linear(AxisPosition.Bottom, "Number of levels"));
        var ly = Figure.Linear(AxisPosition.Left, accuracyTitle);
        model.Axes.Add(ly);
        var rows = new List<object[]>();
        double lowest = double.PositiveInfinity, highest = double.NegativeInfinity;
        for (int k = 0; k < sets.Count; k++)
        {
            var set = sets[k];
            if (set.X.Count != set.Samples.Count) throw new ArgumentException($"Set '{set.Label}': {set.X.Count} level counts but {set.Samples.Count} sample sets.");
            PlotData.CheckFinite(set.X, $"Set '{set.Label}' levels");
            if (logX) PlotData.CheckPositive(set.X, $"Set '{set.Label}' levels");
            var color = Figure.Color(k);
            // The error bar is centred on the middle of [lower, upper] so asymmetric spreads (min–max) draw exactly.
            // OxyPlot draws a ScatterErrorPoint's ErrorY as ±ErrorY/2 around Y (ScatterErrorSeries.Render), so the full
            // width upper − lower is passed to span exactly [lower, upper].
            var bars = new ScatterErrorSeries { MarkerType = MarkerType.None, ErrorBarColor = color, ErrorBarStrokeThickness = 1.5, ErrorBarStopWidth = 4 };
            var mean = new double[set.X.Count];
            for (int i = 0; i < set.X.Count; i++)
            {
                PlotData.CheckFinite(set.Samples[i], $"Set '{set.Label}' accuracies at {set.X[i]} levels");
                var b = PlotData.Band(set.Samples[i], spread);
                mean[i] = b.Mean;
                lowest = Math.Min(lowest, b.Lower);
                highest = Math.Max(highest, b.Upper);
                bars.Points.Add(new ScatterErrorPoint(set.X[i], (b.Lower + b.Upper) / 2, 0, b.Upper - b.Lower));
                rows.Add(new object[] { set.Label, set.X[i], b.Mean, b.Lower, b.Upper, b.Count });
            }
            model.Series.Add(bars);
            var line = PlotData.Line(set.X, mean, color, set.Label);
            line.MarkerType = MarkerType.Circle;
            line.MarkerSize = 4;
            line.MarkerFill = color;
            model.Series.Add(line);
        }
        // OxyPlot sizes the axis from the points, not from their error bars: fit the bars, or the outer ones are cut off.
        if (highest > lowest)
        {
            double pad = 0.03 * (highest - lowest);
            ly.Minimum = lowest - pad;
            ly.Maximum = highest + pad;
        }
        Figure.LegendIfSeveral(model);
        return Figure.Save(model, folder, name, new[] { "series", "levels", "mean", "lower", "upper", "n" }, rows, options);
    }

    /// <summary>One set of <see cref="AccuracyVsLevels(string, string, IReadOnlyList{BandData}, Spread, bool, string, PlotOptions?)"/>: accuracies[i][r] for levels[i].</summary>
    public static FigureFiles AccuracyVsLevels(string folder, string name, IReadOnlyList<int> levels, IReadOnlyList<IReadOnlyList<double>> accuracies,
        string label = "accuracy", Spread spread = Spread.Std, bool logX = true, PlotOptions? options = null) =>
        AccuracyVsLevels(folder, name, new[] { new BandData(label, levels.Select(l => (double)l).ToArray(), accuracies) }, spread, logX, options: options);

    /// <summary>
    /// Accuracy against elapsed time (e.g. since programming, under drift) on a log time axis: mean line and spread
    /// band over runs. Each set: X = times in seconds (> 0), Samples[i] = accuracies at X[i]. CSV columns:
    /// <c>series, time_s, mean, lower, upper, n</c>.
    /// </summary>
    public static FigureFiles AccuracyVsTime(string folder, string name, IReadOnlyList<BandData> sets, Spread spread = Spread.Std,
        string accuracyTitle = "Accuracy", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sets);
        if (sets.Count == 0) throw new ArgumentException("Nothing to plot: no sets.", nameof(sets));
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Log(AxisPosition.Bottom, "Elapsed time (s)"));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, accuracyTitle));
        var rows = new List<object[]>();
        LinePlots.AddBands(model, sets, spread, logX: true, rows, (set, i, b) => new object[] { set.Label, set.X[i], b.Mean, b.Lower, b.Upper, b.Count });
        Figure.LegendIfSeveral(model);
        return Figure.Save(model, folder, name, new[] { "series", "time_s", "mean", "lower", "upper", "n" }, rows, options);
    }

    /// <summary>One set of <see cref="AccuracyVsTime(string, string, IReadOnlyList{BandData}, Spread, string, PlotOptions?)"/>: accuracies[i][r] at timesSeconds[i].</summary>
    public static FigureFiles AccuracyVsTime(string folder, string name, IReadOnlyList<double> timesSeconds, IReadOnlyList<IReadOnlyList<double>> accuracies,
        string label = "accuracy", Spread spread = Spread.Std, PlotOptions? options = null) =>
        AccuracyVsTime(folder, name, new[] { new BandData(label, timesSeconds, accuracies) }, spread, options: options);

    /// <summary>
    /// Values per category (e.g. per training seed) for several series, drawn as markers only: categories are not an
    /// ordered quantity, so nothing joins one category to the next. Series are offset slightly left and right within
    /// each category so paired values stay visible; every category gets its own labelled tick. CSV columns:
    /// <c>series, &lt;categoryName&gt;, value</c> (the values as given, not the drawn offsets).
    /// </summary>
    public static FigureFiles PerCategory(string folder, string name, IReadOnlyList<string> categories,
        IReadOnlyList<(string Label, IReadOnlyList<double> Values)> series, string categoryName, string xTitle, string yTitle, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(series);
        if (categories.Count == 0) throw new ArgumentException("Nothing to plot: no categories.", nameof(categories));
        if (series.Count == 0) throw new ArgumentException("Nothing to plot: no series.", nameof(series));
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Linear(AxisPosition.Bottom, xTitle).With(a =>
        {
            a.Minimum = -0.5;
            a.Maximum = categories.Count - 0.5;
            a.MajorStep = 1;
            a.MinorStep = 1;
            a.MinimumPadding = a.MaximumPadding = 0;
            a.LabelFormatter = v => Math.Abs(v - Math.Round(v)) < 1e-9 && Math.Round(v) >= 0 && Math.Round(v) < categories.Count ? categories[(int)Math.Round(v)] : "";
        }));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, yTitle));
        var rows = new List<object[]>();
        var shapes = new[] { MarkerType.Circle, MarkerType.Square, MarkerType.Diamond, MarkerType.Triangle };
        double width = Math.Min(0.5, 0.15 * series.Count);
        for (int k = 0; k < series.Count; k++)
        {
            var (label, values) = series[k];
            if (values.Count != categories.Count) throw new ArgumentException($"Series '{label}': {values.Count} values for {categories.Count} categories.", nameof(series));
            PlotData.CheckFinite(values, $"Series '{label}'");
            double offset = series.Count == 1 ? 0 : -width / 2 + width * k / (series.Count - 1);
            var color = Figure.Color(k);
            var points = new ScatterSeries { Title = label, MarkerType = shapes[k % shapes.Length], MarkerSize = 5, MarkerFill = color, MarkerStroke = color };
            for (int i = 0; i < values.Count; i++)
            {
                points.Points.Add(new ScatterPoint(i + offset, values[i]));
                rows.Add(new object[] { label, categories[i], values[i] });
            }
            model.Series.Add(points);
        }
        Figure.LegendIfSeveral(model);
        return Figure.Save(model, folder, name, new[] { "series", categoryName, "value" }, rows, options);
    }
}
