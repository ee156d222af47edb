using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Devices.DeviceTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Synapses;

public class FirstOrderPerTargetTests
{
    private static readonly double[] W = { 0.5, -1.0, 2.0, 0.25, 1.5, -0.75 }; // [2, 3]

    [Test]
    public void ImpulseResponseIsWeightTimesScaleTimesAlphaToTheK()
    {
        const double dt = 1e-3;
        const int steps = 30;
        double[] tau = { 2e-3, 5e-3, 8e-3 }, scale = { 1.0, -0.5, 3.0 };
        var net = SynapseNet(new FirstOrderPerTarget(torch.tensor(W).reshape(2, 3), torch.tensor(tau), torch.tensor(scale)), 2, 3, 2, dt, steps);
        var mon = net.Monitor("S", "I");
        // Row 0: source 1 spikes at step 2. Row 1: both sources spike at step 0 (their weighted sum is filtered).
        var y = D(net.Run(Spikes(2, steps, 2, ScalarType.Float64, (0, 2, 1), (1, 0, 0), (1, 0, 1))).Single);
        var current = D(mon.Values);
        for (int t = 0; t < 3; t++)
        {
            double alpha = Math.Exp(-dt / tau[t]);
            for (int k = 0; k < steps; k++)
            {
                double row0 = k < 2 ? 0 : W[3 + t] * scale[t] * Math.Pow(alpha, k - 2);
                double row1 = (W[t] + W[3 + t]) * scale[t] * Math.Pow(alpha, k);
                Assert.That(At(y, steps, 3, 0, k, t), Is.EqualTo(row0).Within(1e-12), $"row 0, target {t}, step {k}");
                Assert.That(At(y, steps, 3, 1, k, t), Is.EqualTo(row1).Within(1e-12), $"row 1, target {t}, step {k}");
                Assert.That(At(current, steps, 3, 1, k, t), Is.EqualTo(row1).Within(1e-12), "the output is the state I");
            }
        }
    }

    [Test]
    public void DecayFollowsDt()
    {
        const double tau = 3e-3;
        foreach (var (dt, steps) in new[] { (1e-3, 12), (0.5e-3, 24) })
        {
            var net = SynapseNet(new FirstOrderPerTarget(torch.tensor(new[] { 2.0 }).reshape(1, 1), tau), 1, 1, 1, dt, steps);
            var y = D(net.Run(Spikes(1, steps, 1, ScalarType.Float64, (0, 0, 0))).Single);
            Assert.That(y[0], Is.EqualTo(2.0).Within(1e-12), $"dt {dt}: jump by w·w_scale");
            for (int k = 1; k < steps; k++)
                Assert.That(y[k] / y[k - 1], Is.EqualTo(Math.Exp(-dt / tau)).Within(1e-12), $"dt {dt}, step {k}: α = exp(−dt/τ)");
            Assert.That(y[steps - 1], Is.EqualTo(2.0 * Math.Exp(-(steps - 1) * dt / tau)).Within(1e-12), $"dt {dt}: same decay in time");
        }
    }

    [Test]
    public void PerConnectionTimeConstantIsRejected()
    {
        var net = SynapseNet(new FirstOrderPerTarget(torch.tensor(W).reshape(2, 3), torch.ones(2, 3).mul(1e-3)), 2, 3, 1, 1e-3, 5);
        var ex = Assert.Throws<ParameterException>(() => net.Run(torch.zeros(1, 5, 2, dtype: ScalarType.Float64)));
        Assert.That((ex!.Group, ex.Parameter), Is.EqualTo(("S", "tau")));
    }
}
