using System.Text;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Plots;

/// <summary>
/// Device characteristics from plain numbers (arrays or tensors), so any device model, measured data included, can be
/// shown: pulse response, drift of programmed levels, and the quantized-weight transfer curve.
/// </summary>
public static class DevicePlots
{
    /// <summary>
    /// Conductance against pulse number for a potentiation train followed by a depression train: mean ± spread over
    /// devices per pulse. Inputs are conductances in siemens (S), [device][pulse]; pulses are numbered 1…P for potentiation
    /// and P+1…P+D for depression. Values are drawn (and written) times <paramref name="scale"/> in
    /// <paramref name="unit"/> (default µS). CSV columns: <c>phase, pulse, mean_uS, lower_uS, upper_uS, n</c> (the unit
    /// suffix follows <paramref name="unit"/>).
    /// </summary>
    public static FigureFiles PulseResponse(string folder, string name, IReadOnlyList<IReadOnlyList<double>>? potentiation,
        IReadOnlyList<IReadOnlyList<double>>? depression, Spread spread = Spread.Std, double scale = 1e6, string unit = "µS", PlotOptions? options = null)
    {
        if (potentiation is null && depression is null) throw new ArgumentException("Give potentiation data, depression data, or both.");
        int p = PulseCount(potentiation, nameof(potentiation));
        int d = PulseCount(depression, nameof(depression));
        var sets = new List<BandData>();
        if (potentiation is not null)
            sets.Add(BandData.FromRuns("potentiation", Enumerable.Range(1, p).Select(i => (double)i).ToArray(), Scaled(potentiation, scale)));
        if (depression is not null)
            sets.Add(BandData.FromRuns("depression", Enumerable.Range(p + 1, d).Select(i => (double)i).ToArray(), Scaled(depression, scale)));

        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Linear(AxisPosition.Bottom, "Pulse number"));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, $"Conductance ({unit})"));
        if (p > 0 && d > 0)
            model.Annotations.Add(new LineAnnotation
            {
                Type = LineAnnotationType.Vertical, X = p + 0.5, LineStyle = LineStyle.Dash,
                Color = OxyColor.FromRgb(0x90, 0x90, 0x90), StrokeThickness = 1,
            });
        var rows = new List<object[]>();
        // Potentiation in blue, depression in red, whichever of the two is given.
        for (int k = 0; k < sets.Count; k++)
            LinePlots.AddBands(model, new[] { sets[k] }, spread, false, rows,
                (set, i, b) => new object[] { set.Label, (int)set.X[i], b.Mean, b.Lower, b.Upper, b.Count },
                colorOffset: sets[k].Label == "potentiation" ? 0 : 3);
        Figure.LegendIfSeveral(model);
        var u = CsvUnit(unit);
        return Figure.Save(model, folder, name, new[] { "phase", "pulse", $"mean_{u}", $"lower_{u}", $"upper_{u}", "n" }, rows, options);
    }

    /// <summary>Pulse response from [devices, pulses] tensors of conductances (S) (either may be null); drawn in µS by default.</summary>
    public static FigureFiles PulseResponse(string folder, string name, Tensor? potentiation, Tensor? depression, Spread spread = Spread.Std,
        double scale = 1e6, string unit = "µS", PlotOptions? options = null) =>
        PulseResponse(folder, name,
            potentiation is null ? null : PlotData.ToRows(potentiation, "Potentiation [devices, pulses]"),
            depression is null ? null : PlotData.ToRows(depression, "Depression [devices, pulses]"),
            spread, scale, unit, options);

    /// <summary>
    /// Conductance distribution of programmed levels as it drifts: per level a mean line and a ± spread band (σ by
    /// default) over devices, against elapsed time on a log axis. Each set: Label = the level's name (e.g. its target),
    /// X = elapsed times in seconds (> 0), Samples[i] = conductances (S) of every device at X[i], drawn times
    /// <paramref name="scale"/> in <paramref name="unit"/> (default µS). CSV columns:
    /// <c>level, time_s, mean_uS, lower_uS, upper_uS, n</c>.
    /// </summary>
    public static FigureFiles DriftDistribution(string folder, string name, IReadOnlyList<BandData> levels, Spread spread = Spread.Std,
        double scale = 1e6, string unit = "µS", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(levels);
        if (levels.Count == 0) throw new ArgumentException("No programmed levels to plot.", nameof(levels));
        var scaled = levels.Select(l => new BandData(l.Label, l.X,
            l.Samples.Select(s => (IReadOnlyList<double>)s.Select(v => v * scale).ToArray()).ToArray())).ToArray();
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Log(AxisPosition.Bottom, "Elapsed time (s)"));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, $"Conductance ({unit})"));
        var rows = new List<object[]>();
        LinePlots.AddBands(model, scaled, spread, logX: true, rows, (set, i, b) => new object[] { set.Label, set.X[i], b.Mean, b.Lower, b.Upper, b.Count });
        Figure.LegendIfSeveral(model);
        var u = CsvUnit(unit);
        return Figure.Save(model, folder, name, new[] { "level", "time_s", $"mean_{u}", $"lower_{u}", $"upper_{u}", "n" }, rows, options);
    }

    /// <summary>
    /// Drift distribution from a [levels, times, devices] tensor of conductances (S), drawn in µS by default; levels are labelled
    /// "level 0", "level 1", … unless <paramref name="labels"/> are given.
    /// </summary>
    public static FigureFiles DriftDistribution(string folder, string name, Tensor conductance, IReadOnlyList<double> timesSeconds,
        IReadOnlyList<string>? labels = null, Spread spread = Spread.Std, double scale = 1e6, string unit = "µS", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(conductance);
        ArgumentNullException.ThrowIfNull(timesSeconds);
        if (conductance.dim() != 3 || conductance.shape[1] != timesSeconds.Count)
            throw new ArgumentException($"The conductances must be [levels, {timesSeconds.Count} times, devices], got [{string.Join(", ", conductance.shape)}].", nameof(conductance));
        int nl = (int)conductance.shape[0], nt = (int)conductance.shape[1], nd = (int)conductance.shape[2];
        if (labels is not null && labels.Count != nl) throw new ArgumentException($"{labels.Count} labels for {nl} levels.", nameof(labels));
        var flat = PlotData.ToDoubles(conductance);
        var sets = new BandData[nl];
        for (int l = 0; l < nl; l++)
        {
            var samples = new IReadOnlyList<double>[nt];
            for (int t = 0; t < nt; t++) samples[t] = flat.AsSpan((l * nt + t) * nd, nd).ToArray();
            sets[l] = new BandData(labels?[l] ?? $"level {l}", timesSeconds, samples);
        }
        return DriftDistribution(folder, name, sets, spread, scale, unit, options);
    }

    /// <summary>
    /// Quantized-weight transfer curve: the weight a device array represents against the weight asked for, with the
    /// ideal y = x as a dashed reference. CSV columns: <c>w_in, w_q</c>.
    /// </summary>
    public static FigureFiles QuantizationTransfer(string folder, string name, IReadOnlyList<double> input, IReadOnlyList<double> quantized,
        string weightUnit = "a.u.", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(quantized);
        if (input.Count != quantized.Count) throw new ArgumentException($"{input.Count} input weights but {quantized.Count} quantized weights.", nameof(quantized));
        PlotData.CheckFinite(input, "The input weights");
        PlotData.CheckFinite(quantized, "The quantized weights");
        var model = TransferModel(weightUnit, options);
        model.Series.Add(PlotData.Line(input, quantized, Figure.Color(0), "quantized"));
        var rows = Enumerable.Range(0, input.Count).Select(i => new object[] { input[i], quantized[i] }).ToList();
        return Figure.Save(model, folder, name, new[] { "w_in", "w_q" }, rows, options);
    }

    /// <summary>
    /// Transfer curve with device-to-device spread: samples[i] holds the quantized weights of every device (or draw) for
    /// input[i]; drawn as mean and spread band. CSV columns: <c>w_in, mean, lower, upper, n</c>.
    /// </summary>
    public static FigureFiles QuantizationTransfer(string folder, string name, IReadOnlyList<double> input, IReadOnlyList<IReadOnlyList<double>> samples,
        Spread spread = Spread.Std, string weightUnit = "a.u.", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(samples);
        var model = TransferModel(weightUnit, options);
        var rows = new List<object[]>();
        LinePlots.AddBands(model, new[] { new BandData("quantized", input, samples) }, spread, false, rows,
            (set, i, b) => new object[] { set.X[i], b.Mean, b.Lower, b.Upper, b.Count });
        return Figure.Save(model, folder, name, new[] { "w_in", "mean", "lower", "upper", "n" }, rows, options);
    }

    /// <summary>Transfer curve from tensors: input [K] and quantized [K] (no spread) or [K, samples] (mean ± spread); a separate name because arrays convert to tensors implicitly.</summary>
    public static FigureFiles QuantizationTransferOf(string folder, string name, Tensor input, Tensor quantized, Spread spread = Spread.Std,
        string weightUnit = "a.u.", PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(quantized);
        var x = PlotData.ToDoubles(input);
        return quantized.dim() switch
        {
            1 => QuantizationTransfer(folder, name, x, PlotData.ToDoubles(quantized), weightUnit, options),
            2 => QuantizationTransfer(folder, name, x, PlotData.ToRows(quantized, "The quantized weights [K, samples]"), spread, weightUnit, options),
            _ => throw new ArgumentException($"The quantized weights must be [K] or [K, samples], got [{string.Join(", ", quantized.shape)}].", nameof(quantized)),
        };
    }

    private static PlotModel TransferModel(string unit, PlotOptions? options)
    {
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Linear(AxisPosition.Bottom, $"Input weight ({unit})"));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, $"Quantized weight ({unit})"));
        model.Annotations.Add(new LineAnnotation
        {
            Type = LineAnnotationType.LinearEquation, Slope = 1, Intercept = 0, LineStyle = LineStyle.Dash,
            Color = OxyColor.FromRgb(0x90, 0x90, 0x90), StrokeThickness = 1, Text = "ideal", TextColor = OxyColor.FromRgb(0x70, 0x70, 0x70),
        });
        return model;
    }

    private static int PulseCount(IReadOnlyList<IReadOnlyList<double>>? devices, string what)
    {
        if (devices is null) return 0;
        if (devices.Count == 0 || devices[0].Count == 0) throw new ArgumentException($"The {what} data needs at least one device and one pulse.", what);
        int n = devices[0].Count;
        if (devices.Any(d => d.Count != n)) throw new ArgumentException($"Every device of the {what} data must have {n} pulses.", what);
        return n;
    }

    private static IReadOnlyList<IReadOnlyList<double>> Scaled(IReadOnlyList<IReadOnlyList<double>> data, double scale) =>
        data.Select(r => (IReadOnlyList<double>)r.Select(v => v * scale).ToArray()).ToArray();

    /// <summary>A unit as a CSV-safe column suffix: µ becomes u, anything not a letter or digit is dropped ("µS" → "uS").</summary>
    public static string CsvUnit(string unit)
    {
        var sb = new StringBuilder();
        foreach (var c in unit ?? "")
        {
            if (c is 'µ' or 'μ') sb.Append('u');
            else if (char.IsAsciiLetterOrDigit(c)) sb.Append(c);
        }
        return sb.Length > 0 ? sb.ToString() : "value";
    }
}
