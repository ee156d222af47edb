using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Devices.Memristive;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

public class DeviceBenchTests
{
    [Test]
    public void BenchReadsWhatTheNetworkPathReadsForTheSameSeed()
    {
        using var w = torch.tensor(new[] { 0.5, -1.0, 0.25, 1.0, 0.0, -0.75 }, new long[] { 2, 3 }, ScalarType.Float64);
        var a = MemristivePresets.PcmLike();
        var b = MemristivePresets.PcmLike();
        using var bench = new DeviceBench(a, seed: 7);
        bench.Program(w).AgeTo(3600);
        var ctx = new SimulationContext(1, seed: 7);
        b.Program(w, ctx);
        b.ElapsedTime = 3600;
        var gBench = Stat.D(bench.Read());
        var gNet = Stat.D(b.ReadConductances(ctx));
        Assert.That(gBench, Is.EqualTo(gNet), "same draws in the same order");
        Assert.That(bench.State.Shape, Is.EqualTo(new long[] { 2, 2, 3 }), "pair of devices per weight");
    }

    [Test]
    public void AgingWithPowerLawDriftFollowsTheLaw()
    {
        // MemTorch drift with a fixed ν: G(t) = G0·(t/t0)^(−ν) for t > t0, exact.
        const double nu = 0.05, t0 = 1;
        var array = new DeviceArray(new DirectMapping(1), PowerLawDrift.MemTorch(nu, t0));
        using var bench = new DeviceBench(array, seed: 1);
        using var w = torch.tensor(new[] { 1e-5, 2e-5 }, ScalarType.Float64);
        bench.Program(w);
        var g0 = Stat.D(bench.Read());
        var g = Stat.D(bench.Age(100).Age(900).Read());
        Assert.That(bench.ElapsedTime, Is.EqualTo(1000));
        for (int i = 0; i < g.Length; i++) Assert.That(g[i], Is.EqualTo(g0[i] * Math.Pow(1000 / t0, -nu)).Within(1e-18));
    }

    [Test]
    public void PulsesOnTheBenchFollowSoftBounds()
    {
        const double dw = 1e-6, gMin = 0, gMax = 1e-4, r = 5e-5;
        var array = new DeviceArray(new DirectMapping(1)).WithPulses(new SoftBoundsPulses(dw, gMin, gMax, reference: r));
        using var bench = new DeviceBench(array, seed: 3);
        using var w = torch.tensor(new[] { 1e-5 }, ScalarType.Float64);
        var trace = Stat.D(bench.Program(w).Pulse(50, PulseDirection.Potentiation));
        double g = 1e-5;
        for (int k = 0; k <= 50; k++)
        {
            Assert.That(trace[k], Is.EqualTo(g).Within(1e-18), $"pulse {k}");
            g += dw * (gMax - g) / (gMax - r);
        }
        Assert.That(Stat.D(bench.Read())[0], Is.EqualTo(trace[50]), "the devices keep the pulsed state");
    }
}
