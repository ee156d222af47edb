using System.Text.RegularExpressions;
using NUnit.Framework;
using Ship.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

/// The library reads tensor shapes and strides through <see cref="TensorShape"/>: TorchSharp's <c>shape</c>,
/// <c>size()</c> and <c>stride()</c> leave a finalized pinned array per read, ~30 per training batch of the main job
/// (docs/benchmarks.md, Training). Checked on the source text, and the replacements against TorchSharp's own reads.
public class ShapeReadTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ship.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("Ship.sln not found above the test directory");
    }

    [Test]
    public void NoLibraryCodeReadsShapesThroughPinnedArrays()
    {
        var read = new Regex(@"\.shape\b(?!\s*\()|\.size\(\)|\.stride\(\)");
        var offenders = new List<string>();
        foreach (var project in new[] { "Ship.Core", "Ship.Devices", "Ship.Training", "Ship.Datasets" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(RepoRoot(), project), "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || file.EndsWith("TensorShape.cs", StringComparison.Ordinal)) continue;
                var lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                    if (!lines[i].TrimStart().StartsWith("//", StringComparison.Ordinal) && read.IsMatch(lines[i]))
                        offenders.Add($"{Path.GetFileName(file)}:{i + 1}: {lines[i].Trim()}");
            }
        Assert.That(offenders, Is.Empty, "read shapes with Sizes() and strides with Strides() (Ship.Core.Native.TensorShape)");
    }

    [Test]
    public void SizesAndStridesAreTorchSharpsOwnReads()
    {
        using var scope = NewDisposeScope();
        var cases = new[]
        {
            torch.tensor(3.0f),                               // 0 dimensions
            torch.zeros(7),
            torch.zeros(2, 3),
            torch.zeros(2, 3, 4).transpose(0, 2),              // strided view
            torch.zeros(5, 6, 7, 8).narrow(2, 1, 3),           // narrowed: strides of the base
            torch.zeros(4, 1).expand(4, 9),                    // stride 0
            torch.zeros(0, 5),                                 // empty
        };
        foreach (var t in cases)
        {
            Assert.That(t.Sizes(), Is.EqualTo(t.shape), $"sizes of a {t.dim()}-dimensional tensor");
            Assert.That(t.Strides(), Is.EqualTo(t.stride()), $"strides of a {t.dim()}-dimensional tensor");
        }
    }
}
