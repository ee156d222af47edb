using System.Text;
using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Native;

namespace Ship.Tests.Packaging;

/// <summary>
/// The one-line diagnosis of a TorchSharp load failure (Ship.Core/Native/TorchSharpLoad.cs). The ELF files are built
/// here from the ELF64 specification (header, section headers, SHT_GNU_verneed entries), independently of the reader.
/// </summary>
public class TorchSharpLoadDiagnosisTests
{
    private string _dir = "";

    [SetUp]
    public void Folder()
    {
        _dir = Path.Combine(Path.GetTempPath(), "ship-load-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void Clean() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// An ELF64 little-endian file with a string table and one SHT_GNU_verneed section: one Elf64_Verneed for
    /// libstdc++.so.6 with an Elf64_Vernaux entry per (name, flags).
    /// </summary>
    private static byte[] Elf(params (string Name, ushort Flags)[] needs)
    {
        var strings = new MemoryStream();
        strings.WriteByte(0);
        int Add(string s) { int at = (int)strings.Length; var b = Encoding.ASCII.GetBytes(s); strings.Write(b); strings.WriteByte(0); return at; }
        int file = Add("libstdc++.so.6");
        var names = needs.Select(n => Add(n.Name)).ToArray();
        var str = strings.ToArray();

        const int header = 64;
        int strOff = header, verOff = (strOff + str.Length + 7) / 8 * 8;
        int verSize = 16 + 16 * needs.Length;
        int shOff = (verOff + verSize + 7) / 8 * 8;
        var b = new byte[shOff + 3 * 64];
        void U16(int at, int v) => BitConverter.GetBytes((ushort)v).CopyTo(b, at);
        void U32(int at, long v) => BitConverter.GetBytes((uint)v).CopyTo(b, at);
        void U64(int at, long v) => BitConverter.GetBytes((ulong)v).CopyTo(b, at);

        b[0] = 0x7f; b[1] = (byte)'E'; b[2] = (byte)'L'; b[3] = (byte)'F'; b[4] = 2; b[5] = 1; b[6] = 1; // ELFCLASS64, LSB, EV_CURRENT
        U16(0x10, 3); U16(0x12, 62); U32(0x14, 1);        // ET_DYN, EM_X86_64, version
        U64(0x28, shOff); U16(0x34, header); U16(0x3A, 64); U16(0x3C, 3); U16(0x3E, 1);
        str.CopyTo(b, strOff);
        // Elf64_Verneed: vn_version, vn_cnt, vn_file, vn_aux (from this entry), vn_next (0: last)
        U16(verOff, 1); U16(verOff + 2, needs.Length); U32(verOff + 4, file); U32(verOff + 8, 16); U32(verOff + 12, 0);
        for (int i = 0; i < needs.Length; i++)
        {
            int a = verOff + 16 + 16 * i;                    // Elf64_Vernaux: hash, flags, other, name, next
            U32(a, 0); U16(a + 4, needs[i].Flags); U16(a + 6, 2 + i); U32(a + 8, names[i]); U32(a + 12, i + 1 < needs.Length ? 16 : 0);
        }
        int s1 = shOff + 64, s2 = shOff + 128;             // section 0 stays SHT_NULL
        U32(s1 + 4, 3); U64(s1 + 0x18, strOff); U64(s1 + 0x20, str.Length);                       // SHT_STRTAB
        U32(s2 + 4, 0x6ffffffe); U64(s2 + 0x18, verOff); U64(s2 + 0x20, verSize); U32(s2 + 0x28, 1); U32(s2 + 0x2C, 1); // SHT_GNU_verneed, link → strtab, info = 1 entry
        return b;
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Host(params string[] versions) =>
        Write($"libstdc++-{Guid.NewGuid():N}.so.6", Encoding.ASCII.GetBytes("\u007fELF...." + string.Concat(versions.Select(v => v + "\0")) + "tail"));

    private static readonly Exception TorchFailure = new TypeInitializationException("TorchSharp.torch",
        new NotSupportedException("The libtorch-cpu-linux-x64 package version 2.10.0 is not restored\nsecond line of a long trace"));

    [Test]
    public void ReaderTellsStrongWeakAndAbsentRequirements()
    {
        Assert.That(TorchSharpLoad.VersionNeed(Elf(("GLIBCXX_3.4.30", 0), ("GLIBCXX_3.4.32", 0)), "GLIBCXX_3.4.32"), Is.EqualTo(TorchSharpLoad.Need.Strong));
        Assert.That(TorchSharpLoad.VersionNeed(Elf(("GLIBCXX_3.4.32", 2), ("GLIBCXX_3.4.30", 0)), "GLIBCXX_3.4.32"), Is.EqualTo(TorchSharpLoad.Need.Weak));
        Assert.That(TorchSharpLoad.VersionNeed(Elf(("GLIBCXX_3.4.30", 0)), "GLIBCXX_3.4.32"), Is.EqualTo(TorchSharpLoad.Need.None));
        Assert.That(TorchSharpLoad.VersionNeed(Encoding.ASCII.GetBytes("not an ELF file at all, but long enough to have a header of 64 bytes..."), "GLIBCXX_3.4.32"),
            Is.EqualTo(TorchSharpLoad.Need.None));
        var truncated = Elf(("GLIBCXX_3.4.32", 0))[..70];
        Assert.That(TorchSharpLoad.VersionNeed(truncated, "GLIBCXX_3.4.32"), Is.EqualTo(TorchSharpLoad.Need.None), "a truncated file is not read past its end");
    }

    [Test]
    public void OldLibstdcxxAndAStrongRequirementNameTheCauseAndTheFixInOneLine()
    {
        var bridge = Write("libLibTorchSharp.so", Elf(("GLIBCXX_3.4.30", 0), ("GLIBCXX_3.4.32", 0)));
        var host = Host("GLIBCXX_3.4.29", "GLIBCXX_3.4.30");
        var e = TorchSharpLoad.Explain(TorchFailure, host, new[] { Path.Combine(_dir, "missing.so"), bridge });
        Assert.That(e, Is.InstanceOf<ShipException>());
        Assert.That(e.Message, Does.Not.Contain("\n"), "one line");
        Assert.That(e.Message, Does.Contain("GLIBCXX_3.4.32").And.Contain(host).And.Contain(bridge).And.Contain("Fix:").And.Contain("Ship.Core"));
        Assert.That(e.Bridge, Is.EqualTo(bridge));
        Assert.That(e.InnerException, Is.Null, "an unhandled one prints the cause, not TorchSharp's nested traces");
        Assert.That(e.TorchSharpError, Does.Contain("TypeInitializationException").And.Contain("second line of a long trace"), "TorchSharp's error is kept whole");
    }

    [Test]
    public void OldLibstdcxxWithNoBridgeFoundStillNamesTheLikelyCause()
    {
        var e = TorchSharpLoad.Explain(TorchFailure, Host("GLIBCXX_3.4.30"), new[] { Path.Combine(_dir, "missing.so") });
        Assert.That(e.Message, Does.Contain("GLIBCXX_3.4.32").And.Contain("Fix:"));
        Assert.That(e.Bridge, Is.Null);
    }

    [Test]
    public void AFailureIsPredictedOnlyForAStrongFirstBridgeOnAnOldHost()
    {
        var strong = Write("strong.so", Elf(("GLIBCXX_3.4.32", 0)));
        var weak = Write("weak.so", Elf(("GLIBCXX_3.4.32", 2)));
        var missing = Path.Combine(_dir, "missing.so");
        string oldHost = Host("GLIBCXX_3.4.30"), newHost = Host("GLIBCXX_3.4.30", "GLIBCXX_3.4.32");
        Assert.That(TorchSharpLoad.LikelyGlibcxxFailure(oldHost, new[] { missing, strong }), Is.True);
        Assert.That(TorchSharpLoad.LikelyGlibcxxFailure(oldHost, new[] { weak, strong }), Is.False, "the first existing bridge is the one loaded");
        Assert.That(TorchSharpLoad.LikelyGlibcxxFailure(newHost, new[] { strong }), Is.False);
        Assert.That(TorchSharpLoad.LikelyGlibcxxFailure(null, new[] { strong }), Is.False);
        Assert.That(TorchSharpLoad.LikelyGlibcxxFailure(oldHost, new[] { missing }), Is.False);
    }

    [Test]
    public void OtherCausesRepeatTheFirstLineOfTorchSharpsError()
    {
        var strong = Write("strong.so", Elf(("GLIBCXX_3.4.32", 0)));
        var weak = Write("weak.so", Elf(("GLIBCXX_3.4.32", 2)));
        foreach (var (host, bridge, why) in new[]
        {
            (Host("GLIBCXX_3.4.30", "GLIBCXX_3.4.32", "GLIBCXX_3.4.33"), strong, "the host has the version"),
            (Host("GLIBCXX_3.4.30"), weak, "the bridge was patched"),
            ((string?)null, strong, "no libstdc++ found (not Linux)"),
        })
        {
            var e = TorchSharpLoad.Explain(TorchFailure, host, new[] { bridge });
            Assert.That(e.Message, Does.Not.Contain("GLIBCXX").And.Not.Contain("\n"), why);
            Assert.That(e.Message, Does.Contain("The libtorch-cpu-linux-x64 package version 2.10.0 is not restored").And.Not.Contain("second line"), why);
        }
    }

    [Test]
    public void ThePackagesBridgeNeedsTheVersionAndTheBuildOutputCopyLoadsHere()
    {
        // TorchSharp 0.107's own file, in the NuGet cache: `objdump -T` lists GLIBCXX_3.4.32 as needed (docs/install.md).
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var original = Path.Combine(cache, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.That(File.Exists(original), Is.True, $"TorchSharp 0.107.0's bridge in the NuGet cache ({original})");
        Assert.That(TorchSharpLoad.VersionNeed(File.ReadAllBytes(original), "GLIBCXX_3.4.32"), Is.EqualTo(TorchSharpLoad.Need.Strong));

        // This test's own output copy: marked weak by the build exactly where the host's libstdc++ lacks the version.
        var copy = TorchSharpLoad.BridgeCandidates(AppContext.BaseDirectory)[0];
        var host = TorchSharpLoad.HostLibstdcxx();
        Assert.That(host, Is.Not.Null, "a Linux host has libstdc++.so.6");
        bool hostHas = Encoding.ASCII.GetString(File.ReadAllBytes(host!)).Contains("GLIBCXX_3.4.32\0", StringComparison.Ordinal);
        Assert.That(TorchSharpLoad.VersionNeed(File.ReadAllBytes(copy), "GLIBCXX_3.4.32"),
            Is.EqualTo(hostHas ? TorchSharpLoad.Need.Strong : TorchSharpLoad.Need.Weak));
        Assert.DoesNotThrow(TorchSharpLoad.EnsureLoaded);
    }
}
