using System.Diagnostics;
using System.Globalization;
using Ship.Core.IO;

namespace Ship.Bench;

/// <summary>
/// Old-vs-new bench (issue #11): builds a previous commit (default: the merge-base with main, or HEAD~1 on main) in a
/// temporary clone of the local repository and the working tree's sources, both Release, with the same timing probe
/// (bench/Ship.AbProbe); then times benchmarks A and B with both builds in one invocation, interleaved (the order
/// alternates every round), and prints the medians, the ratios new/old and PASS/FAIL against a 10 % slow-down.
/// </summary>
internal static class AbCompare
{
    private const double Tolerance = 0.10;

    public static int Run(Options o)
    {
        string repo = Git(".", "rev-parse", "--show-toplevel").Trim();
        string head = Git(repo, "rev-parse", "HEAD").Trim();
        string baseSha = Git(repo, "rev-parse", "--verify", (o.AbBase ?? DefaultBase(repo, head)) + "^{commit}").Trim();
        bool dirty = Git(repo, "status", "--porcelain", "--untracked-files=no").Trim().Length > 0;
        Console.WriteLine($"# old: {baseSha[..10]} ({Git(repo, "log", "-1", "--format=%s", baseSha).Trim()})");
        Console.WriteLine($"# new: working tree at {head[..10]}{(dirty ? " with uncommitted changes" : "")}");
        string tmp = Path.Combine(Path.GetTempPath(), $"ship-ab-{baseSha[..10]}-{Environment.ProcessId}");
        try
        {
            var sw = Stopwatch.StartNew();
            // A clone of the local repository (objects shared, nothing fetched, the repository itself untouched).
            Exec("git", tmp: null, "clone", "--quiet", "--shared", "--no-checkout", repo, tmp);
            Exec("git", tmp, "checkout", "--quiet", "--detach", baseSha);
            CopyDirectory(Path.Combine(repo, "bench", "Ship.AbProbe"), Path.Combine(tmp, "bench", "Ship.AbProbe"));
            string oldDll = Build(tmp), newDll = Build(repo);
            Console.WriteLine($"# built both in {sw.Elapsed.TotalSeconds:F0} s; {o.MinRuns} interleaved rounds; A: N {string.Join('/', o.Ns)}, batch {o.Batch}, {o.Steps} steps; B: N {o.AbBN}, 1000 steps");
            return Measure(o, oldDll, newDll, baseSha, head);
        }
        finally
        {
            if (!o.AbKeep && Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            else if (o.AbKeep) Console.WriteLine($"# kept {tmp}");
        }
    }

    /// <summary>The merge-base of HEAD and main; on main itself (or when main is missing) the previous commit.</summary>
    private static string DefaultBase(string repo, string head)
    {
        string mb;
        try { mb = Git(repo, "merge-base", "HEAD", "main").Trim(); }
        catch (InvalidOperationException) { return "HEAD~1"; }
        return mb == head ? "HEAD~1" : mb;
    }

    private static string Build(string root)
    {
        var project = Path.Combine(root, "bench", "Ship.AbProbe", "Ship.AbProbe.csproj");
        Exec("dotnet", root, "build", project, "-c", "Release", "-nologo", "-v", "q", "-clp:ErrorsOnly");
        var dll = Path.Combine(root, "bench", "Ship.AbProbe", "bin", "Release", "net10.0", "Ship.AbProbe.dll");
        if (!File.Exists(dll)) throw new InvalidOperationException($"the probe build left no {dll}");
        return dll;
    }

    private static int Measure(Options o, string oldDll, string newDll, string baseSha, string head)
    {
        var commands = o.Ns.Select(n => $"A {n} {o.Batch} {o.Steps}").Append($"B {o.AbBN}").ToList();
        // Raw rows: round, build, command, the probe's answer.
        var raw = new List<(int Round, string Build, string Answer)>();
        for (int round = 0; round < o.MinRuns; round++)
        {
            // A fresh process per build and round (each warms up itself): a process that happens to run fast or slow
            // (allocator, thread pools) is one sample of the median, not every sample of its build.
            using var old = new ProbeProcess(oldDll, o.Threads);
            using var @new = new ProbeProcess(newDll, o.Threads);
            var order = round % 2 == 0 ? new[] { ("old", old), ("new", @new) } : new[] { ("new", @new), ("old", old) };
            foreach (var cmd in commands)
                foreach (var (name, p) in order)
                {
                    var answer = p.Ask(cmd);
                    raw.Add((round, name, answer));
                    Console.WriteLine($"raw,{round},{name},{answer}");
                }
        }
        // Medians per (measure, build).
        var values = new Dictionary<(string Measure, string Build), List<double>>();
        foreach (var (_, build, answer) in raw)
        {
            var f = answer.Split(',');
            if (f[0] == "A") { Add($"A N={f[1]} forward", build, f[2]); Add($"A N={f[1]} backward", build, f[3]); }
            else if (f[0] == "B") Add($"B N={f[1]} total", build, f[2]);
        }
        void Add(string m, string b, string v)
        {
            if (!values.TryGetValue((m, b), out var l)) values[(m, b)] = l = new List<double>();
            l.Add(double.Parse(v, CultureInfo.InvariantCulture));
        }
        Console.WriteLine("measure,old_median_s,new_median_s,ratio_new_over_old,runs,verdict");
        bool pass = true;
        var rows = new List<IReadOnlyList<object>>();
        foreach (var m in values.Keys.Select(k => k.Measure).Distinct())
        {
            double a = Median(values[(m, "old")]), b = Median(values[(m, "new")]), ratio = b / a;
            bool ok = ratio <= 1 + Tolerance;
            pass &= ok;
            Console.WriteLine($"{m},{a:F6},{b:F6},{ratio:F3},{values[(m, "new")].Count},{(ok ? "PASS" : "FAIL")}");
            rows.Add(new object[] { m, a, b, ratio, values[(m, "new")].Count, ok ? "PASS" : "FAIL", baseSha[..10], head[..10] });
        }
        Directory.CreateDirectory(o.Out);
        CsvTable.Write(Path.Combine(o.Out, "ab-cpu.csv"), new[] { "measure", "old_median_s", "new_median_s", "ratio_new_over_old", "runs", "verdict", "old_commit", "new_head" }, rows);
        CsvTable.Write(Path.Combine(o.Out, "ab-cpu-raw.csv"), new[] { "round", "build", "answer" },
            raw.Select(r => (IReadOnlyList<object>)new object[] { r.Round, r.Build, r.Answer }));
        Console.WriteLine($"ab verdict: {(pass ? "PASS" : "FAIL")} (every median of the new build within {Tolerance:P0} of the old one)");
        return pass ? 0 : 1;
    }

    private static double Median(List<double> v)
    {
        var s = v.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)), overwrite: true);
    }

    private static string Git(string dir, params string[] args) => Exec("git", dir, args);

    private static string Exec(string exe, string? tmp, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (tmp is not null) psi.WorkingDirectory = tmp;
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} failed ({p.ExitCode}): {output}{err.Result}");
        return output;
    }

    /// <summary>One probe build as a warm child process answering a command per line.</summary>
    private sealed class ProbeProcess : IDisposable
    {
        private readonly Process _p;

        public ProbeProcess(string dll, int threads)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true };
            psi.ArgumentList.Add(dll);
            psi.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
            _p = Process.Start(psi)!;
            var first = _p.StandardOutput.ReadLine();
            if (first != "ready") throw new InvalidOperationException($"probe {dll} did not start: {first}");
        }

        public string Ask(string command)
        {
            _p.StandardInput.WriteLine(command);
            _p.StandardInput.Flush();
            var answer = _p.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"the probe ended while answering '{command}'");
            if (answer.StartsWith("error,", StringComparison.Ordinal)) throw new InvalidOperationException($"probe: {answer}");
            return answer;
        }

        public void Dispose()
        {
            try { _p.StandardInput.WriteLine("quit"); _p.StandardInput.Flush(); if (!_p.WaitForExit(10000)) _p.Kill(true); }
            catch (IOException) { }
            _p.Dispose();
        }
    }
}
