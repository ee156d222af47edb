using System.Text.RegularExpressions;
using NUnit.Framework;

namespace Ship.Tests.Docs;

/// Keeps the tutorials and the getting-started page in step with the file-based programs that CI compiles and runs:
/// every code block of a tutorial must appear verbatim in its program, and every program must be run by
/// examples/run-all.sh.
public class TutorialTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ship.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("Ship.sln not found above the test directory");
    }

    private static string Read(string path) => File.ReadAllText(path).Replace("\r\n", "\n");

    private static readonly string[] Tutorials = { "01-build", "02-simulate", "03-train", "04-model" };

    /// The ```csharp blocks of a markdown file, without their fences and surrounding blank lines.
    private static List<string> CSharpBlocks(string markdown) =>
        Regex.Matches(markdown, "```csharp\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value.Trim('\n')).ToList();

    [TestCaseSource(nameof(Tutorials))]
    public void EveryCodeBlockOfTheTutorialIsInItsCompiledProgram(string name)
    {
        var root = RepoRoot();
        var md = Read(Path.Combine(root, "docs", "tutorials", name + ".md"));
        var program = Read(Path.Combine(root, "examples", "tutorials", name + ".cs"));
        var blocks = CSharpBlocks(md);
        Assert.That(blocks, Has.Count.GreaterThanOrEqualTo(4), $"{name}.md shows its code in csharp blocks");
        foreach (var block in blocks)
            Assert.That(program, Does.Contain(block), $"a block of docs/tutorials/{name}.md is not in examples/tutorials/{name}.cs:\n{block}");
        Assert.That(md, Does.Contain($"examples/tutorials/{name}.cs"), "the tutorial names its program");
    }

    [Test]
    public void TheBlockFinderSeesAMissingLine()
    {
        // Guards the test above: a block that differs by one line from the program must be reported.
        var md = "text\n```csharp\nvar a = 1;\nvar b = 2;\n```\n";
        var blocks = CSharpBlocks(md);
        Assert.That(blocks, Is.EqualTo(new[] { "var a = 1;\nvar b = 2;" }));
        Assert.That("var a = 1;\nvar c = 3;\nvar b = 2;\n", Does.Not.Contain(blocks[0]));
    }

    [Test]
    public void RunAllRunsEveryExampleAndTutorial()
    {
        var root = RepoRoot();
        var script = Read(Path.Combine(root, "examples", "run-all.sh"));
        var programs = Directory.GetFiles(Path.Combine(root, "examples"), "*.cs")
            .Concat(Directory.GetFiles(Path.Combine(root, "examples", "tutorials"), "*.cs"))
            .Select(p => Path.GetRelativePath(Path.Combine(root, "examples"), p).Replace('\\', '/'))
            .ToList();
        Assert.That(programs, Has.Count.GreaterThanOrEqualTo(9), "five studies and four tutorials");
        foreach (var p in programs)
            Assert.That(script, Does.Contain(Path.ChangeExtension(p, null)), $"examples/run-all.sh does not run {p}");
    }

    [Test]
    public void ProgramsReferenceProjectsThatExistAndTakeTheCommonSettings()
    {
        var root = RepoRoot();
        var files = Directory.GetFiles(Path.Combine(root, "examples"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}QuickStart{Path.DirectorySeparatorChar}")).ToList();
        Assert.That(files, Is.Not.Empty);
        foreach (var f in files)
        {
            var text = Read(f);
            var projects = Regex.Matches(text, @"^#:project (\S+)$", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
            Assert.That(projects.Any(p => p.EndsWith("Ship.Core/Ship.Core.csproj")), Is.True, $"{f} references Ship.Core");
            foreach (var p in projects)
                Assert.That(File.Exists(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(f)!, p))), Is.True, $"{f}: {p} does not exist");
            // Scripts need no XML docs, and are run, not AOT-published (the AOT analyzers would turn TorchSharp calls into errors).
            Assert.That(text, Does.Contain("#:property GenerateDocumentationFile=false"), f);
            Assert.That(text, Does.Contain("#:property PublishAot=false"), f);
        }
    }

    [Test]
    public void GettingStartedLinksEveryTutorialModelPageAndExample()
    {
        var root = RepoRoot();
        var page = Read(Path.Combine(root, "docs", "getting-started.md"));
        foreach (var t in Tutorials) Assert.That(page, Does.Contain($"tutorials/{t}.md"));
        foreach (var m in Directory.GetFiles(Path.Combine(root, "docs", "models"), "*.md"))
            Assert.That(page, Does.Contain($"models/{Path.GetFileName(m)}"), $"getting-started.md does not link {Path.GetFileName(m)}");
        foreach (var e in Directory.GetFiles(Path.Combine(root, "examples"), "*.cs"))
            Assert.That(page, Does.Contain($"examples/{Path.GetFileName(e)}"), $"getting-started.md does not mention {Path.GetFileName(e)}");
    }
}
