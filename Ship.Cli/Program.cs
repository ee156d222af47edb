using System.Diagnostics;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;

// The main job, for now: build a small two-layer spiking network on an embedded, seeded input,
// run it, and print what it did. Later issues turn this into the full hardware-aware study.
var steps = 200;
var batch = 4;
var seed = 42L;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--steps": steps = int.Parse(args[++i]); break;
        case "--batch": batch = int.Parse(args[++i]); break;
        case "--seed": seed = long.Parse(args[++i]); break;
        case "--help" or "-h":
            Console.WriteLine("ship [--steps N] [--batch B] [--seed S]: runs the demo network and prints spike counts.");
            return 0;
        default:
            Console.Error.WriteLine($"Unknown option '{args[i]}'. Try --help.");
            return 2;
    }
}

var net = new Network("demo") { Dt = 1e-3, Steps = steps, BatchSize = batch, Seed = seed };
net.Add("input", new TensorInput(16));
net.Add("in->hidden", new Dense(Init.Uniform(0, 0.2)), "input", "hidden");
net.Add("hidden", new Lif(32, tau: 20e-3, threshold: 1.0));
net.Add("hidden->out", new Dense(Init.Uniform(0, 0.3)), "hidden", "out");
net.Add("out", new Lif(10, tau: 20e-3, threshold: 1.0));
net.MarkOutput("hidden", "out");
net.Initialize();

// Embedded default input: Bernoulli spike trains at 100 Hz, drawn from a generator seeded like the network.
var rng = new torch.Generator((ulong)seed);
var input = torch.rand(new long[] { batch, steps, 16 }, generator: rng).lt(0.1).to_type(torch.ScalarType.Float32);

var clock = Stopwatch.StartNew();
var result = net.Run(input);
clock.Stop();

Console.WriteLine($"Ship.NET demo: {batch} samples × {steps} steps of {net.Dt * 1e3:g3} ms ({steps * net.Dt:g3} s simulated) in {clock.Elapsed.TotalMilliseconds:F0} ms");
Console.Write(net.DescribeCallOrder());
Console.WriteLine($"input spikes:  {input.sum().item<float>(),8:F0}");
foreach (var tag in net.Outputs)
{
    var spikes = result[tag];
    var perSample = spikes.sum(new long[] { 1, 2 });
    var rate = spikes.mean().item<float>() / net.Dt;
    Console.WriteLine($"{tag + " spikes:",-14} {spikes.sum().item<float>(),8:F0}   per sample [{string.Join(", ", perSample.data<float>().ToArray().Select(v => v.ToString("F0")))}]   mean rate {rate:F1} Hz");
}
return 0;
