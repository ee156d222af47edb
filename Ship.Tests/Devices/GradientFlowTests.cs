using NUnit.Framework;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Devices.DeviceTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Devices;

public class GradientFlowTests
{
    private static WeightedSynapse Make(string model, Tensor w) => model switch
    {
        "FirstOrder" => new FirstOrder(w),
        "SecondOrder" => new SecondOrder(w),
        "FirstOrderPerTarget" => new FirstOrderPerTarget(w),
        _ => new Dense(w),
    };

    [TestCase("FirstOrder", "S")]
    [TestCase("SecondOrder", "S")]
    [TestCase("FirstOrderPerTarget", "S")]
    [TestCase("Dense", "L")] // the leaky integrator's output, fed through a dense synapse
    public void LossOnOutputHasAGradientWithRespectToW(string model, string output)
    {
        const int steps = 40;
        var syn = Make(model, torch.tensor(new[] { 0.5, -0.3, 0.8, 0.2, 0.1, 0.4 }).reshape(3, 2));
        var net = new Network { Dt = 1e-3, Steps = steps, BatchSize = 2, TrackGradients = true, StepsPerDisposeScope = 16 };
        net.Add("I", new TensorInput(3));
        net.Add("S", syn, "I", "L");
        net.Add("L", new LeakyIntegrator(2, 5e-3));
        net.MarkOutput(output);
        net.Initialize();
        syn.W.Value.requires_grad_(true);
        var x = torch.rand(new long[] { 2, steps, 3 }, generator: new torch.Generator(5)).lt(0.3).to_type(ScalarType.Float32);

        var y = net.Run(x).Single;
        // A weighted loss, so that each weight's gradient is a distinct non-zero number.
        var loss = y.mul(torch.linspace(0.5, 1.5, steps).reshape(1, steps, 1)).sum();
        loss.backward();

        var grad = syn.W.Value.grad;
        Assert.That(grad, Is.Not.Null, $"{model}: W has a gradient");
        var g = D(grad!);
        Assert.That(g.All(double.IsFinite), "finite gradient");
        Assert.That(g.Count(v => v != 0), Is.EqualTo(6), $"{model}: every weight influences the loss");
    }
}
