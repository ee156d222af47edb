using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

public class NetworkTests
{
    private static float[] Flat(Tensor t) => t.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();

    [Test]
    public void LifSpikeTimesMatchClosedForm()
    {
        const double tau = 10e-3, dt = 1e-3, x = 0.3, thr = 1.0;
        const int steps = 100;
        var net = new Network { Dt = dt, Steps = steps };
        net.Add("I", new TensorInput(1));
        net.Add("S", new Identity(), "I", "L");
        net.Add("L", new Lif(1, tau, thr));
        net.MarkOutput("L");

        var spikes = Flat(net.Run(torch.full(1, steps, 1, x)).Single);

        // Closed form: from u = 0, after k integrating steps u_k = x (1 − β^k) / (1 − β); the first k with u_k ≥ thr spikes,
        // the next step is the reset step (u = 0, input dropped), so the pattern repeats every k + 1 steps.
        double beta = Math.Exp(-dt / tau);
        int kStar = 1;
        while (x * (1 - Math.Pow(beta, kStar)) / (1 - beta) < thr) kStar++;
        var expected = new List<int>();
        for (int s = kStar - 1; s < steps; s += kStar + 1) expected.Add(s);
        var actual = Enumerable.Range(0, steps).Where(i => spikes[i] == 1f).ToList();

        Assert.That(kStar, Is.EqualTo(4), "sanity of the closed form for these parameters");
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(spikes.All(v => v == 0f || v == 1f), "spikes are 0/1 floats");
    }

    [Test]
    public void TwoSourcesAreSummedIntoOneTarget()
    {
        const int steps = 20, b = 2;
        var net = new Network { Dt = 1e-3, Steps = steps, BatchSize = b, Seed = 3 };
        net.Add("A", new TensorInput(3));
        net.Add("B", new TensorInput(2));
        var wa = torch.tensor(new float[] { 0.5f, -1f, 0.25f, 2f, 1f, 0f }).reshape(3, 2);
        var wb = torch.tensor(new float[] { 1.5f, 0.5f, -0.5f, 1f }).reshape(2, 2);
        net.Add("SA", new Dense(wa, 0.1), "A", "L");
        net.Add("SB", new Dense(wb), "B", "L");
        net.Add("L", new Lif(2, tau: 20e-3, threshold: 1e9));
        var mon = net.Monitor("L", "u");
        var g = new torch.Generator(7);
        var xa = torch.rand(new long[] { b, steps, 3 }, generator: g);
        var xb = torch.rand(new long[] { b, steps, 2 }, generator: g);
        net.Run(new Dictionary<string, Tensor> { ["A"] = xa, ["B"] = xb });

        // Reference: u_t = max(0, β u_{t−1} + xa_t·Wa + 0.1 + xb_t·Wb), computed here in double precision.
        double beta = Math.Exp(-1e-3 / 20e-3);
        var a = Flat(xa); var bb = Flat(xb); var WA = Flat(wa); var WB = Flat(wb);
        var u = Flat(mon.Values);
        for (int r = 0; r < b; r++)
        {
            var state = new double[2];
            for (int t = 0; t < steps; t++)
                for (int j = 0; j < 2; j++)
                {
                    double inp = 0.1;
                    for (int i = 0; i < 3; i++) inp += a[(r * steps + t) * 3 + i] * WA[i * 2 + j];
                    for (int i = 0; i < 2; i++) inp += bb[(r * steps + t) * 2 + i] * WB[i * 2 + j];
                    state[j] = Math.Max(0, beta * state[j] + inp);
                    Assert.That(u[(r * steps + t) * 2 + j], Is.EqualTo(state[j]).Within(1e-4).Percent, $"batch {r}, step {t}, neuron {j}");
                }
        }
    }

    private static Network RandomFeedforward(long seed, int steps)
    {
        var net = new Network { Dt = 1e-3, Steps = steps, BatchSize = 3, Seed = seed };
        net.Add("I", new TensorInput(4));
        net.Add("W", new Dense(Init.Uniform(0, 0.8)), "I", "H");
        net.Add("H", new Lif(5, tau: 5e-3, threshold: 0.7));
        net.Add("W2", new Dense(Init.Normal(0.3, 0.5)), "H", "O");
        net.Add("O", new Lif(2, tau: 8e-3, threshold: 0.5));
        net.MarkOutput("O", "H");
        return net;
    }

    [Test]
    public void ContinueEqualsOneLongRun()
    {
        var x = torch.rand(new long[] { 3, 60, 4 }, generator: new torch.Generator(11)) * 1.5;
        var whole = RandomFeedforward(5, 60).Run(x);

        var net = RandomFeedforward(5, 30);
        var first = net.Run(x.narrow(1, 0, 30));
        var second = net.Continue(x.narrow(1, 30, 30));
        foreach (var tag in new[] { "O", "H" })
        {
            var joined = torch.cat(new[] { first[tag], second[tag] }, 1);
            Assert.That(Flat(joined), Is.EqualTo(Flat(whole[tag])), tag);
        }
        Assert.That(second.FirstStep, Is.EqualTo(30));
        Assert.That(second.Times[0], Is.EqualTo(31e-3).Within(1e-12));
        Assert.That(Flat(whole["H"]).Sum(), Is.GreaterThan(0), "the hidden layer fires, so the comparison is not trivially zero");

        // Continuing from the data already fed (no new tensor) also works while data remains.
        var net2 = RandomFeedforward(5, 30);
        net2.Run(new Dictionary<string, Tensor> { ["I"] = x }, Schedule.Fixed(1e-3, 30));
        var rest = net2.Continue(schedule: Schedule.Fixed(1e-3, 30));
        Assert.That(Flat(rest["O"]), Is.EqualTo(Flat(whole["O"].narrow(1, 30, 30))));
    }

    [Test]
    public void VariableDtFollowsScheduleAndCarriesState()
    {
        var schedule = new Schedule((1e-3, 10), (0.5e-3, 20), (2e-3, 5));
        var net = new Network();
        net.Add("I", new TensorInput(1));
        net.Add("S", new Identity(), "I", "L");
        net.Add("L", new Lif(1, tau: 10e-3, threshold: 1e9));
        net.MarkOutput("L");
        var mon = net.Monitor("L", "u");
        int total = schedule.TotalSteps;
        var x = torch.linspace(0.1, 1.0, total).reshape(1, total, 1);
        var result = net.Run(x, schedule);

        var xs = Flat(x);
        var u = Flat(mon.Values);
        double now = 0, state = 0;
        int k = 0;
        foreach (var (dt, n) in new[] { (1e-3, 10), (0.5e-3, 20), (2e-3, 5) })
            for (int i = 0; i < n; i++, k++)
            {
                now += dt;
                state = Math.Max(0, Math.Exp(-dt / 10e-3) * state + xs[k]);
                Assert.That(result.Times[k], Is.EqualTo(now).Within(1e-12), $"time of step {k}");
                Assert.That(net.Timeline.Dts[k], Is.EqualTo(dt));
                Assert.That(u[k], Is.EqualTo(state).Within(1e-4).Percent, $"u at step {k}");
            }
        Assert.That(net.Timeline.Now, Is.EqualTo(schedule.Duration).Within(1e-12));
        Assert.That(mon.Times, Is.EqualTo(result.Times));
    }

    [Test]
    public void FixedRunTimelineIsEndOfStep()
    {
        var net = RandomFeedforward(1, 7);
        var r = net.Run(torch.zeros(3, 7, 4));
        Assert.That(r.Times, Is.EqualTo(Enumerable.Range(1, 7).Select(k => k * 1e-3)).Within(1e-15));
    }

    [Test]
    public void MonitorsAreCopiesAndDoNotChangeResults()
    {
        var x = torch.rand(new long[] { 3, 25, 4 }, generator: new torch.Generator(2)) * 2;
        var plain = RandomFeedforward(9, 25).Run(x);

        var net = RandomFeedforward(9, 25);
        var mu = net.Monitor("H", "u");
        var mw = net.Monitor("W", "w");
        var mo = net.Monitor("O");
        var watched = net.Run(x);
        Assert.That(Flat(watched["O"]), Is.EqualTo(Flat(plain["O"])), "monitoring must not change results");
        Assert.That(Flat(mo.Values), Is.EqualTo(Flat(plain["O"])), "the output monitor records the output");
        Assert.That(mu.Values.shape, Is.EqualTo(new long[] { 3, 25, 5 }));
        Assert.That(mw.Values.shape, Is.EqualTo(new long[] { 3, 25, 4, 5 }), "parameters without a batch axis are broadcast over the batch");

        var before = Flat(mu.Values);
        var lastU = Flat(net["H"].Get("u"));
        var lastRecord = Enumerable.Range(0, 3).SelectMany(r => before.Skip((r * 25 + 24) * 5).Take(5)).ToArray();
        Assert.That(lastRecord, Is.EqualTo(lastU), "the last record equals the final state");
        net["H"].Get("u").fill_(123f); // change the live state in place
        net["W"].Get("w").fill_(-5f);
        Assert.That(Flat(mu.Values), Is.EqualTo(before), "records are copies, not aliases of the state");
        Assert.That(Flat(mw.Values).Contains(-5f), Is.False);
    }

    [Test]
    public void MonitorCsvHasOneRowPerElement()
    {
        var net = RandomFeedforward(4, 6);
        var m = net.Monitor("O", "u");
        net.Run(torch.rand(3, 6, 4) * 2);
        var path = Path.Combine(Path.GetTempPath(), $"ship-monitor-{Guid.NewGuid():N}.csv");
        m.ToCsv(path);
        var lines = File.ReadAllLines(path);
        File.Delete(path);
        Assert.That(lines[0], Is.EqualTo("step,time_s,batch,index,value"));
        Assert.That(lines.Length, Is.EqualTo(1 + 3 * 6 * 2));
        var values = Flat(m.Values);
        var row = lines[1 + (2 * 6 + 5) * 2 + 1].Split(','); // batch 2, step 5, neuron 1
        Assert.That(row[0], Is.EqualTo("5"));
        Assert.That(double.Parse(row[1], System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(6e-3).Within(1e-12));
        Assert.That(row[2], Is.EqualTo("2"));
        Assert.That(row[3], Is.EqualTo("1"));
        Assert.That(double.Parse(row[4], System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(values[(2 * 6 + 5) * 2 + 1]).Within(1e-6));
    }

    [Test]
    public void TwoNetworksDoNotAffectEachOther()
    {
        var x = torch.rand(new long[] { 3, 40, 4 }, generator: new torch.Generator(3)) * 2;
        var a = RandomFeedforward(21, 40);
        var first = Flat(a.Run(x)["O"]);
        var wA = Flat(a["W"].Get("w"));

        // A second network with other settings, its own seed and many draws in between.
        var b = RandomFeedforward(22, 15);
        b.Dt = 0.5e-3;
        b.Run(torch.rand(3, 15, 4));
        b.Initialize();
        b.Run(torch.rand(3, 15, 4));

        Assert.That(Flat(a.Run(x)["O"]), Is.EqualTo(first), "network A is unchanged by B");
        Assert.That(a.Context.Dt, Is.EqualTo(1e-3));
        var a2 = RandomFeedforward(21, 40);
        a2.Initialize();
        Assert.That(Flat(a2["W"].Get("w")), Is.EqualTo(wA), "same seed, same weights, whatever other networks drew");
        Assert.That(Flat(b["W"].Get("w")), Is.Not.EqualTo(wA));
    }

    [Test]
    public void ParametersAcceptScalarsTensorsAndGenerators()
    {
        var net = new Network { BatchSize = 2, Steps = 3, Seed = 5 };
        net.Add("I", new TensorInput(3));
        net.Add("S", new Dense(Init.Uniform(-1, 1)), "I", "L");
        net.Add("L", new Lif(3));
        net.Set("L", "tau", torch.tensor(new[] { 5e-3, 10e-3, 20e-3 }));          // per component
        net.Set("L", "thr", torch.tensor(new[] { 0.5, 2.0 }).reshape(2, 1));       // per batch
        net.Initialize();
        Assert.That(net["L"].Get("tau").shape, Is.EqualTo(new long[] { 3 }));
        Assert.That(net["L"].Get("thr").shape, Is.EqualTo(new long[] { 2, 1 }));
        var w1 = Flat(net["S"].Get("w"));
        Assert.That(w1.All(v => v >= -1 && v < 1));
        net.Initialize();
        Assert.That(Flat(net["S"].Get("w")), Is.EqualTo(w1), "a fresh initialization reseeds the network generator");
        net.Set("S", "w", Init.Normal(0, 1));
        Assert.That(Flat(net["S"].Get("w")), Is.Not.EqualTo(w1), "setting a generator on an initialized network draws at once");
        net.Set("L", "tau", 7e-3);
        Assert.That(net["L"].Get("tau").item<float>(), Is.EqualTo(7e-3f));
    }

    [Test]
    public void CallOrderIsTopologicalWhateverTheAddOrder()
    {
        string[][] orders = { new[] { "I", "IH", "H", "HO", "O" }, new[] { "O", "HO", "H", "IH", "I" }, new[] { "H", "O", "I", "HO", "IH" } };
        foreach (var order in orders)
        {
            var net = new Network { Steps = 2 };
            foreach (var tag in order)
                switch (tag)
                {
                    case "I": net.Add(tag, new TensorInput(2)); break;
                    case "H": net.Add(tag, new Lif(3)); break;
                    case "O": net.Add(tag, new Lif(1)); break;
                    default: net.Add(tag, new Dense()); break;
                }
            net.Connect("IH", "I", "H");
            net.Connect("HO", "H", "O");
            net.Initialize();
            Assert.That(net.CallSequence.Select(g => g.Tag), Is.EqualTo(new[] { "I", "IH", "H", "HO", "O" }), string.Join(",", order));
            Assert.That(net.CallOrder.BackEdges, Is.Empty);
            Assert.That(net.DescribeCallOrder(), Does.Contain("I"));
        }
    }
}
