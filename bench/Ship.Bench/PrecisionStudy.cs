using System.Globalization;
using Ship.Core.IO;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Bench;

/// <summary>
/// Spike mismatch of reduced storage precision against float32 (docs/precision.md): input → dense → LIF → dense → LIF,
/// random normal input, batch <c>--batch</c>, <c>--steps</c> steps, for every <c>--ns</c> size; the same network and
/// input in float32 (reference), bfloat16 storage and float16 storage (states and arithmetic float32 in both).
/// </summary>
internal static class PrecisionStudy
{
    private static Network Build(int n, Options o, Precision precision)
    {
        var net = new Network("precision") { Dt = 1e-3, Steps = o.Steps, BatchSize = o.Batch, Seed = 0, Device = o.Device, Precision = precision };
        net.Add("I", new TensorInput(n));
        net.Add("IH", new Dense(Init.Uniform(0, 0.25)), "I", "H");
        net.Add("H", new Lif(n, tau: 10e-3, threshold: 1.0));
        net.Add("HO", new Dense(Init.Uniform(0, 4.0 / n)), "H", "O");
        net.Add("O", new Lif(n, tau: 10e-3, threshold: 0.5));
        net.MarkOutput("H", "O");
        return net;
    }

    public static void Run(Options o)
    {
        Console.WriteLine("N,storage,layer,spike_rate_fp32,spike_rate,mismatch_rate,first_mismatch_step");
        var rows = new List<IReadOnlyList<object>>();
        foreach (var n in o.Ns)
        {
            using var scope = torch.NewDisposeScope();
            var x = Draw.Randn(new long[] { o.Batch, o.Steps, n }, ScalarType.Float32, o.Device, new torch.Generator(0));
            var reference = Build(n, o, Precision.Full).Run(x);
            foreach (var (name, p) in new[] { ("bfloat16", Precision.BFloat16Storage), ("float16", Precision.Float16Storage) })
            {
                var r = Build(n, o, p).Run(x);
                foreach (var layer in new[] { "H", "O" })
                {
                    var a = reference[layer];
                    var b = r[layer];
                    var differ = a.ne(b);
                    double mismatch = differ.to_type(ScalarType.Float64).mean().item<double>();
                    // First step at which any sample or neuron differs (-1: none).
                    var perStep = differ.any(0).any(1);
                    long first = perStep.any().item<bool>() ? perStep.nonzero()[0, 0].item<long>() : -1;
                    double ra = a.to_type(ScalarType.Float64).mean().item<double>(), rb = b.to_type(ScalarType.Float64).mean().item<double>();
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{n},{name},{layer},{ra:F5},{rb:F5},{mismatch:E3},{first}"));
                    rows.Add(new object[] { n, name, layer, ra, rb, mismatch, first, o.Batch, o.Steps });
                }
            }
        }
        Directory.CreateDirectory(o.Out);
        string tag = o.Device.type == DeviceType.CUDA ? "gpu" : "cpu";
        CsvTable.Write(Path.Combine(o.Out, $"precision-{tag}.csv"),
            new[] { "N", "storage", "layer", "spike_rate_fp32", "spike_rate", "mismatch_rate", "first_mismatch_step", "batch", "steps" }, rows);
    }
}
