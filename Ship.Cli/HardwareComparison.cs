using System.Globalization;
using System.Text.Json;
using Ship.Core.IO;
using Ship.Devices.Memristive;
using Ship.Plots;
using Ship.Training.Hardware;
using Ship.Training.Sweeps;
using Spectre.Console;
using TorchSharp;

namespace Ship.Cli;

/// <summary>One row of compare.csv: one trained network of one training seed, measured on n-level devices.</summary>
/// <param name="Seed">Training seed (seeds 1..--seeds; sweep point k is seed k + 1).</param>
/// <param name="Training">"plain" or "hardware-aware".</param>
/// <param name="IdealAccuracy">Test accuracy with the ideal (unquantized) trained weights.</param>
/// <param name="HardwareAccuracy">Mean test accuracy over the device seeds on n-level devices.</param>
/// <param name="HardwareStd">Sample std of that accuracy over the device seeds.</param>
public sealed record CompareRow(long Seed, string Training, double IdealAccuracy, double HardwareAccuracy, double HardwareStd)
{
    /// <summary>The columns of compare.csv. Nothing timing-dependent: the file is the same on every machine and for every sharding.</summary>
    public static IReadOnlyList<string> Columns { get; } = new[] { "seed", "training", "ideal_accuracy", "hardware_accuracy", "hardware_std_over_devices" };

    /// <summary>The row's values in column order.</summary>
    public object[] Values => new object[] { Seed, Training, IdealAccuracy, HardwareAccuracy, HardwareStd };

    /// <summary>
    /// Reads a row back from the text of its fields (as a shard wrote them). Doubles were written in round-trip form, so
    /// the parsed values are bit-identical to the computed ones and everything derived from them is too.
    /// </summary>
    public static CompareRow Parse(IReadOnlyList<string> f, string file)
    {
        if (f.Count != Columns.Count) throw new ShardException($"a row has {f.Count} fields, compare needs {Columns.Count}.", file);
        var inv = CultureInfo.InvariantCulture;
        if (!long.TryParse(f[0], NumberStyles.Integer, inv, out long seed)
            || !double.TryParse(f[2], NumberStyles.Float, inv, out double ideal)
            || !double.TryParse(f[3], NumberStyles.Float, inv, out double hw)
            || !double.TryParse(f[4], NumberStyles.Float, inv, out double sd)
            || f[1] is not ("plain" or "hardware-aware"))
            throw new ShardException($"the row [{string.Join(", ", f)}] is not a compare row.", file);
        return new CompareRow(seed, f[1], ideal, hw, sd);
    }
}

/// <summary>
/// The hardware-aware vs plain check (a runnable check, not a unit test): for each training seed, train a plain and a
/// hardware-aware network from the same initial weights and data order, program both on n-level devices with level
/// variability (the same device seeds for both), and compare test accuracies. Prints mean ± std over seeds, the paired
/// difference, and whether the margin exceeds the seed spread; writes compare.csv and the compare-per-seed plot. The
/// training seeds are the sweep's points, so the check can be cut into shards (<c>--shard i/n</c>) and merged.
/// </summary>
public static class HardwareComparison
{
    /// <summary>The sweep name: results are compare.csv, shards compare-shard-i-of-n.{csv,json}.</summary>
    public const string SweepName = "compare";

    /// <summary>Device seeds per trained network (1000·seed + 1…3).</summary>
    public const int DeviceSeeds = 3;

    /// <summary>Runs the check, or only shard <paramref name="shard"/> of its training seeds; returns the exit code (0 whatever the verdict: the numbers are the result).</summary>
    public static int Run(StudySettings s, Reporter report, int levels, ShardSpec? shard = null, IReadOnlyList<string>? commandLine = null)
    {
        s = s with { HwLevels = levels };
        Directory.CreateDirectory(s.Out);
        torch.set_num_threads(s.Threads);
        var points = shard?.Points(s.Seeds) ?? Enumerable.Range(0, s.Seeds).ToArray();
        Ship.Core.IO.Provenance.Write(s.Out, ProvenanceSeeds(points.Select(k => (long)k + 1)), s, s.Device, commandLine);
        using var data = StudyData.Load(s.Dataset, s.TestFraction, s.Seed);
        report.Heading($"Hardware-aware vs plain training at {levels} levels, {s.Seeds} training seeds" +
            (shard is null ? "" : $": shard {shard} (seed{(points.Length == 1 ? "" : "s")} {(points.Length == 0 ? "none" : string.Join(", ", points.Select(k => k + 1)))})"));
        report.Info(data.Description);
        var model = new StudyModel(s, data.Inputs, data.Classes);
        var x = StudyData.Encode(data.Test.Inputs, s, new torch.Generator((ulong)(s.Seed + 1000))).to(model.TorchDevice);
        var y = data.Test.Labels.to(model.TorchDevice);
        var rows = new List<SweepRow>();
        var timings = new List<object[]>();
        int batches = (int)(data.Train.Count / s.BatchSize);
        report.Stage("Training and evaluating", points.Length * 2 * s.Epochs * batches, p =>
        {
            foreach (int point in points)
            {
                long seed = point + 1;
                for (int k = 0; k < 2; k++)
                {
                    var hw = k == 1 ? HardwareAwareOptions.ForQuantizedLevels(levels) : null;
                    string label = k == 1 ? "hardware-aware" : "plain";
                    var m = model.Train(data, x, label, hw, seed, batchDone: (e, b, l) => p.Advance(1, $"seed {seed} {label}, epoch {e + 1}"));
                    var ev = new HardwareEvaluator(() => model.Build((int)Math.Min(x.shape[0], 512), m.Weights), model.Readout, x, y);
                    // Each trained network is measured on the same chips (device seeds 1..3) and averaged.
                    var hwRun = ev.Levels(label, new[] { levels }, Enumerable.Range(1, DeviceSeeds).Select(i => 1000 * seed + i).ToArray(),
                        n => MemristivePresets.ShipQuantized(n));
                    var row = new CompareRow(seed, label, m.TestAccuracy, hwRun.Mean[0], HardwareEvaluator.SampleStd(hwRun.Accuracies[0]));
                    rows.Add(new SweepRow(point, row.Values));
                    timings.Add(new object[] { seed, label, m.Seconds });
                    p.Report($"seed {seed}: {label,-15} ideal {Study.Pct(m.TestAccuracy)}   on {levels}-level devices {Study.Pct(row.HardwareAccuracy)}   ({m.Seconds:F0} s)");
                }
            }
            return 0;
        });
        string timingFile = Path.Combine(s.Out, shard is null ? "compare-timings.csv" : $"compare-timings-{shard.FileTag}.csv");
        CsvTable.Write(timingFile, new[] { "seed", "training", "train_seconds" }, timings);

        if (shard is not null)
        {
            var manifest = SweepShards.Write(s.Out, SweepName, shard, s.Seeds, Fingerprinted(s), CompareRow.Columns, rows);
            report.Info($"shard {shard}: {rows.Count} rows in {Path.GetFullPath(Path.ChangeExtension(manifest, ".csv"))} (manifest {Path.GetFileName(manifest)}); " +
                $"when all {shard.Count} shards are done: ship merge {Path.GetFullPath(s.Out)}");
            return ShipCli.Ok;
        }
        WriteResults(s.Out, levels, rows.Select(r => ToRow(r.Values)).ToList(), report);
        return ShipCli.Ok;
    }

    /// <summary>
    /// Merges the shards of a sharded run found in <paramref name="folders"/> into <paramref name="outDir"/>: exactly the
    /// compare.csv, plot and verdict of the unsharded run. Throws <see cref="ShardException"/> when the shards do not fit.
    /// </summary>
    public static int Merge(IReadOnlyList<string> folders, string outDir, Reporter report, IReadOnlyList<string>? commandLine = null)
    {
        var merged = SweepShards.Merge(folders, SweepName);
        if (!merged.Columns.SequenceEqual(CompareRow.Columns))
            throw new ShardException($"the shards have columns [{string.Join(", ", merged.Columns)}]; this version of compare writes [{string.Join(", ", CompareRow.Columns)}].", merged.Manifests[0]);
        if (!merged.Settings.TryGetValue(nameof(StudySettings.HwLevels), out var lv) || !int.TryParse(lv, NumberStyles.Integer, CultureInfo.InvariantCulture, out int levels) || levels < 2)
            throw new ShardException($"the manifest's settings give no usable {nameof(StudySettings.HwLevels)}.", merged.Manifests[0]);
        var rows = merged.Rows.Select(r => CompareRow.Parse(r.Fields, merged.Manifests[ShardSpec.ShardOf(r.Point, merged.Shards) - 1])).ToList();
        report.Heading($"Hardware-aware vs plain training at {levels} levels, {merged.TotalPoints} training seeds: {merged.Shards} shards merged");
        Ship.Core.IO.Provenance.Write(outDir, ProvenanceSeeds(rows.Select(r => r.Seed).Distinct()),
            new { merged_folders = folders.Select(Path.GetFullPath).ToArray(), shards = merged.Shards, settings = merged.Settings }, commandLine: commandLine);
        WriteResults(outDir, levels, rows, report);
        return ShipCli.Ok;
    }

    /// <summary>
    /// Every setting that decides compare's numbers, as name → value text (JSON for lists): all of settings.json except the
    /// output folder, the quick flag (it only picks defaults, which are listed themselves) and the study-only sweeps
    /// (levels, times, presets), which compare does not use. Shards merge only when these are equal.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Fingerprinted(StudySettings s)
    {
        var d = SettingsExcept(s, nameof(StudySettings.Out), nameof(StudySettings.Quick), nameof(StudySettings.Levels),
            nameof(StudySettings.Times), nameof(StudySettings.Presets), nameof(StudySettings.Chips), nameof(StudySettings.ChipMismatch));
        d["DeviceSeeds"] = DeviceSeeds.ToString(CultureInfo.InvariantCulture);
        return d;
    }

    /// <summary>
    /// All of settings.json as name → value text (JSON for lists) except the names in <paramref name="excluded"/>: the
    /// settings a sweep's shards must share, for <see cref="SweepShards.Write"/>'s fingerprint (compare and chips sweeps).
    /// </summary>
    public static SortedDictionary<string, string> SettingsExcept(StudySettings s, params string[] excluded)
    {
        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(s));
        var d = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
            if (!excluded.Contains(p.Name))
                d[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
        return d;
    }

    /// <summary>The seeds of a compare run for provenance.json: each training seed and its device seeds (1000·seed + 1…3).</summary>
    private static Dictionary<string, long> ProvenanceSeeds(IEnumerable<long> trainingSeeds)
    {
        var d = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var t in trainingSeeds)
        {
            d[$"training_{t}"] = t;
            for (int k = 1; k <= DeviceSeeds; k++) d[$"training_{t}_device_{k}"] = 1000 * t + k;
        }
        return d;
    }

    private static CompareRow ToRow(IReadOnlyList<object> v) => new((long)v[0], (string)v[1], (double)v[2], (double)v[3], (double)v[4]);

    /// <summary>compare.csv, the per-seed plot and the verdict, from the rows in seed order (the unsharded run and the merge both come here).</summary>
    private static void WriteResults(string outDir, int levels, IReadOnlyList<CompareRow> rows, Reporter report)
    {
        Directory.CreateDirectory(outDir);
        var csv = Path.Combine(outDir, "compare.csv");
        CsvTable.Write(csv, CompareRow.Columns, rows.Select(r => r.Values));
        var plain = rows.Where(r => r.Training == "plain").ToList();
        var aware = rows.Where(r => r.Training == "hardware-aware").ToList();
        if (plain.Count == 0 || plain.Count != aware.Count || !plain.Select(r => r.Seed).SequenceEqual(aware.Select(r => r.Seed)))
            throw new InvalidDataException($"compare needs a plain and a hardware-aware row for every seed; got {plain.Count} plain and {aware.Count} hardware-aware rows.");

        // Seeds are categories, not a quantity: markers per seed, nothing drawn between seeds.
        var fig = TrainingPlots.PerCategory(outDir, "compare-per-seed",
            plain.Select(r => r.Seed.ToString(CultureInfo.InvariantCulture)).ToArray(),
            new (string, IReadOnlyList<double>)[]
            {
                ("plain", plain.Select(r => r.HardwareAccuracy).ToArray()),
                ("hardware-aware", aware.Select(r => r.HardwareAccuracy).ToArray()),
            }, "seed", "Training seed", $"Accuracy on {levels}-level devices",
            options: new PlotOptions(Title: $"Plain vs hardware-aware training on {levels}-level devices (mean of {DeviceSeeds} device seeds)"));

        var plainAcc = plain.Select(r => r.HardwareAccuracy).ToArray();
        var hwAcc = aware.Select(r => r.HardwareAccuracy).ToArray();
        double mp = plainAcc.Average(), sp = HardwareEvaluator.SampleStd(plainAcc);
        double mh = hwAcc.Average(), sh = HardwareEvaluator.SampleStd(hwAcc);
        var diff = hwAcc.Zip(plainAcc, (a, b) => a - b).ToArray();
        double md = diff.Average(), sdd = HardwareEvaluator.SampleStd(diff);
        double spread = Math.Max(sp, sh);
        var table = new Table().AddColumns("training", $"accuracy on {levels}-level devices (mean ± std over {plain.Count} seeds)");
        table.AddRow("plain", $"{Study.Pct(mp)} ± {100 * sp:F1}");
        table.AddRow("hardware-aware", $"{Study.Pct(mh)} ± {100 * sh:F1}");
        table.AddRow("difference (paired)", $"{100 * md:+0.0;-0.0} ± {100 * sdd:F1} points");
        report.Console.Write(table);
        bool beats = md > spread;
        report.Info(string.Format(CultureInfo.InvariantCulture,
            "margin {0:F1} points {1} the seed spread (largest std {2:F1} points): hardware-aware training {3} plain training at {4} levels.",
            100 * md, beats ? ">" : "<=", 100 * spread, beats ? "BEATS" : "does not clearly beat", levels));
        report.Info($"per-seed numbers: {Path.GetFullPath(csv)}; plot: {Path.GetFileName(fig.Png)} (+ .svg, .csv)");
    }
}
