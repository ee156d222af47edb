using System.Text.RegularExpressions;
using NUnit.Framework;
using Ship.Devices.Memristive;

namespace Ship.Tests.Docs;

/// <summary>One set of device preset names: every name the examples, docs and README pass to a preset option is a library name.</summary>
public partial class PresetNameTests
{
    [GeneratedRegex(@"--(?:device-)?preset[ =`]+([a-z][a-z0-9|,./_-]*)")]
    private static partial Regex PresetOption();

    [Test]
    public void ExamplesAndDocsUseOnlyTheLibrarysPresetNames()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ship.sln"))) dir = dir.Parent;
        var root = dir?.FullName ?? throw new DirectoryNotFoundException("Ship.sln not found above the test directory");
        var files = Directory.EnumerateFiles(Path.Combine(root, "examples"), "*.cs", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories))
            .Append(Path.Combine(root, "README.md"))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"));
        int found = 0;
        foreach (var file in files)
            foreach (Match m in PresetOption().Matches(File.ReadAllText(file)))
                foreach (var name in m.Groups[1].Value.Split('|', ','))
                {
                    if (name.Length == 0 || name == "n" || name.StartsWith("name")) continue;
                    if (name.EndsWith(".json", StringComparison.Ordinal)) continue; // a fitted device file (ship fit's device.json), not a name
                    found++;
                    Assert.That(MemristivePresets.Names, Does.Contain(name), $"{Path.GetRelativePath(root, file)}: preset name '{name}' in '{m.Value}'");
                }
        Assert.That(found, Is.GreaterThanOrEqualTo(3), "the scan found the documented preset options");
    }
}
