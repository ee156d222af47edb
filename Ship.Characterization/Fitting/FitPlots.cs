using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Series;
using Ship.Characterization.Measurements;
using Ship.Devices.Memristive;
using Ship.Plots;

namespace Ship.Characterization.Fitting;

/// <summary>
/// Figures of a fit (PNG + SVG + the CSV of exactly the plotted numbers, through Ship.Plots): measured reads as markers
/// with the fitted curves over them, and the residuals. Conductances are drawn in µS (data and fits are siemens).
/// </summary>
public static class FitPlots
{
    private const double Micro = 1e6;

    /// <summary>
    /// Pulse response: for up to <paramref name="maxDevices"/> devices and the first <paramref name="maxCycles"/> cycles,
    /// reads against the pulse count within the cycle (up train first, the down train continuing after it) and the
    /// selected family's curves (each device's own fit when there are per-device fits). CSV: <c>device, cycle, polarity, x_pulse, measured_uS, fitted_uS, residual_uS</c>.
    /// </summary>
    public static (FigureFiles Fit, FigureFiles Residuals) PulseFit(string folder, PulseFitReport report, int maxDevices = 4, int maxCycles = 2, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        var devices = report.Trains.Select(t => t.Device).Distinct().Take(maxDevices).ToHashSet();
        var cycles = report.Trains.Select(t => t.Cycle).Distinct().Order().Take(maxCycles).ToHashSet();
        var trains = report.Trains.Where(t => devices.Contains(t.Device) && cycles.Contains(t.Cycle)).ToArray();
        var fit = Figure.NewModel(options);
        fit.Title = $"{report.Selected.Family.Name} fit of {report.Source}";
        fit.Axes.Add(Figure.Linear(AxisPosition.Bottom, "Pulse number in the cycle"));
        fit.Axes.Add(Figure.Linear(AxisPosition.Left, "Conductance (µS)"));
        var res = Figure.NewModel(options);
        res.Title = "Residuals (measured − fitted)";
        res.Axes.Add(Figure.Linear(AxisPosition.Bottom, "Pulse number in the cycle"));
        res.Axes.Add(Figure.Linear(AxisPosition.Left, "Residual (µS)"));
        var rows = new List<object[]>();
        int color = 0;
        // Each device is drawn with its own fit when the report has one (device-to-device spread is not misfit).
        var own = report.PerDevice.ToDictionary(d => d.Device, d => d.Fit);
        foreach (var group in trains.GroupBy(t => (t.Device, t.Cycle)))
        {
            var c = Figure.Color(color++);
            double offset = 0;
            bool labelled = false;
            foreach (var t in group.OrderBy(t => t.Polarity == PulseDirection.Potentiation ? 0 : 1))
            {
                var pred = (own.TryGetValue(t.Device, out var mine) ? mine : report.Selected).Predict(t);
                var x = t.Pulses.Select(p => p + offset).ToArray();
                var marks = new ScatterSeries { MarkerType = MarkerType.Circle, MarkerSize = 2, MarkerFill = c, Title = labelled ? null : $"{t.Device} cycle {t.Cycle}" };
                var rmarks = new ScatterSeries { MarkerType = MarkerType.Circle, MarkerSize = 2, MarkerFill = c };
                for (int i = 0; i < x.Length; i++)
                {
                    marks.Points.Add(new ScatterPoint(x[i], t.Conductances[i] * Micro));
                    rmarks.Points.Add(new ScatterPoint(x[i], (t.Conductances[i] - pred[i]) * Micro));
                    rows.Add(new object[] { t.Device, t.Cycle, t.Polarity == PulseDirection.Potentiation ? "up" : "down", x[i],
                        t.Conductances[i] * Micro, pred[i] * Micro, (t.Conductances[i] - pred[i]) * Micro });
                }
                fit.Series.Add(marks);
                fit.Series.Add(PlotData.Line(x, pred.Select(v => v * Micro).ToArray(), c, null));
                res.Series.Add(rmarks);
                labelled = true;
                offset = x[^1] + 1;
            }
        }
        Figure.LegendIfSeveral(fit);
        var header = new[] { "device", "cycle", "polarity", "x_pulse", "measured_uS", "fitted_uS", "residual_uS" };
        return (Figure.Save(fit, folder, "fit-pulses", header, rows, options), Figure.Save(res, folder, "fit-pulses-residuals", header, rows, options));
    }

    /// <summary>
    /// Retention: for up to <paramref name="maxSeries"/> series, reads against elapsed time (log axis) with the fitted power
    /// law, and the residuals. CSV: <c>device, level_uS, time_s, measured_uS, fitted_uS, residual_uS</c>.
    /// </summary>
    public static (FigureFiles Fit, FigureFiles Residuals) DriftFit(string folder, PowerLawDriftReport report, int maxSeries = 8, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        // Spread the shown series over the levels rather than taking the first few devices of one level.
        var series = report.Series.OrderBy(s => s.Level).Where((_, i) => i % Math.Max(1, report.Series.Count / maxSeries) == 0).Take(maxSeries).ToArray();
        var fit = Figure.NewModel(options);
        fit.Title = $"Power-law drift fit of {report.Source}";
        fit.Axes.Add(Figure.Log(AxisPosition.Bottom, "Time since programming (s)"));
        fit.Axes.Add(Figure.Linear(AxisPosition.Left, "Conductance (µS)"));
        var res = Figure.NewModel(options);
        res.Title = "Residuals (measured − fitted)";
        res.Axes.Add(Figure.Log(AxisPosition.Bottom, "Time since programming (s)"));
        res.Axes.Add(Figure.Linear(AxisPosition.Left, "Residual (µS)"));
        var rows = new List<object[]>();
        for (int k = 0; k < series.Length; k++)
        {
            var s = series[k];
            var c = Figure.Color(k);
            var keep = Enumerable.Range(0, s.Times.Length).Where(i => s.Times[i] > 0).ToArray();
            var marks = new ScatterSeries { MarkerType = MarkerType.Circle, MarkerSize = 2.5, MarkerFill = c, Title = $"{s.Device} @ {s.Level * Micro:G4} µS" };
            var rmarks = new ScatterSeries { MarkerType = MarkerType.Circle, MarkerSize = 2.5, MarkerFill = c };
            foreach (int i in keep)
            {
                marks.Points.Add(new ScatterPoint(s.Times[i], s.Observed[i] * Micro));
                rmarks.Points.Add(new ScatterPoint(s.Times[i], (s.Observed[i] - s.Fitted[i]) * Micro));
                rows.Add(new object[] { s.Device, s.Level * Micro, s.Times[i], s.Observed[i] * Micro, s.Fitted[i] * Micro, (s.Observed[i] - s.Fitted[i]) * Micro });
            }
            fit.Series.Add(marks);
            fit.Series.Add(PlotData.Line(keep.Select(i => s.Times[i]).ToArray(), keep.Select(i => s.Fitted[i] * Micro).ToArray(), c, null));
            res.Series.Add(rmarks);
        }
        Figure.LegendIfSeveral(fit);
        var header = new[] { "device", "level_uS", "time_s", "measured_uS", "fitted_uS", "residual_uS" };
        return (Figure.Save(fit, folder, "fit-drift", header, rows, options), Figure.Save(res, folder, "fit-drift-residuals", header, rows, options));
    }

    /// <summary>
    /// Endurance: each device's window G_high − G_low against cycles (log axis; reads after the device was seen stuck
    /// drawn too) with the fitted W0·f(n). CSV: <c>series, cycles, window_uS</c> (series "fit" is the fitted curve).
    /// </summary>
    public static FigureFiles EnduranceFit(string folder, EnduranceReport report, int maxDevices = 8, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        var model = Figure.NewModel(options);
        model.Title = $"Endurance fit of {report.Source}";
        model.Axes.Add(Figure.Log(AxisPosition.Bottom, "Cycles"));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, "Window G_high − G_low (µS)"));
        var rows = new List<object[]>();
        var shown = report.Series.Take(maxDevices).ToArray();
        for (int k = 0; k < shown.Length; k++)
        {
            var s = shown[k];
            var c = Figure.Color(k);
            var marks = new ScatterSeries { MarkerType = MarkerType.Circle, MarkerSize = 2.5, MarkerFill = c, Title = s.Device };
            var w = s.Window;
            for (int i = 0; i < w.Length; i++)
            {
                if (s.Cycles[i] <= 0) continue;
                marks.Points.Add(new ScatterPoint(s.Cycles[i], w[i] * Micro));
                rows.Add(new object[] { s.Device, s.Cycles[i], w[i] * Micro });
            }
            model.Series.Add(marks);
        }
        var all = report.Series.SelectMany(s => s.Cycles).Where(c => c > 0).ToArray();
        double lo = all.Min(), hi = all.Max();
        var xs = Enumerable.Range(0, 100).Select(i => lo * Math.Pow(hi / lo, i / 99.0)).ToArray();
        var ys = xs.Select(x => report.Window0.Value * report.WindowFraction(x) * Micro).ToArray();
        model.Series.Add(PlotData.Line(xs, ys, OxyColors.Black, "fit"));
        for (int i = 0; i < xs.Length; i++) rows.Add(new object[] { "fit", xs[i], ys[i] });
        Figure.LegendIfSeveral(model);
        return Figure.Save(model, folder, "fit-endurance", new[] { "series", "cycles", "window_uS" }, rows, options);
    }
}
