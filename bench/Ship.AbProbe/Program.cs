using System.Diagnostics;
using System.Globalization;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

// A timing server for the old-vs-new bench: reads one command per line on stdin and answers one line on stdout, so the
// driver can interleave the old and the new build while each stays warm. The networks are those of Ship.Bench's
// benchmarks A and B (BenchmarkA.BuildNetwork, BenchmarkB.Build), repeated here because this file must also compile
// against a previous commit's libraries.
//   "A n batch steps" -> "A,n,forward_s,backward_s"   (input -> dense -> LIF, surrogate gradients, one forward + backward)
//   "B n"             -> "B,n,total_s"                (Poisson -> 4 x [first-order synapse -> LIF], build + initialize + run)
// The first command of each kind and size also runs once untimed (warm-up). "quit" ends the process.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length > 0) torch.set_num_threads(int.Parse(args[0], CultureInfo.InvariantCulture));
var warmed = new HashSet<string>();
Console.WriteLine("ready");
string? line;
while ((line = Console.ReadLine()) is not null)
{
    var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    if (f.Length == 0) continue;
    if (f[0] == "quit") break;
    try
    {
        if (f[0] == "A")
        {
            int n = int.Parse(f[1]), batch = int.Parse(f[2]), steps = int.Parse(f[3]);
            if (warmed.Add(line)) Probe.A(n, batch, steps);
            var (fwd, bwd) = Probe.A(n, batch, steps);
            Console.WriteLine($"A,{n},{fwd:R},{bwd:R}");
        }
        else if (f[0] == "B")
        {
            int n = int.Parse(f[1]);
            if (warmed.Add(line)) Probe.B(n);
            Console.WriteLine($"B,{n},{Probe.B(n):R}");
        }
        else Console.WriteLine($"error,unknown command '{line}'");
    }
    catch (Exception e)
    {
        Console.WriteLine($"error,{e.GetType().Name}: {e.Message.Split('\n')[0]}");
    }
}

internal static class Probe
{
    public static (double Forward, double Backward) A(int n, int batch, int steps)
    {
        using var scope = torch.NewDisposeScope();
        var net = new Network("bench-A") { Dt = 1e-3, Steps = steps, BatchSize = batch, Seed = 0 };
        net.Add("I", new TensorInput(n));
        net.Add("IL", new Dense(Init.Uniform(0, 1)), "I", "L");
        net.Add("L", new Lif(n));
        net.MarkOutput("L");
        net.Initialize();
        var w = net["IL"].Variable("w");
        w.Tensor = new TorchSharp.Modules.Parameter(w.Value.detach().clone(), requires_grad: true);
        ((Parameter)w).Pinned = true;
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(100));
        net.TrackGradients = true;
        var x = Draw.Randn(new long[] { batch, steps, n }, ScalarType.Float32, CPU, new torch.Generator(0));
        var sw = Stopwatch.StartNew();
        var y = net.Run(x)["L"];
        double forward = sw.Elapsed.TotalSeconds;
        var sum = y.sum();
        sw.Restart();
        sum.backward();
        return (forward, sw.Elapsed.TotalSeconds);
    }

    public static double B(int n)
    {
        using var scope = torch.NewDisposeScope();
        var sw = Stopwatch.StartNew();
        var net = new Network("bench-B") { Dt = 1e-3, Steps = 1000, BatchSize = 1, Seed = 0 };
        net.Add("I", new PoissonSource(n, rate: 100));
        string prev = "I";
        foreach (var layer in new[] { "N1", "N2", "N3", "O" })
        {
            net.Add(prev + layer, new FirstOrder(Init.Uniform(0, 1), tau: 1e-3), prev, layer);
            net.Add(layer, new Lif(n, tau: 10e-3));
            prev = layer;
        }
        net.MarkOutput("N1", "N2", "N3", "O");
        net.Initialize();
        net.Run();
        return sw.Elapsed.TotalSeconds;
    }
}
