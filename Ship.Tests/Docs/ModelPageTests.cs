using System.Reflection;
using System.Text.RegularExpressions;
using NUnit.Framework;
using Ship.Core.Persistence;
using Ship.Devices.Neurons;
using Ship.Training.Local;

namespace Ship.Tests.Docs;

/// <summary>
/// A parameter page for every model: each concrete group type and each saveable model (<c>[ShipModel]</c>) of
/// Ship.Devices and Ship.Training is named in a heading or a table row of docs/models/*.md, so a new model without a
/// page fails here.
/// </summary>
public class ModelPageTests
{
    private static string Root()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ship.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("Ship.sln not found above the test directory");
    }

    /// <summary>Headings and table rows of the model pages, with the file each came from.</summary>
    private static List<(string File, string Line)> HeadingsAndTables()
    {
        var folder = Path.Combine(Root(), "docs", "models");
        return Directory.EnumerateFiles(folder, "*.md")
            .SelectMany(f => File.ReadLines(f).Select(l => (File: Path.GetFileName(f), Line: l.TrimStart())))
            .Where(x => x.Line.StartsWith('#') || x.Line.StartsWith('|'))
            .ToList();
    }

    private static bool Names(string line, string typeName) =>
        Regex.IsMatch(line, $@"(?<![A-Za-z0-9_]){Regex.Escape(typeName)}(?![A-Za-z0-9_])");

    private static List<Type> Models()
    {
        var assemblies = new[] { typeof(Lif).Assembly, typeof(TrainableDelay).Assembly };
        return assemblies.SelectMany(a => a.GetExportedTypes())
            .Where(t => t.IsClass && !t.IsAbstract
                && (typeof(Ship.Core.Groups.Group).IsAssignableFrom(t) || t.GetCustomAttribute<ShipModelAttribute>() is not null))
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .ToList();
    }

    [Test]
    public void EveryModelHasASectionOrTableRowOnAModelPage()
    {
        var lines = HeadingsAndTables();
        var models = Models();
        // The enumeration itself must see the models the pages are about, or the check below would pass on nothing.
        Assert.That(models.Select(t => t.Name), Is.SupersetOf(new[]
        {
            "Lif", "Dense", "TensorInput", "StdpBlock", "RewardStdpBlock", "TripletStdpBlock", "InputTap", "CrossbarSynapse",
            "TrainableDelay", "GlobalDriftCompensation", "HardwareAwareWeights", "DeviceArray", "RramDrift",
        }));
        Assert.That(models, Has.Count.GreaterThanOrEqualTo(50));
        var missing = models.Where(t => !lines.Any(l => Names(l.Line, t.Name))).Select(t => t.FullName).ToList();
        Assert.That(missing, Is.Empty, "models without a heading or table row in docs/models/*.md");
    }

    [Test]
    public void TheMatcherNeedsTheWholeTypeName()
    {
        Assert.That(Names("### `AdaptiveLif` — LSNN", "Lif"), Is.False, "a longer name does not count for a shorter one");
        Assert.That(Names("| `Lif` | neuron |", "Lif"), Is.True);
        Assert.That(HeadingsAndTables().Any(l => Names(l.Line, "NoSuchModelAnywhere")), Is.False);
    }
}
