using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;

// Input → dense synapse → LIF, batch of 2, 100 steps of 1 ms.
var net = new Network { Dt = 1e-3, Steps = 100, BatchSize = 2, Seed = 1 };
net.Add("I", new TensorInput(8));
net.Add("W", new Dense(Init.Uniform(0, 0.5)), source: "I", target: "L");
net.Add("L", new Lif(4, tau: 10e-3, threshold: 1.0));
net.MarkOutput("L");
var u = net.Monitor("L", "u");                        // record the membrane at every step

var rng = new torch.Generator(42);                   // a seeded generator of its own, not torch's process-wide one
var input = torch.rand(new long[] { 2, 100, 8 }, generator: rng).lt(0.2).to_type(torch.ScalarType.Float32);
var result = net.Run(input);                         // spikes [2, 100, 4]
Console.WriteLine($"spikes: {result["L"].sum().item<float>()}");
Console.Write(net.DescribeCallOrder());

// Variable time step: 50 steps at 1 ms, then 100 at 0.5 ms; state carries over.
net.Run(torch.zeros(2, 150, 8), new Ship.Core.Clocks.Schedule((1e-3, 50), (0.5e-3, 100)));
Console.WriteLine($"simulated {net.Timeline.Now * 1e3} ms");
u.ToCsv("membrane.csv");                             // step, time_s, batch, index, value
