using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;
using Ship.Core.IO;
using SkiaSharp;

namespace Ship.Plots;

/// <summary>What one plot call wrote: the PNG, the SVG and the CSV of the plotted numbers, plus the model for further tweaks.</summary>
/// <param name="Png">Path of the raster image.</param>
/// <param name="Svg">Path of the vector image.</param>
/// <param name="Csv">Path of the table holding exactly the plotted series.</param>
/// <param name="Model">The OxyPlot model the images were drawn from; change it and call <see cref="Figure.Save"/> again to redraw.</param>
/// <param name="PngHasText">False when no font file was found on this machine: the PNG then has lines but no text (the SVG always has text).</param>
public sealed record FigureFiles(string Png, string Svg, string Csv, PlotModel Model, bool PngHasText);

/// <summary>Size and title of a figure, shared by every plot call so scripts can restyle all plots the same way.</summary>
/// <param name="Width">Width in pixels (PNG) or user units (SVG).</param>
/// <param name="Height">Height in pixels (PNG) or user units (SVG).</param>
/// <param name="Title">Title drawn above the plot area; null or empty draws none.</param>
public sealed record PlotOptions(int Width = 800, int Height = 500, string? Title = null)
{
    /// <summary>The defaults: 800 × 500, no title.</summary>
    public static PlotOptions Default { get; } = new();
}

/// <summary>How the spread band around a mean is computed; each plot's CSV names the choice in its column headers.</summary>
public enum Spread
{
    /// <summary>Mean ± sample standard deviation (n − 1 in the denominator; 0 for a single sample).</summary>
    Std,
    /// <summary>Mean ± standard error of the mean (std / √n).</summary>
    StdErr,
    /// <summary>The band spans the minimum to the maximum of the samples.</summary>
    MinMax,
}

/// <summary>
/// The one place every Ship.NET figure is styled and saved, so all plots look alike and the CSV always holds exactly
/// the numbers that were drawn (each plot builds its series and its CSV rows from the same doubles).
/// </summary>
public static class Figure
{
    /// <summary>Qualitative palette (Tableau 10): distinguishable in colour and when printed in grey.</summary>
    public static IReadOnlyList<OxyColor> Palette { get; } = new[]
    {
        OxyColor.FromRgb(0x1F, 0x77, 0xB4), OxyColor.FromRgb(0xFF, 0x7F, 0x0E), OxyColor.FromRgb(0x2C, 0xA0, 0x2C),
        OxyColor.FromRgb(0xD6, 0x27, 0x28), OxyColor.FromRgb(0x94, 0x67, 0xBD), OxyColor.FromRgb(0x8C, 0x56, 0x4B),
        OxyColor.FromRgb(0xE3, 0x77, 0xC2), OxyColor.FromRgb(0x7F, 0x7F, 0x7F), OxyColor.FromRgb(0xBC, 0xBD, 0x22),
        OxyColor.FromRgb(0x17, 0xBE, 0xCF),
    };

    /// <summary>Colour of the i-th series (the palette repeats).</summary>
    public static OxyColor Color(int i) => Palette[((i % Palette.Count) + Palette.Count) % Palette.Count];

    /// <summary>CSS font list written into SVGs: the viewer picks the first one it has.</summary>
    public const string SvgFont = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

    private static readonly string[] PreferredPngFonts = { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica", "FreeSans", "Open Sans" };
    private static readonly Lazy<string?> PngFontLazy = new(FindPngFont);

    /// <summary>
    /// The font family PNGs are drawn with, or null when no font file is installed (the Linux SkiaSharp build used
    /// here reads fonts from /usr/share/fonts; Debian's fonts-dejavu-core provides DejaVu Sans).
    /// </summary>
    public static string? PngFont => PngFontLazy.Value;

    private static string? FindPngFont()
    {
        try
        {
            // With no font file the Linux build still lists one nameless, glyph-less family: only real faces count.
            var families = SKFontManager.Default.GetFontFamilies().Where(f => !string.IsNullOrWhiteSpace(f) && HasGlyphs(f)).ToArray();
            if (families.Length == 0)
            {
                System.Diagnostics.Trace.TraceWarning(
                    "Ship.Plots: no font file under /usr/share/fonts, so PNGs are drawn without text (SVGs keep it). Install one, e.g. apt-get install fonts-dejavu-core.");
                return null;
            }
            foreach (var f in PreferredPngFonts)
                if (families.Contains(f, StringComparer.OrdinalIgnoreCase)) return f;
            return families.FirstOrDefault(f => f.Contains("Sans", StringComparison.OrdinalIgnoreCase) && !f.Contains("Mono", StringComparison.OrdinalIgnoreCase))
                   ?? families[0];
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException)
        {
            return null;
        }
    }

    private static bool HasGlyphs(string family)
    {
        using var face = SKTypeface.FromFamilyName(family);
        return face is not null && face.GlyphCount > 0 && string.Equals(face.FamilyName, family, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A plot model in the house style: white background, readable sizes, no clutter.</summary>
    public static PlotModel NewModel(PlotOptions? options = null)
    {
        var o = options ?? PlotOptions.Default;
        var m = new PlotModel
        {
            Background = OxyColors.White,
            PlotAreaBorderColor = OxyColor.FromRgb(0x40, 0x40, 0x40),
            PlotAreaBorderThickness = new OxyThickness(1),
            DefaultFontSize = 14,
            TitleFontSize = 16,
            TitleFontWeight = FontWeights.Normal,
            TextColor = OxyColor.FromRgb(0x20, 0x20, 0x20),
            Padding = new OxyThickness(8),
            DefaultColors = Palette.ToList(),
        };
        if (!string.IsNullOrEmpty(o.Title)) m.Title = o.Title;
        return m;
    }

    /// <summary>A linear axis with a title (include the unit, e.g. "Time (ms)") and light grid lines.</summary>
    public static LinearAxis Linear(AxisPosition position, string title, string? key = null) =>
        Style(new LinearAxis { Position = position, Title = title, Key = key });

    /// <summary>A logarithmic axis (base 10 unless given) with a title and light grid lines.</summary>
    public static LogarithmicAxis Log(AxisPosition position, string title, string? key = null, double @base = 10) =>
        Style(new LogarithmicAxis { Position = position, Title = title, Key = key, Base = @base, UseSuperExponentialFormat = false });

    /// <summary>A linear or logarithmic axis.</summary>
    public static Axis Axis(AxisPosition position, string title, bool log, string? key = null) =>
        log ? Log(position, title, key) : Linear(position, title, key);

    private static T Style<T>(T a) where T : Axis
    {
        a.MajorGridlineStyle = LineStyle.Solid;
        a.MajorGridlineColor = OxyColor.FromRgb(0xE5, 0xE5, 0xE5);
        a.MinorGridlineStyle = LineStyle.None;
        a.AxislineStyle = LineStyle.None;
        a.TicklineColor = OxyColor.FromRgb(0x40, 0x40, 0x40);
        a.TitleFontSize = 14;
        a.FontSize = 12;
        // A little room at both ends so markers and error bars at the extremes are not cut by the frame.
        a.MinimumPadding = 0.03;
        a.MaximumPadding = 0.03;
        return a;
    }

    /// <summary>Adds a legend when more than one series carries a title (one series needs no legend); it sits above the plot area, so it never hides data.</summary>
    public static void LegendIfSeveral(PlotModel model)
    {
        if (model.Series.Count(s => !string.IsNullOrEmpty(s.Title)) < 2 || model.Legends.Count > 0) return;
        model.Legends.Add(new Legend
        {
            LegendPosition = LegendPosition.TopCenter,
            LegendPlacement = LegendPlacement.Outside,
            LegendOrientation = LegendOrientation.Horizontal,
            LegendBorderThickness = 0,
            LegendFontSize = 12,
            LegendItemSpacing = 16,
        });
    }

    /// <summary>
    /// Marks positions on the x axis with dashed vertical lines (e.g. where a run's dt changes), each with an optional label
    /// at the top. Decorations only: the plotted data, and so the CSV, stay the same; write the images again with <see cref="Redraw"/>.
    /// </summary>
    public static void MarkX(PlotModel model, IEnumerable<double> positions, IReadOnlyList<string>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(positions);
        var xs = positions.ToArray();
        if (labels is not null && labels.Count != xs.Length)
            throw new ArgumentException($"{labels.Count} labels for {xs.Length} positions.", nameof(labels));
        for (int i = 0; i < xs.Length; i++)
        {
            if (!double.IsFinite(xs[i])) throw new ArgumentException($"Marker position {i} is {xs[i]}; it must be finite.", nameof(positions));
            model.Annotations.Add(new OxyPlot.Annotations.LineAnnotation
            {
                Type = OxyPlot.Annotations.LineAnnotationType.Vertical, X = xs[i], LineStyle = LineStyle.Dash,
                Color = OxyColor.FromRgb(0x90, 0x90, 0x90), StrokeThickness = 1,
                Text = labels?[i], TextColor = OxyColor.FromRgb(0x60, 0x60, 0x60), FontSize = 11,
                TextOrientation = OxyPlot.Annotations.AnnotationTextOrientation.Horizontal,
                TextHorizontalAlignment = HorizontalAlignment.Left, // text starts at the line and runs right, so a mark at the left edge stays readable
            });
        }
    }

    /// <summary>
    /// Writes the PNG and SVG of <paramref name="files"/> again from its (changed) model, keeping its CSV: for decorations
    /// such as titles, axis ranges or <see cref="MarkX"/> lines, which change the picture but not the plotted numbers.
    /// </summary>
    public static FigureFiles Redraw(FigureFiles files, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        var folder = Path.GetDirectoryName(files.Png);
        var name = Path.GetFileNameWithoutExtension(files.Png);
        if (string.IsNullOrEmpty(folder) || string.IsNullOrEmpty(name))
            throw new ArgumentException($"'{files.Png}' does not name a figure file in a folder.", nameof(files));
        return WriteImages(files.Model, folder, name, files.Csv, options);
    }

    /// <summary>
    /// Writes <c>name.png</c>, <c>name.svg</c> and <c>name.csv</c> into <paramref name="folder"/> (created if needed).
    /// The CSV rows must be the plotted numbers themselves; every plot of this library builds both from the same values.
    /// </summary>
    public static FigureFiles Save(PlotModel model, string folder, string name, IReadOnlyList<string> csvHeader,
        IEnumerable<IReadOnlyList<object>> csvRows, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(csvHeader);
        ArgumentNullException.ThrowIfNull(csvRows);
        if (string.IsNullOrWhiteSpace(folder)) throw new ArgumentException("A figure needs a folder to write into.", nameof(folder));
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new ArgumentException($"'{name}' is not a valid base file name for a figure.", nameof(name));
        var o = options ?? PlotOptions.Default;
        if (o.Width < 16 || o.Height < 16) throw new ArgumentException($"A figure needs at least 16 × 16 pixels, got {o.Width} × {o.Height}.", nameof(options));
        Directory.CreateDirectory(folder);
        var csv = Path.Combine(folder, name + ".csv");

        CsvTable.Write(csv, csvHeader, csvRows);
        return WriteImages(model, folder, name, csv, o);
    }

    private static FigureFiles WriteImages(PlotModel model, string folder, string name, string csv, PlotOptions? options)
    {
        var o = options ?? PlotOptions.Default;
        if (o.Width < 16 || o.Height < 16) throw new ArgumentException($"A figure needs at least 16 × 16 pixels, got {o.Width} × {o.Height}.", nameof(options));
        var png = Path.Combine(folder, name + ".png");
        var svg = Path.Combine(folder, name + ".svg");
        var font = model.DefaultFont;
        try
        {
            model.DefaultFont = SvgFont;
            using (var s = File.Create(svg))
                new SvgExporter { Width = o.Width, Height = o.Height }.Export(model, s);

            var pngFont = PngFont;
            model.DefaultFont = pngFont ?? font;
            // Without any font, HarfBuzz shaping fails on the empty typeface; plain Skia text then draws nothing, which
            // still gives a usable image (lines, marks, bands), and the SVG keeps every label.
            using (var s = File.Create(png))
                new OxyPlot.SkiaSharp.PngExporter { Width = o.Width, Height = o.Height, UseTextShaping = pngFont is not null }.Export(model, s);
            return new FigureFiles(png, svg, csv, model, pngFont is not null);
        }
        finally
        {
            model.DefaultFont = font;
        }
    }
}
