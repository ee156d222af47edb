using NUnit.Framework;
using Ship.Devices.Memristive;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

public class NoiseTests
{
    private static Tensor FullScale(int ns = 100, int nt = 200) => torch.ones(ns, nt);

    [Test]
    public void AbsoluteProgrammingNoiseHasTheGivenSigmaAndReadsDoNotVary()
    {
        using var dev = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), ProgrammingNoise.Absolute(2e-6));
        var ctx = Stat.Ctx(31);
        dev.Program(FullScale(), ctx);
        var g = dev.ReadConductances(ctx);
        var plus = Stat.D(g[0]).Select(v => v - 120e-6).ToArray();
        var minus = Stat.D(g[1]).Select(v => v - 50e-6).ToArray();
        Stat.MeanConsistent(plus, 0, 2e-6, "G+");
        Stat.SdConsistent(plus, 2e-6, "G+");
        Stat.SdConsistent(minus, 2e-6, "G−");
        Assert.That(dev.ReadsVary, Is.False);
        Assert.That(Stat.D(dev.Read(ctx)), Is.EqualTo(Stat.D(dev.Read(ctx))));
    }

    [Test]
    public void RelativeProgrammingNoiseScalesWithConductance()
    {
        using var dev = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), ProgrammingNoise.Relative(0.05));
        var ctx = Stat.Ctx(32);
        dev.Program(FullScale(), ctx);
        var g = dev.ReadConductances(ctx);
        Stat.SdConsistent(Stat.D(g[0]), 0.05 * 120e-6, "G+");
        Stat.SdConsistent(Stat.D(g[1]), 0.05 * 50e-6, "G−");
    }

    [Test]
    public void AihwkitPcmProgrammingNoiseFollowsThePolynomial()
    {
        // Symmetric pair on [0, 25] µS: columns at w = M (x = 1) and w = 0.4 M (x = 0.4).
        var w = FullScale();
        w[.., TensorIndex.Slice(100, 200)] = torch.tensor(0.4f);
        using var dev = new DeviceArray(new SymmetricDifferentialMapping(0, 25e-6), ProgrammingNoise.AihwkitPcm());
        var ctx = Stat.Ctx(33);
        dev.Program(w, ctx);
        var g = dev.ReadConductances(ctx)[0];
        foreach (var (x, a, b) in new[] { (1.0, 0, 100), (0.4, 100, 200) })
        {
            double sigma = (0.26348 + 1.9650 * x - 1.1731 * x * x) * 1e-6 * 25 / 25; // aihwkit's polynomial is in µS
            var s = Stat.D(g[.., TensorIndex.Slice(a, b)]).Select(v => v - 25e-6 * x).ToArray();
            Stat.MeanConsistent(s, 0, sigma, $"x = {x}");
            Stat.SdConsistent(s, sigma, $"x = {x}");
        }
    }

    [Test]
    public void ReadNoiseIsDrawnAtEveryRead()
    {
        using var dev = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), ReadNoise.Relative(0.02));
        var ctx = Stat.Ctx(34);
        dev.Program(FullScale(), ctx);
        Assert.That(dev.ReadsVary, Is.True);
        var a = dev.ReadConductances(ctx);
        var b = dev.ReadConductances(ctx);
        Assert.That(Stat.D(a), Is.Not.EqualTo(Stat.D(b)));
        Stat.SdConsistent(Stat.D(a[0]).Select(v => v - 120e-6).ToArray(), 0.02 * 120e-6, "first read");
        Stat.SdConsistent(Stat.D(b[0]).Select(v => v - 120e-6).ToArray(), 0.02 * 120e-6, "second read");
        Assert.That(Stat.D(dev.State.Programmed[0]).All(v => Math.Abs(v - 120e-6) < 1e-18), "reads leave the programmed state alone");
    }

    [Test]
    public void OneOverFReadNoiseFollowsAihwkitLaw()
    {
        var w = FullScale();
        w[.., TensorIndex.Slice(100, 200)] = torch.tensor(0.2f);
        const double t = 100, tr = 250e-9;
        using var dev = new DeviceArray(new SymmetricDifferentialMapping(0, 25e-6), ReadNoise.OneOverF()) { ElapsedTime = t };
        var ctx = Stat.Ctx(35);
        dev.Program(w, ctx);
        var g = dev.ReadConductances(ctx)[0];
        foreach (var (x, a, b) in new[] { (1.0, 0, 100), (0.2, 100, 200) })
        {
            double qs = Math.Min(0.0088 / Math.Pow(x, 0.65), 0.2);
            double sigma = 25e-6 * x * qs * Math.Sqrt(Math.Log((t + tr) / (2 * tr)));
            var s = Stat.D(g[.., TensorIndex.Slice(a, b)]).Select(v => v - 25e-6 * x).ToArray();
            Stat.SdConsistent(s, sigma, $"x = {x}");
        }
        dev.ElapsedTime = 0; // ln((0 + tr)/(2 tr)) < 0: no accumulated noise yet
        Assert.That(Stat.D(dev.ReadConductances(ctx)), Is.EqualTo(Stat.D(dev.State.Programmed)));
    }

    [Test]
    public void RangeVariabilityGivesEachDeviceItsOwnWindow()
    {
        // Full-scale G+ lands at its own Gmax_d = (120 + 0.05·70·ξ) µS; the reference (Gmin) at (50 + 0.02·70·ξ) µS.
        using var dev = new DeviceArray(new DifferentialReferenceMapping(50e-6, 120e-6), new RangeVariability(0.02, 0.05));
        var ctx = Stat.Ctx(36);
        dev.Program(FullScale(), ctx);
        var g = dev.ReadConductances(ctx);
        Stat.MeanConsistent(Stat.D(g[0]), 120e-6, 3.5e-6, "Gmax_d");
        Stat.SdConsistent(Stat.D(g[0]), 3.5e-6, "Gmax_d");
        Stat.SdConsistent(Stat.D(g[1]), 1.4e-6, "Gmin_d");
        // A weight at a fraction x of full scale lands at Gmin_d + x·(Gmax_d − Gmin_d) of the device's own window.
        var gmaxD = Stat.D(g[0]);
        var zeros = torch.zeros(100, 200);
        zeros[0, 0] = torch.tensor(1f);
        dev.Program(zeros, ctx);
        var gminD = Stat.D(dev.State.Programmed[0]);
        var part = torch.full(100, 200, 0.3f);
        part[0, 0] = torch.tensor(1f);
        dev.Program(part, ctx);
        var gp = Stat.D(dev.State.Programmed[0]);
        for (int i = 1; i < gp.Length; i++)
            Assert.That(gp[i], Is.EqualTo(gminD[i] + 0.3 * (gmaxD[i] - gminD[i])).Within(1e-11));
    }
}
