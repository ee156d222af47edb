using NUnit.Framework;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Devices.DeviceTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Synapses;

public class SecondOrderTests
{
    private static readonly double[] W = { 0.5, -1.0, 2.0, 0.25, 1.5, -0.75 }; // [2, 3]

    [Test]
    public void OneSpikeDeliversWeightTimesScaleTimesTauDifferenceInFloatPrecision()
    {
        const double tau1 = 8e-3, tau2 = 4e-3, dt = 1e-3;
        const int steps = 600;
        var scale = new[] { 1.0, 0.5, 2.0 };
        var net = SynapseNet(new SecondOrder(torch.tensor(W).reshape(2, 3), tau1, tau2, torch.tensor(scale)), 2, 3, 1, dt, steps, ScalarType.Float32);
        var total = D(net.Run(Spikes(1, steps, 2, ScalarType.Float32, (0, 2, 1))).Single.to_type(ScalarType.Float64).sum(1));
        for (int t = 0; t < 3; t++)
            Assert.That(total[t], Is.EqualTo(W[3 + t] * scale[t] * (tau1 - tau2)).Within(1e-4).Percent, $"target {t}");
    }

    [Test]
    public void ResponseIsADifferenceOfExponentials()
    {
        const double tau1 = 6e-3, tau2 = 2e-3;
        foreach (var (dt, steps) in new[] { (1e-3, 150), (0.5e-3, 300) })
        {
            var net = SynapseNet(new SecondOrder(torch.tensor(W).reshape(2, 3), tau1, tau2, 1.5), 2, 3, 1, dt, steps);
            var y = D(net.Run(Spikes(1, steps, 2, ScalarType.Float64, (0, 0, 0))).Single);
            double a1 = Math.Exp(-dt / tau1), a2 = Math.Exp(-dt / tau2);
            double b1 = tau1 * (1 - a1), b2 = tau2 * (1 - a2);
            for (int k = 0; k < steps; k++)
                for (int t = 0; t < 3; t++)
                    Assert.That(At(y, steps, 3, 0, k, t), Is.EqualTo(W[t] * 1.5 * (b1 * Math.Pow(a1, k) - b2 * Math.Pow(a2, k))).Within(1e-14), $"dt {dt}, step {k}, target {t}");
            double total = Enumerable.Range(0, steps).Sum(k => At(y, steps, 3, 0, k, 0));
            Assert.That(total, Is.EqualTo(W[0] * 1.5 * (tau1 - tau2)).Within(1e-9), $"dt {dt}: total w·w_scale·(τ1 − τ2) once both currents have decayed");
        }
    }

    [Test]
    public void TimeConstantsMayVaryPerSourceAndPerTarget()
    {
        const double dt = 1e-3;
        const int steps = 20;
        var tau1 = torch.tensor(new[] { 5e-3, 10e-3 }).reshape(2, 1);
        var tau2 = torch.tensor(new[] { 1e-3, 2e-3, 3e-3 });
        var net = SynapseNet(new SecondOrder(torch.tensor(W).reshape(2, 3), tau1, tau2), 2, 3, 2, dt, steps);
        var y = D(net.Run(Spikes(2, steps, 2, ScalarType.Float64, (0, 0, 0), (1, 0, 1))).Single);
        for (int r = 0; r < 2; r++)
            for (int t = 0; t < 3; t++)
            {
                double t1 = r == 0 ? 5e-3 : 10e-3, t2 = (t + 1) * 1e-3;
                double a1 = Math.Exp(-dt / t1), a2 = Math.Exp(-dt / t2);
                for (int k = 0; k < steps; k++)
                    Assert.That(At(y, steps, 3, r, k, t),
                        Is.EqualTo(W[r * 3 + t] * (t1 * (1 - a1) * Math.Pow(a1, k) - t2 * (1 - a2) * Math.Pow(a2, k))).Within(1e-14), $"source {r}, target {t}, step {k}");
            }
    }
}
