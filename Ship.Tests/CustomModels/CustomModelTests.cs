using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.CustomModels;

/// The worked example of docs/custom-models.md behaves as its equation says, standalone and in a network.
public class CustomModelTests
{
    [Test]
    public void StandaloneStepFollowsTheEquation()
    {
        var g = new ExponentialIntegrator(2, tau: 5e-3);
        g.Bind(new SimulationContext(batchSize: 1, dtype: ScalarType.Float64));
        g.PrepareTimeStep(1e-3);
        g.ResetState();
        double beta = Math.Exp(-1e-3 / 5e-3), u = 0;
        for (int k = 0; k < 10; k++)
        {
            var y = g.Step(torch.tensor(new double[] { 1.0, 2.0 }).reshape(1, 2));
            u = beta * u + 1.0;
            Assert.That(y[0, 0].item<double>(), Is.EqualTo(u).Within(1e-12));
            Assert.That(y[0, 1].item<double>(), Is.EqualTo(2 * u).Within(1e-12));
        }
    }

    [Test]
    public void WorksInANetworkWithVariableDt()
    {
        var net = new Network { DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(1));
        net.Add("S", new Identity(), "I", "E");
        net.Add("E", new ExponentialIntegrator(1, tau: 4e-3));
        net.MarkOutput("E");
        var schedule = new Schedule((1e-3, 5), (2e-3, 5));
        var y = net.Run(torch.ones(1, 10, 1, dtype: ScalarType.Float64), schedule)["E"].data<double>().ToArray();
        double u = 0;
        for (int k = 0; k < 10; k++)
        {
            u = Math.Exp(-(k < 5 ? 1e-3 : 2e-3) / 4e-3) * u + 1;
            Assert.That(y[k], Is.EqualTo(u).Within(1e-12), $"step {k}");
        }
    }
}
