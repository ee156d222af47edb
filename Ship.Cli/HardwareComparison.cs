using System.Globalization;
using Ship.Core.IO;
using Ship.Devices.Memristive;
using Ship.Training.Hardware;
using Spectre.Console;
using TorchSharp;

namespace Ship.Cli;

/// <summary>
/// The hardware-aware vs plain check (a runnable check, not a unit test): for each training seed, train a plain and a
/// hardware-aware network from the same initial weights and data order, program both on n-level devices with level
/// variability (the same device seed for both), and compare test accuracies. Prints mean ± std over seeds, the paired
/// difference, and whether the margin exceeds the seed spread; writes compare.csv.
/// </summary>
public static class HardwareComparison
{
    /// <summary>Runs the check; returns the process exit code (0 whatever the verdict: the numbers are the result).</summary>
    public static int Run(StudySettings s, Reporter report, int levels)
    {
        Directory.CreateDirectory(s.Out);
        torch.set_num_threads(s.Threads);
        using var data = StudyData.Load(s.Dataset, s.TestFraction, s.Seed);
        report.Heading($"Hardware-aware vs plain training at {levels} levels, {s.Seeds} training seeds");
        report.Info(data.Description);
        var model = new StudyModel(s with { HwLevels = levels }, data.Inputs, data.Classes);
        var x = StudyData.Encode(data.Test.Inputs, s, new torch.Generator((ulong)(s.Seed + 1000))).to(model.TorchDevice);
        var y = data.Test.Labels.to(model.TorchDevice);
        const int deviceSeeds = 3;
        var rows = new List<object[]>();
        var plainAcc = new List<double>();
        var hwAcc = new List<double>();
        int batches = (int)(data.Train.Count / s.BatchSize);
        report.Stage("Training and evaluating", s.Seeds * 2 * s.Epochs * batches, p =>
        {
            for (long seed = 1; seed <= s.Seeds; seed++)
            {
                double[] acc = new double[2];
                for (int k = 0; k < 2; k++)
                {
                    var hw = k == 1 ? HardwareAwareOptions.ForQuantizedLevels(levels) : null;
                    string label = k == 1 ? "hardware-aware" : "plain";
                    var m = model.Train(data, x, label, hw, seed, batchDone: (e, b, l) => p.Advance(1, $"seed {seed} {label}, epoch {e + 1}"));
                    var ev = new HardwareEvaluator(() => model.Build((int)Math.Min(x.shape[0], 512), m.Weights), model.Readout, x, y);
                    // Each trained network is measured on the same chips (device seeds 1..3) and averaged.
                    var hwRun = ev.Levels(label, new[] { levels }, Enumerable.Range(1, deviceSeeds).Select(i => 1000 * seed + i).ToArray(),
                        n => MemristivePresets.ShipQuantized(n));
                    acc[k] = hwRun.Mean[0];
                    rows.Add(new object[] { seed, label, m.TestAccuracy, acc[k], HardwareEvaluator.SampleStd(hwRun.Accuracies[0]), m.Seconds });
                    p.Report($"seed {seed}: {label,-15} ideal {Study.Pct(m.TestAccuracy)}   on {levels}-level devices {Study.Pct(acc[k])}   ({m.Seconds:F0} s)");
                }
                plainAcc.Add(acc[0]);
                hwAcc.Add(acc[1]);
            }
            return 0;
        });
        CsvTable.Write(Path.Combine(s.Out, "compare.csv"), new[] { "seed", "training", "ideal_accuracy", "hardware_accuracy", "hardware_std_over_devices", "train_seconds" }, rows);

        double mp = plainAcc.Average(), sp = HardwareEvaluator.SampleStd(plainAcc);
        double mh = hwAcc.Average(), sh = HardwareEvaluator.SampleStd(hwAcc);
        var diff = hwAcc.Zip(plainAcc, (a, b) => a - b).ToArray();
        double md = diff.Average(), sdd = HardwareEvaluator.SampleStd(diff);
        double spread = Math.Max(sp, sh);
        var table = new Table().AddColumns("training", $"accuracy on {levels}-level devices (mean ± std over {s.Seeds} seeds)");
        table.AddRow("plain", $"{Study.Pct(mp)} ± {100 * sp:F1}");
        table.AddRow("hardware-aware", $"{Study.Pct(mh)} ± {100 * sh:F1}");
        table.AddRow("difference (paired)", $"{100 * md:+0.0;-0.0} ± {100 * sdd:F1} points");
        report.Console.Write(table);
        bool beats = md > spread;
        report.Info(string.Format(CultureInfo.InvariantCulture,
            "margin {0:F1} points {1} the seed spread (largest std {2:F1} points): hardware-aware training {3} plain training at {4} levels.",
            100 * md, beats ? ">" : "<=", 100 * spread, beats ? "BEATS" : "does not clearly beat", levels));
        report.Info($"per-seed numbers: {Path.GetFullPath(Path.Combine(s.Out, "compare.csv"))}");
        return ShipCli.Ok;
    }
}
