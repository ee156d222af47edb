using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using TorchSharp;
using static TorchSharp.torch;
using static Ship.Tests.Devices.Wrappers.WrapperReference;

namespace Ship.Tests.Devices.Wrappers;

public class RefractoryTests
{
    // With a constant input of 2 and threshold 1 the neuron fires on every step it integrates, so the spike train
    // shows the blocked steps directly: after a spike, m = max(1, ⌊t_ref/dt⌉) steps are blocked (1 = Lif's own reset),
    // hence one spike every m + 1 steps starting at step 0.
    [TestCase(1e-3, 0.0, 1)]
    [TestCase(1e-3, 0.5e-3, 1)]
    [TestCase(1e-3, 1e-3, 1)]
    [TestCase(1e-3, 2e-3, 2)]
    [TestCase(1e-3, 2.5e-3, 2)]
    [TestCase(1e-4, 3e-4, 3)]
    [TestCase(1e-4, 2.5e-3, 25)]
    [TestCase(1e-3, 34e-3, 34)]
    public void FixedDtBlocksExactlyTheStepsEndingWithinThePeriod(double dt, double period, int blocked)
    {
        const int steps = 400;
        var (net, _) = Build(1, 1, 10e-3, 1.0, new Layer[] { new Layer.Refr(period) });
        var spikes = FromTensor(net.Run(ToTensor(Constant(1, steps, 1, 2.0)), ReferenceSchedule(dt, steps))["L"]);

        var expected = Enumerable.Range(0, steps).Where(t => t % (blocked + 1) == 0).ToList();
        Assert.That(SpikeSteps(spikes, 0, 0), Is.EqualTo(expected));
    }

    private static Ship.Core.Clocks.Schedule ReferenceSchedule(double dt, int steps) => Ship.Core.Clocks.Schedule.Fixed(dt, steps);

    [Test]
    public void AFloatCountdownLikeShipsIsOffByOneWhereAbsoluteTimesAreExact()
    {
        // SHIP sets a float32 timer to t_ref on a spike, keeps the neuron out while timer > 0 and subtracts dt each step.
        static int CountdownBlocked(float period, float dt)
        {
            float timer = period;
            int n = 0;
            while (!(timer <= 0)) { n++; timer -= dt; }
            return n;
        }
        const double dt = 1e-4, period = 3e-4; // 3 steps
        Assert.That(CountdownBlocked((float)period, (float)dt), Is.EqualTo(4), "the countdown blocks one step too many here");

        var (net, _) = Build(1, 1, 10e-3, 1.0, new Layer[] { new Layer.Refr(period) });
        var spikes = FromTensor(net.Run(ToTensor(Constant(1, 40, 1, 2.0)), Ship.Core.Clocks.Schedule.Fixed(dt, 40))["L"]);
        Assert.That(SpikeSteps(spikes, 0, 0), Is.EqualTo(new[] { 0, 4, 8, 12, 16, 20, 24, 28, 32, 36 }));
    }

    [Test]
    public void AcrossADtChangeTheRuleUsesAbsoluteTimes()
    {
        // dt = 1 ms for 10 steps, then 0.5 ms for 20; t_ref = 2 ms. Spike at the end of step 0 (t = 1 ms) blocks steps
        // ending at ≤ 3 ms (steps 1, 2), next spike step 3 (4 ms), then 6 (7 ms), 9 (10 ms). Then steps of 0.5 ms end at
        // 10.5, 11, 11.5, 12 (blocked), 12.5 → spike step 14; blocked to 14.5 ms → spike step 19 (15 ms), 24, 29.
        var schedule = new[] { (1e-3, 10), (0.5e-3, 20) };
        var (net, _) = Build(1, 1, 10e-3, 1.0, new Layer[] { new Layer.Refr(2e-3) }, dtype: ScalarType.Float32);
        var spikes = FromTensor(net.Run(ToTensor(Constant(1, 30, 1, 2.0)), ToSchedule(schedule))["L"]);
        Assert.That(SpikeSteps(spikes, 0, 0), Is.EqualTo(new[] { 0, 3, 6, 9, 14, 19, 24, 29 }));
    }

    [Test]
    public void ThreeSegmentScheduleWithRandomInputMatchesTheReference()
    {
        var schedule = new[] { (0.5e-3, 37), (1e-3, 25), (0.25e-3, 60) };
        int steps = schedule.Sum(s => s.Item2);
        var x = RandomInput(3, steps, 4, seed: 11, lo: 0, hi: 0.9);
        var layers = new Layer[] { new Layer.Refr(1.5e-3) };
        var (net, _) = Build(4, 3, 5e-3, 1.0, layers);
        var actual = FromTensor(net.Run(ToTensor(x), ToSchedule(schedule))["L"]);
        var expected = Simulate(x, schedule, 5e-3, 1.0, layers);
        Assert.That(actual, Is.EqualTo(expected.Output));
        Assert.That(expected.Output.Cast<double>().Sum(), Is.GreaterThan(20), "the input makes the neurons fire often enough to test the rule");
    }

    [Test]
    public void PeriodsMayDifferPerNeuron()
    {
        var periods = new[] { 0.0, 1e-3, 2e-3, 3e-3 };
        var net = new Network { Dt = 1e-3, Steps = 24 }; // float32 network, float64 times
        net.Add("I", new TensorInput(4));
        net.Add("S", new Identity(), "I", "L");
        net.Add("L", new Refractory(new Lif(4), torch.tensor(periods)));
        net.MarkOutput("L");
        var spikes = FromTensor(net.Run(ToTensor(Constant(1, 24, 4, 2.0)))["L"]);
        for (int n = 0; n < 4; n++)
        {
            int every = Math.Max(1, (int)Math.Round(periods[n] / 1e-3)) + 1;
            Assert.That(SpikeSteps(spikes, 0, n), Is.EqualTo(Enumerable.Range(0, 24).Where(t => t % every == 0).ToList()), $"neuron {n}");
        }
    }

    [Test]
    public void LastSpikeStateRecordsTheEndTimeOfTheSpikeStep()
    {
        var (net, _) = Build(1, 1, 10e-3, 1.0, new Layer[] { new Layer.Refr(2e-3) });
        var mon = net.Monitor("L", "t_spike");
        var r = net.Run(ToTensor(Constant(1, 10, 1, 2.0)), Ship.Core.Clocks.Schedule.Fixed(1e-3, 10));
        var t = FromTensor(mon.Values);
        Assert.That(double.IsNegativeInfinity(t[0, 0, 0]), Is.False);
        // Spikes at steps 0, 3, 6, 9 (ends 1, 4, 7, 10 ms): after step k the state holds the end of the last spike step.
        var expected = new[] { 1, 1, 1, 4, 4, 4, 7, 7, 7, 10 }.Select(ms => ms * 1e-3).ToArray();
        for (int k = 0; k < 10; k++) Assert.That(t[0, k, 0], Is.EqualTo(expected[k]).Within(1e-15), $"step {k}");
        Assert.That(r.Times[3], Is.EqualTo(t[0, 3, 0]).Within(1e-15), "the recorded time is the step's end time on the timeline");
    }

    [Test]
    public void AStackWithoutIntegrationGateIsATypedErrorNamingTheGroup()
    {
        var net = new Network { Dt = 1e-3, Steps = 5 };
        net.Add("I", new TensorInput(2));
        net.Add("R", new Refractory(new Identity(), 1e-3));
        net.Connect("R", "I", "L");
        net.Add("L", new Lif(2));
        var e = Assert.Throws<NetworkConfigurationException>(() => net.Initialize());
        Assert.That(e!.Message, Does.Contain("'R'").And.Contain("IIntegrationGate").And.Contain("Refractory → Identity"));
    }

    [Test]
    public void NegativePeriodIsRejectedWithItsName()
    {
        var net = new Network();
        net.Add("L", new Refractory(new Lif(2), -1e-3));
        var e = Assert.Throws<ParameterException>(() => net.Initialize());
        Assert.That(e!.Group, Is.EqualTo("L"));
        Assert.That(e.Parameter, Is.EqualTo("t_ref"));
    }
}
