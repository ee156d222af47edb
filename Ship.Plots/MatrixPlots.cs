using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Series;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Plots;

/// <summary>Matrices as images: connectivity and weight matrices of synapse groups.</summary>
public static class MatrixPlots
{
    /// <summary>Cells up to which the heatmap is drawn as vector rectangles; larger matrices are drawn as one image (small SVGs).</summary>
    public const int VectorCellLimit = 20_000;

    /// <summary>
    /// Heatmap of a weight or connectivity matrix W [Ns, Nt]: source index down the rows (row 0 on top, as the matrix is
    /// written), target index along the columns. Signed data get a blue–white–red scale symmetric about 0, non-negative
    /// data the viridis scale. CSV columns: <c>source, target, value</c>, row-major.
    /// </summary>
    public static FigureFiles Heatmap(string folder, string name, Tensor matrix, string valueTitle = "Weight (a.u.)",
        string sourceTitle = "Source index", string targetTitle = "Target index", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var rows = PlotData.ToRows(matrix, "The matrix [Ns, Nt]");
        return Heatmap(folder, name, rows, valueTitle, sourceTitle, targetTitle, options);
    }

    /// <summary>Heatmap of a matrix given as rows (matrix[source][target]); see the tensor overload.</summary>
    public static FigureFiles Heatmap(string folder, string name, IReadOnlyList<IReadOnlyList<double>> matrix, string valueTitle = "Weight (a.u.)",
        string sourceTitle = "Source index", string targetTitle = "Target index", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int ns = matrix.Count;
        if (ns == 0) throw new ArgumentException("The matrix has no rows.", nameof(matrix));
        int nt = matrix[0].Count;
        if (nt == 0 || matrix.Any(r => r.Count != nt)) throw new ArgumentException("The matrix rows must all have the same, non-zero length.", nameof(matrix));
        foreach (var r in matrix) PlotData.CheckFinite(r, "The matrix");

        // OxyPlot's Data[x, y]: x along the columns (target), y along the rows (source).
        var data = new double[nt, ns];
        var csv = new List<object[]>(ns * nt);
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < nt; j++)
            {
                double v = matrix[i][j];
                data[j, i] = v;
                csv.Add(new object[] { i, j, v });
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }

        var model = Figure.NewModel(options);
        var size = options ?? PlotOptions.Default;
        // Small matrices (a confusion matrix, a few neurons) label every index: OxyPlot would otherwise choose a step of 2
        // or 5 and leave rows and columns unnamed. Larger ones keep the automatic ticks (labels would overlap).
        model.Axes.Add(Figure.Linear(AxisPosition.Bottom, targetTitle).With(a =>
        {
            a.Minimum = -0.5; a.Maximum = nt - 0.5; a.MinimumMajorStep = 1; a.MinimumMinorStep = 1; a.MajorGridlineStyle = LineStyle.None;
            if (nt <= size.Width / 20) a.MajorStep = a.MinorStep = 1;
        }));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, sourceTitle).With(a =>
        {
            a.Minimum = -0.5; a.Maximum = ns - 0.5; a.MinimumMajorStep = 1; a.MinimumMinorStep = 1; a.MajorGridlineStyle = LineStyle.None;
            a.StartPosition = 1; a.EndPosition = 0;
            if (ns <= size.Height / 18) a.MajorStep = a.MinorStep = 1;
        }));
        bool signed = min < 0 && max > 0;
        double lim = Math.Max(Math.Abs(min), Math.Abs(max));
        var color = new LinearColorAxis
        {
            Position = AxisPosition.Right,
            Title = valueTitle,
            TitleFontSize = 14,
            FontSize = 12,
            Palette = signed ? OxyPalettes.BlueWhiteRed(255) : OxyPalettes.Viridis(255),
        };
        if (signed) { color.Minimum = -lim; color.Maximum = lim; }
        else if (min == max) { color.Minimum = min - 0.5; color.Maximum = max + 0.5; }
        model.Axes.Add(color);
        model.Series.Add(new HeatMapSeries
        {
            X0 = -0.5, X1 = nt - 0.5, Y0 = -0.5, Y1 = ns - 0.5,
            Data = data,
            Interpolate = false,
            CoordinateDefinition = HeatMapCoordinateDefinition.Edge,
            RenderMethod = (long)ns * nt <= VectorCellLimit ? HeatMapRenderMethod.Rectangles : HeatMapRenderMethod.Bitmap,
        });
        return Figure.Save(model, folder, name, new[] { "source", "target", "value" }, csv, options);
    }
}
