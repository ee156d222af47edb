using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Series;
using Ship.Core.Monitors;
using Ship.Core.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Plots;

/// <summary>Spiking activity over the network timeline: rasters and membrane traces, with times in milliseconds.</summary>
public static class SpikePlots
{
    /// <summary>
    /// Spike raster of one group: a tick at (time of step k, neuron j) for every non-zero entry of
    /// <paramref name="spikes"/>[<paramref name="batchRow"/>, k, j]. <paramref name="timesSeconds"/> are the network's
    /// step times (end of each step, <see cref="RunResult.Times"/>). CSV columns: <c>step, time_ms, neuron</c>, one row
    /// per spike, sorted by step then neuron.
    /// </summary>
    public static FigureFiles Raster(string folder, string name, Tensor spikes, IReadOnlyList<double> timesSeconds, int batchRow = 0,
        string group = "", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spikes);
        ArgumentNullException.ThrowIfNull(timesSeconds);
        var (steps, n, values) = Row(spikes, batchRow, "spikes");
        if (timesSeconds.Count != steps)
            throw new ArgumentException($"The spike tensor has {steps} steps but {timesSeconds.Count} times were given.", nameof(timesSeconds));

        var model = Figure.NewModel(options);
        // The axis spans the whole run (spikes or not), with a little room so a tick at the last step is not cut.
        double tEnd = steps > 0 && timesSeconds[steps - 1] > 0 ? timesSeconds[steps - 1] * 1e3 : 1;
        model.Axes.Add(Figure.Linear(AxisPosition.Bottom, "Time (ms)").With(a => { a.Minimum = 0; a.Maximum = tEnd * 1.02; }));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, string.IsNullOrEmpty(group) ? "Neuron index" : $"Neuron index ({group})")
            .With(a => { a.Minimum = -0.5; a.Maximum = n - 0.5; a.MinimumMajorStep = 1; a.MinimumMinorStep = 1; }));
        // A thin vertical bar per spike: the classic raster tick, readable for a few or a few hundred neurons.
        double half = Math.Clamp(170.0 / Math.Max(1, n), 1.5, 8);
        var ticks = new ScatterSeries
        {
            MarkerType = MarkerType.Custom,
            MarkerOutline = new[] { new ScreenPoint(-0.12, -1), new ScreenPoint(0.12, -1), new ScreenPoint(0.12, 1), new ScreenPoint(-0.12, 1) },
            MarkerSize = half,
            MarkerFill = OxyColor.FromRgb(0x20, 0x20, 0x20),
            MarkerStroke = OxyColor.FromRgb(0x20, 0x20, 0x20),
            MarkerStrokeThickness = 1,
        };
        var rows = new List<object[]>();
        for (int k = 0; k < steps; k++)
        {
            double t = timesSeconds[k] * 1e3;
            for (int j = 0; j < n; j++)
            {
                if (values[k * n + j] == 0) continue;
                ticks.Points.Add(new ScatterPoint(t, j));
                rows.Add(new object[] { k, t, j });
            }
        }
        model.Series.Add(ticks);
        return Figure.Save(model, folder, name, new[] { "step", "time_ms", "neuron" }, rows, options);
    }

    /// <summary>Raster of an output group of a run, on that run's timeline.</summary>
    public static FigureFiles Raster(string folder, string name, RunResult result, string tag, int batchRow = 0, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        return Raster(folder, name, result[tag], result.Times, batchRow, tag, options);
    }

    /// <summary>
    /// Membrane trace u(t) with a mark above the trace at every step whose spike value is non-zero, and the threshold
    /// as a dashed line when given. CSV columns: <c>step, time_ms, u, spike</c> (spike is the given 0/1 value, 0 when
    /// no spikes were given); <paramref name="variable"/> names the trace in the legend and the CSV in place of "u"
    /// (e.g. "v" for an Izhikevich or CubaLif membrane, whose "u" is another state).
    /// </summary>
    public static FigureFiles MembraneTrace(string folder, string name, IReadOnlyList<double> timesSeconds, IReadOnlyList<double> u,
        IReadOnlyList<double>? spikes = null, double? threshold = null, string yTitle = "Membrane potential u (a.u.)", PlotOptions? options = null,
        string variable = "u")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(variable);
        ArgumentNullException.ThrowIfNull(timesSeconds);
        ArgumentNullException.ThrowIfNull(u);
        if (u.Count != timesSeconds.Count) throw new ArgumentException($"{u.Count} membrane values but {timesSeconds.Count} times.", nameof(u));
        if (spikes is not null && spikes.Count != u.Count) throw new ArgumentException($"{spikes.Count} spike values but {u.Count} membrane values.", nameof(spikes));
        PlotData.CheckFinite(u, "The membrane trace");
        PlotData.CheckFinite(timesSeconds, "The times");

        var t = timesSeconds.Select(s => s * 1e3).ToArray();
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Linear(AxisPosition.Bottom, "Time (ms)").With(a => a.Minimum = 0));
        var yAxis = Figure.Linear(AxisPosition.Left, yTitle);
        yAxis.MaximumPadding = 0.06; // keeps the spike marks, drawn above the trace, inside the plot area
        model.Axes.Add(yAxis);
        model.Series.Add(PlotData.Line(t, u, Figure.Color(0), variable));

        double hi = u.Count > 0 ? u.Max() : 1, lo = u.Count > 0 ? u.Min() : 0;
        if (threshold is { } thr)
        {
            hi = Math.Max(hi, thr);
            lo = Math.Min(lo, thr);
            model.Annotations.Add(new LineAnnotation
            {
                Type = LineAnnotationType.Horizontal, Y = thr, Color = OxyColor.FromRgb(0x70, 0x70, 0x70),
                LineStyle = LineStyle.Dash, StrokeThickness = 1.2, Text = "threshold", TextColor = OxyColor.FromRgb(0x50, 0x50, 0x50),
                TextLinePosition = 0, TextHorizontalAlignment = HorizontalAlignment.Left, TextVerticalAlignment = VerticalAlignment.Bottom,
            });
        }
        double markY = hi + 0.08 * Math.Max(hi - lo, 1e-12 + Math.Abs(hi) * 0.1);
        var marks = new ScatterSeries
        {
            Title = "spike", MarkerType = MarkerType.Triangle, MarkerSize = 5,
            MarkerFill = Figure.Color(3), MarkerStroke = Figure.Color(3),
        };
        var rows = new List<object[]>();
        for (int k = 0; k < t.Length; k++)
        {
            double s = spikes?[k] ?? 0;
            if (s != 0) marks.Points.Add(new ScatterPoint(t[k], markY));
            rows.Add(new object[] { k, t[k], u[k], s });
        }
        if (spikes is not null) model.Series.Add(marks);
        Figure.LegendIfSeveral(model);
        return Figure.Save(model, folder, name, new[] { "step", "time_ms", variable, "spike" }, rows, options);
    }

    /// <summary>
    /// Membrane trace of one neuron from a monitor of its membrane variable (e.g. <c>net.Monitor("L", "u")</c>) and the
    /// group's output spikes of the same run ([batch, steps, N], e.g. <c>result["L"]</c>), on the monitor's timeline.
    /// </summary>
    public static FigureFiles MembraneTrace(string folder, string name, StateMonitor monitor, Tensor? spikes, int batchRow = 0, int neuron = 0,
        double? threshold = null, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        var (steps, n, u) = Row(monitor.Values, batchRow, $"monitor {monitor.Group.DisplayName}.{monitor.Variable}");
        if (neuron < 0 || neuron >= n) throw new ArgumentOutOfRangeException(nameof(neuron), $"neuron {neuron} is outside 0..{n - 1}.");
        var trace = Enumerable.Range(0, steps).Select(k => u[k * n + neuron]).ToArray();
        double[]? s = null;
        if (spikes is not null)
        {
            var (ss, sn, sv) = Row(spikes, batchRow, "spikes");
            if (ss != steps || sn != n)
                throw new ArgumentException($"The spikes have {ss} steps × {sn} neurons, the monitor recorded {steps} steps × {n}: pass the output of the same run.", nameof(spikes));
            s = Enumerable.Range(0, steps).Select(k => sv[k * n + neuron]).ToArray();
        }
        return MembraneTrace(folder, name, monitor.Times, trace, s, threshold, $"Membrane potential {monitor.Variable} (a.u.)", options, monitor.Variable);
    }

    /// <summary>One batch row of a [batch, steps, N] tensor (or a [steps, N] tensor) as (steps, N, row-major values).</summary>
    internal static (int Steps, int N, double[] Values) Row(Tensor t, int batchRow, string what)
    {
        if (t.dim() == 2)
        {
            if (batchRow != 0) throw new ArgumentOutOfRangeException(nameof(batchRow), $"{what} has no batch axis, so only batch row 0 exists.");
            return ((int)t.shape[0], (int)t.shape[1], PlotData.ToDoubles(t));
        }
        if (t.dim() < 3)
            throw new ArgumentException($"{what} must be [batch, steps, N] or [steps, N], got [{string.Join(", ", t.shape)}].");
        if (batchRow < 0 || batchRow >= t.shape[0])
            throw new ArgumentOutOfRangeException(nameof(batchRow), $"batch row {batchRow} is outside 0..{t.shape[0] - 1} of {what}.");
        using var row = t[batchRow];
        using var flat = row.reshape(row.shape[0], -1);
        return ((int)flat.shape[0], (int)flat.shape[1], PlotData.ToDoubles(flat));
    }
}

/// <summary>Small fluent helper so axes can be configured inline.</summary>
internal static class AxisExtensions
{
    internal static T With<T>(this T axis, Action<T> configure) where T : Axis
    {
        configure(axis);
        return axis;
    }
}
