using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Devices.DeviceTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Synapses;

public class WeightDeviceTests
{
    /// <summary>A device whose read differs per batch row: row b reads (b + 1)·W, as [batch, Ns, Nt].</summary>
    private sealed class PerRowDevice : IWeightDevice
    {
        private Tensor? _w;
        public void Program(Tensor weights, SimulationContext ctx) => _w = weights.detach().clone();
        public Tensor Read(SimulationContext ctx) =>
            torch.arange(1, ctx.BatchSize + 1, dtype: ctx.DType).reshape(ctx.BatchSize, 1, 1).mul(_w!);
        public bool ReadsVary => false;
    }

    /// <summary>A noisy device that counts its reads (each read of a real noisy array draws fresh noise).</summary>
    private sealed class CountingDevice : IWeightDevice
    {
        private Tensor? _w;
        public int Reads { get; private set; }
        public void Program(Tensor weights, SimulationContext ctx) => _w = weights.detach().clone();
        public Tensor Read(SimulationContext ctx) { Reads++; return _w!.clone(); }
        public bool ReadsVary => true;
    }

    [TestCase("Dense")]
    [TestCase("FirstOrder")]
    [TestCase("SecondOrder")]
    [TestCase("FirstOrderPerTarget")]
    public void ADeviceWhoseReadsVaryIsReadOncePerStep(string model)
    {
        // A second read in a step would draw read noise that nothing uses and shift every later draw.
        const int steps = 7;
        var w = torch.tensor(new[] { 0.5, -1.0, 2.0, 0.25, 1.5, -0.75 }).reshape(2, 3);
        WeightedSynapse syn = model switch
        {
            "Dense" => new Dense(w),
            "FirstOrder" => new FirstOrder(w, 4e-3),
            "SecondOrder" => new SecondOrder(w, 4e-3, 1e-3),
            _ => new FirstOrderPerTarget(w, 4e-3),
        };
        var device = new CountingDevice();
        syn.WithDevice(device);
        var net = SynapseNet(syn, 2, 3, 1, 1e-3, steps);
        net.Run(Spikes(1, steps, 2, ScalarType.Float64, (0, 0, 1), (0, 3, 0)));
        Assert.That(device.Reads, Is.EqualTo(steps), $"{model}: one read per step");
    }

    [TestCase("FirstOrder")]
    [TestCase("SecondOrder")]
    [TestCase("FirstOrderPerTarget")]
    public void BatchedDeviceReadsAreUsed(string model)
    {
        const double dt = 1e-3, tau = 4e-3, tau2 = 1e-3;
        const int steps = 300;
        var w = torch.tensor(new[] { 0.5, -1.0, 2.0, 0.25, 1.5, -0.75 }).reshape(2, 3);
        WeightedSynapse syn = model switch
        {
            "FirstOrder" => new FirstOrder(w, tau),
            "SecondOrder" => new SecondOrder(w, tau, tau2),
            _ => new FirstOrderPerTarget(w, tau),
        };
        syn.WithDevice(new PerRowDevice());
        var net = SynapseNet(syn, 2, 3, 2, dt, steps);
        var total = D(net.Run(Spikes(2, steps, 2, ScalarType.Float64, (0, 0, 1), (1, 0, 1))).Single.sum(1));
        double alpha = Math.Exp(-dt / tau);
        // Charge of one spike: w·τ (first order), w·(τ1 − τ2) (second order), w/(1 − α) for the per-target current summed over steps.
        double perUnit = model switch { "FirstOrder" => tau, "SecondOrder" => tau - tau2, _ => 1 / (1 - alpha) };
        double[] W = D(w);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 3; t++)
                Assert.That(total[b * 3 + t], Is.EqualTo((b + 1) * W[3 + t] * perUnit).Within(1e-9), $"{model}: row {b}, target {t}");
    }
}
