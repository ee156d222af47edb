using System.Globalization;
using NUnit.Framework;
using Ship.Core.IO;
using Ship.Training.Sweeps;
using Ship.Tests.Datasets;

namespace Ship.Tests.Training.Sweeps;

public class ShardSweepTests
{
    private static readonly string[] Columns = { "label", "value", "tiny" };

    private static readonly Dictionary<string, string> Settings = new() { ["hidden"] = "16", ["levels"] = "[2,4]", ["seed"] = "1" };

    /// <summary>Rows of a made-up sweep: point k gives (k mod 2) + 1 rows, with a comma in a text field and doubles that need all 17 digits.</summary>
    private static List<SweepRow> Rows(int total) => Enumerable.Range(0, total)
        .SelectMany(k => Enumerable.Range(0, k % 2 + 1).Select(j => new SweepRow(k, new object[] { $"p{k}, row {j}", Math.Sin(k + 0.1 * j) / 3, 1e-300 * (k + 1) })))
        .ToList();

    private static void WriteShards(string folder, int total, int n, Dictionary<string, string>? settings = null, Func<int, string>? folderOf = null)
    {
        var rows = Rows(total);
        for (int i = 1; i <= n; i++)
        {
            var shard = new ShardSpec(i, n);
            SweepShards.Write(folderOf?.Invoke(i) ?? folder, "demo", shard, total, settings ?? Settings, Columns, rows.Where(r => r.Point % n == i - 1));
        }
    }

    [TestCase("2/4", 2, 4)]
    [TestCase("1/1", 1, 1)]
    [TestCase(" 3 / 3 ", 3, 3)]
    [TestCase("10/12", 10, 12)]
    public void ParsesOneBasedShards(string text, int i, int n)
    {
        var s = ShardSpec.Parse(text);
        Assert.That((s.Index, s.Count), Is.EqualTo((i, n)));
        Assert.That(s.ToString(), Is.EqualTo($"{i}/{n}"));
        Assert.That(s.FileTag, Is.EqualTo($"shard-{i}-of-{n}"));
    }

    [TestCase("0/2", "between 1 and n = 2")]
    [TestCase("3/2", "between 1 and n = 2")]
    [TestCase("1/0", "at least 1")]
    [TestCase("a/b", "'a/b' is not a shard")]
    [TestCase("2", "'2' is not a shard")]
    [TestCase("1/2/3", "is not a shard")]
    [TestCase("-1/2", "is not a shard")]
    [TestCase("", "is not a shard")]
    public void RejectsBadShardsWithATypedError(string text, string says)
    {
        var e = Assert.Throws<ShardException>(() => ShardSpec.Parse(text))!;
        Assert.That(e.Message, Does.Contain(says));
        Assert.That(e.File, Is.Null);
    }

    [Test]
    public void PointsAreDealtRoundRobinEachExactlyOnce()
    {
        for (int n = 1; n <= 6; n++)
            for (int total = 0; total <= 13; total++)
            {
                var owner = new int[total];
                for (int i = 1; i <= n; i++)
                {
                    var pts = new ShardSpec(i, n).Points(total);
                    Assert.That(pts, Is.Ordered.Ascending);
                    // Round-robin: shard i holds i-1, i-1+n, i-1+2n, ...; sizes differ by at most one.
                    var expected = new List<int>();
                    for (int k = i - 1; k < total; k += n) expected.Add(k);
                    Assert.That(pts, Is.EqualTo(expected), $"shard {i}/{n} of {total}");
                    Assert.That(pts.Length, Is.EqualTo(total / n + (i <= total % n ? 1 : 0)));
                    foreach (var k in pts)
                    {
                        owner[k]++;
                        Assert.That(ShardSpec.ShardOf(k, n), Is.EqualTo(i));
                        Assert.That(new ShardSpec(i, n).Owns(k), Is.True);
                    }
                }
                Assert.That(owner, Is.All.EqualTo(1), $"every point exactly once (n = {n}, total = {total})");
            }
    }

    [TestCase(7, 1)]
    [TestCase(7, 2)]
    [TestCase(7, 3)]
    [TestCase(7, 7)]
    [TestCase(7, 9)]
    [TestCase(1, 2)]
    public void MergedCsvIsByteIdenticalToTheUnshardedOne(int total, int n)
    {
        using var dir = new TempDir();
        var whole = dir.File("whole.csv");
        CsvTable.Write(whole, Columns, Rows(total).Select(r => r.Values));
        // Odd shards in one folder, even ones in another: merge takes several folders.
        var a = Path.Combine(dir.Path, "a");
        var b = Path.Combine(dir.Path, "b");
        WriteShards(a, total, n, folderOf: i => i % 2 == 1 ? a : b);
        var merged = SweepShards.Merge(n > 1 ? new[] { a, b } : new[] { a }, "demo");
        Assert.That(merged.Shards, Is.EqualTo(n));
        Assert.That(merged.TotalPoints, Is.EqualTo(total));
        Assert.That(merged.Rows.Select(r => r.Point), Is.Ordered.Ascending);
        Assert.That(merged.Settings, Is.EquivalentTo(Settings));
        merged.WriteCsv(dir.File("merged.csv"));
        Assert.That(File.ReadAllBytes(dir.File("merged.csv")), Is.EqualTo(File.ReadAllBytes(whole)));
        // The values survive as text: the doubles read back are the doubles written.
        var first = merged.Rows.First(r => r.Point == total - 1);
        Assert.That(double.Parse(first.Fields[1], CultureInfo.InvariantCulture), Is.EqualTo(Math.Sin(total - 1) / 3));
    }

    [Test]
    public void ShardFilesCarryTheirManifest()
    {
        using var dir = new TempDir();
        WriteShards(dir.Path, 7, 3);
        var m = SweepShards.ReadManifest(dir.File("demo-shard-2-of-3.json"));
        Assert.That((m.Sweep, m.Shard, m.Shards, m.TotalPoints), Is.EqualTo(("demo", 2, 3, 7)));
        Assert.That(m.Points, Is.EqualTo(new[] { 1, 4 }));
        Assert.That(m.Rows, Is.EqualTo(2 + 1), "points 1 and 4 give 2 and 1 rows");
        Assert.That(m.Columns, Is.EqualTo(Columns));
        Assert.That(m.Fingerprint, Has.Length.EqualTo(64));
        Assert.That(File.ReadLines(dir.File("demo-shard-2-of-3.csv")).First(), Is.EqualTo("point,label,value,tiny"));
        var other = new Dictionary<string, string>(Settings) { ["hidden"] = "17" };
        Assert.That(SweepShards.Fingerprint("demo", 7, other), Is.Not.EqualTo(m.Fingerprint));
        Assert.That(SweepShards.Fingerprint("demo", 8, Settings), Is.Not.EqualTo(m.Fingerprint));
        Assert.That(SweepShards.Fingerprint("demo", 7, new Dictionary<string, string>(Settings.Reverse())), Is.EqualTo(m.Fingerprint), "order of the settings does not matter");
    }

    private static ShardException MergeFails(params string[] folders) =>
        Assert.Throws<ShardException>(() => SweepShards.Merge(folders, "demo"))!;

    [Test]
    public void MissingShardIsNamed()
    {
        using var dir = new TempDir();
        WriteShards(dir.Path, 7, 4);
        File.Delete(dir.File("demo-shard-3-of-4.json"));
        var e = MergeFails(dir.Path);
        Assert.That(e.Message, Does.Contain("missing shard 3/4"));
        Assert.That(e.File, Is.EqualTo("demo-shard-3-of-4.json"));
    }

    [Test]
    public void ShardWithoutManifestCountsAsMissing()
    {
        // A shard killed while writing leaves its CSV but no manifest.
        using var dir = new TempDir();
        WriteShards(dir.Path, 5, 2);
        File.Delete(dir.File("demo-shard-1-of-2.json"));
        Assert.That(File.Exists(dir.File("demo-shard-1-of-2.csv")), Is.True);
        Assert.That(MergeFails(dir.Path).Message, Does.Contain("missing shard 1/2"));
    }

    [Test]
    public void ShardPresentTwiceIsNamed()
    {
        using var dir = new TempDir();
        WriteShards(dir.Path, 5, 2);
        var copy = Path.Combine(dir.Path, "copy");
        Directory.CreateDirectory(copy);
        foreach (var f in new[] { "demo-shard-2-of-2.json", "demo-shard-2-of-2.csv" }) File.Copy(dir.File(f), Path.Combine(copy, f));
        var e = MergeFails(dir.Path, copy);
        Assert.That(e.Message, Does.Contain("shard 2/2 is present twice"));
        Assert.That(e.Message, Does.Contain(copy));
    }

    [Test]
    public void MixedSettingsNameTheSettingThatDiffers()
    {
        using var dir = new TempDir();
        WriteShards(dir.Path, 5, 2);
        var other = new Dictionary<string, string>(Settings) { ["hidden"] = "32" };
        SweepShards.Write(dir.Path, "demo", new ShardSpec(2, 2), 5, other, Columns, Rows(5).Where(r => r.Point % 2 == 1));
        var e = MergeFails(dir.Path);
        Assert.That(e.Message, Does.Contain("other settings"));
        Assert.That(e.Message, Does.Contain("hidden = 32 vs 16"));
        Assert.That(e.File, Does.EndWith("demo-shard-2-of-2.json"));
    }

    [Test]
    public void MixedShardCountsAreRefused()
    {
        using var dir = new TempDir();
        WriteShards(dir.Path, 5, 2);
        WriteShards(dir.Path, 5, 3);
        Assert.That(MergeFails(dir.Path).Message, Does.Contain("different numbers of shards"));
    }

    [Test]
    public void MixedColumnsAreRefused()
    {
        using var dir = new TempDir();
        WriteShards(dir.Path, 5, 2);
        SweepShards.Write(dir.Path, "demo", new ShardSpec(2, 2), 5, Settings, new[] { "label", "value", "small" }, Rows(5).Where(r => r.Point % 2 == 1));
        Assert.That(MergeFails(dir.Path).Message, Does.Contain("has columns [label, value, small]"));
    }

    [Test]
    public void DuplicatePointIsNamed()
    {
        using var dir = new TempDir();
        WriteShards(dir.Path, 5, 2);
        var path = dir.File("demo-shard-1-of-2.json");
        // Hand-edited: shard 1 also claims point 1, which shard 2 computed.
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"points\": [\n    0,", "\"points\": [\n    0,\n    1,"));
        var e = MergeFails(dir.Path);
        Assert.That(e.Message, Does.Contain("duplicate point 1"));
    }

    [Test]
    public void PointInTheWrongShardIsNamed()
    {
        using var dir = new TempDir();
        WriteShards(dir.Path, 5, 2);
        var path = dir.File("demo-shard-1-of-2.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"points\": [\n    0,", "\"points\": [\n    0,\n    5,"));
        Assert.That(MergeFails(dir.Path).Message, Does.Contain("point 5, outside the sweep's points 0..4"));
    }

    [Test]
    public void ResultsChangedAfterTheManifestAreRefused()
    {
        using var dir = new TempDir();
        WriteShards(dir.Path, 5, 2);
        var csv = dir.File("demo-shard-2-of-2.csv");
        File.WriteAllText(csv, File.ReadAllText(csv).Replace("p1, row 0", "p1, row 9"));
        var e = MergeFails(dir.Path);
        Assert.That(e.Message, Does.Contain("changed after its manifest"));
        Assert.That(e.File, Is.EqualTo(csv));
    }

    [Test]
    public void EditedSettingsBreakTheFingerprint()
    {
        using var dir = new TempDir();
        WriteShards(dir.Path, 5, 2);
        var path = dir.File("demo-shard-1-of-2.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"hidden\": \"16\"", "\"hidden\": \"64\""));
        Assert.That(MergeFails(dir.Path).Message, Does.Contain("do not match its fingerprint"));
    }

    [Test]
    public void NoShardsOrNoFolder()
    {
        using var dir = new TempDir();
        Assert.That(MergeFails(dir.Path).Message, Does.Contain("no shards of 'demo'"));
        var nowhere = Path.Combine(dir.Path, "nowhere");
        var e = MergeFails(nowhere);
        Assert.That(e.File, Is.EqualTo(nowhere));
        Assert.That(e.Message, Does.Contain("no such folder"));
    }

    [Test]
    public void WriteRefusesRowsOfAnotherShard()
    {
        using var dir = new TempDir();
        Assert.Throws<ArgumentException>(() => SweepShards.Write(dir.Path, "demo", new ShardSpec(1, 2), 5, Settings, Columns, Rows(5)));
        Assert.Throws<ArgumentException>(() => SweepShards.Write(dir.Path, "demo", new ShardSpec(1, 2), 5, Settings, Columns, Rows(5).Where(r => r.Point == 0)),
            "point 2 and 4 have no rows");
    }
}
