using NUnit.Framework;
using Ship.Core.Clocks;
using static Ship.Tests.Devices.Wrappers.WrapperReference;

namespace Ship.Tests.Devices.Wrappers;

public class WinnerTakeAllTests
{
    [Test]
    public void ASpikeHoldsTheWholeRowForTheNextStep()
    {
        // Neuron 0 gets 0.6 per step, neuron 1 gets 0.45, thr = 1, τ = ∞ in effect (τ = 1e6 s): neuron 0 reaches 1.2 at
        // step 1 and fires; step 2 holds both at 0 (neuron 1 loses its 0.9), so the pattern repeats every 3 steps and
        // neuron 1 never fires. Without winner-take-all neuron 1 would fire at step 2.
        var x = new double[1, 12, 2];
        for (int t = 0; t < 12; t++) { x[0, t, 0] = 0.6; x[0, t, 1] = 0.45; }
        var (net, _) = Build(2, 1, 1e6, 1.0, new Layer[] { new Layer.Wta() }, dtype: TorchSharp.torch.ScalarType.Float32);
        var s = FromTensor(net.Run(ToTensor(x), Schedule.Fixed(1e-3, 12))["L"]);
        Assert.That(SpikeSteps(s, 0, 0), Is.EqualTo(new[] { 1, 4, 7, 10 }));
        Assert.That(SpikeSteps(s, 0, 1), Is.Empty);

        var (plain, _) = Build(2, 1, 1e6, 1.0, Array.Empty<Layer>());
        var p = FromTensor(plain.Run(ToTensor(x), Schedule.Fixed(1e-3, 12))["L"]);
        Assert.That(SpikeSteps(p, 0, 1), Does.Contain(2), "sanity: without the wrapper neuron 1 fires");
    }

    [Test]
    public void BatchRowsAreIndependent()
    {
        // Row 0 fires a lot, row 1 gets weak input: row 1's spikes must equal those of row 1 run on its own.
        var x = RandomInput(2, 60, 5, seed: 3, hi: 0.5);
        for (int t = 0; t < 60; t++) for (int n = 0; n < 5; n++) x[0, t, n] += 0.6;
        var layers = new Layer[] { new Layer.Wta() };
        var (net, _) = Build(5, 2, 20e-3, 1.0, layers);
        var both = FromTensor(net.Run(ToTensor(x), Schedule.Fixed(1e-3, 60))["L"]);

        var row1 = new double[1, 60, 5];
        for (int t = 0; t < 60; t++) for (int n = 0; n < 5; n++) row1[0, t, n] = x[1, t, n];
        var (single, _) = Build(5, 1, 20e-3, 1.0, layers);
        var alone = FromTensor(single.Run(ToTensor(row1), Schedule.Fixed(1e-3, 60))["L"]);
        for (int t = 0; t < 60; t++) for (int n = 0; n < 5; n++) Assert.That(both[1, t, n], Is.EqualTo(alone[0, t, n]), $"step {t}, neuron {n}");
        Assert.That(SpikeSteps(both, 0, 0).Count + SpikeSteps(both, 1, 0).Count, Is.GreaterThan(3));
    }

    [Test]
    public void RandomInputUnderVariableDtMatchesTheReference()
    {
        var schedule = new[] { (1e-3, 30), (0.5e-3, 40) };
        var x = RandomInput(3, 70, 6, seed: 21, hi: 0.7);
        var layers = new Layer[] { new Layer.Wta() };
        var (net, _) = Build(6, 3, 8e-3, 1.0, layers);
        var actual = FromTensor(net.Run(ToTensor(x), ToSchedule(schedule))["L"]);
        var expected = Simulate(x, schedule, 8e-3, 1.0, layers);
        Assert.That(actual, Is.EqualTo(expected.Output));
        Assert.That(expected.Output.Cast<double>().Sum(), Is.GreaterThan(20));
    }
}
