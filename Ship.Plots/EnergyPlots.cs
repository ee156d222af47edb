using OxyPlot.Axes;

namespace Ship.Plots;

/// <summary>Energy per inference of the hardware ledger (docs/energy.md), on a logarithmic energy axis: platforms differ by decades.</summary>
public static class EnergyPlots
{
    /// <summary>
    /// One curve per platform of energy per inference (J, log axis) against <paramref name="xTitle"/>. CSV columns:
    /// <c>platform, x, energy_J</c> (one row per point, in drawing order).
    /// </summary>
    public static FigureFiles PerInference(string folder, string name, IReadOnlyList<LineData> series, string xTitle, bool logX = false, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException("An energy plot needs at least one platform.", nameof(series));
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Axis(AxisPosition.Bottom, xTitle, logX));
        model.Axes.Add(Figure.Log(AxisPosition.Left, "Energy per inference (J)"));
        var rows = new List<object[]>();
        for (int k = 0; k < series.Count; k++)
        {
            var s = series[k];
            PlotData.CheckFinite(s.X, $"Platform '{s.Label}' x");
            PlotData.CheckFinite(s.Y, $"Platform '{s.Label}' energy");
            PlotData.CheckPositive(s.Y, $"Platform '{s.Label}' energy");
            if (logX) PlotData.CheckPositive(s.X, $"Platform '{s.Label}' x");
            model.Series.Add(PlotData.Line(s.X, s.Y, Figure.Color(k), s.Label));
            for (int i = 0; i < s.X.Count; i++) rows.Add(new object[] { s.Label, s.X[i], s.Y[i] });
        }
        Figure.LegendIfSeveral(model);
        return Figure.Save(model, folder, name, new[] { "platform", "x", "energy_J" }, rows, options);
    }
}
