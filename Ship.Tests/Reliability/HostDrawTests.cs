using System.Text.RegularExpressions;
using NUnit.Framework;
using Ship.Core.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

/// Random draws must be made on the host generator and moved (Ship.Core/Networks/Draw.cs): a seeded CPU generator
/// passed to a draw on a CUDA tensor is refused by libtorch, which is how the hardware-aware noise broke on the GPU.
/// CI has no GPU, so the rule is checked on the source text.
public class HostDrawTests
{
    // A draw call with a generator and a device argument that is not the CPU.
    private static readonly Regex DeviceDraw = new Regex(@"torch\.(rand|randn|randint|randperm|normal|bernoulli|multinomial)\([^;]*device:(?>\s*)(?!CPU\b)[^;]*generator", RegexOptions.Singleline);

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ship.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("Ship.sln not found above the test directory");
    }

    [Test]
    public void NoLibraryCodeDrawsOnADeviceOtherThanTheHost()
    {
        // Besides DeviceDraw: an in-place draw with a generator draws wherever its tensor lives.
        var inPlace = new Regex(@"\.(normal_|uniform_|bernoulli_|random_|exponential_|bernoulli)\([^;]*generator", RegexOptions.Singleline);
        var offenders = new List<string>();
        foreach (var project in new[] { "Ship.Core", "Ship.Devices", "Ship.Training", "Ship.Datasets", "Ship.Cli" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(RepoRoot(), project), "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || file.EndsWith("Draw.cs", StringComparison.Ordinal)) continue;
                var text = File.ReadAllText(file);
                foreach (Match m in DeviceDraw.Matches(text)) offenders.Add($"{Path.GetFileName(file)}: {m.Value}");
                foreach (Match m in inPlace.Matches(text)) offenders.Add($"{Path.GetFileName(file)}: {m.Value}");
            }
        Assert.That(offenders, Is.Empty, "draw through Ship.Core.Networks.Draw instead");
    }

    [Test]
    public void TheScanFindsTheDrawThatBrokeOnTheGpu()
    {
        // The regression's own line, so a scan that matches nothing cannot pass the test above by accident.
        const string broken = "var xi = torch.randn(w.shape, dtype: w.dtype, device: w.device, generator: rng);";
        Assert.That(DeviceDraw.IsMatch(broken), Is.True);
        Assert.That(DeviceDraw.IsMatch("torch.randn(shape, dtype: dtype, device: CPU, generator: rng)"), Is.False);
    }

    [Test]
    public void HostDrawsEqualTheGeneratorsOwnSequence()
    {
        // Draw.Randn on the CPU is the generator's plain sequence, so moving draws to the host changed no CPU result.
        using var a = new torch.Generator(7);
        using var b = new torch.Generator(7);
        using var viaDraw = Draw.Randn(new long[] { 3, 4 }, ScalarType.Float32, CPU, a);
        using var direct = torch.randn(new long[] { 3, 4 }, dtype: ScalarType.Float32, generator: b);
        Assert.That(viaDraw.data<float>().ToArray(), Is.EqualTo(direct.data<float>().ToArray()));
    }
}
