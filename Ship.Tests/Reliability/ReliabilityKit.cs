using System.Diagnostics;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

/// <summary>Helpers of the reliability tests: bitwise tensor comparison, temporary folders and the helper process.</summary>
internal static class ReliabilityKit
{
    /// <summary>Same dtype, same shape and the same bytes (so −0 vs +0 or two NaN payloads would differ).</summary>
    public static void AssertBitIdentical(Tensor expected, Tensor actual, string what)
    {
        Assert.That(actual.dtype, Is.EqualTo(expected.dtype), $"{what}: dtype");
        Assert.That(actual.shape, Is.EqualTo(expected.shape), $"{what}: shape");
        using var e = expected.detach().cpu().contiguous();
        using var a = actual.detach().cpu().contiguous();
        var eb = e.bytes.ToArray();
        var ab = a.bytes.ToArray();
        int first = -1;
        for (int i = 0; i < eb.Length && first < 0; i++) if (eb[i] != ab[i]) first = i;
        Assert.That(first, Is.EqualTo(-1), $"{what}: bytes differ from byte {first} on");
    }

    public static void AssertSameRecord(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual)
    {
        Assert.That(actual.Keys.OrderBy(k => k, StringComparer.Ordinal), Is.EqualTo(expected.Keys.OrderBy(k => k, StringComparer.Ordinal)), "the same tensors");
        foreach (var (k, t) in expected) AssertBitIdentical(t, actual[k], k);
    }

    public static string TempFolder(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "ship-reliability", $"{name}-{Environment.ProcessId}-{TestContext.CurrentContext.Test.ID}");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Runs this test assembly as a program (<see cref="HelperProgram"/>) in a new process; fails with its error output.</summary>
    public static void RunHelper(params string[] args)
    {
        var (code, output) = RunHelperProcess(args);
        Assert.That(code, Is.EqualTo(0), $"helper {string.Join(' ', args)} failed:\n{output}");
    }

    /// <summary>Runs this test assembly as a program in a new process and returns its exit code with its error and standard output.</summary>
    public static (int ExitCode, string Output) RunHelperProcess(params string[] args)
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(host) || !File.Exists(host)) host = "dotnet";
        var psi = new ProcessStartInfo(host) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(typeof(HelperProgram).Assembly.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start the helper process");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(3)), Is.True, "the helper process finished in time");
        Assert.That(p.Id, Is.Not.EqualTo(Environment.ProcessId), "another process");
        return (p.ExitCode, $"{stderr.Result}\n{stdout.Result}");
    }

    public static Dictionary<string, Tensor> ReadRecord(string path)
    {
        using var c = Ship.Core.Persistence.SafeTensors.Read(path);
        return c.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.clone(), StringComparer.Ordinal);
    }
}
