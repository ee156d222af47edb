using Ship.Core.Clocks;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Wrappers;

/// <summary>One wrapper layer of a stack, outermost first, as both the network builder and the reference read it.</summary>
public abstract record Layer
{
    public sealed record Refr(double Period) : Layer;
    public sealed record Wta : Layer;
    public sealed record Shared(double Period) : Layer;
    public sealed record Del(double Seconds) : Layer;
}

/// <summary>
/// A plain C# double-precision simulation of LIF neurons with the wrapper rules as documented, written independently of
/// the tensor code: per neuron and step, gate → membrane → spike → bookkeeping; delays as lists of pending values.
/// </summary>
public static class WrapperReference
{
    public sealed class Result
    {
        public required double[,,] Spikes;  // [b, t, n] spikes emitted by the neuron
        public required double[,,] Output;  // [b, t, n] what the network sees (after delays)
        public required double[,,] U;       // [b, t, n] membrane after the step
        public required double[,,] LastSpike; // [b, t, n] end time of the last spike after the step (−∞ before)
    }

    /// <summary>End time of every step under the schedule, as the timeline computes it (stretch start + k·dt).</summary>
    public static double[] Ends(IReadOnlyList<(double Dt, int Steps)> schedule)
    {
        var ends = new List<double>();
        double start = 0;
        foreach (var (dt, n) in schedule)
        {
            for (int k = 1; k <= n; k++) ends.Add(start + k * dt);
            start = ends[^1];
        }
        return ends.ToArray();
    }

    public static double[] Dts(IReadOnlyList<(double Dt, int Steps)> schedule) =>
        schedule.SelectMany(s => Enumerable.Repeat(s.Dt, s.Steps)).ToArray();

    /// <summary>round(x) with ties up, as documented for delays.</summary>
    public static int RoundSteps(double x) => (int)Math.Floor(x + 0.5 + 1e-9);

    /// <summary>Simulates LIF(tau, thr) under the given layers (outermost first) with input x[b, t, n].</summary>
    public static Result Simulate(double[,,] x, IReadOnlyList<(double Dt, int Steps)> schedule, double tau, double thr, IReadOnlyList<Layer> layers,
        double[]? refractoryPerNeuron = null)
    {
        int B = x.GetLength(0), T = x.GetLength(1), N = x.GetLength(2);
        var ends = Ends(schedule);
        var dts = Dts(schedule);
        var refr = layers.OfType<Layer.Refr>().Select(l => l.Period).ToList();
        bool wta = layers.Any(l => l is Layer.Wta);
        var shared = layers.OfType<Layer.Shared>().Select(l => l.Period).ToList();
        var delays = layers.OfType<Layer.Del>().Select(l => l.Seconds).ToList();
        var res = new Result { Spikes = new double[B, T, N], Output = new double[B, T, N], U = new double[B, T, N], LastSpike = new double[B, T, N] };
        for (int b = 0; b < B; b++)
        {
            var u = new double[N];
            var integ = Enumerable.Repeat(true, N).ToArray();
            var last = Enumerable.Repeat(double.NegativeInfinity, N).ToArray();
            double lastRow = double.NegativeInfinity;
            // Each delay layer: pending (value per neuron, steps to go) items; the layers apply one after the other.
            var pending = delays.Select(_ => new List<(double[] V, int Left)>()).ToList();
            for (int t = 0; t < T; t++)
            {
                double dt = dts[t], tEnd = ends[t];
                if (t > 0 && dts[t] != dts[t - 1])
                    foreach (var q in pending)
                        for (int i = 0; i < q.Count; i++)
                            q[i] = (q[i].V, Math.Max(1, RoundSteps(q[i].Left * dts[t - 1] / dt)));
                double beta = Math.Exp(-dt / tau);
                double eps = 1e-9 * dt + 1e-14 * tEnd;
                bool rowBlocked = shared.Any(p => tEnd <= lastRow + Math.Max(p, dt) + eps);
                var s = new double[N];
                for (int n = 0; n < N; n++)
                {
                    bool g = integ[n] && !rowBlocked;
                    foreach (var p in refr) if (tEnd <= last[n] + p + eps) g = false;
                    if (refractoryPerNeuron is not null && tEnd <= last[n] + refractoryPerNeuron[n] + eps) g = false;
                    u[n] = g ? Math.Max(0, u[n] * beta + x[b, t, n]) : 0;
                    s[n] = u[n] >= thr ? 1 : 0;
                    integ[n] = s[n] == 0;
                    res.U[b, t, n] = u[n];
                    res.Spikes[b, t, n] = s[n];
                }
                bool any = s.Any(v => v != 0);
                if (wta && any) Array.Fill(integ, false);
                if (any) lastRow = tEnd;
                for (int n = 0; n < N; n++)
                {
                    if (s[n] != 0) last[n] = tEnd;
                    res.LastSpike[b, t, n] = last[n];
                }
                // Delays: each layer takes what the previous one emits this step.
                var emitted = s;
                for (int k = 0; k < delays.Count; k++)
                {
                    int d = RoundSteps(delays[k] / dt);
                    var q = pending[k];
                    var outNow = new double[N];
                    foreach (var (v, left) in q)
                        if (left == 1) for (int n = 0; n < N; n++) outNow[n] += v[n];
                    q.RemoveAll(e => e.Left == 1);
                    for (int i = 0; i < q.Count; i++) q[i] = (q[i].V, q[i].Left - 1);
                    if (d == 0) for (int n = 0; n < N; n++) outNow[n] += emitted[n];
                    else q.Add((emitted, d));
                    emitted = outNow;
                }
                for (int n = 0; n < N; n++) res.Output[b, t, n] = emitted[n];
            }
        }
        return res;
    }

    /// <summary>Builds Input → Identity → stack(Lif) in a float64 network, with the layers outermost first.</summary>
    public static (Network Net, Group Stack) Build(int n, int batch, double tau, double thr, IReadOnlyList<Layer> layers, Ship.Core.Parameters.Value? lifTau = null,
        ScalarType dtype = ScalarType.Float64)
    {
        var net = new Network { BatchSize = batch, DType = dtype, Seed = 5 };
        Group g = lifTau is null ? new Lif(n, tau, thr) : new Lif(n, 1, thr).Set("tau", lifTau);
        for (int k = layers.Count - 1; k >= 0; k--)
            g = layers[k] switch
            {
                Layer.Refr r => new Refractory(g, r.Period),
                Layer.Wta => new WinnerTakeAll(g),
                Layer.Shared s => new SharedRefractory(g, s.Period),
                Layer.Del d => new Delay(g, d.Seconds),
                _ => throw new ArgumentException("unknown layer"),
            };
        net.Add("I", new TensorInput(n));
        net.Add("S", new Identity(), "I", "L");
        net.Add("L", g);
        net.MarkOutput("L");
        return (net, g);
    }

    public static Schedule ToSchedule(IReadOnlyList<(double Dt, int Steps)> schedule) => new(schedule.ToArray());

    public static Tensor ToTensor(double[,,] x)
    {
        int B = x.GetLength(0), T = x.GetLength(1), N = x.GetLength(2);
        var flat = new double[B * T * N];
        Buffer.BlockCopy(x, 0, flat, 0, flat.Length * sizeof(double));
        return torch.tensor(flat, dtype: ScalarType.Float64).reshape(B, T, N);
    }

    public static double[,,] FromTensor(Tensor t)
    {
        var c = t.detach().cpu().to_type(ScalarType.Float64).contiguous();
        long B = c.shape[0], T = c.shape[1], N = c.shape[2];
        var flat = c.data<double>().ToArray();
        var r = new double[B, T, N];
        Buffer.BlockCopy(flat, 0, r, 0, flat.Length * sizeof(double));
        return r;
    }

    /// <summary>Random input currents in [lo, hi) from a seeded System.Random, so the reference and the network see the same data.</summary>
    public static double[,,] RandomInput(int b, int t, int n, int seed, double lo = 0, double hi = 0.6)
    {
        var rng = new Random(seed);
        var x = new double[b, t, n];
        for (int i = 0; i < b; i++) for (int k = 0; k < t; k++) for (int j = 0; j < n; j++) x[i, k, j] = lo + (hi - lo) * rng.NextDouble();
        return x;
    }

    public static double[,,] Constant(int b, int t, int n, double v)
    {
        var x = new double[b, t, n];
        for (int i = 0; i < b; i++) for (int k = 0; k < t; k++) for (int j = 0; j < n; j++) x[i, k, j] = v;
        return x;
    }

    public static List<int> SpikeSteps(double[,,] s, int b, int n) =>
        Enumerable.Range(0, s.GetLength(1)).Where(t => s[b, t, n] != 0).ToList();
}
