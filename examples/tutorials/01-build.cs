#:project ../../Ship.Core/Ship.Core.csproj
#:project ../../Ship.Devices/Ship.Devices.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// Tutorial 1: building a network (docs/tutorials/01-build.md). Every code block of the tutorial is part of this file.

using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using TorchSharp;

// [network]
var net = new Network("tutorial-1") { Dt = 1e-3, Steps = 100, BatchSize = 2, Seed = 42 };
// [/network]

// [groups]
net.Add("P", new PoissonSource(5, rate: 100));            // 5 Poisson sources at 100 Hz
net.Add("O", new LeakyIntegrator(2, tau: 20e-3));         // 2 leaky integrators, τ = 20 ms
// [/groups]

// [synapse]
net.Add("PO", new SecondOrder(tau1: 8e-3, tau2: 4e-3), source: "P", target: "O");
// [/synapse]

// [set]
net.Set("P", "rate", torch.tensor(new[] { 50.0, 100, 150, 200, 250 }))   // one rate per source
   .Set("PO", "w", Init.Uniform(0, 0.5));                               // redrawn at every initialization
// [/set]

// [inspect]
net.Initialize();
Console.WriteLine($"tau of O: {net["O"].Get("tau").item<float>()} s");
Console.WriteLine($"w of PO: shape [{string.Join(", ", net["PO"].Get("w").shape)}]");
foreach (var p in net["PO"].Parameters) Console.WriteLine($"  PO.{p.Name}: {p.Spec.Describe()} ({p.DescribeExtent()})");
// [/inspect]

// [generators]
var first = net["PO"].Get("w").clone();
net.Initialize();                                          // same seed: the generator gives the same draw
Console.WriteLine($"same seed, same weights: {first.eq(net["PO"].Get("w")).all().item<bool>()}");
net.Seed = 43;
net.Initialize();                                          // another seed: another draw
Console.WriteLine($"new seed, same weights: {first.eq(net["PO"].Get("w")).all().item<bool>()}");
// [/generators]

// [wrappers]
net.Add("N", new Refractory(new Lif(3, tau: 30e-3, threshold: 0.5), 5e-3));     // 5 ms refractory period
net.Add("PN", new Delay(new Dense(Init.Uniform(0, 0.3)), 2e-3), source: "P", target: "N");   // 2 ms delay
net.Add("NO", new Dense(1.0), source: "N", target: "O");
Console.Write(net.DescribeCallOrder());
// [/wrappers]

// [errors]
try
{
    net.Set("O", "tau", -1.0);
}
catch (ParameterException e)
{
    Console.WriteLine(e.Message);
}
try
{
    net.Add("bad", new Dense(), source: "P", target: "nowhere");
    net.Initialize();
}
catch (NetworkConfigurationException e)
{
    Console.WriteLine(e.Message);
    net.Remove("bad");
}
// [/errors]

// [run]
net.MarkOutput("N");
var result = net.Run();
var perRow = result["N"].sum(new long[] { 1, 2 }).data<float>().ToArray();   // result["N"] is [batch, steps, 3]
Console.WriteLine($"N spikes per batch row: {string.Join(", ", perRow)}");
// [/run]
