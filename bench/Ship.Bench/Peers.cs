using System.Diagnostics;
using System.Globalization;

namespace Ship.Bench;

/// Runs the SHIP and Brian2 peer scripts of ../shared/peers in the same invocation, so ratios compare one machine at one time.
internal static class Peers
{
    public static string PeersDir()
    {
        foreach (var c in new[] { Environment.GetEnvironmentVariable("SHIP_PEERS") ?? "", "../shared/peers", "../../shared/peers", "/work/shared/peers" })
            if (c.Length > 0 && File.Exists(Path.Combine(c, "ship_fwdbwd.py"))) return Path.GetFullPath(c);
        throw new DirectoryNotFoundException("peer scripts not found: set SHIP_PEERS to the folder holding ship_fwdbwd.py");
    }

    /// Runs a peer script and returns its CSV lines (comment lines are echoed with a prefix).
    public static List<string[]> Run(string script, IEnumerable<string> args, int timeoutS)
    {
        var python = Environment.GetEnvironmentVariable("SHIP_PYTHON") ?? (File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        psi.ArgumentList.Add(Path.Combine(PeersDir(), script));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["SHIP_SRC"] = Environment.GetEnvironmentVariable("SHIP_SRC") ?? "/tmp/shipsrc";
        const string ob = "/usr/lib/x86_64-linux-gnu/openblas-pthread";
        if (Directory.Exists(ob)) psi.Environment["LD_LIBRARY_PATH"] = ob;
        using var p = Process.Start(psi)!;
        var lines = new List<string[]>();
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null)
        {
            Console.WriteLine("# peer> " + line);
            if (line.StartsWith('#') || !line.Contains(',')) continue;
            lines.Add(line.Split(','));
        }
        if (!p.WaitForExit(timeoutS * 1000)) { p.Kill(true); Console.WriteLine($"# peer {script} timed out"); }
        else if (p.ExitCode != 0)
            foreach (var err in p.StandardError.ReadToEnd().Split('\n').TakeLast(8)) Console.WriteLine("# peer! " + err);
        return lines;
    }

    public static double D(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
}
