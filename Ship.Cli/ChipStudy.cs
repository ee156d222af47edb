using System.Globalization;
using System.Text;
using Ship.Characterization.Mismatch;
using Ship.Core.IO;
using Ship.Devices.Memristive;
using Ship.Plots;
using Ship.Training.Hardware;
using Ship.Training.Sweeps;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Cli;

/// <summary>One row of chips.csv: one trained network on one chip instance.</summary>
/// <param name="Chip">Chip number, which is also its seed (chips 1..--chips; sweep point k is chip k + 1).</param>
/// <param name="Training">"plain" or "hardware-aware".</param>
/// <param name="Correct">Test samples classified correctly.</param>
/// <param name="Samples">Test samples.</param>
public sealed record ChipRow(long Chip, string Training, long Correct, long Samples)
{
    /// <summary>The columns of chips.csv (nothing timing-dependent: the same on every machine and for every sharding).</summary>
    public static IReadOnlyList<string> Columns { get; } = new[] { "chip", "training", "correct", "samples", "accuracy" };

    /// <summary>Test accuracy on this chip (correct / samples).</summary>
    public double Accuracy => (double)Correct / Samples;

    /// <summary>The row's values in column order.</summary>
    public object[] Values => new object[] { Chip, Training, Correct, Samples, Accuracy };

    /// <summary>Reads a row back from the text of its fields (as a shard wrote them); a malformed row is a <see cref="ShardException"/> naming the file.</summary>
    public static ChipRow Parse(IReadOnlyList<string> f, string file)
    {
        if (f.Count != Columns.Count) throw new ShardException($"a row has {f.Count} fields, chips needs {Columns.Count}.", file);
        var inv = CultureInfo.InvariantCulture;
        if (!long.TryParse(f[0], NumberStyles.Integer, inv, out long chip)
            || !long.TryParse(f[2], NumberStyles.Integer, inv, out long correct)
            || !long.TryParse(f[3], NumberStyles.Integer, inv, out long samples) || samples < 1 || correct < 0 || correct > samples
            || f[1] is not ("plain" or "hardware-aware"))
            throw new ShardException($"the row [{string.Join(", ", f)}] is not a chips row.", file);
        return new ChipRow(chip, f[1], correct, samples);
    }
}

/// <summary>Mean ± σ of the accuracy over the chips, per trained network (a row of chips-summary.csv).</summary>
/// <param name="Training">"plain" or "hardware-aware".</param>
/// <param name="Chips">Number of chips.</param>
/// <param name="Mean">Mean accuracy.</param>
/// <param name="Std">Sample standard deviation (n − 1; 0 for one chip).</param>
/// <param name="Min">Lowest accuracy.</param>
/// <param name="Max">Highest accuracy.</param>
public sealed record ChipSummary(string Training, int Chips, double Mean, double Std, double Min, double Max);

/// <summary>
/// The chip study of the main job (<c>--chips N</c>): each trained network is evaluated on N chip instances. Chip k
/// (seed k) is one draw of every device-to-device variation (both weight matrices on n-level devices with level
/// variability, <see cref="MemristivePresets.ShipQuantized"/>, programmed from the network's streams seeded with k)
/// and of every parameter mismatch (hidden τ and threshold, output τ, relative σ = <see cref="StudySettings.ChipMismatch"/>,
/// fixed per chip, drawn from a generator seeded with k: <see cref="ChipMismatch"/>). The chips are the sweep's points,
/// so the study can be cut into shards (<c>--shard i/n</c>, chips only) and merged with <c>ship merge</c> (docs/sweeps.md).
/// </summary>
public static class ChipStudy
{
    /// <summary>The sweep name: results are chips.csv, shards chips-shard-i-of-n.{csv,json}.</summary>
    public const string SweepName = "chips";

    /// <summary>The seed of chip point <paramref name="point"/> (0-based): chips are numbered, and seeded, 1..N.</summary>
    public static long ChipSeed(int point) => point + 1L;

    /// <summary>Conductance levels of a chip's devices: the hardware-aware training's level count, or 4 when it is off.</summary>
    public static int DeviceLevels(StudySettings s) => s.HwLevels >= 2 ? s.HwLevels : 4;

    /// <summary>The parameter mismatch of every chip: hidden τ and threshold and output τ, relative σ, fixed per chip (none when σ is 0).</summary>
    public static MismatchSpec[] Mismatch(StudySettings s) => s.ChipMismatch > 0
        ? new[]
        {
            new MismatchSpec(StudyModel.Hidden, "tau", s.ChipMismatch, Distribution: MismatchDistribution.LogNormal),
            new MismatchSpec(StudyModel.Hidden, "thr", s.ChipMismatch, Distribution: MismatchDistribution.LogNormal),
            new MismatchSpec(StudyModel.Output, "tau", s.ChipMismatch, Distribution: MismatchDistribution.LogNormal),
        }
        : Array.Empty<MismatchSpec>();

    /// <summary>"plain" or "hardware-aware": the training column of a trained network.</summary>
    internal static string TrainingOf(TrainedModel m) => m.Label.StartsWith("hardware-aware", StringComparison.Ordinal) ? "hardware-aware" : "plain";

    /// <summary>Evaluates every trained network on the chips of <paramref name="points"/>; rows in point order, networks in the order given.</summary>
    public static List<SweepRow> Evaluate(StudyModel model, IReadOnlyList<TrainedModel> trained, Tensor x, Tensor y, IReadOnlyList<int> points, IStageProgress p)
    {
        var s = model.Settings;
        int levels = DeviceLevels(s);
        var specs = Mismatch(s);
        var rows = new List<SweepRow>();
        long samples = x.shape[0];
        var evaluators = trained.Select(m => new HardwareEvaluator(() => model.Build((int)Math.Min(samples, 512), m.Weights), model.Readout, x, y)).ToArray();
        foreach (int point in points)
        {
            long chip = ChipSeed(point);
            var line = new List<string>();
            for (int k = 0; k < trained.Count; k++)
            {
                double acc = evaluators[k].Accuracy(_ => MemristivePresets.ShipQuantized(levels), chip, net =>
                {
                    using var mismatch = new ChipMismatch(chip, specs);
                    mismatch.Apply(net);
                });
                // accuracy = correct / samples exactly, so the count is recovered without rounding error.
                var row = new ChipRow(chip, TrainingOf(trained[k]), (long)Math.Round(acc * samples), samples);
                rows.Add(new SweepRow(point, row.Values));
                line.Add($"{row.Training} {Study.Pct(row.Accuracy)}");
                p.Advance(1, $"chip {chip}, {row.Training}");
            }
            p.Report($"chip {chip}: {string.Join(", ", line)}");
        }
        return rows;
    }

    /// <summary>
    /// Every setting that decides the chips' numbers (name → value text): all of settings.json except the output folder,
    /// the quick flag, the chip count (the sweep's total) and the study-only stages chips do not use (levels, times,
    /// presets, device seeds, crossbar, NIR export). Shards merge only when these are equal.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Fingerprinted(StudySettings s) => HardwareComparison.SettingsExcept(s,
        nameof(StudySettings.Out), nameof(StudySettings.Quick), nameof(StudySettings.Levels), nameof(StudySettings.Times),
        nameof(StudySettings.Presets), nameof(StudySettings.Seeds), nameof(StudySettings.Crossbar), nameof(StudySettings.AdcBits),
        nameof(StudySettings.LineResistances), nameof(StudySettings.Nir), nameof(StudySettings.Chips));

    /// <summary>
    /// One shard of the chip study: trains the networks exactly as the study does (same seed, so the same weights), evaluates
    /// them on this shard's chips and writes chips-shard-i-of-n.csv/.json into --out; nothing else of the study runs.
    /// </summary>
    public static int RunShard(StudySettings s, Reporter report, ShardSpec shard, IReadOnlyList<string>? commandLine = null)
    {
        Directory.CreateDirectory(s.Out);
        torch.set_num_threads(s.Threads);
        var points = shard.Points(s.Chips);
        Provenance.Write(s.Out, points.ToDictionary(k => $"chip_{ChipSeed(k)}", ChipSeed), s, s.Device, commandLine);
        using var data = StudyData.Load(s.Dataset, s.TestFraction, s.Seed);
        report.Heading($"Chip study, {s.Chips} chips: shard {shard} (chip{(points.Length == 1 ? "" : "s")} {(points.Length == 0 ? "none" : string.Join(", ", points.Select(ChipSeed)))})");
        report.Info(data.Description);
        var model = new StudyModel(s, data.Inputs, data.Classes);
        var x = StudyData.Encode(data.Test.Inputs, s, new torch.Generator((ulong)(s.Seed + 1000))).to(model.TorchDevice);
        var y = data.Test.Labels.to(model.TorchDevice);
        var trained = Train(model, data, x, report);
        var rows = report.Stage("Chips", points.Length * trained.Count, p => Evaluate(model, trained, x, y, points, p));
        var manifest = SweepShards.Write(s.Out, SweepName, shard, s.Chips, Fingerprinted(s), ChipRow.Columns, rows);
        report.Info($"shard {shard}: {rows.Count} rows in {Path.GetFullPath(Path.ChangeExtension(manifest, ".csv"))} (manifest {Path.GetFileName(manifest)}); " +
            $"when all {shard.Count} shards are done: ship merge {Path.GetFullPath(s.Out)}");
        return ShipCli.Ok;
    }

    /// <summary>The study's trained networks: plain, and hardware-aware when <see cref="StudySettings.HwLevels"/> &gt; 0 (the calls the study makes).</summary>
    internal static List<TrainedModel> Train(StudyModel model, StudyData data, Tensor testSpikes, Reporter report)
    {
        var s = model.Settings;
        var list = new List<TrainedModel>();
        foreach (var hw in s.HwLevels > 0 ? new[] { false, true } : new[] { false })
        {
            string label = hw ? $"hardware-aware ({s.HwLevels} levels)" : "plain";
            int batches = (int)(data.Train.Count / s.BatchSize);
            list.Add(report.Stage($"Training {label}", s.Epochs * batches, p =>
            {
                var m = model.Train(data, testSpikes, label, hw ? HardwareAwareOptions.ForQuantizedLevels(s.HwLevels) : null, s.Seed,
                    batchDone: (e, b, loss) => p.Advance(1, $"epoch {e + 1}/{s.Epochs}, loss {loss:F3}"));
                p.Report($"{label}: test accuracy {Study.Pct(m.TestAccuracy)} (ideal weights) after {m.Seconds:F1} s of training");
                return m;
            }));
        }
        return list;
    }

    /// <summary>
    /// Merges the shards of a sharded chip study found in <paramref name="folders"/> into <paramref name="outDir"/>: exactly
    /// the chips files of the unsharded study. Throws <see cref="ShardException"/> when the shards do not fit.
    /// </summary>
    public static int Merge(IReadOnlyList<string> folders, string outDir, Reporter report, IReadOnlyList<string>? commandLine = null)
    {
        var merged = SweepShards.Merge(folders, SweepName);
        if (!merged.Columns.SequenceEqual(ChipRow.Columns))
            throw new ShardException($"the shards have columns [{string.Join(", ", merged.Columns)}]; this version of the chip study writes [{string.Join(", ", ChipRow.Columns)}].", merged.Manifests[0]);
        var settings = merged.Settings;
        int levels = ReadSetting<int>(settings, nameof(StudySettings.HwLevels), merged, t => int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 0 ? v : null);
        double sigma = ReadSetting<double>(settings, nameof(StudySettings.ChipMismatch), merged, t => double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0 ? v : (double?)null);
        var rows = merged.Rows.Select(r => ChipRow.Parse(r.Fields, merged.Manifests[ShardSpec.ShardOf(r.Point, merged.Shards) - 1])).ToList();
        report.Heading($"Chip study, {merged.TotalPoints} chips: {merged.Shards} shards merged");
        Provenance.Write(outDir, rows.Select(r => r.Chip).Distinct().ToDictionary(c => $"chip_{c}", c => c),
            new { merged_folders = folders.Select(Path.GetFullPath).ToArray(), shards = merged.Shards, settings }, commandLine: commandLine);
        var files = WriteResults(outDir, rows, levels >= 2 ? levels : 4, sigma, report);
        report.Info($"chips: {string.Join(", ", files.Select(Path.GetFileName))}");
        return ShipCli.Ok;
    }

    private static T ReadSetting<T>(IReadOnlyDictionary<string, string> settings, string name, MergedSweep merged, Func<string, T?> parse) where T : struct =>
        settings.TryGetValue(name, out var text) && parse(text) is { } v ? v
            : throw new ShardException($"the manifest's settings give no usable {name}.", merged.Manifests[0]);

    /// <summary>Mean ± σ, min and max of each training's accuracy over the chips, plain first.</summary>
    public static IReadOnlyList<ChipSummary> Summarize(IReadOnlyList<ChipRow> rows) =>
        rows.GroupBy(r => r.Training).OrderBy(g => g.Key == "plain" ? 0 : 1).Select(g =>
        {
            var a = g.Select(r => r.Accuracy).ToArray();
            return new ChipSummary(g.Key, a.Length, a.Average(), HardwareEvaluator.SampleStd(a), a.Min(), a.Max());
        }).ToList();

    /// <summary>
    /// Histogram bin edges of the chips' accuracies, shared by every training: bins are whole numbers of correctly
    /// classified samples wide (so no bin is empty only because accuracies are multiples of 1/samples), as wide as gives
    /// the narrowest training's spread about √chips bins (5…20), at most 100 bins over all values.
    /// </summary>
    public static double[] BinEdges(IReadOnlyList<ChipRow> rows)
    {
        long samples = rows[0].Samples;
        if (rows.Any(r => r.Samples != samples)) throw new InvalidDataException("the chips were evaluated on test sets of different sizes.");
        long lo = rows.Min(r => r.Correct), hi = rows.Max(r => r.Correct);
        long width = rows.GroupBy(r => r.Training).Min(g =>
        {
            int target = Math.Clamp((int)Math.Ceiling(Math.Sqrt(g.Count())), 5, 20);
            return Math.Max(1, (long)Math.Ceiling((g.Max(r => r.Correct) - g.Min(r => r.Correct) + 1) / (double)target));
        });
        width = Math.Max(width, (long)Math.Ceiling((hi - lo + 1) / 100.0));
        int bins = (int)((hi - lo) / width) + 1;
        return Enumerable.Range(0, bins + 1).Select(i => (lo + i * width - 0.5) / samples).ToArray();
    }

    /// <summary>
    /// Writes chips.csv, chips-summary.csv (mean ± σ), the chips-histogram plot (PNG, SVG and the CSV of the plotted
    /// counts; bin edges in %, as the axis and the legend) and chips.md (the summary lines, also in summary.md), from the rows in point order: the unsharded study and
    /// the merge both come here, so their files are byte-identical. Returns the files written.
    /// </summary>
    public static IReadOnlyList<string> WriteResults(string outDir, IReadOnlyList<ChipRow> rows, int levels, double sigma, Reporter? report)
    {
        if (rows.Count == 0) throw new InvalidDataException("the chip study has no rows.");
        Directory.CreateDirectory(outDir);
        var inv = CultureInfo.InvariantCulture;
        var csv = Path.Combine(outDir, "chips.csv");
        CsvTable.Write(csv, ChipRow.Columns, rows.Select(r => r.Values));
        var summary = Summarize(rows);
        var summaryCsv = Path.Combine(outDir, "chips-summary.csv");
        CsvTable.Write(summaryCsv, new[] { "training", "chips", "mean_accuracy", "std_accuracy", "min_accuracy", "max_accuracy" },
            summary.Select(m => new object[] { m.Training, m.Chips, m.Mean, m.Std, m.Min, m.Max }));

        var edges = BinEdges(rows);
        var series = summary.Select(m =>
        {
            var counts = new double[edges.Length - 1];
            foreach (var r in rows.Where(r => r.Training == m.Training))
                counts[Array.FindLastIndex(edges, e => e <= r.Accuracy)]++;
            return (Label: $"{m.Training}: {Study.Pct(m.Mean)} ± {100 * m.Std:F1}", Counts: (IReadOnlyList<double>)counts);
        }).ToArray();
        int chips = summary[0].Chips;
        // Bins are counted on accuracies as fractions; the axis shows them in % like the legend's mean ± σ.
        var percent = edges.Select(e => 100 * e).ToArray();
        var fig = LinePlots.Histogram(outDir, "chips-histogram", series, percent, "Test accuracy on the chip (%)", "Chips",
            new PlotOptions(Title: string.Create(inv, $"Accuracy over {chips} chips ({levels}-level devices, {100 * sigma:0.##} % neuron mismatch)")));

        var md = new StringBuilder();
        md.AppendLine($"Each trained network on {chips} chip instances: {levels}-level devices with level variability (device-to-device draws) and {Mismatched(sigma)}; chip k is seeded with k, so it is the same chip in every run and every shard.").AppendLine();
        md.AppendLine("| training | chips | accuracy (mean ± σ) | min | max |").AppendLine("|---|---|---|---|---|");
        foreach (var m in summary)
            md.AppendLine(string.Create(inv, $"| {m.Training} | {m.Chips} | {Study.Pct(m.Mean)} ± {100 * m.Std:F1} | {Study.Pct(m.Min)} | {Study.Pct(m.Max)} |"));
        md.AppendLine();
        var mdPath = Path.Combine(outDir, "chips.md");
        File.WriteAllText(mdPath, md.ToString());
        if (report is not null)
            foreach (var m in summary)
                report.Info($"{m.Training}: {Study.Pct(m.Mean)} ± {100 * m.Std:F1} over {m.Chips} chips (min {Study.Pct(m.Min)}, max {Study.Pct(m.Max)})");
        return new[] { csv, summaryCsv, fig.Png, fig.Svg, fig.Csv, mdPath };
    }

    private static string Mismatched(double sigma) => sigma > 0
        ? string.Create(CultureInfo.InvariantCulture, $"neuron mismatch σ = {100 * sigma:0.##} % on hidden τ, threshold and output τ")
        : "no neuron mismatch";
}
