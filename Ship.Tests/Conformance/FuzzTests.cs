using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Conformance;

/// <summary>
/// Random compositions from a fixed master seed: wrappers (stacked), identity links, delays that cross zero steps at a
/// dt change, Poisson sources, several outputs, recurrent edges and variable schedules. Every topology must run without
/// a crash in both modes, give identical results (<see cref="Identical"/>), finite outputs and a valid call order.
/// Every fourth topology records gradients, which must agree too. A failure names the seed; <see cref="Check"/> with that
/// seed reproduces it. SHIP_FUZZ_COUNT sets a longer run.
/// </summary>
public class FuzzTests
{
    private const long MasterSeed = 20261206;

    private static int Count => int.TryParse(Environment.GetEnvironmentVariable("SHIP_FUZZ_COUNT"), out int n) && n > 0 ? n : 500;

    [Test]
    public void RandomTopologiesRunIdenticallyInBothModes()
    {
        var failures = new List<string>();
        var master = new Random((int)(MasterSeed % int.MaxValue));
        int checkedCount = 0, gradientElements = 0;
        for (int k = 0; k < Count && failures.Count < 5; k++)
        {
            long seed = master.NextInt64(1, long.MaxValue / 2);
            // Every fourth topology also records and compares gradients (surrogate spikes, inputs and weights as leaves).
            try { gradientElements += Check(seed, gradients: k % 4 == 0); checkedCount++; }
            catch (Exception e) { failures.Add($"seed {seed}{(k % 4 == 0 ? " (gradients: true)" : "")}: {e.GetType().Name}: {e.Message.Split('\n')[0]} at {e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}"); }
        }
        Assert.That(failures, Is.Empty, "reproduce with FuzzTests.Check(seed):\n" + string.Join("\n", failures));
        Assert.That(checkedCount, Is.GreaterThanOrEqualTo(500).Or.EqualTo(Count));
        Assert.That(gradientElements, Is.GreaterThan(0), "the gradient topologies compared nonzero gradients");
    }

    /// <summary>
    /// Builds the topology of <paramref name="seed"/> in both modes and checks it; with <paramref name="gradients"/> the runs
    /// record gradients (surrogate spikes) and the gradients of a loss over every output with respect to the inputs and
    /// every weight must also agree, within 1e-9·max|g| + 1e-12.
    /// </summary>
    /// <returns>How many nonzero gradient elements were compared (0 without gradients).</returns>
    public static int Check(long seed, bool gradients = false)
    {
        var (a, inputs, schedule) = Topology(seed, batching: true);
        var (b, _, _) = Topology(seed, batching: false);
        var ga = gradients ? Record(a, inputs) : null;
        var gb = gradients ? Record(b, inputs) : null;
        var ra = a.Run(ga?.Inputs ?? inputs, schedule);
        var rb = b.Run(gb?.Inputs ?? inputs, schedule);
        foreach (var (tag, y) in rb.Outputs)
        {
            Assert.That(y.isfinite().all().item<bool>(), $"output {tag} is finite");
            Identical.Assert(ra[tag], y, $"output {tag}");
        }
        Identical.States(a, b, "states");
        foreach (var net in new[] { a, b }) CheckCallOrder(net);
        if (ga is null || gb is null) return 0;
        int nonzero = 0;
        Backward(ra);
        Backward(rb);
        for (int k = 0; k < gb.Targets.Count; k++)
        {
            var (what, expected) = gb.Targets[k];
            var actual = ga.Targets[k].Tensor;
            Assert.That(actual.grad is null, Is.EqualTo(expected.grad is null), $"{what}: a gradient in both modes or in neither");
            if (expected.grad is null || actual.grad is null) continue;
            var e = Identical.D(expected.grad);
            var g = Identical.D(actual.grad);
            double max = e.Length == 0 ? 0 : e.Max(Math.Abs);
            for (int i = 0; i < e.Length; i++)
                Assert.That(g[i], Is.EqualTo(e[i]).Within(1e-9 * max + 1e-12), $"gradient of {what}, element {i}");
            nonzero += e.Count(v => v != 0);
        }
        return nonzero;
    }

    private sealed record Recording(Dictionary<string, Tensor> Inputs, List<(string What, Tensor Tensor)> Targets);

    /// <summary>Turns on gradient recording: inputs and every weight become leaves that require gradients.</summary>
    private static Recording Record(Network net, Dictionary<string, Tensor> inputs)
    {
        net.Initialize();
        var targets = new List<(string, Tensor)>();
        foreach (var g in net.Groups.OrderBy(g => g.Tag, StringComparer.Ordinal))
            if (g.AllVariables.OfType<Parameter>().FirstOrDefault(v => v.Name == "w") is { Tensor: { } w } p && w.is_floating_point())
            {
                p.Tensor = new TorchSharp.Modules.Parameter(w.detach().clone(), requires_grad: true);
                targets.Add(($"{g.Tag}.w", p.Tensor));
            }
        var leaves = inputs.ToDictionary(p => p.Key, p => p.Value.clone().requires_grad_(true));
        foreach (var (tag, x) in leaves.OrderBy(p => p.Key, StringComparer.Ordinal)) targets.Add(($"input {tag}", x));
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
        net.TrackGradients = true;
        return new(leaves, targets);
    }

    private static void Backward(RunResult r)
    {
        Tensor loss = torch.zeros(1, dtype: ScalarType.Float64);
        int k = 1;
        foreach (var (_, y) in r.Outputs.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            using var weights = torch.linspace(0.1, 1.0, y.shape[1], dtype: ScalarType.Float64).reshape(1, -1, 1);
            loss = loss + (y * weights).sum() * (0.5 * k++);
        }
        if (loss.requires_grad) loss.backward();
    }

    private static void CheckCallOrder(Network net)
    {
        var order = net.CallOrder.Order.ToArray();
        Assert.That(order.OrderBy(i => i), Is.EqualTo(Enumerable.Range(0, net.Graph.Count)), "the call order is a permutation");
        var position = new int[order.Length];
        for (int k = 0; k < order.Length; k++) position[order[k]] = k;
        var back = net.CallOrder.BackEdges.Select(e => (e.Source, e.Target)).ToHashSet();
        foreach (var (s, t) in net.Graph.Edges)
            Assert.That(position[s] < position[t] || back.Contains((s, t)), $"edge {net.Graph.Groups[s].Tag} -> {net.Graph.Groups[t].Tag} runs forward or is reported as a back edge");
    }

    private static readonly double[] Dts = { 0.5e-3, 1e-3, 2e-3, 4e-3 };

    private static (Network Net, Dictionary<string, Tensor> Inputs, Schedule Schedule) Topology(long seed, bool batching)
    {
        var rng = new Random((int)(seed % int.MaxValue));
        var net = new Network($"fuzz {seed}") { Dt = 1e-3, BatchSize = 1 + rng.Next(2), Seed = seed, DType = ScalarType.Float64, TimeBatching = batching, SequenceBlockSteps = 3 + rng.Next(8) };
        var schedule = new Schedule(Enumerable.Range(0, 1 + rng.Next(3)).Select(_ => (Dts[rng.Next(Dts.Length)], 3 + rng.Next(10))).ToArray());
        var sizes = new Dictionary<string, int>();
        var sources = new List<string>();
        var inputs = new Dictionary<string, Tensor>();
        int nIn = 1 + rng.Next(2);
        for (int k = 0; k < nIn; k++)
        {
            int n = 2 + rng.Next(4);
            net.Add($"I{k}", new TensorInput(n));
            var g = new torch.Generator((ulong)(seed + k));
            inputs[$"I{k}"] = torch.rand(new long[] { net.BatchSize, schedule.TotalSteps, n }, ScalarType.Float64, generator: g).lt(0.4).to_type(ScalarType.Float64);
            sizes[$"I{k}"] = n;
            sources.Add($"I{k}");
        }
        if (rng.Next(2) == 0)
        {
            int n = 2 + rng.Next(4);
            net.Add("P", new PoissonSource(n, rate: 50 + rng.Next(200)));
            sizes["P"] = n;
            sources.Add("P");
        }
        int groups = 2 + rng.Next(4), links = 0;
        var neurons = new List<string>();
        for (int k = 0; k < groups; k++)
        {
            string tag = $"N{k}";
            int n = 2 + rng.Next(4);
            net.Add(tag, Neuron(rng, n));
            sizes[tag] = n;
            // At least one feed-forward synapse from something earlier; an identity link where the sizes allow.
            int fan = 1 + rng.Next(2);
            for (int f = 0; f < fan; f++)
            {
                string src = sources[rng.Next(sources.Count)];
                string syn = $"S{links++}";
                if (sizes[src] == n && rng.Next(3) == 0) net.Add(syn, new Identity(), src, tag);
                else net.Add(syn, Synapse(rng), src, tag);
            }
            neurons.Add(tag);
            sources.Add(tag);
        }
        // Recurrent edges: from a later group back to an earlier one (a zero-delay loop unless a delay breaks it).
        int recurrent = rng.Next(3);
        for (int r = 0; r < recurrent && neurons.Count >= 2; r++)
        {
            int to = rng.Next(neurons.Count - 1), from = to + 1 + rng.Next(neurons.Count - 1 - to);
            net.Add($"R{r}", new Dense(Init.Uniform(-0.3, 0.5)), neurons[from], neurons[to]);
        }
        var outputs = neurons.OrderBy(_ => rng.Next()).Take(1 + rng.Next(Math.Min(3, neurons.Count))).ToList();
        if (rng.Next(2) == 0) outputs.Add("S0"); // a synapse (possibly an identity link) whose input is also an output
        if (rng.Next(2) == 0) outputs.Add(sources[0]);
        net.MarkOutput(outputs.Distinct().ToArray());
        return (net, inputs, schedule);
    }

    private static Group Neuron(Random rng, int n)
    {
        Group core = rng.Next(5) switch
        {
            0 => new Lif(n, tau: 3e-3 + rng.NextDouble() * 10e-3, threshold: 0.3 + rng.NextDouble()),
            1 => new LifRest(n, tau: 3e-3 + rng.NextDouble() * 10e-3, threshold: 0.3 + rng.NextDouble()),
            2 => new LifRestReset(n, tau: 3e-3 + rng.NextDouble() * 10e-3, threshold: 0.3 + rng.NextDouble(), reset: 0.05),
            3 => new AdaptiveLif(n, tau: 3e-3 + rng.NextDouble() * 10e-3, threshold: 0.3 + rng.NextDouble()),
            _ => new LeakyIntegrator(n, tau: 1e-3 + rng.NextDouble() * 5e-3),
        };
        bool gated = core is IIntegrationGate;
        Group g = core;
        int wraps = rng.Next(3);
        var used = new HashSet<int>(); // each wrapper kind once per stack (their variable names would clash)
        for (int w = 0; w < wraps; w++)
        {
            int kind = rng.Next(3);
            if (!used.Add(kind) || used.Contains(2) && kind != 2) continue; // nothing wraps a delay
            if (kind == 0 && gated) g = new Refractory(g, 0.5e-3 + rng.NextDouble() * 2e-3);
            else if (kind == 1 && gated) g = new WinnerTakeAll(g);
            else if (kind == 2) g = new Delay(g, new[] { 0.4e-3, 1.5e-3, 3e-3 }[rng.Next(3)]); // 1.5 ms: 0 steps at dt = 4 ms
        }
        return g;
    }

    private static Group Synapse(Random rng) => rng.Next(4) switch
    {
        0 => new FirstOrder(Init.Uniform(0, 1), tau: 2e-3 + rng.NextDouble() * 4e-3, weightScale: 100.0),
        _ => new Dense(Init.Uniform(-0.2, 1.2)),
    };
}
