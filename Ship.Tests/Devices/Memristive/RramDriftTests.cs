using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Devices.Memristive;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

public class RramDriftTests
{
    // DRIFT.md §1 (the published fit, in µS), written out in double precision as the reference; the library works in
    // siemens, so the tests convert its conductances to µS before comparing.
    internal static double Mu(double g0, double t)
    {
        double l = Math.Log10(t);
        return g0 < 64.41 ? (0.2302 * g0 - 15.24) * l + 0.9546 * g0 + 4.82 : g0 - 0.4129 * l;
    }

    internal static double SigmaOverMu(double g0, double t)
    {
        double l = Math.Log10(t), s0 = 0.005127 + 0.85543 / (g0 - 38.72);
        return (1.047 * s0 - 0.006294) * l - 0.01677 * s0 + 0.005473;
    }

    [Test]
    public void ReferenceFormulasReproduceTheCheckValuesOfDriftMd()
    {
        Assert.That((Mu(120, 1) - Mu(50, 1)) / 70, Is.EqualTo(0.9636).Within(5e-5));
        Assert.That((Mu(120, 10) - Mu(50, 10)) / 70, Is.EqualTo(1.0110).Within(5e-5));
        Assert.That((Mu(120, 1e4) - Mu(50, 1e4)) / 70, Is.EqualTo(1.1531).Within(5e-5));
        Assert.That(SigmaOverMu(50, 1e4), Is.EqualTo(0.318).Within(5e-4));
        Assert.That(SigmaOverMu(120, 1e4), Is.EqualTo(0.0456).Within(5e-5));
    }

    [TestCase(1.0)]
    [TestCase(10.0)]
    [TestCase(100.0)]
    [TestCase(1e4)]
    public void DriftedConductancesHaveTheFittedMeanAndSpread(double t)
    {
        const int ns = 100, nt = 200;
        // Columns at w/M = 1, 0.5 and 0.1: G+ = 120, 85, 57 µS (both branches of the mean); G− = 50 µS everywhere.
        var fractions = new[] { 1.0, 0.5, 0.1 };
        var w = torch.ones(ns, nt);
        w[.., TensorIndex.Slice(100, 150)] = torch.tensor(0.5f);
        w[.., TensorIndex.Slice(150, 200)] = torch.tensor(0.1f);
        using var dev = MemristivePresets.ShipRram(t);
        var ctx = Stat.Ctx(11);
        dev.Program(w, ctx);
        var g = dev.ReadConductances(ctx).mul(1e6); // µS, the fit's unit
        var cols = new[] { (0, 100), (100, 150), (150, 200) };
        for (int i = 0; i < 3; i++)
        {
            double g0 = fractions[i] * 70 + 50;
            var plus = Stat.D(g[0, .., TensorIndex.Slice(cols[i].Item1, cols[i].Item2)]);
            double mu = Mu(g0, t), sd = mu * Math.Abs(SigmaOverMu(g0, t));
            Stat.MeanConsistent(plus, mu, sd, $"G+ at {g0} µS, t = {t}");
            Stat.SdConsistent(plus, sd, $"G+ at {g0} µS, t = {t}");
        }
        var minus = Stat.D(g[1]);
        double muRef = Mu(50, t), sdRef = muRef * Math.Abs(SigmaOverMu(50, t));
        Stat.MeanConsistent(minus, muRef, sdRef, $"G− at 50 µS, t = {t}");
        Stat.SdConsistent(minus, sdRef, $"G− at 50 µS, t = {t}");

        // Weights w(t)/M = (G+ − G−)/70 for the full-scale column block.
        var wt = Stat.D(dev.Read(ctx)[.., TensorIndex.Slice(0, 100)]);
        double sdW = Math.Sqrt(Math.Pow(Mu(120, t) * SigmaOverMu(120, t), 2) + sdRef * sdRef) / 70;
        Stat.MeanConsistent(wt, (Mu(120, t) - Mu(50, t)) / 70, sdW, $"w(t)/M at t = {t}");
    }

    [Test]
    public void EachDeviceKeepsItsPlaceInTheDistributionAtEveryTime()
    {
        // G(t) = μ(t)·(1 + |σ/μ(t)|·ξ) with ξ fixed per device at programming: ξ recovered from a read at 10 s must
        // predict every other read exactly, which pins both fitted formulas at every conductance.
        var g = new torch.Generator(12);
        var w = torch.rand(new long[] { 30, 40 }, generator: g).sub_(0.5f);
        using var dev = MemristivePresets.ShipRram(10);
        var ctx = Stat.Ctx(13);
        dev.Program(w, ctx);
        var g0 = Stat.D(dev.State.Programmed).Select(v => v * 1e6).ToArray();
        var at10 = Stat.D(dev.ReadConductances(ctx)).Select(v => v * 1e6).ToArray();
        var xi = g0.Select((v, i) => (at10[i] / Mu(v, 10) - 1) / Math.Abs(SigmaOverMu(v, 10))).ToArray();
        Stat.SdConsistent(xi, 1.0, "ξ");
        foreach (var t in new[] { 0.9, 3.0, 60.0, 3800.0, 1e4, 1e6 })
        {
            dev.ElapsedTime = t;
            var gt = Stat.D(dev.ReadConductances(ctx)).Select(v => v * 1e6).ToArray();
            for (int i = 0; i < gt.Length; i++)
                Assert.That(gt[i], Is.EqualTo(Mu(g0[i], t) * (1 + Math.Abs(SigmaOverMu(g0[i], t)) * xi[i])).Within(1e-9 * g0[i]), $"device {i} at t = {t}");
        }
    }

    [Test]
    public void ElapsedTimeCanChangeBetweenReadsOfOneProgramming()
    {
        var w = torch.ones(50, 100);
        using var dev = MemristivePresets.ShipRram();
        var ctx = Stat.Ctx(3);
        dev.Program(w, ctx);
        foreach (var t in new[] { 1.0, 10.0, 1e4 })
        {
            dev.ElapsedTime = t;
            var x = Stat.D(dev.Read(ctx));
            double sd = Math.Sqrt(Math.Pow(Mu(120, t) * SigmaOverMu(120, t), 2) + Math.Pow(Mu(50, t) * SigmaOverMu(50, t), 2)) / 70;
            Stat.MeanConsistent(x, (Mu(120, t) - Mu(50, t)) / 70, sd, $"t = {t}");
        }
    }

    [Test]
    public void ZeroWeightsStayZeroAndSignsAreKept()
    {
        var g = new torch.Generator(5);
        var w = torch.rand(new long[] { 40, 60 }, generator: g).sub_(0.5f);
        w[TensorIndex.Slice(0, 10)] = torch.tensor(0f);
        using var dev = MemristivePresets.ShipRram(1e4);
        var ctx = Stat.Ctx(2);
        dev.Program(w, ctx);
        var r = dev.Read(ctx);
        Assert.That(Stat.D(r[TensorIndex.Slice(0, 10)]).All(v => v == 0.0), "zero weights read exactly 0");
        var nz = Stat.D(r[TensorIndex.Slice(10, 40)]);
        Assert.That(nz.Count(v => v != 0.0), Is.EqualTo(nz.Length), "non-zero weights stay non-zero");
        // With a sign bit, the read weight is sign(w)·(G+ − G−)/70·M; check against the conductances read now.
        var gc = dev.ReadConductances(ctx);
        double m = w.abs().max().item<float>();
        var expected = Stat.D((gc[0] - gc[1]).div(70e-6).mul(m).mul(w.sign().to_type(ScalarType.Float64)));
        var actual = Stat.D(r);
        for (int i = 0; i < actual.Length; i++) Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-5 * m));
    }

    [Test]
    public void NoDriftUpToTheValidityLimit()
    {
        var w = torch.linspace(-1, 1, 201).reshape(3, 67);
        var ctx = Stat.Ctx(4);
        using var dev = MemristivePresets.ShipRram(0.83);
        dev.Program(w, ctx);
        var expected = Stat.D(w);
        foreach (var t in new[] { 0.0, 0.5, 0.83 })
        {
            dev.ElapsedTime = t;
            var r = Stat.D(dev.Read(ctx));
            for (int i = 0; i < r.Length; i++) Assert.That(r[i], Is.EqualTo(expected[i]).Within(1e-6), $"t = {t}");
        }
        dev.ElapsedTime = 0.84;
        var after = Stat.D(dev.Read(ctx));
        Assert.That(after.Zip(expected).Count(p => Math.Abs(p.First - p.Second) > 1e-3), Is.GreaterThan(100), "drift starts after 0.83 s");
    }

    [Test]
    public void PublicFitFunctionsTakeSiemensAndMatchTheMicrosiemensFit()
    {
        var g0 = torch.tensor(new[] { 50e-6, 57e-6, 64e-6, 65e-6, 85e-6, 120e-6 }, ScalarType.Float64);
        foreach (var t in new[] { 1.0, 10.0, 1e4 })
        {
            var mean = Stat.D(RramDrift.Mean(g0, t));
            var spread = Stat.D(RramDrift.RelativeSpread(g0, t));
            var g = Stat.D(g0);
            for (int i = 0; i < g.Length; i++)
            {
                Assert.That(mean[i], Is.EqualTo(Mu(g[i] * 1e6, t) * 1e-6).Within(1e-15), $"μ(t) in S at {g[i]} S, t = {t}");
                Assert.That(spread[i], Is.EqualTo(SigmaOverMu(g[i] * 1e6, t)).Within(1e-12), $"σ/μ at {g[i]} S, t = {t}");
            }
        }
        // The DRIFT.md check value through the siemens API: (μ(120 µS) − μ(50 µS))/70 µS at 10⁴ s.
        var ends = Stat.D(RramDrift.Mean(torch.tensor(new[] { 120e-6, 50e-6 }, ScalarType.Float64), 1e4));
        Assert.That((ends[0] - ends[1]) / 70e-6, Is.EqualTo(1.1531).Within(5e-5));
    }

    [TestCase(-1.0)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    public void BadElapsedTimeIsATypedError(double t)
    {
        var dev = MemristivePresets.ShipRram();
        var e = Assert.Throws<ParameterException>(() => dev.ElapsedTime = t)!;
        Assert.That(e.Parameter, Is.EqualTo("ElapsedTime"));
        Assert.That(e.Message, Does.Contain(">= 0 s"));
    }
}
