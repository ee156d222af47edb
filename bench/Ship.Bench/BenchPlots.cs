using OxyPlot;
using Ship.Plots;

namespace Ship.Bench;

/// Log-log plot of benchmark times against N, Ship.NET and SHIP side by side (the CSV holds exactly the plotted points).
internal static class BenchPlots
{
    public static void TimesVsN(string folder, string name, string title, IReadOnlyList<(string Label, double[] N, double[] Seconds)> series)
    {
        var model = Figure.NewModel(new PlotOptions(Title: title));
        model.Axes.Add(Figure.Log(OxyPlot.Axes.AxisPosition.Bottom, "N (neurons)", @base: 2));
        model.Axes.Add(Figure.Log(OxyPlot.Axes.AxisPosition.Left, "time per call (s)"));
        var rows = new List<object[]>();
        int k = 0;
        foreach (var (label, n, sec) in series)
        {
            var keep = Enumerable.Range(0, n.Length).Where(i => double.IsFinite(sec[i]) && sec[i] > 0).ToArray();
            if (keep.Length == 0) { k++; continue; }
            var xs = keep.Select(i => n[i]).ToList();
            var ys = keep.Select(i => sec[i]).ToList();
            model.Series.Add(PlotData.Line(xs, ys, Figure.Color(k++), label));
            for (int i = 0; i < xs.Count; i++) rows.Add(new object[] { label, xs[i], ys[i] });
        }
        Figure.LegendIfSeveral(model);
        Figure.Save(model, folder, name, new[] { "series", "N", "seconds" }, rows);
    }
}
