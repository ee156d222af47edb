using NUnit.Framework;

namespace Ship.Tests.Engine;

/// Keeps the README's quick start identical to the example project that CI compiles and runs.
public class ReadmeTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ship.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("Ship.sln not found above the test directory");
    }

    [Test]
    public void QuickStartInReadmeIsTheCompiledExample()
    {
        var root = RepoRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n");
        int start = readme.IndexOf("```csharp\n", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), "README has a csharp block");
        start += "```csharp\n".Length;
        int end = readme.IndexOf("```", start, StringComparison.Ordinal);
        var block = readme[start..end].Trim();
        var example = File.ReadAllText(Path.Combine(root, "examples", "QuickStart", "Program.cs")).Replace("\r\n", "\n").Trim();
        Assert.That(block, Is.EqualTo(example));
    }

    [Test]
    public void CiRunsTheReadmeTestCommand()
    {
        var root = RepoRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var ci = File.ReadAllText(Path.Combine(root, ".ci", "run"));
        Assert.That(readme, Does.Contain("dotnet test Ship.sln"));
        Assert.That(ci, Does.Contain("dotnet test Ship.sln"));
        Assert.That(readme, Does.Contain("dotnet run --project Ship.Cli -c Release"));
        Assert.That(ci, Does.Contain("dotnet run --project Ship.Cli -c Release"));
    }
}
