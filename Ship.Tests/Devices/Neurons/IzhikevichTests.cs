using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Neurons;

public class IzhikevichTests
{
    private static double[] Flat(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    /// <summary>Runs N neurons of one preset on a constant current; returns spikes [steps, N] flattened and the step count.</summary>
    private static (double[] Spikes, int Steps) RunConstant(IzhikevichPreset p, double current, double dt, double seconds, int substeps = 1, int n = 1)
    {
        int steps = (int)Math.Round(seconds / dt);
        var net = new Network { Dt = dt, Steps = steps, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(n));
        net.Add("S", new Identity(), "I", "N");
        net.Add("N", new Izhikevich(n, p, substeps));
        net.MarkOutput("N");
        var r = net.Run(torch.full(new long[] { 1, steps, n }, current, dtype: ScalarType.Float64));
        return (Flat(r["N"]), steps);
    }

    private static List<double> SpikeTimesMs(double[] spikes, int steps, double dt, int n = 1, int j = 0) =>
        Enumerable.Range(0, steps).Where(k => spikes[k * n + j] == 1.0).Select(k => (k + 1) * dt * 1000).ToList();

    private static List<double> Isi(List<double> times) => times.Zip(times.Skip(1), (a, b) => b - a).ToList();

    [Test]
    public void OneStepConvertsDtFromSecondsToMilliseconds()
    {
        // From v = −65 mV, u = b·v = −13 with I = 0 and dt = 1 ms: v' = v + 1·(0.04v² + 5v + 140 − u), u' = u + 1·a(bv − u).
        var g = new Izhikevich(1);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        g.PrepareTimeStep(1e-3);
        g.ResetState();
        g.Step(torch.zeros(1, 1, dtype: ScalarType.Float64));
        double v = -65, u = 0.2 * v;
        double vExpected = v + 1.0 * (0.04 * v * v + 5 * v + 140 - u);
        double uExpected = u + 1.0 * 0.02 * (0.2 * v - u);
        Assert.That(Flat(g.Get("v"))[0], Is.EqualTo(vExpected).Within(1e-12));
        Assert.That(Flat(g.Get("u"))[0], Is.EqualTo(uExpected).Within(1e-12));
        Assert.That(vExpected, Is.EqualTo(-68).Within(1e-12), "sanity: the hand-computed value");
    }

    [TestCase(1)]
    [TestCase(3)]
    public void MatchesDoublePrecisionEulerReference(int substeps)
    {
        const int b = 2, n = 4, steps = 3000;
        const double dt = 1e-4;
        var presets = new[] { IzhikevichPreset.RegularSpiking, IzhikevichPreset.IntrinsicallyBursting, IzhikevichPreset.Chattering, IzhikevichPreset.FastSpiking };
        var a = presets.Select(p => p.A).ToArray();
        var bb = presets.Select(p => p.B).ToArray();
        var c = presets.Select(p => p.C).ToArray();
        var d = presets.Select(p => p.D).ToArray();
        var net = new Network { Dt = dt, Steps = steps, BatchSize = b, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(n));
        net.Add("S", new Identity(), "I", "N");
        var izh = net.Add("N", new Izhikevich(n, substeps: substeps));
        izh.Set("a", torch.tensor(a)).Set("b", torch.tensor(bb)).Set("c", torch.tensor(c)).Set("d", torch.tensor(d));
        net.MarkOutput("N");
        var mv = net.Monitor("N", "v");
        var mu = net.Monitor("N", "u");
        var x = torch.rand(new long[] { b, steps, n }, dtype: ScalarType.Float64, generator: new torch.Generator(11)).mul_(15);
        var spikes = Flat(net.Run(x)["N"]);
        var vs = Flat(mv.Values);
        var us = Flat(mu.Values);
        var xs = Flat(x);

        double h = dt * 1000 / substeps;
        int fired = 0;
        for (int r = 0; r < b; r++)
            for (int j = 0; j < n; j++)
            {
                double v = -65, u = bb[j] * v;
                for (int t = 0; t < steps; t++)
                {
                    double I = xs[(r * steps + t) * n + j];
                    bool any = false;
                    for (int s = 0; s < substeps; s++)
                    {
                        // Same grouping as the model, so rounding matches: (0.04v + 5)·v + 140 − u + I and (bv − u)·(a·h).
                        double vn = ((0.04 * v + 5) * v + 140 - u + I) * h + v;
                        double un = (bb[j] * v - u) * (a[j] * h) + u;
                        if (vn >= 30) { any = true; v = c[j]; u = un + d[j]; }
                        else { v = vn; u = un; }
                    }
                    int k = (r * steps + t) * n + j;
                    Assert.That(spikes[k], Is.EqualTo(any ? 1.0 : 0.0), $"spike, batch {r}, neuron {j}, step {t}");
                    Assert.That(vs[k], Is.EqualTo(v).Within(1e-9), $"v, batch {r}, neuron {j}, step {t}");
                    Assert.That(us[k], Is.EqualTo(u).Within(1e-9), $"u, batch {r}, neuron {j}, step {t}");
                    if (any) fired++;
                }
            }
        Assert.That(fired, Is.GreaterThan(50), "the reference comparison covers many spikes and resets");
    }

    [Test]
    public void RegularSpikingWithI10FiresTonicallyAtTheRateOfTheContinuousModel()
    {
        const double dt = 1e-4;
        var (s, steps) = RunConstant(IzhikevichPreset.RegularSpiking, 10, dt, 1.0);
        var times = SpikeTimesMs(s, steps, dt);
        var isi = Isi(times);

        // The continuous model's steady inter-spike interval, from RK4 with h = 1 µs in double precision.
        double Rk4SteadyIsi()
        {
            double a = 0.02, b = 0.2, c = -65, d = 8, I = 10, hh = 1e-3;
            double v = -65, u = b * v, last = double.NaN, isiLast = double.NaN;
            (double, double) F(double vv, double uu) => (0.04 * vv * vv + 5 * vv + 140 - uu + I, a * (b * vv - uu));
            for (long k = 1; k <= 1_000_000; k++)
            {
                var (k1v, k1u) = F(v, u);
                var (k2v, k2u) = F(v + hh / 2 * k1v, u + hh / 2 * k1u);
                var (k3v, k3u) = F(v + hh / 2 * k2v, u + hh / 2 * k2u);
                var (k4v, k4u) = F(v + hh * k3v, u + hh * k3u);
                double vn = v + hh / 6 * (k1v + 2 * k2v + 2 * k3v + k4v);
                double un = u + hh / 6 * (k1u + 2 * k2u + 2 * k3u + k4u);
                if (vn >= 30)
                {
                    double tSpike = (k - 1 + (30 - v) / (vn - v)) * hh; // linear interpolation of the crossing
                    if (!double.IsNaN(last)) isiLast = tSpike - last;
                    last = tSpike;
                    v = c; u = un + d;
                }
                else { v = vn; u = un; }
            }
            return isiLast;
        }
        double steady = Rk4SteadyIsi();

        Assert.That(steady, Is.InRange(30.0, 60.0), "sanity: RS at I = 10 fires in the tens of Hz");
        Assert.That(times.Count, Is.GreaterThanOrEqualTo(15), "fires throughout the second");
        // Tonic: after adaptation every interval is the same to one step.
        var tail = isi.Skip(isi.Count / 2).ToList();
        Assert.That(tail.Max() - tail.Min(), Is.LessThanOrEqualTo(dt * 1000 + 1e-9));
        // Regular spiking adapts: the first interval is shorter than the steady one.
        Assert.That(isi[0], Is.LessThan(tail.Average()));
        // The steady interval agrees with the continuous model to forward Euler's first-order error at 0.1 ms.
        Assert.That(tail.Average(), Is.EqualTo(steady).Within(2).Percent);
        // Rate over the second: the steady rate plus the adaptation transient.
        Assert.That(times.Count, Is.InRange((int)(1000 / steady) - 1, (int)(1000 / steady) + 3));
    }

    [TestCase("RS", 2)]
    [TestCase("IB", 2)]
    [TestCase("CH", 2)]
    [TestCase("FS", 6)]
    public void SpikeCountsBarelyDependOnDt(string preset, int tolerance)
    {
        var p = preset switch
        {
            "RS" => IzhikevichPreset.RegularSpiking,
            "IB" => IzhikevichPreset.IntrinsicallyBursting,
            "CH" => IzhikevichPreset.Chattering,
            _ => IzhikevichPreset.FastSpiking,
        };
        var (s1, n1) = RunConstant(p, 10, 1e-4, 1.0);
        var (s2, n2) = RunConstant(p, 10, 5e-5, 1.0);
        double c1 = s1.Sum(), c2 = s2.Sum();
        Assert.That(c1, Is.GreaterThan(10));
        // FS fires ~130 Hz: forward Euler's per-spike timing error (< one step) adds up to a few spikes over 1 s (≈ 3%).
        Assert.That(Math.Abs(c1 - c2), Is.LessThanOrEqualTo(tolerance), $"{preset}: {c1} spikes at 0.1 ms, {c2} at 0.05 ms");
    }

    [Test]
    public void SubstepsEqualAFinerStep()
    {
        var coarse = new Network { Dt = 2e-4, Steps = 2000, DType = ScalarType.Float64 };
        coarse.Add("I", new TensorInput(1));
        coarse.Add("S", new Identity(), "I", "N");
        coarse.Add("N", new Izhikevich(1, IzhikevichPreset.Chattering, substeps: 2));
        var mc = coarse.Monitor("N", "v");
        coarse.MarkOutput("N");
        var sc = Flat(coarse.Run(torch.full(new long[] { 1, 2000, 1 }, 10.0, dtype: ScalarType.Float64))["N"]);

        var fine = new Network { Dt = 1e-4, Steps = 4000, DType = ScalarType.Float64 };
        fine.Add("I", new TensorInput(1));
        fine.Add("S", new Identity(), "I", "N");
        fine.Add("N", new Izhikevich(1, IzhikevichPreset.Chattering));
        var mf = fine.Monitor("N", "v");
        fine.MarkOutput("N");
        var sf = Flat(fine.Run(torch.full(new long[] { 1, 4000, 1 }, 10.0, dtype: ScalarType.Float64))["N"]);

        var vc = Flat(mc.Values);
        var vf = Flat(mf.Values);
        for (int k = 0; k < 2000; k++)
        {
            Assert.That(vc[k], Is.EqualTo(vf[2 * k + 1]).Within(1e-9), $"v at coarse step {k}");
            Assert.That(sc[k], Is.EqualTo(Math.Max(sf[2 * k], sf[2 * k + 1])), $"spike at coarse step {k}");
        }
        Assert.That(sc.Sum(), Is.EqualTo(sf.Sum()), "chattering bursts never fire twice within 0.2 ms");
    }

    [Test]
    public void PresetsShowTheirFiringClasses()
    {
        const double dt = 1e-4;
        List<double> IsiOf(IzhikevichPreset p, out List<double> times)
        {
            var (s, steps) = RunConstant(p, 10, dt, 1.0);
            times = SpikeTimesMs(s, steps, dt);
            return Isi(times);
        }
        var rs = IsiOf(IzhikevichPreset.RegularSpiking, out var tRs);
        var ib = IsiOf(IzhikevichPreset.IntrinsicallyBursting, out var tIb);
        var ch = IsiOf(IzhikevichPreset.Chattering, out var tCh);
        var fs = IsiOf(IzhikevichPreset.FastSpiking, out var tFs);

        // IB: an initial burst (short intervals), then tonic spiking with no short interval.
        Assert.That(ib.Take(2).Max(), Is.LessThan(6));
        Assert.That(ib.Skip(3).Min(), Is.GreaterThan(20));
        // CH: bursts keep coming: short intervals late in the run, separated by long pauses.
        var late = Enumerable.Range(0, ch.Count).Where(i => tCh[i] > 500).Select(i => ch[i]).ToList();
        Assert.That(late.Count(x => x < 6), Is.GreaterThan(5));
        Assert.That(late.Count(x => x > 30), Is.GreaterThan(2));
        // FS: far higher rate than RS for the same current, with nearly no adaptation once settled.
        Assert.That(tFs.Count, Is.GreaterThan(3 * tRs.Count));
        var fsTail = fs.Skip(fs.Count / 2).ToList();
        Assert.That(fsTail.Max() - fsTail.Min(), Is.LessThan(0.05 * fsTail.Average()));
        Assert.That(rs.Min(), Is.GreaterThan(10), "RS never bursts");
    }

    [Test]
    public void BadSettingsRaiseTypedErrors()
    {
        Assert.Throws<ParameterException>(() => new Izhikevich(2, substeps: 0));
        var net = new Network { Steps = 3 };
        net.Add("I", new TensorInput(1));
        net.Add("S", new Identity(), "I", "N");
        net.Add("N", new Izhikevich(1, a: -0.02));
        var ex = Assert.Throws<ParameterException>(() => net.Initialize());
        Assert.That(ex!.Group, Is.EqualTo("N"));
        Assert.That(ex.Parameter, Is.EqualTo("a"));
    }

    [Test]
    public void InitialRecoveryFollowsBUnlessSet()
    {
        var g = new Izhikevich(2, IzhikevichPreset.LowThresholdSpiking);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        g.ResetState();
        Assert.That(Flat(g.Get("u")), Is.EqualTo(new[] { 0.25 * -65, 0.25 * -65 }).Within(1e-12));
        g.Set("u", -3.0).Set("v", -70.0);
        g.ResetState();
        Assert.That(Flat(g.Get("u")), Is.EqualTo(new[] { -3.0, -3.0 }));
        Assert.That(Flat(g.Get("v")), Is.EqualTo(new[] { -70.0, -70.0 }));
    }
}
