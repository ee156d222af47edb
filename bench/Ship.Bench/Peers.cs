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
    public static List<string[]> Run(string script, IEnumerable<string> args, int timeoutS) =>
        RunPython(new[] { Path.Combine(PeersDir(), script) }.Concat(args), script, timeoutS);

    /// Peak resident memory (MiB) of SHIP for one forward + backward of benchmark A at size n, in a fresh Python process
    /// (the same count as Ship.NET's: VmHWM reset after building, read after the backward), and the resident memory before.
    public static (double Peak, double Base) ShipPeakA(int n, int batch, int steps, int threads, string device)
    {
        string code = string.Join("\n", new[]
        {
            "import sys, torch",
            $"sys.path.insert(0, {Py(PeersDir())})",
            "import ship_fwdbwd as m",
            "def status(key):",
            "    for l in open('/proc/self/status'):",
            "        if l.startswith(key): return int(l.split()[1]) / 1024.0",
            $"torch.set_num_threads({threads}); m.set_device({Py(device)}); torch.manual_seed(0)",
            $"snn = m.build({n}, {batch}, {steps}, {Py(device)}); x = torch.randn({batch}, {steps}, {n}, device={Py(device)})",
            "before = status('VmRSS:')",
            "open('/proc/self/clear_refs', 'w').write('5')",
            "snn.run(x); snn.output.sum().backward(); m.sync(" + Py(device) + ")",
            $"print('peak,{n},%.1f,%.1f' % (status('VmHWM:'), before))",
        });
        foreach (var line in RunPython(new[] { "-c", code }, "ship peak memory", 1200))
            if (line.Length >= 4 && line[0] == "peak") return (D(line[2]), D(line[3]));
        return (double.NaN, double.NaN);
    }

    /// Runs a peer script and returns every line it printed (each echoed with a prefix).
    public static List<string> RunText(string script, IEnumerable<string> args, int timeoutS)
    {
        var lines = new List<string>();
        RunPython(new[] { Path.Combine(PeersDir(), script) }.Concat(args), script, timeoutS, lines);
        return lines;
    }

    /// Resident memory (MiB) of an idle SHIP process: Python with torch, numpy and SHIP imported and one tiny op done,
    /// nothing else; the baseline over which the training comparison counts a process's memory growth.
    public static double ShipIdleRss(int threads)
    {
        string code = string.Join("\n", new[]
        {
            "import sys",
            $"sys.path.insert(0, {Py(PeersDir())})",
            "import benchutil; benchutil.add_ship_path()",
            "import numpy, torch, SHIP",
            $"torch.set_num_threads({threads}); torch.ones(1).add(1)",
            "rss = [int(l.split()[1]) / 1024.0 for l in open('/proc/self/status') if l.startswith('VmRSS:')][0]",
            "print('idle,%.1f' % rss)",
        });
        foreach (var line in RunPython(new[] { "-c", code }, "ship idle memory", 300))
            if (line.Length >= 2 && line[0] == "idle") return D(line[1]);
        return double.NaN;
    }

    private static string Py(string s) => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    private static List<string[]> RunPython(IEnumerable<string> args, string script, int timeoutS, List<string>? all = null)
    {
        var python = Environment.GetEnvironmentVariable("SHIP_PYTHON") ?? (File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
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
            all?.Add(line);
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
