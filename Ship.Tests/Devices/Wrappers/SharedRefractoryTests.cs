using NUnit.Framework;
using Ship.Core.Clocks;
using static Ship.Tests.Devices.Wrappers.WrapperReference;

namespace Ship.Tests.Devices.Wrappers;

public class SharedRefractoryTests
{
    [Test]
    public void TheGroupFiresAndThenRestsForTheSharedPeriod()
    {
        // SHIP's WinnerTakeAllRefractory zeroes every gate whenever any gate is open, i.e. after every step but the
        // spiking ones: simulated here with a drive that needs two steps to reach threshold, no neuron ever fires.
        static int ShipRuleSpikes(double[] drive, int steps)
        {
            var u = new double[drive.Length];
            var integ = Enumerable.Repeat(true, drive.Length).ToArray();
            int count = 0;
            for (int t = 0; t < steps; t++)
            {
                for (int n = 0; n < u.Length; n++)
                {
                    u[n] = integ[n] ? u[n] + drive[n] : 0;
                    bool s = u[n] >= 1;
                    if (s) count++;
                    integ[n] = !s;
                }
                if (integ.Any(v => v)) Array.Fill(integ, false);
            }
            return count;
        }
        Assert.That(ShipRuleSpikes(new[] { 0.6, 0.6, 0.6 }, 50), Is.Zero);

        // Ours: constant drive 2 to neuron 0 and 0.3 to the others (τ very long); t_ref = 3 ms at dt = 1 ms. Neuron 0 fires
        // at step 0, the row is blocked for steps ending ≤ 4 ms (steps 1–3), it fires at step 4, 8, … and the others, reset
        // with it, never accumulate the 1.0 they would need (0.3 per step, three steps at most).
        var x = new double[1, 20, 3];
        for (int t = 0; t < 20; t++) { x[0, t, 0] = 2; x[0, t, 1] = 0.3; x[0, t, 2] = 0.3; }
        var (net, _) = Build(3, 1, 1e6, 1.0, new Layer[] { new Layer.Shared(3e-3) }, dtype: TorchSharp.torch.ScalarType.Float32);
        var s = FromTensor(net.Run(ToTensor(x), Schedule.Fixed(1e-3, 20))["L"]);
        Assert.That(SpikeSteps(s, 0, 0), Is.EqualTo(new[] { 0, 4, 8, 12, 16 }));
        Assert.That(SpikeSteps(s, 0, 1), Is.Empty);
        Assert.That(SpikeSteps(s, 0, 2), Is.Empty);
    }

    [Test]
    public void APeriodUpToDtIsPlainWinnerTakeAll()
    {
        var x = RandomInput(2, 80, 5, seed: 8, hi: 0.8);
        var (wta, _) = Build(5, 2, 10e-3, 1.0, new Layer[] { new Layer.Wta() });
        var (shared0, _) = Build(5, 2, 10e-3, 1.0, new Layer[] { new Layer.Shared(0) });
        var (sharedDt, _) = Build(5, 2, 10e-3, 1.0, new Layer[] { new Layer.Shared(1e-3) });
        var a = FromTensor(wta.Run(ToTensor(x), Schedule.Fixed(1e-3, 80))["L"]);
        Assert.That(FromTensor(shared0.Run(ToTensor(x), Schedule.Fixed(1e-3, 80))["L"]), Is.EqualTo(a));
        Assert.That(FromTensor(sharedDt.Run(ToTensor(x), Schedule.Fixed(1e-3, 80))["L"]), Is.EqualTo(a));
        Assert.That(a.Cast<double>().Sum(), Is.GreaterThan(10));
    }

    [Test]
    public void VariableDtMatchesTheReferenceAndRowsStayIndependent()
    {
        var schedule = new[] { (0.5e-3, 40), (1e-3, 30), (0.25e-3, 40) };
        var x = RandomInput(3, 110, 4, seed: 17, hi: 0.9);
        var layers = new Layer[] { new Layer.Shared(2e-3) };
        var (net, _) = Build(4, 3, 6e-3, 1.0, layers);
        var mon = net.Monitor("L", "t_spike_group");
        var actual = FromTensor(net.Run(ToTensor(x), ToSchedule(schedule))["L"]);
        var expected = Simulate(x, schedule, 6e-3, 1.0, layers);
        Assert.That(actual, Is.EqualTo(expected.Output));
        Assert.That(expected.Output.Cast<double>().Sum(), Is.GreaterThan(15));
        Assert.That(mon.Values.shape, Is.EqualTo(new long[] { 3, 110 }), "one last-spike time per batch row");
    }
}
