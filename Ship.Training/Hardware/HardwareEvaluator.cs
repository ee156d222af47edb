using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Memristive;
using Ship.Devices.Synapses;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Training.Hardware;

/// <summary>Accuracies of a swept setting: <see cref="Accuracies"/>[i][r] is run r (seed) at setting <see cref="X"/>[i].</summary>
/// <param name="Label">Series name (e.g. "plain", "RRAM, compensated").</param>
/// <param name="X">The swept values (level counts, elapsed times in s).</param>
/// <param name="Seeds">The device seeds, one per run.</param>
/// <param name="Accuracies">Accuracy per setting and seed.</param>
public sealed record AccuracySweep(string Label, IReadOnlyList<double> X, IReadOnlyList<long> Seeds, IReadOnlyList<IReadOnlyList<double>> Accuracies)
{
    /// <summary>Mean over seeds at each setting.</summary>
    public double[] Mean => Accuracies.Select(a => a.Average()).ToArray();

    /// <summary>Sample standard deviation (n − 1; 0 for one seed) over seeds at each setting.</summary>
    public double[] Std => Accuracies.Select(HardwareEvaluator.SampleStd).ToArray();
}

/// <summary>
/// Evaluates a trained network as hardware: builds it afresh (trained weights as its initial values) with a device
/// attached to every weighted synapse, programs it with a seed (device-to-device variability comes from the network's
/// generator, so each seed is another chip), and measures test accuracy; sweeps the number of levels or the time
/// elapsed since programming (drift), optionally with global drift compensation. The test set is run in chunks of the
/// built network's batch size (the last chunk padded with zeros and its padding ignored).
/// </summary>
public sealed class HardwareEvaluator
{
    private readonly Func<Network> _build;

    /// <summary>
    /// Creates an evaluator. <paramref name="build"/> returns a new, uninitialized network with the trained weights and no
    /// devices; <paramref name="inputs"/> [n, steps, N] and <paramref name="labels"/> [n] are the encoded test set.
    /// </summary>
    public HardwareEvaluator(Func<Network> build, IReadout readout, Tensor inputs, Tensor labels)
    {
        _build = build ?? throw new ArgumentNullException(nameof(build));
        Readout = readout ?? throw new ArgumentNullException(nameof(readout));
        Inputs = inputs ?? throw new ArgumentNullException(nameof(inputs));
        Labels = labels ?? throw new ArgumentNullException(nameof(labels));
        if (inputs.dim() != 3 || labels.dim() != 1 || inputs.Sizes()[0] != labels.Sizes()[0] || inputs.Sizes()[0] == 0)
            throw new ArgumentException($"The hardware evaluator needs inputs [n, steps, N] and labels [n] with the same n ≥ 1, got {Ship.Core.Parameters.Shapes.Format(inputs.Sizes())} and {Ship.Core.Parameters.Shapes.Format(labels.Sizes())}.");
    }

    /// <summary>How scores are read from a run.</summary>
    public IReadout Readout { get; }
    /// <summary>Encoded test inputs [n, steps, N].</summary>
    public Tensor Inputs { get; }
    /// <summary>Test labels [n].</summary>
    public Tensor Labels { get; }

    /// <summary>Called after each evaluated (setting, seed) with a short description, for progress displays.</summary>
    public Action<string>? Progress { get; set; }

    /// <summary>Accuracy of the network as built, with <paramref name="device"/> (tag → device, or null for ideal weights) programmed with <paramref name="seed"/>.</summary>
    public double Accuracy(Func<string, IWeightDevice?> device, long seed)
    {
        ArgumentNullException.ThrowIfNull(device);
        var net = Build(device, seed, out _);
        return Accuracy(net);
    }

    /// <summary>
    /// Accuracy of one chip instance: the network as built, with <paramref name="device"/> programmed with
    /// <paramref name="seed"/> (the device-to-device draws of that chip), then <paramref name="fabricate"/> applied to the
    /// initialized network (e.g. parameter mismatch drawn from the same chip seed) before the test set runs.
    /// </summary>
    public double Accuracy(Func<string, IWeightDevice?> device, long seed, Action<Network> fabricate)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(fabricate);
        var net = Build(device, seed, out _);
        fabricate(net);
        return Accuracy(net);
    }

    /// <summary>Accuracy of an initialized network on the test set.</summary>
    public double Accuracy(Network net) => Accuracy(net, Readout, Inputs, Labels);

    /// <summary>
    /// Fraction of samples of <paramref name="inputs"/> [n, steps, N] whose highest score is their label, run in chunks of the
    /// network's batch size (the last chunk padded with zeros, its padding ignored), without gradients.
    /// </summary>
    public static double Accuracy(Network net, IReadout readout, Tensor inputs, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(readout);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(labels);
        var Inputs = inputs;
        var Labels = labels;
        var Readout = readout;
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        long n = Inputs.Sizes()[0];
        if (Labels.dim() != 1 || Labels.Sizes()[0] != n)
            throw new Losses.LossInputException("accuracy", "labels", $"[{n}] class indices (one per input sample)", $"{Labels.dtype} {Ship.Core.Parameters.Shapes.Format(Labels.Sizes())}");
        int b = net.BatchSize;
        long correct = 0;
        IDisposable? freeing = null;
        try
        {
        for (long start = 0; start < n; start += b)
        {
            // From the second chunk on, a run frees the states the evaluation's previous chunk left (nobody reads them);
            // the first leaves those of the caller's own earlier run alone.
            if (start > 0) freeing ??= net.FreeingReplacedStates();
            long size = Math.Min(b, n - start);
            var x = Inputs.narrow(0, start, size);
            if (size < b)
            {
                var pad = torch.zeros(new long[] { b - size, x.Sizes()[1], x.Sizes()[2] }, x.dtype, x.device);
                x = torch.cat(new[] { x, pad }, 0);
            }
            var result = net.Run(x.dtype == net.DType ? x : x.to(net.DType));
            var scores = Readout.Read(result);
            correct += CountCorrect(scores, size, Labels, start);
            // The run's outputs are the caller's (detached from every scope): freed here, not left to the finalizer.
            foreach (var t in result.Outputs.Values) t.Dispose();
        }
        }
        finally
        {
            freeing?.Dispose();
        }
        return (double)correct / n;
    }

    /// <summary>
    /// How many of the first <paramref name="rows"/> rows of <paramref name="scores"/> [b, N] have their highest score
    /// (the first one on ties; a NaN counts as highest, as in argmax) at the label <paramref name="labels"/>[start + row].
    /// Host scores and integer labels are read in place (no tensor made per chunk); anything else goes through argmax.
    /// </summary>
    internal static long CountCorrect(Tensor scores, long rows, Tensor labels, long start)
    {
        if (scores.dim() == 2 && scores.device_type == DeviceType.CPU && scores.is_contiguous()
            && scores.dtype is ScalarType.Float32 or ScalarType.Float64
            && labels.dim() == 1 && labels.dtype == ScalarType.Int64 && labels.device_type == DeviceType.CPU && labels.is_contiguous())
        {
            int n = (int)scores.Sizes()[1];
            var y = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(labels.bytes).Slice((int)start, (int)rows);
            return scores.dtype == ScalarType.Float32
                ? Count(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(scores.bytes), n, y)
                : Count(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(scores.bytes), n, y);
        }
        using var scope = torch.NewDisposeScope();
        var s = scores.narrow(0, 0, rows);
        var labelsOfRows = labels.narrow(0, start, rows).to(s.device);
        return s.argmax(1).eq(labelsOfRows).sum().item<long>();

        static long Count<T>(ReadOnlySpan<T> s, int n, ReadOnlySpan<long> y) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            long correct = 0;
            for (int r = 0; r < y.Length; r++)
            {
                var row = s.Slice(r * n, n);
                int best = 0;
                for (int j = 1; j < n && !T.IsNaN(row[best]); j++)
                    if (T.IsNaN(row[j]) || row[j] > row[best]) best = j;
                if (best == y[r]) correct++;
            }
            return correct;
        }
    }

    /// <summary>
    /// Accuracy against the number of levels: for each level count, each seed programs a new array from
    /// <paramref name="device"/>(levels) on every weighted synapse.
    /// </summary>
    public AccuracySweep Levels(string label, IReadOnlyList<int> levels, IReadOnlyList<long> seeds, Func<int, IWeightDevice> device)
    {
        ArgumentNullException.ThrowIfNull(levels);
        ArgumentNullException.ThrowIfNull(device);
        CheckSeeds(seeds);
        var acc = new List<IReadOnlyList<double>>();
        foreach (var n in levels)
        {
            var row = new List<double>();
            foreach (var s in seeds)
            {
                row.Add(Accuracy(_ => device(n), s));
                Progress?.Invoke($"{label}: {n} levels, seed {s}");
            }
            acc.Add(row);
        }
        return new AccuracySweep(label, levels.Select(l => (double)l).ToArray(), seeds.ToArray(), acc);
    }

    /// <summary>
    /// Accuracy against the time elapsed since programming: each seed programs a new array from <paramref name="device"/>
    /// on every weighted synapse once, then reads it at each time (drift), with global drift compensation when
    /// <paramref name="compensation"/> is given.
    /// </summary>
    public AccuracySweep Drift(string label, IReadOnlyList<double> times, IReadOnlyList<long> seeds, Func<DeviceArray> device,
        CompensationReference? compensation = null)
    {
        ArgumentNullException.ThrowIfNull(times);
        ArgumentNullException.ThrowIfNull(device);
        CheckSeeds(seeds);
        foreach (var t in times)
            if (!(t >= 0) || !double.IsFinite(t)) throw new ParameterException("HardwareEvaluator", "times", $"elapsed times must be finite and ≥ 0 s, got {t}.");
        var acc = times.Select(_ => new List<double>()).ToArray();
        foreach (var s in seeds)
        {
            var net = Build(_ =>
            {
                var a = device();
                return compensation is { } c ? new GlobalDriftCompensation(a, c) : a;
            }, s, out var devices);
            for (int i = 0; i < times.Count; i++)
            {
                foreach (var d in devices)
                {
                    if (d is GlobalDriftCompensation g) g.ElapsedTime = times[i];
                    else if (d is DeviceArray a) a.ElapsedTime = times[i];
                }
                acc[i].Add(Accuracy(net));
                Progress?.Invoke($"{label}: t = {times[i].ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s, seed {s}");
            }
        }
        return new AccuracySweep(label, times.ToArray(), seeds.ToArray(), acc);
    }

    private Network Build(Func<string, IWeightDevice?> device, long seed, out List<IWeightDevice> devices)
    {
        var net = _build() ?? throw new ShipException("The network factory of the hardware evaluator returned null.");
        devices = new List<IWeightDevice>();
        foreach (var g in net.Groups)
        {
            if (g is not WeightedSynapse s) continue;
            if (s.WeightDevice is not null)
                throw new NetworkConfigurationException($"Synapse '{g.DisplayName}' already has a device; the evaluator's network factory must build networks without devices.");
            if (device(g.Tag) is { } d)
            {
                s.WithDevice(d);
                devices.Add(d);
            }
        }
        net.Seed = seed;
        net.Initialize();
        return net;
    }

    private static void CheckSeeds(IReadOnlyList<long> seeds)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        if (seeds.Count == 0) throw new ParameterException("HardwareEvaluator", "seeds", "needs at least one seed.");
    }

    /// <summary>Sample standard deviation (n − 1), 0 for fewer than two values.</summary>
    public static double SampleStd(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count < 2) return 0;
        double m = values.Average();
        return Math.Sqrt(values.Sum(v => (v - m) * (v - m)) / (values.Count - 1));
    }
}
