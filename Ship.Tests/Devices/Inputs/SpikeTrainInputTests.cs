using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Devices.DeviceTestKit;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Inputs;

public class SpikeTrainInputTests
{
    private static (Network Net, SpikeTrainInput Input) Net(int batch, int n, int steps = 100, bool adapt = true)
    {
        var net = new Network { Dt = 1e-3, Steps = steps, BatchSize = batch };
        var input = net.Add("I", new SpikeTrainInput(n, adapt));
        net.Add("S", new Identity(), "I", "L");
        net.Add("L", new LeakyIntegrator(n));
        net.MarkOutput("I");
        return (net, input);
    }

    private static List<Tensor> Trains(params int[] lengths) =>
        lengths.Select((len, k) => torch.arange(1, len * 2 + 1, dtype: ScalarType.Float32).reshape(len, 2).mul(0.25 * (k + 1))).ToList();

    private static void AssertPadded(double[] y, List<Tensor> trains, int steps)
    {
        for (int b = 0; b < trains.Count; b++)
        {
            var t = D(trains[b]);
            int len = (int)trains[b].shape[0];
            for (int k = 0; k < steps; k++)
                for (int j = 0; j < 2; j++)
                    Assert.That(At(y, steps, 2, b, k, j), Is.EqualTo(k < len ? t[k * 2 + j] : 0.0).Within(1e-7), $"train {b}, step {k}, channel {j}");
        }
    }

    [Test]
    public void RaggedTrainsArePaddedAndTheRunLastsTheLongestTrain()
    {
        var (net, input) = Net(3, 2, steps: 100);
        var trains = Trains(4, 7, 2);
        input.Feed(trains);
        var r = net.Run();
        Assert.That(r.Single.shape, Is.EqualTo(new long[] { 3, 7, 2 }));
        Assert.That(input.LongestTrain, Is.EqualTo(7));
        AssertPadded(D(r.Single), trains, 7);
        Assert.That(net.Steps, Is.EqualTo(100), "the network's own step count is not changed");
        Assert.That(Same(net.Run().Single, r.Single), Is.True, "the trains stay for the next run");
    }

    [Test]
    public void AdaptingIsPerRunAndPerNetwork()
    {
        var (a, input) = Net(2, 2, steps: 5);
        var other = new Network { Dt = 1e-3, Steps = 5 };
        other.Add("I", new TensorInput(1));
        other.Add("S", new Identity(), "I", "L");
        other.Add("L", new LeakyIntegrator(1));
        other.MarkOutput("L");

        input.Feed(Trains(9, 3));
        Assert.That(a.Run().Single.shape[1], Is.EqualTo(9));
        Assert.That(other.Run(torch.zeros(1, 5, 1)).Single.shape[1], Is.EqualTo(5), "another network keeps its own Steps");

        input.ClearTrains();
        Assert.That(a.Run(torch.ones(2, 5, 2)).Single.shape[1], Is.EqualTo(5), "a dense tensor passed to Run sets the length too");
        Assert.Throws<InputException>(() => a.Run(), "no trains and no data");
    }

    [Test]
    public void WithoutAdaptingOrWithAScheduleTheRunLengthIsGiven()
    {
        var (net, input) = Net(2, 2, steps: 10, adapt: false);
        var trains = Trains(3, 6);
        input.Feed(trains);
        var r = net.Run();
        Assert.That(r.Single.shape, Is.EqualTo(new long[] { 2, 10, 2 }), "Steps, zero-padded");
        AssertPadded(D(r.Single), trains, 10);

        input.AdaptSteps = true;
        Assert.That(net.Run(schedule: Schedule.Fixed(1e-3, 4)).Single.shape[1], Is.EqualTo(4), "an explicit schedule wins, shorter than the longest train");
        var longer = net.Run(schedule: new Schedule((1e-3, 5), (0.5e-3, 4))).Single;
        Assert.That(longer.shape[1], Is.EqualTo(9));
        AssertPadded(D(longer), trains, 9);
    }

    [Test]
    public void ContinueGoesOnWithNewPaddedTrainsAndEqualsOneLongRun()
    {
        var first = Trains(5, 3);
        var second = Trains(2, 4);
        var (net, input) = Net(2, 2);
        var mon = net.Monitor("L", "u");
        input.Feed(first);
        net.Run();
        var r = net.Continue(new Dictionary<string, Tensor> { ["I"] = input.Pad(second) });
        Assert.That(r.Single.shape, Is.EqualTo(new long[] { 2, 4, 2 }), "the new trains set the continued run's length");
        Assert.That(r.FirstStep, Is.EqualTo(5));
        AssertPadded(D(r.Single), second, 4);
        var split = D(mon.Values);

        // One long run over the concatenation (each row: first train padded to 5 steps, then the second one padded to 4).
        var joined = Enumerable.Range(0, 2).Select(b => torch.cat(new[] { input.Pad(new[] { first[b] }).squeeze(0), torch.zeros(5 - first[b].shape[0], 2), input.Pad(new[] { second[b] }).squeeze(0), torch.zeros(4 - second[b].shape[0], 2) }, 0)).ToList();
        var (whole, wholeInput) = Net(2, 2);
        var mon2 = whole.Monitor("L", "u");
        wholeInput.Feed(joined);
        Assert.That(whole.Run().Single.shape[1], Is.EqualTo(9));
        Assert.That(split, Is.EqualTo(D(mon2.Values)).Within(1e-6), "Run + Continue equals one long run");
    }

    [Test]
    public void AnalogValuesAreKeptAndBoolBecomesZeroOne()
    {
        var (net, input) = Net(2, 2);
        var analog = torch.tensor(new[] { 0.3, -1.5, 2.25, 0.0 }).reshape(2, 2);
        var boolean = torch.tensor(new[] { true, false, false, true, true, true }).reshape(3, 2);
        input.Feed(new[] { analog, boolean });
        var y = D(net.Run().Single);
        Assert.That(y.Take(6).ToArray(), Is.EqualTo(new[] { 0.3, -1.5, 2.25, 0.0, 0.0, 0.0 }).Within(1e-6));
        Assert.That(y.Skip(6).ToArray(), Is.EqualTo(new[] { 1.0, 0.0, 0.0, 1.0, 1.0, 1.0 }));
    }

    [Test]
    public void TrainsAreCopied()
    {
        var (net, input) = Net(1, 2);
        var t = torch.ones(3, 2);
        input.Feed(new[] { t });
        t.fill_(5);
        Assert.That(D(net.Run().Single).All(v => v == 1), "changing the caller's tensor later does not change the input");
    }

    [Test]
    public void BadTrainsRaiseInputExceptionsNamingTheGroup()
    {
        var (net, input) = Net(2, 2);
        var ex = Assert.Throws<InputException>(() => input.Feed(new[] { torch.zeros(3, 2), torch.zeros(3, 3) }));
        Assert.That(ex!.Group, Is.EqualTo("I"));
        Assert.That(ex.Message, Does.Contain("spike train 1").And.Contain("[steps, 2]"));

        var nan = torch.zeros(2, 2);
        nan[1, 0].fill_(double.NaN);
        Assert.That(Assert.Throws<InputException>(() => input.Feed(new[] { torch.zeros(1, 2), nan }))!.Message, Does.Contain("NaN"));
        Assert.That(Assert.Throws<InputException>(() => input.Feed(Array.Empty<Tensor>()))!.Group, Is.EqualTo("I"));

        input.Feed(Trains(2, 3, 4));
        var count = Assert.Throws<InputException>(() => net.Run());
        Assert.That(count!.Group, Is.EqualTo("I"));
        Assert.That(count.Message, Does.Contain("3 spike trains").And.Contain("batch of 2"));
    }
}
