using System.Diagnostics;
using NUnit.Framework;
using Ship.Core.Native;

namespace Ship.Tests.Reliability;

/// <summary>
/// Issue 18's thread collapse: libtorch's OpenMP threads spin at barriers, so with another process on a core two threads
/// ran ~10× slower than one. A Ship program makes them wait passively unless the user chose (<see cref="OpenMpWaitPolicy"/>);
/// libgomp reads the policy when libtorch loads, so each case is a fresh process.
/// </summary>
[TestFixture]
public class ThreadPolicyTests
{
    private static string PolicyInChild(params (string Name, string? Value)[] env)
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(host) || !File.Exists(host)) host = "dotnet";
        var psi = new ProcessStartInfo(host) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(typeof(HelperProgram).Assembly.Location);
        psi.ArgumentList.Add("wait-policy");
        foreach (var name in OpenMpWaitPolicy.UserVariables) psi.Environment.Remove(name);
        foreach (var (name, value) in env) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(2)), Is.True, "the child finished");
        Assert.That(p.ExitCode, Is.EqualTo(0), stderr.Result);
        return stdout.Trim();
    }

    [Test]
    public void LibtorchThreadsWaitPassivelyUnlessTheUserChose()
    {
        Assume.That(OperatingSystem.IsLinux(), "libgomp's environment is set on Linux only");
        Assert.That(PolicyInChild(), Does.StartWith("OMP_WAIT_POLICY=PASSIVE"), "nothing chosen: passive");
        Assert.That(PolicyInChild(("OMP_WAIT_POLICY", "ACTIVE")), Does.StartWith("OMP_WAIT_POLICY=ACTIVE"), "the user's policy is kept");
        Assert.That(PolicyInChild(("GOMP_SPINCOUNT", "1000")), Does.StartWith("OMP_WAIT_POLICY=unset"), "a user's spin count is not overridden");
    }
}
