using System.Text;
using Ship.Core.Errors;
using TorchSharp;

namespace Ship.Core.Native;

/// <summary>
/// Turns the first failure to load TorchSharp's native libraries into one line that names the cause and the fix.
/// TorchSharp 0.107's <c>libLibTorchSharp.so</c> asks for libstdc++ symbol version GLIBCXX_3.4.32 (GCC 13), which
/// Debian 12's libstdc++ (GCC 12) lacks; the builds of Ship.Core and its package mark that requirement weak in the
/// output copy (build/TorchSharpLoadFix.targets). Where that build step did not run, TorchSharp would otherwise throw a
/// long <see cref="TypeInitializationException"/> that never names the cause.
/// </summary>
public static class TorchSharpLoad
{
    /// <summary>The libstdc++ symbol version the native bridge of TorchSharp 0.107 declares a need for.</summary>
    public const string NeededVersion = "GLIBCXX_3.4.32";

    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    private static readonly string[] HostLibstdcxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
    };

    // TorchSharp loads its natives once per process, whichever network asks first: this latch only skips the checks
    // below once that has happened, and no network's behaviour depends on it.
    private static readonly object Gate = new();
    private static volatile bool _loaded;

    /// <summary>
    /// The CPU device, reached through TorchSharp's static initialization (which loads the natives); a load failure
    /// becomes a <see cref="TorchSharpLoadException"/> with the diagnosis of <see cref="Explain"/>.
    /// </summary>
    public static torch.Device Cpu
    {
        get
        {
            if (_loaded) return torch.CPU;
            lock (Gate)
            {
                if (_loaded) return torch.CPU;
                OpenMpWaitPolicy.ApplyBeforeTorchLoads();
                // Before a load that will fail for the GLIBCXX reason, TorchSharp prints a 30-line trace to stdout; the
                // one-line exception replaces it (the trace stays in its TorchSharpError).
                bool quiet = LikelyGlibcxxFailure(HostLibstdcxx(), BridgeCandidates(AppContext.BaseDirectory));
                var stdout = Console.Out;
                if (quiet) Console.SetOut(TextWriter.Null);
                try
                {
                    var cpu = torch.CPU;
                    _loaded = true;
                    return cpu;
                }
                catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException)
                {
                    throw Explain(e, HostLibstdcxx(), BridgeCandidates(AppContext.BaseDirectory));
                }
                finally
                {
                    if (quiet) Console.SetOut(stdout);
                }
            }
        }
    }

    /// <summary>Loads TorchSharp's natives now (no-op when they are loaded), throwing <see cref="TorchSharpLoadException"/> on failure.</summary>
    public static void EnsureLoaded() => _ = Cpu;

    /// <summary>Where TorchSharp looks for its native bridge next to an application in <paramref name="baseDirectory"/>.</summary>
    public static IReadOnlyList<string> BridgeCandidates(string baseDirectory) => new[]
    {
        Path.Combine(baseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
        Path.Combine(baseDirectory, "libLibTorchSharp.so"),
        Path.Combine(baseDirectory, "cpu", "libLibTorchSharp.so"),
    };

    /// <summary>The host's libstdc++.so.6 in the usual places, or null (not Linux, or an unusual layout).</summary>
    public static string? HostLibstdcxx() => HostLibstdcxxCandidates.FirstOrDefault(File.Exists);

    /// <summary>
    /// Whether the host's libstdc++ (<paramref name="hostLibstdcxx"/>) lacks <see cref="NeededVersion"/> while the first
    /// existing bridge among <paramref name="bridges"/> still needs it strongly: then the loader refuses the bridge.
    /// </summary>
    public static bool LikelyGlibcxxFailure(string? hostLibstdcxx, IEnumerable<string> bridges)
    {
        ArgumentNullException.ThrowIfNull(bridges);
        var bridge = bridges.FirstOrDefault(File.Exists);
        return bridge != null && HostLacks(hostLibstdcxx) && VersionNeed(File.ReadAllBytes(bridge), NeededVersion) == Need.Strong;
    }

    private static bool HostLacks(string? hostLibstdcxx) =>
        hostLibstdcxx != null && File.Exists(hostLibstdcxx) && !Contains(File.ReadAllBytes(hostLibstdcxx), NeededVersion);

    /// <summary>
    /// The diagnosis of a load failure as a one-line exception: the GLIBCXX_3.4.32 cause and its fix where the host's
    /// libstdc++ (<paramref name="hostLibstdcxx"/>) lacks that version and an existing bridge among
    /// <paramref name="bridges"/> still needs it (or none is found); otherwise the first line of the innermost error.
    /// </summary>
    public static TorchSharpLoadException Explain(Exception failure, string? hostLibstdcxx, IEnumerable<string> bridges)
    {
        ArgumentNullException.ThrowIfNull(failure);
        ArgumentNullException.ThrowIfNull(bridges);
        var existing = bridges.Where(File.Exists).ToList();
        string? strong = null;
        foreach (var b in existing)
        {
            var need = VersionNeed(File.ReadAllBytes(b), NeededVersion);
            if (need == Need.Strong) { strong = b; break; }
        }
        bool hostLacks = HostLacks(hostLibstdcxx);
        if (hostLacks && (strong != null || existing.Count == 0))
        {
            var which = strong ?? "libLibTorchSharp.so";
            return new TorchSharpLoadException(
                $"TorchSharp cannot load its native bridge {which}: it needs libstdc++ symbol version {NeededVersion} (GCC 13), " +
                $"which {hostLibstdcxx} lacks (GCC 12, as on Debian 12). Fix: build through the Ship.Core package or project, whose " +
                "build marks that one requirement weak in the output copy (delete bin/ and obj/ and rebuild), or install the ship " +
                "tool, which carries a patched copy (docs/install.md, \"Debian 12\").", strong, failure.ToString());
        }
        var inner = failure;
        while (inner.InnerException != null) inner = inner.InnerException;
        var first = inner.Message.Split('\n')[0].Trim();
        return new TorchSharpLoadException(
            $"TorchSharp cannot load its native libraries: {first} (docs/install.md, \"When TorchSharp does not load\").",
            existing.FirstOrDefault(), failure.ToString());
    }

    /// <summary>How an ELF file declares a need for a symbol version: not at all, as a strong or as a weak requirement.</summary>
    public enum Need
    {
        /// <summary>The file is not a 64-bit little-endian ELF or does not name the version.</summary>
        None,
        /// <summary>The loader refuses the file where the version is missing.</summary>
        Strong,
        /// <summary>Marked VER_FLG_WEAK: the loader accepts the file where the version is missing.</summary>
        Weak,
    }

    /// <summary>
    /// Reads the version-needed entries (<c>.gnu.version_r</c>, SHT_GNU_verneed) of an ELF64 little-endian file and says
    /// whether it needs <paramref name="version"/>, and whether weakly; malformed files give <see cref="Need.None"/>.
    /// </summary>
    public static Need VersionNeed(byte[] elf, string version)
    {
        ArgumentNullException.ThrowIfNull(elf);
        try
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F') return Need.None;
            if (elf[4] != 2 || elf[5] != 1) return Need.None;
            long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
            int shentsize = BitConverter.ToUInt16(elf, 0x3A);
            int shnum = BitConverter.ToUInt16(elf, 0x3C);
            for (int s = 0; s < shnum; s++)
            {
                long sh = shoff + (long)s * shentsize;
                if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
                long vn = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
                uint link = BitConverter.ToUInt32(elf, (int)sh + 0x28);
                uint count = BitConverter.ToUInt32(elf, (int)sh + 0x2C);
                long strings = (long)BitConverter.ToUInt64(elf, (int)(shoff + link * shentsize) + 0x18);
                for (uint i = 0; i < count; i++)
                {
                    int auxCount = BitConverter.ToUInt16(elf, (int)vn + 2);
                    long aux = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                    for (int a = 0; a < auxCount; a++)
                    {
                        uint name = BitConverter.ToUInt32(elf, (int)aux + 8);
                        if (CString(elf, strings + name) == version)
                            return (BitConverter.ToUInt16(elf, (int)aux + 4) & VerFlgWeak) != 0 ? Need.Weak : Need.Strong;
                        aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                    }
                    vn += BitConverter.ToUInt32(elf, (int)vn + 12);
                }
            }
            return Need.None;
        }
        catch (ArgumentException) { return Need.None; }
    }

    private static string CString(byte[] b, long at)
    {
        long end = at;
        while (end < b.Length && b[end] != 0) end++;
        return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
    }

    private static bool Contains(byte[] hay, string text)
    {
        var needle = Encoding.ASCII.GetBytes(text + "\0");
        return hay.AsSpan().IndexOf(needle) >= 0;
    }
}
