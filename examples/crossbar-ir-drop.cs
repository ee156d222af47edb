#:project ../Ship.Core/Ship.Core.csproj
#:project ../Ship.Devices/Ship.Devices.csproj
#:project ../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// IR drop grows with input activity: in a 1T1R crossbar only the rows that receive a spike connect their cells, so
// the more rows are active, the more current the bit lines carry and the more voltage they lose along the way.
// For square tiles of several sizes, random conductances of 1–100 µS (in siemens) and 1 Ω per line segment, rows are
// driven at V_read = 0.2 V with a growing fraction of active rows; each column current is computed three ways —
// ideal Σ G·V, the exact nodal solve and the fast approximation — and the figures show
//  1. column current vs fraction of active rows (mean over columns and samples) for one size: exact vs approximate vs ideal;
//  2. the relative IR drop (ideal − exact)/ideal vs activity for every size;
//  3. the approximation's error against the exact solve, max over columns / largest exact current, vs activity per size.
// summary.txt holds the table behind docs/models/crossbar.md's error table.
//
//   dotnet run examples/crossbar-ir-drop.cs -- [--quick] [--out <folder>]

using System.Diagnostics;
using System.Globalization;
using System.Text;
using Ship.Devices.Memristive.Crossbar;
using Ship.Plots;
using TorchSharp;
using static TorchSharp.torch;

var (quick, outDir) = Cli.Parse(args, "crossbar-ir-drop");
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
torch.set_num_threads(1);

// ---- settings -------------------------------------------------------------------------------------------------
int[] sizes = quick ? new[] { 16, 32, 64 } : new[] { 16, 32, 64, 128, 256 };
double[] activities = quick ? new[] { 0.1, 0.25, 0.5, 0.75, 1.0 } : Enumerable.Range(1, 10).Select(i => i / 10.0).ToArray();
int samples = quick ? 2 : 4;                  // random active-row patterns per point
int plotted = quick ? 64 : 128;               // the size of figure 1
const double vRead = 0.2, gMin = 1e-6, gMax = 100e-6;   // V, S, S
var lines = new LineResistances(WordLine: 1, BitLine: 1);
const int seed = 15;
var rng = new Random(seed);
Ship.Core.IO.Provenance.Write(outDir, new Dictionary<string, long> { ["conductances_and_patterns"] = seed }, new { quick, sizes, activities, samples });   // provenance.json

var table = new List<(int Size, double Activity, double Ideal, double Exact, double Approx, double Drop, double Error, double Seconds)>();
foreach (int n in sizes)
{
    var g = torch.tensor(Enumerable.Range(0, n * n).Select(_ => gMin + rng.NextDouble() * (gMax - gMin)).ToArray(), new long[] { n, n }, ScalarType.Float64);
    foreach (double p in activities)
    {
        double ideal = 0, exact = 0, approx = 0, drop = 0, error = 0, seconds = 0;
        for (int s = 0; s < samples; s++)
        {
            // Exactly round(p·n) active rows, chosen at random.
            int active = Math.Max(1, (int)Math.Round(p * n));
            var rows = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).Take(active).ToHashSet();
            var v = torch.tensor(Enumerable.Range(0, n).Select(i => rows.Contains(i) ? vRead : 0.0).ToArray(), new long[] { 1, n }, ScalarType.Float64);
            var iIdeal = v.matmul(g);
            var clock = Stopwatch.StartNew();
            var iExact = IrDropFunctional.Exact(g, v, lines, rowsSwitched: true);
            seconds += clock.Elapsed.TotalSeconds;
            var iApprox = IrDropFunctional.Approximate(g, v, lines, rowsSwitched: true);
            ideal += iIdeal.mean().item<double>();
            exact += iExact.mean().item<double>();
            approx += iApprox.mean().item<double>();
            drop += iIdeal.sub(iExact).div(iIdeal).mean().item<double>();
            error = Math.Max(error, iApprox.sub(iExact).abs().max().item<double>() / iExact.max().item<double>());
        }
        table.Add((n, p, ideal / samples, exact / samples, approx / samples, drop / samples, error, seconds / samples));
        Console.WriteLine($"{n,4}×{n,-4} activity {p,4:F2}: ideal {ideal / samples * 1e6,9:F3} µA, exact {exact / samples * 1e6,9:F3} µA, approx {approx / samples * 1e6,9:F3} µA, drop {drop / samples * 100,6:F2} %, approx error {error * 100,6:F3} %, exact solve {seconds / samples * 1e3,8:F1} ms");
    }
}

// ---- figures --------------------------------------------------------------------------------------------------
var one = table.Where(r => r.Size == plotted).ToList();
var x = one.Select(r => r.Activity).ToList();
LinePlots.Lines(outDir, "column-current-vs-activity", new[]
{
    new LineData("ideal Σ G·V", x, one.Select(r => r.Ideal * 1e6).ToList()),
    new LineData("exact nodal solve", x, one.Select(r => r.Exact * 1e6).ToList()),
    new LineData("approximation", x, one.Select(r => r.Approx * 1e6).ToList()),
}, "Fraction of active rows", "Mean column current (µA)", options: new PlotOptions(Title: $"{plotted} × {plotted} 1T1R tile, 1 Ω per segment, V_read = 0.2 V"));
LinePlots.Lines(outDir, "ir-drop-vs-activity",
    sizes.Select(n => new LineData($"{n} × {n}", activities, table.Where(r => r.Size == n).Select(r => r.Drop * 100).ToList())).ToList(),
    "Fraction of active rows", "IR drop (ideal − exact)/ideal (%)", options: new PlotOptions(Title: "Relative loss of column current to line resistance"));
LinePlots.Lines(outDir, "approximation-error",
    sizes.Select(n => new LineData($"{n} × {n}", activities, table.Where(r => r.Size == n).Select(r => r.Error * 100).ToList())).ToList(),
    "Fraction of active rows", "Approximation error (% of largest exact current)", options: new PlotOptions(Title: "Fast approximation vs exact solve"));

var sb = new StringBuilder();
sb.AppendLine("Crossbar IR drop vs input activity (1T1R, G uniform on 1–100 µS, 1 Ω per word- and bit-line segment, V_read = 0.2 V)");
sb.AppendLine($"{samples} random active-row patterns per point; drop = mean over columns of (ideal − exact)/ideal; error = max over columns and patterns of |approx − exact| / largest exact current.");
sb.AppendLine();
sb.AppendLine("size | activity | ideal (µA) | exact (µA) | approx (µA) | drop (%) | approx error (%) | exact solve (ms)");
foreach (var r in table)
    sb.AppendLine($"{r.Size} × {r.Size} | {r.Activity:F2} | {r.Ideal * 1e6:F3} | {r.Exact * 1e6:F3} | {r.Approx * 1e6:F3} | {r.Drop * 100:F2} | {r.Error * 100:F3} | {r.Seconds * 1e3:F1}");
File.WriteAllText(Path.Combine(outDir, "summary.txt"), sb.ToString());
Console.WriteLine($"wrote {outDir}");

static class Cli
{
    public static (bool Quick, string Out) Parse(string[] args, string name)
    {
        bool quick = false;
        string outDir = Path.Combine("examples-output", name);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--quick") quick = true;
            else if (args[i] == "--out" && i + 1 < args.Length) outDir = args[++i];
            else
            {
                Console.Error.WriteLine($"usage: dotnet run examples/{name}.cs -- [--quick] [--out <folder>]  (unknown argument '{args[i]}')");
                Environment.Exit(2);
            }
        }
        Directory.CreateDirectory(outDir);
        return (quick, outDir);
    }
}
