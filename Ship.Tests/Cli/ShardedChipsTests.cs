using System.Globalization;
using NUnit.Framework;
using Ship.Characterization.Mismatch;
using Ship.Cli;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Cli;

/// <summary>
/// <c>ship --chips N --shard i/n</c> + <c>ship merge</c> against the unsharded study with <c>--chips N</c>: tiny settings
/// (1 epoch, 16 hidden, 5 chips, one level count, one time, the ideal preset), run once unsharded, as 2 shards in one
/// folder and as 3 shards in three folders, in process.
/// </summary>
public class ShardedChipsTests
{
    private const int Chips = 5;
    private static readonly string[] Tiny =
    {
        "--quick", "--epochs", "1", "--hidden", "16", "--seeds", "1", "--levels", "4", "--times", "1", "--device-preset", "ideal",
        "--chips", Chips.ToString(CultureInfo.InvariantCulture),
    };
    private static readonly string[] Merged = { "chips.csv", "chips-summary.csv", "chips-histogram.csv", "chips-histogram.svg", "chips.md" };

    private string _root = "";
    private string Whole => Path.Combine(_root, "whole");
    private string Two => Path.Combine(_root, "two");
    private string Three(int i) => Path.Combine(_root, $"three-{i}");

    private static (int Code, string Out, string Err) Ship(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = ShipCli.Run(args, o, e, live: false);
        return (code, o.ToString(), e.ToString());
    }

    private static void Ok((int Code, string Out, string Err) r) => Assert.That(r.Code, Is.EqualTo(0), r.Err + r.Out);

    [OneTimeSetUp]
    public void RunUnshardedAndSharded()
    {
        _root = Path.Combine(Path.GetTempPath(), "ship-chips-" + Guid.NewGuid().ToString("N"));
        Ok(Ship(Tiny.Concat(new[] { "--out", Whole }).ToArray()));
        for (int i = 1; i <= 2; i++) Ok(Ship(Tiny.Concat(new[] { "--shard", $"{i}/2", "--out", Two }).ToArray()));
        foreach (int i in new[] { 3, 1, 2 }) Ok(Ship(Tiny.Concat(new[] { "--shard", $"{i}/3", "--out", Three(i) }).ToArray()));
    }

    [OneTimeTearDown]
    public void Clean()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static double[] Accuracies(string dir, string training) =>
        File.ReadAllLines(Path.Combine(dir, "chips.csv")).Skip(1).Select(l => l.Split(','))
            .Where(r => r[1] == training).Select(r => double.Parse(r[4], CultureInfo.InvariantCulture)).ToArray();

    [Test]
    public void MergedChipFilesAreByteIdenticalToTheUnshardedStudy()
    {
        var mergedTwo = Path.Combine(_root, "merged-two");
        Ok(Ship("merge", Two, "--out", mergedTwo));
        Ok(Ship("merge", Three(1), Three(2), Three(3)));
        foreach (var dir in new[] { mergedTwo, Three(1) })
        {
            foreach (var f in Merged)
                Assert.That(File.ReadAllBytes(Path.Combine(dir, f)), Is.EqualTo(File.ReadAllBytes(Path.Combine(Whole, f))), $"{dir}/{f}");
            Assert.That(File.Exists(Path.Combine(dir, "chips-histogram.png")), Is.True);
        }
        // The study's summary.md carries the same lines.
        Assert.That(File.ReadAllText(Path.Combine(Whole, "summary.md")), Does.Contain(File.ReadAllText(Path.Combine(Whole, "chips.md"))));
    }

    [Test]
    public void ChipsCsvHoldsEveryChipAndTrainingAndTheSummaryIsItsMeanAndSigma()
    {
        var rows = File.ReadAllLines(Path.Combine(Whole, "chips.csv"));
        Assert.That(rows[0], Is.EqualTo("chip,training,correct,samples,accuracy"));
        Assert.That(rows.Skip(1).Select(l => string.Join(" ", l.Split(',').Take(2))),
            Is.EqualTo(Enumerable.Range(1, Chips).SelectMany(c => new[] { $"{c} plain", $"{c} hardware-aware" })));
        foreach (var r in rows.Skip(1).Select(l => l.Split(',')))
            Assert.That(double.Parse(r[4], CultureInfo.InvariantCulture), Is.EqualTo(double.Parse(r[2], CultureInfo.InvariantCulture) / double.Parse(r[3], CultureInfo.InvariantCulture)));
        var summary = File.ReadAllLines(Path.Combine(Whole, "chips-summary.csv"));
        Assert.That(summary[0], Is.EqualTo("training,chips,mean_accuracy,std_accuracy,min_accuracy,max_accuracy"));
        foreach (var line in summary.Skip(1))
        {
            var f = line.Split(',');
            var a = Accuracies(Whole, f[0]);
            double m = a.Sum() / a.Length, sd = Math.Sqrt(a.Sum(v => (v - m) * (v - m)) / (a.Length - 1));
            Assert.That(f[1], Is.EqualTo(Chips.ToString(CultureInfo.InvariantCulture)));
            Assert.That(double.Parse(f[2], CultureInfo.InvariantCulture), Is.EqualTo(m).Within(1e-12), $"{f[0]} mean");
            Assert.That(double.Parse(f[3], CultureInfo.InvariantCulture), Is.EqualTo(sd).Within(1e-12), $"{f[0]} σ (n − 1)");
            Assert.That(double.Parse(f[4], CultureInfo.InvariantCulture), Is.EqualTo(a.Min()));
            Assert.That(double.Parse(f[5], CultureInfo.InvariantCulture), Is.EqualTo(a.Max()));
        }
    }

    [Test]
    public void HistogramCountsEveryChipInTheBinHoldingItsAccuracy()
    {
        var bins = File.ReadAllLines(Path.Combine(Whole, "chips-histogram.csv"));
        Assert.That(bins[0], Is.EqualTo("series,bin_start,bin_end,count"));
        var parsed = bins.Skip(1).Select(l => l.Split(',')).Select(f => (Series: f[0], Lo: double.Parse(f[1], CultureInfo.InvariantCulture),
            Hi: double.Parse(f[2], CultureInfo.InvariantCulture), Count: double.Parse(f[3], CultureInfo.InvariantCulture))).ToArray();
        foreach (var training in new[] { "plain", "hardware-aware" })
        {
            var mine = parsed.Where(b => b.Series.StartsWith(training + ":", StringComparison.Ordinal)).ToArray();
            Assert.That(mine, Is.Not.Empty);
            var acc = Accuracies(Whole, training);
            foreach (var b in mine)
                Assert.That(b.Count, Is.EqualTo(acc.Count(a => 100 * a >= b.Lo && 100 * a < b.Hi)), $"{training} [{b.Lo}, {b.Hi}) % (the axis and legend are in %)");
            Assert.That(mine.Sum(b => b.Count), Is.EqualTo(Chips));
            // Axis and legend in one unit: the legend's mean (in %) lies inside the plotted bins, where the chips are.
            var legend = mine[0].Series;
            double mean = double.Parse(legend[(legend.IndexOf(':') + 1)..legend.IndexOf('%')].Trim(), CultureInfo.InvariantCulture);
            Assert.That(mean, Is.InRange(mine.Min(b => b.Lo), mine.Max(b => b.Hi)), $"{training}: legend '{legend}' against the bins (%)");
            Assert.That(mean, Is.EqualTo(100 * acc.Average()).Within(0.05 + 1e-9), $"{training}: the legend's mean is the chips' mean accuracy in %");
        }
    }

    [Test]
    public void ShardsHoldTheirRoundRobinChipsAndTheSameRowsAsTheWholeStudy()
    {
        var one = File.ReadAllLines(Path.Combine(Two, "chips-shard-1-of-2.csv"));
        Assert.That(one[0], Is.EqualTo("point,chip,training,correct,samples,accuracy"));
        Assert.That(one.Skip(1).Select(l => l.Split(',')[1]).Distinct(), Is.EqualTo(new[] { "1", "3", "5" }), "chip k goes to shard ((k - 1) mod 2) + 1");
        var whole = File.ReadAllLines(Path.Combine(Whole, "chips.csv")).Skip(1).ToArray();
        for (int i = 1; i <= 3; i++)
        {
            var rows = File.ReadAllLines(Path.Combine(Three(i), $"chips-shard-{i}-of-3.csv")).Skip(1).Select(l => l[(l.IndexOf(',') + 1)..]).ToArray();
            Assert.That(rows, Is.EqualTo(whole.Where(l => (int.Parse(l.Split(',')[0], CultureInfo.InvariantCulture) - 1) % 3 == i - 1)), $"shard {i}/3");
            Assert.That(File.Exists(Path.Combine(Three(i), "summary.md")), Is.False, "a shard runs the chips only");
        }
    }

    [Test]
    public void ShardWithoutChipsIsAUsageError()
    {
        var (code, output, error) = Ship("--shard", "1/2", "--out", Path.Combine(_root, "never"));
        Assert.That(code, Is.EqualTo(ShipCli.BadUsage), output + error);
        Assert.That(error, Does.Contain("--shard").And.Contain("--chips"));
        Assert.That(Directory.Exists(Path.Combine(_root, "never")), Is.False);
    }

    [TestCase("compare", "--chips", "3")]
    [TestCase("compare", "--chip-mismatch", "0.2")]
    [TestCase(null, "--chip-mismatch", "0.2")]
    public void AChipOptionTheCommandWouldIgnoreIsAUsageError(string? command, string option, string value)
    {
        var dir = Path.Combine(_root, "ignored");
        var args = (command is null ? Array.Empty<string>() : new[] { command }).Concat(new[] { option, value, "--out", dir }).ToArray();
        var (code, output, error) = Ship(args);
        Assert.That(code, Is.EqualTo(ShipCli.BadUsage), output + error);
        Assert.That(error, Does.Contain(option));
        Assert.That(Directory.Exists(dir), Is.False, "nothing ran");
    }

    [Test]
    public void MergeOfChipShardsWithOtherMismatchExitsTwoNamingTheSetting()
    {
        var other = Path.Combine(_root, "other");
        Ok(Ship(Tiny.Concat(new[] { "--chip-mismatch", "0.2", "--shard", "2/2", "--out", other }).ToArray()));
        var dir = Path.Combine(_root, "mixed");
        Directory.CreateDirectory(dir);
        foreach (var f in new[] { Path.Combine(Two, "chips-shard-1-of-2.csv"), Path.Combine(Two, "chips-shard-1-of-2.json"),
                     Path.Combine(other, "chips-shard-2-of-2.csv"), Path.Combine(other, "chips-shard-2-of-2.json") })
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var (code, _, error) = Ship("merge", dir);
        Assert.That(code, Is.EqualTo(ShipCli.BadUsage));
        Assert.That(error, Does.Contain("chips-shard-2-of-2.json").And.Contain("ChipMismatch = 0.2 vs 0.1"));
    }

    // A chip instance at the library level: device-to-device draws from the network's streams seeded with the chip seed,
    // neuron mismatch from ChipMismatch with the same seed.
    private static (double[] G, double[] Tau) Chip(long chipSeed, bool runTwice = false)
    {
        var net = new Network { Dt = 1e-3, Steps = 3, Seed = chipSeed };
        net.Add("I", new TensorInput(8));
        net.Add("L", new Lif(32, tau: 20e-3));
        var array = MemristivePresets.ShipQuantized(4);
        net.Add("S", new Dense(torch.linspace(-1, 1, 8 * 32).reshape(8, 32)).WithDevice(array), "I", "L");
        net.Initialize();
        using var chip = new ChipMismatch(chipSeed, new MismatchSpec("L", "tau", 0.1));
        chip.Apply(net);
        if (runTwice)
        {
            net.Run(new Dictionary<string, Tensor> { ["I"] = torch.ones(1, 3, 8) });
            chip.Apply(net);
            net.Run(new Dictionary<string, Tensor> { ["I"] = torch.ones(1, 3, 8) });
        }
        return (array.State.Programmed.flatten().data<double>().ToArray(), net["L"].Get("tau").to_type(ScalarType.Float64).flatten().data<double>().ToArray());
    }

    [Test]
    public void AChipsDeviceDrawsAndMismatchStayFixedAcrossRunsAndChangeAcrossChipSeeds()
    {
        var a = Chip(3);
        var again = Chip(3, runTwice: true);
        Assert.That(again.G, Is.EqualTo(a.G), "the same chip programs the same devices, also after runs");
        Assert.That(again.Tau, Is.EqualTo(a.Tau), "and has the same mismatch after runs");
        var b = Chip(4);
        Assert.That(b.Tau.Zip(a.Tau).Count(p => p.First != p.Second), Is.EqualTo(a.Tau.Length), "another chip seed: every τ differs");
        Assert.That(b.G.Zip(a.G).Count(p => p.First != p.Second), Is.GreaterThan(a.G.Length / 2), "another chip seed: the level variability differs");
    }
}
