using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Devices.DeviceTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Synapses;

public class FirstOrderTests
{
    private static readonly double[] W = { 0.5, -1.0, 2.0, 0.25, 1.5, -0.75 }; // [2, 3]
    private static readonly double[] Scale = { 1.0, 0.5, 2.0 };              // per target

    [Test]
    public void OneSpikeDeliversWeightTimesScaleTimesTauInFloatPrecision()
    {
        const double tau = 8e-3, dt = 1e-3;
        const int steps = 600;
        var net = SynapseNet(new FirstOrder(torch.tensor(W).reshape(2, 3), tau, torch.tensor(Scale)), 2, 3, 2, dt, steps, ScalarType.Float32);
        // Row 0: one spike of source 0; row 1: one spike of source 1 and, later, one of source 0.
        var x = Spikes(2, steps, 2, ScalarType.Float32, (0, 0, 0), (1, 5, 1), (1, 40, 0));
        var total = D(net.Run(x).Single.to_type(ScalarType.Float64).sum(1));
        for (int t = 0; t < 3; t++)
        {
            Assert.That(total[t], Is.EqualTo(W[t] * Scale[t] * tau).Within(1e-4).Percent, $"row 0, target {t}");
            Assert.That(total[3 + t], Is.EqualTo((W[t] + W[3 + t]) * Scale[t] * tau).Within(1e-4).Percent, $"row 1, target {t}");
        }
    }

    [Test]
    public void ResponseToOneSpikeFollowsClosedForm()
    {
        const double tau = 5e-3, dt = 1e-3;
        const int steps = 30;
        var net = SynapseNet(new FirstOrder(torch.tensor(W).reshape(2, 3), tau, 0.5), 2, 3, 1, dt, steps);
        var mon = net.Monitor("S", "I");
        var y = D(net.Run(Spikes(1, steps, 2, ScalarType.Float64, (0, 3, 1))).Single);
        var current = D(mon.Values); // [1, steps, 2, 3]
        double a = Math.Exp(-dt / tau), b = tau * (1 - a);
        for (int k = 0; k < steps; k++)
            for (int t = 0; t < 3; t++)
            {
                double i = k < 3 ? 0 : W[3 + t] * 0.5 * Math.Pow(a, k - 3);
                Assert.That(current[k * 6 + 3 + t], Is.EqualTo(i).Within(1e-12), $"I[source 1], step {k}, target {t}");
                Assert.That(current[k * 6 + t], Is.EqualTo(0.0), "source 0 never spiked");
                Assert.That(At(y, steps, 3, 0, k, t), Is.EqualTo(b * i).Within(1e-14), $"output, step {k}, target {t}");
            }
    }

    [TestCase("scalar")]
    [TestCase("per source [Ns, 1]")]
    [TestCase("per target [Nt]")]
    [TestCase("per connection [Ns, Nt]")]
    public void TimeConstantsMayVaryPerConnection(string shape)
    {
        const double dt = 1e-3;
        const int steps = 25;
        double[,] full = new double[2, 3];
        Tensor tau;
        switch (shape)
        {
            case "scalar":
                tau = torch.tensor(5e-3, dtype: ScalarType.Float64);
                for (int s = 0; s < 2; s++) for (int t = 0; t < 3; t++) full[s, t] = 5e-3;
                break;
            case "per source [Ns, 1]":
                tau = torch.tensor(new[] { 4e-3, 9e-3 }).reshape(2, 1);
                for (int s = 0; s < 2; s++) for (int t = 0; t < 3; t++) full[s, t] = s == 0 ? 4e-3 : 9e-3;
                break;
            case "per target [Nt]":
                tau = torch.tensor(new[] { 3e-3, 6e-3, 12e-3 });
                for (int s = 0; s < 2; s++) for (int t = 0; t < 3; t++) full[s, t] = new[] { 3e-3, 6e-3, 12e-3 }[t];
                break;
            default:
                var v = new[] { 2e-3, 3e-3, 4e-3, 5e-3, 6e-3, 7e-3 };
                tau = torch.tensor(v).reshape(2, 3);
                for (int s = 0; s < 2; s++) for (int t = 0; t < 3; t++) full[s, t] = v[s * 3 + t];
                break;
        }
        var net = SynapseNet(new FirstOrder(torch.tensor(W).reshape(2, 3), tau), 2, 3, 2, dt, steps);
        // Row r: only source r spikes, at step 0, so target t sees the connection (r, t) alone.
        var y = D(net.Run(Spikes(2, steps, 2, ScalarType.Float64, (0, 0, 0), (1, 0, 1))).Single);
        for (int r = 0; r < 2; r++)
            for (int t = 0; t < 3; t++)
            {
                double a = Math.Exp(-dt / full[r, t]), b = full[r, t] * (1 - a);
                for (int k = 0; k < steps; k++)
                    Assert.That(At(y, steps, 3, r, k, t), Is.EqualTo(b * W[r * 3 + t] * Math.Pow(a, k)).Within(1e-13), $"{shape}: source {r}, target {t}, step {k}");
            }
    }

    [Test]
    public void DecayFollowsDtAndTotalChargeDoesNot()
    {
        const double tau = 4e-3;
        foreach (var (dt, steps) in new[] { (1e-3, 200), (0.5e-3, 400) })
        {
            var net = SynapseNet(new FirstOrder(torch.tensor(new[] { 1.5 }).reshape(1, 1), tau, 2.0), 1, 1, 1, dt, steps);
            var y = D(net.Run(Spikes(1, steps, 1, ScalarType.Float64, (0, 0, 0))).Single);
            for (int k = 1; k < 20; k++)
                Assert.That(y[k] / y[k - 1], Is.EqualTo(Math.Exp(-dt / tau)).Within(1e-12), $"dt {dt}: decay per step");
            Assert.That(y[0], Is.EqualTo(3.0 * tau * (1 - Math.Exp(-dt / tau))).Within(1e-14), $"dt {dt}: charge of the first step");
            Assert.That(y.Sum(), Is.EqualTo(3.0 * tau).Within(1e-10), $"dt {dt}: total charge w·w_scale·τ");
        }
    }

    [Test]
    public void TimeConstantOfAWrongShapeNamesGroupAndParameter()
    {
        var net = SynapseNet(new FirstOrder(torch.tensor(W).reshape(2, 3), torch.ones(4).mul(1e-3)), 2, 3, 1, 1e-3, 5);
        var ex = Assert.Throws<ParameterException>(() => net.Run(torch.zeros(1, 5, 2, dtype: ScalarType.Float64)));
        Assert.That((ex!.Group, ex.Parameter), Is.EqualTo(("S", "tau")));
        Assert.That(ex.Message, Does.Contain("[2, 3]"));
    }
}
