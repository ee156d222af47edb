using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using NUnit.Framework;
using Ship.Core.IO;
using TorchSharp;

namespace Ship.Tests.Packaging;

/// <summary>provenance.json: what it records, and that the version is the one Directory.Build.props sets.</summary>
public class ProvenanceTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Directory.Build.props"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("repository root (Directory.Build.props) above " + AppContext.BaseDirectory);
    }

    [Test]
    public void RecordHoldsVersionCommitCommandLineSeedsSettingsTorchAndTime()
    {
        var dir = Path.Combine(Path.GetTempPath(), "ship-prov-" + Guid.NewGuid().ToString("N"), "nested");
        try
        {
            var before = DateTime.UtcNow.AddSeconds(-1);
            var path = Provenance.Write(dir, new Dictionary<string, long> { ["network"] = 7, ["input"] = 42 },
                new { Hidden = 12, Rates = new[] { 1.5, 2.5 } }, "cpu", new[] { "study", "--quick" });
            Assert.That(path, Is.EqualTo(Path.Combine(dir, "provenance.json")));
            var r = JsonDocument.Parse(File.ReadAllText(path)).RootElement;

            var props = File.ReadAllText(Path.Combine(RepoRoot(), "Directory.Build.props"));
            var version = Regex.Match(props, "<Version>([^<]+)</Version>").Groups[1].Value;
            Assert.That(r.GetProperty("ship_net_version").GetString(), Is.EqualTo(version), "the version Directory.Build.props sets");
            Assert.That(r.GetProperty("ship_net_commit").GetString(), Does.Match("^([0-9a-f]{40}|unknown)$"));
            Assert.That(r.GetProperty("command_line").EnumerateArray().Select(a => a.GetString()), Is.EqualTo(new[] { "study", "--quick" }));
            Assert.That(r.GetProperty("seeds").GetProperty("network").GetInt64(), Is.EqualTo(7));
            Assert.That(r.GetProperty("seeds").GetProperty("input").GetInt64(), Is.EqualTo(42));
            Assert.That(r.GetProperty("settings").GetProperty("Hidden").GetInt32(), Is.EqualTo(12));
            Assert.That(r.GetProperty("settings").GetProperty("Rates")[1].GetDouble(), Is.EqualTo(2.5));
            Assert.That(r.GetProperty("torch").GetProperty("device").GetString(), Is.EqualTo("cpu"));
            Assert.That(r.GetProperty("torch").GetProperty("threads").GetInt32(), Is.EqualTo(torch.get_num_threads()));
            Assert.That(r.GetProperty("torch").GetProperty("torchsharp_version").GetString(), Is.EqualTo("0.107.0"));
            var time = DateTime.ParseExact(r.GetProperty("time_utc").GetString()!, "yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
            Assert.That(time, Is.InRange(before.AddSeconds(-1), DateTime.UtcNow.AddSeconds(1)));
            Assert.That(Directory.GetFiles(dir), Has.Length.EqualTo(1), "no temporary file left behind");
        }
        finally
        {
            var root = Path.GetDirectoryName(dir)!;
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Test]
    public void AnUnwritableFolderIsATypedErrorNamingTheFile()
    {
        var file = Path.GetTempFileName();
        try
        {
            var e = Assert.Throws<Ship.Core.Errors.ShipException>(() => Provenance.Write(file));
            Assert.That(e!.Message, Does.Contain(Path.Combine(file, "provenance.json")));
        }
        finally { File.Delete(file); }
    }
}
