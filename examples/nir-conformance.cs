#:project ../Ship.Core/Ship.Core.csproj
#:project ../Ship.Devices/Ship.Devices.csproj
#:project ../Ship.Nir/Ship.Nir.csproj
#:project ../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// The NIR paper's conformance test, in Ship.NET: import the single-LIF graph that Norse exported (lif_norse.nir,
// NIR 0.1.1), feed it the paper's 34 input spikes at dt = 0.1 ms, and compare the membrane and the output spikes with
// the exact simulation and Norse's trace (data from the NIR repository, Ship.Tests/Nir/Data/). Then export the
// imported network to NIR and import it again: the same spikes. See docs/nir.md.
//
//   dotnet run examples/nir-conformance.cs -- [--quick] [--out <folder>]

using System.Globalization;
using Ship.Nir;
using Ship.Plots;
using TorchSharp;

var (_, outDir) = Cli.Parse(args, "nir-conformance");
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
torch.set_num_threads(1);
Ship.Core.IO.Provenance.Write(outDir, new Dictionary<string, long>(), new { dt = 1e-4, graph = "lif_norse.nir" });   // provenance.json

const double dt = 1e-4;   // the paper's step: the graph stores none
string data = FindData();
double[][] Csv(string name) => File.ReadAllLines(Path.Combine(data, name)).Where(l => l.Length > 0)
    .Select(l => l.Split(',').Select(double.Parse).ToArray()).ToArray();
var exact = Csv("lif_exact.csv");
var norse = Csv("lif_norse.csv");
int steps = exact.Length;

var net = NirGraph.Read(Path.Combine(data, "lif_norse.nir"), dt, new NirImportOptions { DType = torch.ScalarType.Float64 });
var v = net.Monitor("1", "v");
var input = torch.tensor(exact.Select(r => r[0]).ToArray(), dtype: torch.ScalarType.Float64).reshape(1, steps, 1);
var spikes = net.Run(input)["output"].reshape(-1).data<double>().ToArray();
var vm = v.Values.reshape(-1).data<double>().ToArray();

int[] Steps(IEnumerable<double> s) => s.Select((x, k) => (x, k)).Where(p => p.x > 0.5).Select(p => p.k).ToArray();
var ours = Steps(spikes);
var reference = Steps(exact.Select(r => r[2]));
double worst = vm.Select((x, k) => Math.Abs(x - exact[k][1])).Max();

// Export the imported network and read it back: NIR nodes only, no Ship.NET metadata.
string nirFile = Path.Combine(outDir, "lif.nir");
NirGraph.Write(net, nirFile, embedCheckpoint: false);
var again = NirGraph.Read(nirFile, dt, new NirImportOptions { DType = torch.ScalarType.Float64 });
var spikesAgain = Steps(again.Run(input)["output"].reshape(-1).data<double>());

var t = Enumerable.Range(0, steps).Select(k => (k + 1) * dt * 1e3).ToArray();
var files = new List<FigureFiles>
{
    LinePlots.Lines(outDir, "membrane", new[]
    {
        new LineData("exact simulation (NIR paper)", t, exact.Select(r => r[1]).ToArray()),
        new LineData("Norse (forward Euler)", t, norse.Select(r => r[1]).ToArray()),
        new LineData("Ship.NET (zero-order hold)", t, vm),
    }, "Time (ms)", "Membrane v (threshold 0.1)"),
    LinePlots.Lines(outDir, "deviation", new[]
    {
        new LineData("|Ship.NET − exact|", t, vm.Select((x, k) => Math.Abs(x - exact[k][1])).ToArray()),
        new LineData("|Norse − exact|", t, norse.Select((r, k) => Math.Abs(r[1] - exact[k][1])).ToArray()),
    }, "Time (ms)", "Absolute membrane deviation"),
};

var report = new List<string>
{
    $"lif_norse.nir imported at dt = {dt} s: groups {string.Join(", ", net.Groups.Select(g => $"{g.Tag} ({g.GetType().Name})"))}",
    $"output spikes at steps [{string.Join(", ", ours)}]; exact simulation [{string.Join(", ", reference)}]; paper [460, 510, 710, 760]",
    $"max |v − exact| = {worst:G4} (paper tolerance 0.0063)",
    $"export → import (NIR nodes only): spikes at [{string.Join(", ", spikesAgain)}]",
};
File.WriteAllLines(Path.Combine(outDir, "summary.txt"), report);
foreach (var line in report) Console.WriteLine(line);
Console.WriteLine($"wrote {files.Count} figures (PNG, SVG, CSV), lif.nir and summary.txt to {Path.GetFullPath(outDir)}");
if (!ours.SequenceEqual(new[] { 460, 510, 710, 760 }) || worst > 0.0063 || !spikesAgain.SequenceEqual(ours)) Environment.Exit(1);

static string FindData()
{
    for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
    {
        string p = Path.Combine(d.FullName, "Ship.Tests", "Nir", "Data");
        if (File.Exists(Path.Combine(p, "lif_norse.nir"))) return p;
    }
    throw new FileNotFoundException("Ship.Tests/Nir/Data/lif_norse.nir not found: run from the repository.");
}

/// <summary>The two options every example takes.</summary>
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
