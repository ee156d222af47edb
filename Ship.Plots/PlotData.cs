using OxyPlot;
using OxyPlot.Series;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Plots;

/// <summary>Mean and band edges of a set of samples at one x, as drawn and as written to the CSV.</summary>
/// <param name="Mean">Arithmetic mean.</param>
/// <param name="Lower">Lower band edge.</param>
/// <param name="Upper">Upper band edge.</param>
/// <param name="Count">Number of samples.</param>
public readonly record struct BandPoint(double Mean, double Lower, double Upper, int Count);

/// <summary>Conversions and statistics shared by the plots, so every family turns tensors into numbers the same way.</summary>
public static class PlotData
{
    /// <summary>The values of a tensor as doubles in row-major order (copied to the CPU, detached).</summary>
    public static double[] ToDoubles(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        using var d = t.detach().to_type(ScalarType.Float64).cpu().contiguous();
        return d.data<double>().ToArray();
    }

    /// <summary>A 2-D tensor as rows of doubles ([rows][columns]).</summary>
    public static double[][] ToRows(Tensor t, string what)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.dim() != 2) throw new ArgumentException($"{what} must be a 2-D tensor, got shape [{string.Join(", ", t.shape)}].");
        var flat = ToDoubles(t);
        int r = (int)t.shape[0], c = (int)t.shape[1];
        return Enumerable.Range(0, r).Select(i => flat.AsSpan(i * c, c).ToArray()).ToArray();
    }

    /// <summary>Mean and band of samples under the chosen spread; std uses n − 1 (0 for one sample).</summary>
    public static BandPoint Band(IReadOnlyList<double> samples, Spread spread)
    {
        ArgumentNullException.ThrowIfNull(samples);
        int n = samples.Count;
        if (n == 0) throw new ArgumentException("A mean ± spread needs at least one sample.", nameof(samples));
        double mean = 0;
        for (int i = 0; i < n; i++) mean += samples[i];
        mean /= n;
        if (spread == Spread.MinMax)
        {
            double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
            for (int i = 0; i < n; i++) { lo = Math.Min(lo, samples[i]); hi = Math.Max(hi, samples[i]); }
            return new BandPoint(mean, lo, hi, n);
        }
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (samples[i] - mean) * (samples[i] - mean);
        double std = n > 1 ? Math.Sqrt(ss / (n - 1)) : 0;
        double half = spread == Spread.StdErr ? std / Math.Sqrt(n) : std;
        return new BandPoint(mean, mean - half, mean + half, n);
    }

    /// <summary>Column-name suffix describing the band, so a CSV says what its lower/upper columns mean.</summary>
    public static string SpreadName(Spread spread) => spread switch
    {
        Spread.Std => "std",
        Spread.StdErr => "sem",
        _ => "minmax",
    };

    /// <summary>A filled band between lower and upper edges, drawn behind its mean line in a light tint of the same colour.</summary>
    public static AreaSeries BandSeries(IReadOnlyList<double> x, IReadOnlyList<BandPoint> band, OxyColor color, string? xAxisKey = null, string? yAxisKey = null)
    {
        var a = new AreaSeries
        {
            Color = OxyColors.Transparent,
            Color2 = OxyColors.Transparent,
            Fill = OxyColor.FromAColor(60, color),
            StrokeThickness = 0,
            XAxisKey = xAxisKey,
            YAxisKey = yAxisKey,
        };
        for (int i = 0; i < x.Count; i++)
        {
            a.Points.Add(new DataPoint(x[i], band[i].Upper));
            a.Points2.Add(new DataPoint(x[i], band[i].Lower));
        }
        return a;
    }

    /// <summary>A line through the given points in the given colour.</summary>
    public static LineSeries Line(IReadOnlyList<double> x, IReadOnlyList<double> y, OxyColor color, string? title, string? xAxisKey = null, string? yAxisKey = null)
    {
        if (x.Count != y.Count) throw new ArgumentException($"Series '{title}': {x.Count} x values but {y.Count} y values.");
        var s = new LineSeries { Title = title, Color = color, StrokeThickness = 2, XAxisKey = xAxisKey, YAxisKey = yAxisKey };
        for (int i = 0; i < x.Count; i++) s.Points.Add(new DataPoint(x[i], y[i]));
        return s;
    }

    internal static void CheckFinite(IEnumerable<double> values, string what)
    {
        foreach (var v in values)
            if (!double.IsFinite(v)) throw new ArgumentException($"{what} contains a NaN or infinite value.");
    }

    internal static void CheckPositive(IEnumerable<double> values, string what)
    {
        foreach (var v in values)
            if (!(v > 0)) throw new ArgumentException($"{what} must be > 0 on a logarithmic axis, got {v}.");
    }
}
