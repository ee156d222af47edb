#:project ../../Ship.Core/Ship.Core.csproj
#:project ../../Ship.Devices/Ship.Devices.csproj
#:project ../../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// Tutorial 2: simulating with monitors and a variable time step (docs/tutorials/02-simulate.md).
// Every code block of the tutorial is part of this file. Writes its files to --out (default examples-output/tutorial-02).

using Ship.Core.Clocks;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Plots;
using TorchSharp;

int at = Array.IndexOf(args, "--out");
string outDir = at >= 0 && at + 1 < args.Length ? args[at + 1] : Path.Combine("examples-output", "tutorial-02");
Ship.Core.IO.Provenance.Write(outDir, new Dictionary<string, long> { ["network"] = 7 });   // provenance.json: version, commit, command line, seeds, time

// [build]
var net = new Network("tutorial-2") { Dt = 1e-3, Steps = 60, BatchSize = 1, Seed = 7 };
net.Add("In", new TensorInput(4));
net.Add("S", new FirstOrder(tau: 5e-3, weightScale: 100.0), source: "In", target: "L");
net.Add("L", new Refractory(new Lif(2, tau: 20e-3, threshold: 1.0), 3e-3));
net.MarkOutput("L");
// [/build]

// [run]
var gen = new torch.Generator(7);
var spikesIn = torch.rand(new long[] { 1, 60, 4 }, generator: gen).lt(0.15).to_type(torch.ScalarType.Float32);
var result = net.Run(spikesIn);                       // 60 steps of 1 ms
Console.WriteLine($"output [{string.Join(", ", result["L"].shape)}], last step ends at {result.Times[^1] * 1e3:0} ms");
// [/run]

// [monitors]
var u = net.Monitor("L", "u");                        // the LIF membrane, wrapped or not
var current = net.Monitor("S", "I");                  // the synaptic current per connection
result = net.Run(spikesIn);
Console.WriteLine($"u: [{string.Join(", ", u.Values.shape)}], I: [{string.Join(", ", current.Values.shape)}]");
u.ToCsv(Path.Combine(outDir, "membrane-long.csv"));  // step, time_s, batch, index, value
// [/monitors]

// [continue]
var more = net.Continue(spikesIn[.., ..20], Schedule.Fixed(1e-3, 20));   // 20 more steps from where the run stopped
Console.WriteLine($"continued: {more.FirstStep} steps before, now {net.Timeline.Count}; u holds {u.Count} records");
// [/continue]

// [schedule]
var schedule = new Schedule((1e-3, 30), (0.1e-3, 200), (1e-3, 30));   // 30 ms coarse, 20 ms fine, 30 ms coarse
var input = torch.zeros(1, schedule.TotalSteps, 4);
input[.., 30..230] = torch.rand(new long[] { 1, 200, 4 }, generator: gen).lt(0.05).to_type(torch.ScalarType.Float32);
var variable = net.Run(input, schedule);
Console.WriteLine($"{schedule}: {schedule.TotalSteps} steps, {schedule.Duration * 1e3:0} ms; " +
                  $"step 31 ends at {net.Timeline.Times[30] * 1e3:0.0} ms, dt = {net.Timeline.Dts[30] * 1e3} ms");
// [/schedule]

// [plots]
var raster = SpikePlots.Raster(outDir, "raster", variable, "L");
var trace = SpikePlots.MembraneTrace(outDir, "membrane", u, variable["L"], neuron: 0, threshold: 1.0);
double[] edges = { 30, 50 };                          // where dt changes, in ms
Figure.MarkX(trace.Model, edges, new[] { "dt = 0.1 ms", "dt = 1 ms" });
Figure.Redraw(trace);
Console.WriteLine($"wrote {raster.Png} and {trace.Png}");
// [/plots]
