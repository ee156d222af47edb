using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Devices.Memristive;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

public class PowerLawDriftTests
{
    [Test]
    public void MemTorchFormIsG0TimesTOverT0ToTheMinusNu()
    {
        var g = new torch.Generator(9);
        var w = torch.rand(new long[] { 20, 30 }, generator: g).sub_(0.5f);
        using var dev = new DeviceArray(new SymmetricDifferentialMapping(1e-6, 100e-6), PowerLawDrift.MemTorch());
        var ctx = Stat.Ctx();
        dev.Program(w, ctx);
        var g0 = Stat.D(dev.State.Programmed);
        foreach (var t in new[] { 1.0, 3600.0, 1e7 })
        {
            dev.ElapsedTime = t;
            var gt = Stat.D(dev.ReadConductances(ctx));
            double f = Math.Pow(t / 1e-12, -0.1);
            for (int i = 0; i < gt.Length; i++) Assert.That(gt[i], Is.EqualTo(g0[i] * f).Within(1e-12 * g0[i]));
        }
        dev.ElapsedTime = 0; // t ≤ t0: no drift
        Assert.That(Stat.D(dev.ReadConductances(ctx)), Is.EqualTo(g0));
    }

    [Test]
    public void AihwkitExponentsFollowTheFittedFoldedNormalAndTheOffsetClock()
    {
        // Symmetric pair on [0, 25] µS: columns at w = M (G+ = 25 µS, x = 1) and w = 0.05 M (G+ = 1.25 µS, x = 0.05).
        const int ns = 100, nt = 200;
        var w = torch.ones(ns, nt);
        w[.., TensorIndex.Slice(100, 200)] = torch.tensor(0.05f);
        const double t = 3600, t0 = 20;
        using var dev = new DeviceArray(new SymmetricDifferentialMapping(0, 25e-6), PowerLawDrift.Aihwkit()) { ElapsedTime = t };
        var ctx = Stat.Ctx(21);
        dev.Program(w, ctx);
        var g0 = dev.State.Programmed[0];
        var gt = dev.ReadConductances(ctx)[0];
        var nu = (gt / g0).log_().div_(-Math.Log((t + t0) / t0));
        foreach (var (x, cols) in new[] { (1.0, (0, 100)), (0.05, (100, 200)) })
        {
            double lnx = Math.Log(x);
            double mu = Math.Clamp(-0.0155 * lnx + 0.0244, 0.049, 0.1), sigma = Math.Clamp(-0.0125 * lnx - 0.0059, 0.008, 0.045);
            var (fm, fv) = Stat.FoldedNormal(mu, sigma);
            var sample = Stat.D(nu[.., TensorIndex.Slice(cols.Item1, cols.Item2)]);
            Assert.That(sample.All(v => v >= 0), "ν = |N(μ, σ)| is never negative");
            Stat.MeanConsistent(sample, fm, Math.Sqrt(fv), $"ν at x = {x}");
            Stat.SdConsistent(sample, Math.Sqrt(fv), $"ν at x = {x}");
        }
        dev.ElapsedTime = 0;
        Assert.That(Stat.D(dev.ReadConductances(ctx)), Is.EqualTo(Stat.D(dev.State.Programmed)), "no drift at t = 0 on aihwkit's clock");
    }

    [Test]
    public void BadParametersAreTypedErrors()
    {
        Assert.That(Assert.Throws<ParameterException>(() => new PowerLawDrift(0, PowerLawClock.FromZero, 0.1))!.Parameter, Is.EqualTo("t0"));
        Assert.That(Assert.Throws<ParameterException>(() => new PowerLawDrift(1, PowerLawClock.FromZero, -0.1))!.Parameter, Is.EqualTo("nu"));
    }
}
