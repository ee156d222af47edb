using System.Globalization;
using Ship.Core.IO;
using Ship.Devices.Memristive;
using Ship.Devices.Memristive.Crossbar;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Bench;

/// <summary>
/// Crossbar benchmark (docs/models/crossbar.md): (1) one read per step of a 256 × 256 tile (128 differential columns,
/// batch of spike vectors at 30 % activity, float32, no gradients) with the ideal Σ G·V, the approximate IR drop without
/// and with sense resistance, and ADC conversion; the target is approximate ≤ 3 × ideal. (2) the exact nodal
/// solve's cost per sample and step against array size (1 Ω segments, 50 % activity, 1T1R), with its iteration count.
/// </summary>
internal static class BenchmarkCrossbar
{
    public static void Run(Options o)
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = new List<IReadOnlyList<object>>();
        var rng = new torch.Generator(15);
        var s0 = Measure.CpuSample();

        // (1) per-step read of one 256 × 256 tile.
        using (torch.no_grad())
        {
            var w = torch.randn(new long[] { 256, 128 }, generator: rng);
            var mapping = new SymmetricDifferentialMapping(1e-6, 100e-6);
            var g = mapping.Encode(w.to_type(ScalarType.Float64), out var encoding).to_type(ScalarType.Float32);
            var layout = CrossbarFunctional.Place(g, mapping, encoding, new TileSize(256, 256), "bench");
            var x = torch.rand(new long[] { o.Batch, 256 }, generator: rng).lt(0.3).to_type(ScalarType.Float32);
            var cases = new (string Name, CrossbarSettings S)[]
            {
                ("ideal", new CrossbarSettings { IrDrop = IrDropModel.Ideal }),
                ("approximate", new CrossbarSettings { Lines = new LineResistances(1, 1), IrDrop = IrDropModel.Approximate }),
                ("approximate+sense", new CrossbarSettings { Lines = new LineResistances(1, 1, 0, 50), IrDrop = IrDropModel.Approximate }),
                ("ideal+adc", new CrossbarSettings { IrDrop = IrDropModel.Ideal, Adc = new AdcSettings(8) }),
                ("approximate+adc", new CrossbarSettings { Lines = new LineResistances(1, 1), IrDrop = IrDropModel.Approximate, Adc = new AdcSettings(8) }),
            };
            double ideal = double.NaN;
            Console.WriteLine($"# (1) one read of a 256 × 256 tile per step, batch {o.Batch}, float32");
            foreach (var (name, s) in cases)
            {
                // The word-line factor belongs to programming (once per run): precomputed, as the synapse does.
                var l = CrossbarFunctional.Place(g, mapping, encoding, new TileSize(256, 256), "bench");
                CrossbarFunctional.Prepare(l, s);
                var (t, _) = Measure.Time(() =>
                {
                    using var scope = torch.NewDisposeScope();
                    CrossbarFunctional.Forward(x, l, s, false, rng, new CrossbarFunctional.Counters());
                }, o.MinRuns, Math.Min(o.MinTime, 2));
                if (name == "ideal") ideal = t;
                Console.WriteLine($"{name,-20} {t * 1e6,10:F1} µs per step   {t / ideal,5:F2} × ideal");
                rows.Add(new object?[] { "read", name, 256, o.Batch, t.ToString("E4", inv), (t / ideal).ToString("F3", inv), null, null }!);
                l.Dispose();
            }
            layout.Dispose();
        }

        // (2) exact solve per sample and step against size.
        Console.WriteLine("# (2) exact nodal solve, one sample, 1 Ω segments, 50 % of rows active (1T1R)");
        var lines = new LineResistances(1, 1);
        var random = new Random(15);
        foreach (int n in o.Ns)
        {
            var gh = Enumerable.Range(0, n * n).Select(_ => 1e-6 + random.NextDouble() * 99e-6).ToArray();
            var v = Enumerable.Range(0, n).Select(_ => random.NextDouble() < 0.5 ? 0.2 : 0.0).ToArray();
            for (int i = 0; i < n; i++) if (v[i] == 0) for (int j = 0; j < n; j++) gh[i * n + j] = 0;
            int iterations = 0;
            var (t, _) = Measure.Time(() =>
            {
                IrDropFunctional.SolveExact(gh, v, n, n, lines, IrDropFunctional.DefaultTolerance, out var info);
                iterations = info.Iterations;
            }, 3, Math.Min(o.MinTime, 2), maxRuns: 20);
            Console.WriteLine($"{n,4} × {n,-4} {t * 1e3,10:F2} ms per solve, {iterations} PCG iterations");
            rows.Add(new object?[] { "exact", "solve", n, 1, t.ToString("E4", inv), null, iterations, null }!);
        }
        double load = Measure.OthersLoad(s0, Measure.CpuSample());
        Console.WriteLine($"# other processes used {load:P0} of the machine during the run");
        rows.Add(new object?[] { "load", "others", null, null, null, null, null, load.ToString("F2", inv) }!);
        string tag = o.Device.type == DeviceType.CUDA ? "gpu" : "cpu";
        CsvTable.Write(Path.Combine(o.Out, $"benchmark-crossbar-{tag}.csv"),
            new[] { "part", "case", "n", "batch", "seconds", "ratio_to_ideal", "iterations", "others_load" }, rows);
    }
}
