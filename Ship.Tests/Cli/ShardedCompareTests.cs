using System.Globalization;
using NUnit.Framework;
using Ship.Cli;

namespace Ship.Tests.Cli;

/// <summary>
/// <c>ship compare --shard i/n</c> + <c>ship merge</c> against the unsharded <c>ship compare</c>: tiny settings (1 epoch,
/// 16 hidden, 3 training seeds on the digits), run once unsharded, as 2 shards in one folder and as 3 shards in three
/// folders, all in process.
/// </summary>
public class ShardedCompareTests
{
    private static readonly string[] Tiny = { "compare", "--quick", "--epochs", "1", "--hidden", "16", "--seeds", "3" };

    private string _root = "";
    private string Whole => Path.Combine(_root, "whole");
    private string Two => Path.Combine(_root, "two");
    private string Three(int i) => Path.Combine(_root, $"three-{i}");
    private string _wholeOutput = "";

    private static (int Code, string Out, string Err) Ship(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = ShipCli.Run(args, o, e, live: false);
        return (code, o.ToString(), e.ToString());
    }

    private static void Ok((int Code, string Out, string Err) r)
    {
        Assert.That(r.Code, Is.EqualTo(0), r.Err + r.Out);
    }

    [OneTimeSetUp]
    public void RunUnshardedAndSharded()
    {
        _root = Path.Combine(Path.GetTempPath(), "ship-shard-" + Guid.NewGuid().ToString("N"));
        var whole = Ship(Tiny.Concat(new[] { "--out", Whole }).ToArray());
        Ok(whole);
        _wholeOutput = whole.Out;
        for (int i = 1; i <= 2; i++) Ok(Ship(Tiny.Concat(new[] { "--shard", $"{i}/2", "--out", Two }).ToArray()));
        // Shard 3/3 first: the order shards run in must not matter.
        foreach (int i in new[] { 3, 1, 2 }) Ok(Ship(Tiny.Concat(new[] { "--shard", $"{i}/3", "--out", Three(i) }).ToArray()));
    }

    [OneTimeTearDown]
    public void Clean()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static string[] VerdictLines(string output) =>
        output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Contains('│') || l.StartsWith("margin ", StringComparison.Ordinal)).ToArray();

    [Test]
    public void MergedOutputsAreByteIdenticalToTheUnshardedRun()
    {
        var mergedTwo = Path.Combine(_root, "merged-two");
        var m2 = Ship("merge", Two, "--out", mergedTwo);
        Ok(m2);
        var m3 = Ship("merge", Three(1), Three(2), Three(3)); // no --out: writes into the first folder
        Ok(m3);
        foreach (var (dir, output) in new[] { (mergedTwo, m2.Out), (Three(1), m3.Out) })
        {
            foreach (var f in new[] { "compare.csv", "compare-per-seed.csv", "compare-per-seed.svg" })
                Assert.That(File.ReadAllBytes(Path.Combine(dir, f)), Is.EqualTo(File.ReadAllBytes(Path.Combine(Whole, f))), $"{dir}/{f}");
            Assert.That(File.Exists(Path.Combine(dir, "compare-per-seed.png")), Is.True);
            var provenance = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "provenance.json"))).RootElement;
            Assert.That(provenance.GetProperty("command_line").EnumerateArray().Select(a => a.GetString()).Contains("merge"), Is.True, $"{dir}/provenance.json records the merge");
            Assert.That(VerdictLines(output), Is.EqualTo(VerdictLines(_wholeOutput)).And.Length.EqualTo(5), "the printed table (4 rows) and verdict");
        }
    }

    [Test]
    public void CompareCsvIsDeterministicAndHoldsEverySeedInOrder()
    {
        var lines = File.ReadAllLines(Path.Combine(Whole, "compare.csv"));
        Assert.That(lines[0], Is.EqualTo("seed,training,ideal_accuracy,hardware_accuracy,hardware_std_over_devices"), "no timing column");
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.That(rows.Select(r => r[0] + " " + r[1]), Is.EqualTo(new[]
        {
            "1 plain", "1 hardware-aware", "2 plain", "2 hardware-aware", "3 plain", "3 hardware-aware",
        }));
        // Accuracies on the 359 test digits are multiples of 1/359 (ideal) or means of 3 such (devices).
        foreach (var r in rows)
        {
            double ideal = double.Parse(r[2], CultureInfo.InvariantCulture), hw = double.Parse(r[3], CultureInfo.InvariantCulture);
            Assert.That(ideal * 359, Is.EqualTo(Math.Round(ideal * 359)).Within(1e-9));
            Assert.That(hw * 3 * 359, Is.EqualTo(Math.Round(hw * 3 * 359)).Within(1e-9));
        }
        var timings = File.ReadAllLines(Path.Combine(Whole, "compare-timings.csv"));
        Assert.That(timings[0], Is.EqualTo("seed,training,train_seconds"));
        Assert.That(timings.Length, Is.EqualTo(1 + 6));
    }

    [Test]
    public void PrintedVerdictMatchesMeansComputedFromTheCsv()
    {
        var rows = File.ReadAllLines(Path.Combine(Whole, "compare.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        double[] Acc(string training) => rows.Where(r => r[1] == training).Select(r => double.Parse(r[3], CultureInfo.InvariantCulture)).ToArray();
        static (double M, double S) MeanStd(double[] v)
        {
            double m = v.Sum() / v.Length;
            return (m, Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)));
        }
        var (mp, sp) = MeanStd(Acc("plain"));
        var (mh, sh) = MeanStd(Acc("hardware-aware"));
        string P(double v) => (100 * v).ToString("F1", CultureInfo.InvariantCulture);
        var verdict = VerdictLines(_wholeOutput);
        Assert.That(verdict.Single(l => l.Contains("│ plain ")), Does.Contain($"{P(mp)} % ± {P(sp)}"));
        Assert.That(verdict.Single(l => l.Contains("│ hardware-aware ")), Does.Contain($"{P(mh)} % ± {P(sh)}"));
        Assert.That(verdict.Single(l => l.StartsWith("margin ")), Does.Contain($"the seed spread (largest std {P(Math.Max(sp, sh))} points)"));
        // The plot shows the same per-seed numbers.
        var plot = File.ReadAllLines(Path.Combine(Whole, "compare-per-seed.csv"));
        Assert.That(plot[0], Is.EqualTo("series,seed,value"));
        Assert.That(plot.Skip(1).Where(l => l.StartsWith("plain,")).Select(l => double.Parse(l.Split(',')[2], CultureInfo.InvariantCulture)), Is.EqualTo(Acc("plain")));
    }

    [Test]
    public void ShardsHoldTheirRoundRobinSeeds()
    {
        // Seed k is point k - 1 and goes to shard ((k - 1) mod n) + 1.
        var one = File.ReadAllLines(Path.Combine(Two, "compare-shard-1-of-2.csv"));
        Assert.That(one[0], Is.EqualTo("point,seed,training,ideal_accuracy,hardware_accuracy,hardware_std_over_devices"));
        Assert.That(one.Skip(1).Select(l => l.Split(',')[0] + ":" + l.Split(',')[1]).Distinct(), Is.EqualTo(new[] { "0:1", "2:3" }));
        var two = File.ReadAllLines(Path.Combine(Two, "compare-shard-2-of-2.csv"));
        Assert.That(two.Skip(1).Select(l => l.Split(',')[1]).Distinct(), Is.EqualTo(new[] { "2" }));
        for (int i = 1; i <= 3; i++)
        {
            var rows = File.ReadAllLines(Path.Combine(Three(i), $"compare-shard-{i}-of-3.csv")).Skip(1).ToArray();
            Assert.That(rows.Select(l => l.Split(',')[1]), Is.EqualTo(new[] { $"{i}", $"{i}" }), $"shard {i}/3 trains seed {i} only");
            Assert.That(File.Exists(Path.Combine(Three(i), $"compare-shard-{i}-of-3.json")), Is.True);
        }
        // A shard's own rows are the unsharded run's rows of its seeds.
        var whole = File.ReadAllLines(Path.Combine(Whole, "compare.csv")).Skip(1).ToArray();
        Assert.That(two.Skip(1).Select(l => l[(l.IndexOf(',') + 1)..]), Is.EqualTo(whole.Where(l => l.StartsWith("2,"))));
    }

    [TestCase("0/2", "between 1 and n = 2")]
    [TestCase("3/2", "between 1 and n = 2")]
    [TestCase("a/b", "'a/b' is not a shard")]
    [TestCase("1/0", "at least 1")]
    public void BadShardIsAUsageError(string shard, string says)
    {
        var (code, output, error) = Ship("compare", "--shard", shard, "--out", Path.Combine(_root, "never"));
        Assert.That(code, Is.EqualTo(ShipCli.BadUsage), output + error);
        Assert.That(error, Does.Contain("--shard").And.Contain(says));
        Assert.That(Directory.Exists(Path.Combine(_root, "never")), Is.False, "nothing ran");
    }

    private (int Code, string Out, string Err) MergeOf(params string[] files)
    {
        var dir = Path.Combine(_root, "case-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        foreach (var f in files) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return Ship("merge", dir);
    }

    private string TwoFile(int i, string ext) => Path.Combine(Two, $"compare-shard-{i}-of-2.{ext}");

    [Test]
    public void MergeWithAMissingShardExitsTwoNamingIt()
    {
        var (code, _, error) = MergeOf(TwoFile(1, "csv"), TwoFile(1, "json"), TwoFile(2, "csv"));
        Assert.That(code, Is.EqualTo(ShipCli.BadUsage));
        Assert.That(error, Does.Contain("compare-shard-2-of-2.json").And.Contain("missing shard 2/2"));
    }

    [Test]
    public void MergeWithADuplicateShardExitsTwoNamingIt()
    {
        var (code, _, error) = Ship("merge", Two, Two + Path.DirectorySeparatorChar);
        Assert.That(code, Is.EqualTo(ShipCli.BadUsage));
        Assert.That(error, Does.Contain("shard 1/2 is present twice"));
    }

    [Test]
    public void MergeOfShardsWithOtherSettingsExitsTwoNamingTheSetting()
    {
        var other = Path.Combine(_root, "other");
        Ok(Ship(Tiny.Select(a => a == "16" ? "12" : a).Concat(new[] { "--shard", "2/2", "--out", other }).ToArray()));
        var (code, _, error) = MergeOf(TwoFile(1, "csv"), TwoFile(1, "json"),
            Path.Combine(other, "compare-shard-2-of-2.csv"), Path.Combine(other, "compare-shard-2-of-2.json"));
        Assert.That(code, Is.EqualTo(ShipCli.BadUsage));
        Assert.That(error, Does.Contain("compare-shard-2-of-2.json").And.Contain("other settings").And.Contain("Hidden = 12 vs 16"));
    }

    [Test]
    public void MergeOfShardsCutDifferentlyExitsTwo()
    {
        // 4 shards of 3 seeds: shard 4/4 has no seed, so it costs nothing to make.
        var four = Path.Combine(_root, "four");
        var r = Ship(Tiny.Concat(new[] { "--shard", "4/4", "--out", four }).ToArray());
        Ok(r);
        Assert.That(r.Out, Does.Contain("seeds none"));
        var (code, _, error) = MergeOf(TwoFile(1, "csv"), TwoFile(1, "json"), TwoFile(2, "csv"), TwoFile(2, "json"),
            Path.Combine(four, "compare-shard-4-of-4.csv"), Path.Combine(four, "compare-shard-4-of-4.json"));
        Assert.That(code, Is.EqualTo(ShipCli.BadUsage));
        Assert.That(error, Does.Contain("different numbers of shards"));
    }

    [Test]
    public void MergeOfAnEmptyOrMissingFolderExitsTwo()
    {
        var (code, _, error) = MergeOf();
        Assert.That(code, Is.EqualTo(ShipCli.BadUsage));
        Assert.That(error, Does.Contain("no shards of 'compare'"));
        var nowhere = Path.Combine(_root, "nowhere");
        (code, _, error) = Ship("merge", nowhere);
        Assert.That(code, Is.EqualTo(ShipCli.BadUsage));
        Assert.That(error, Does.Contain(nowhere).And.Contain("no such folder"));
        (code, _, error) = Ship("merge");
        Assert.That(code, Is.EqualTo(ShipCli.BadUsage), "FOLDER is required");
    }

    [Test]
    public void HelpShowsShardAndMerge()
    {
        var (code, output, _) = Ship("compare", "--help");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(output, Does.Contain("--shard").And.Contain("i/n").And.Contain("ship merge"));
        (code, output, _) = Ship("--help");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(output, Does.Contain("merge"));
        (code, output, _) = Ship("merge", "--help");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(output, Does.Contain("FOLDER").And.Contain("--out").And.Contain("docs/sweeps.md"));
    }
}
