using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using TorchSharp;
using static TorchSharp.torch;
using static Ship.Tests.Devices.Wrappers.WrapperReference;

namespace Ship.Tests.Devices.Wrappers;

public class StackingTests
{
    private static readonly (double, int)[] Schedule3 = { (1e-3, 40), (0.5e-3, 50), (0.25e-3, 40) };

    private static Layer Parse(string s) => s switch
    {
        "R" => new Layer.Refr(2e-3),
        "R3" => new Layer.Refr(3e-3),
        "W" => new Layer.Wta(),
        "S" => new Layer.Shared(1.5e-3),
        "D" => new Layer.Del(2e-3),
        "D3" => new Layer.Del(3e-3),
        _ => throw new ArgumentException(s),
    };

    // Layers outermost first: "D,R,W" is Delay(Refractory(WinnerTakeAll(Lif))).
    [TestCase("R")]
    [TestCase("W")]
    [TestCase("S")]
    [TestCase("D")]
    [TestCase("R,D")]
    [TestCase("D,R")]
    [TestCase("W,R")]
    [TestCase("R,W")]
    [TestCase("D,W")]
    [TestCase("D,R,W")]
    [TestCase("W,D,R")]
    [TestCase("R,W,D")]
    [TestCase("S,D,R3")]
    [TestCase("R3,S,D")]
    [TestCase("D3,S,W")]
    public void StacksMatchTheReferenceUnderVariableDt(string spec)
    {
        var layers = spec.Split(',').Select(Parse).ToArray();
        int T = Schedule3.Sum(s => s.Item2);
        var x = RandomInput(2, T, 5, seed: spec.Sum(c => c * 31), lo: 0, hi: 0.8);
        var (net, _) = Build(5, 2, 6e-3, 1.0, layers);
        var actual = FromTensor(net.Run(ToTensor(x), ToSchedule(Schedule3))["L"]);
        var expected = Simulate(x, Schedule3, 6e-3, 1.0, layers);
        Assert.That(actual, Is.EqualTo(expected.Output));
        Assert.That(expected.Spikes.Cast<double>().Sum(), Is.GreaterThan(20), "enough spikes to exercise the rules");
    }

    [Test]
    public void TheOrderOfRefractoryWinnerTakeAllAndDelayDoesNotMatter()
    {
        var x = RandomInput(3, 100, 6, seed: 77, hi: 0.9);
        var orders = new[] { "R,W,D", "R,D,W", "W,R,D", "W,D,R", "D,R,W", "D,W,R" };
        double[,,]? first = null;
        foreach (var o in orders)
        {
            var (net, _) = Build(6, 3, 10e-3, 1.0, o.Split(',').Select(Parse).ToArray());
            var y = FromTensor(net.Run(ToTensor(x), Schedule.Fixed(1e-3, 100))["L"]);
            if (first is null) first = y;
            else Assert.That(y, Is.EqualTo(first), o);
        }
        var (plain, _) = Build(6, 3, 10e-3, 1.0, Array.Empty<Layer>());
        var p = FromTensor(plain.Run(ToTensor(x), Schedule.Fixed(1e-3, 100))["L"]);
        Assert.That(p, Is.Not.EqualTo(first), "the wrappers change the result, so the comparison means something");
    }

    [Test]
    public void ContinueAcrossADtChangeEqualsOneRun()
    {
        var layers = new Layer[] { new Layer.Del(2e-3), new Layer.Refr(3e-3), new Layer.Shared(1e-3) };
        var x = RandomInput(2, 90, 4, seed: 19, hi: 0.9);
        var (whole, _) = Build(4, 2, 6e-3, 1.0, layers);
        var all = FromTensor(whole.Run(ToTensor(x), new Schedule((1e-3, 40), (0.5e-3, 50)))["L"]);
        var (split, _) = Build(4, 2, 6e-3, 1.0, layers);
        var xt = ToTensor(x);
        var first = FromTensor(split.Run(xt.narrow(1, 0, 40), Schedule.Fixed(1e-3, 40))["L"]);
        var second = FromTensor(split.Continue(xt.narrow(1, 40, 50), Schedule.Fixed(0.5e-3, 50))["L"]);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 90; t++)
                for (int n = 0; n < 4; n++)
                    Assert.That(t < 40 ? first[b, t, n] : second[b, t - 40, n], Is.EqualTo(all[b, t, n]), $"b {b} t {t} n {n}");
        Assert.That(all.Cast<double>().Sum(), Is.GreaterThan(10));
    }

    [Test]
    public void MonitorsReachWrapperAndInnerStatesByName()
    {
        var layers = new Layer[] { new Layer.Del(2e-3), new Layer.Refr(3e-3), new Layer.Wta() };
        var x = RandomInput(2, 60, 3, seed: 5, hi: 0.9);
        var (net, _) = Build(3, 2, 6e-3, 1.0, layers);
        var u = net.Monitor("L", "u");
        var last = net.Monitor("L", "t_spike");
        var tau = net.Monitor("L", "tau");
        net.Run(ToTensor(x), Schedule.Fixed(1e-3, 60));
        var reference = Simulate(x, new[] { (1e-3, 60) }, 6e-3, 1.0, layers);

        var uv = FromTensor(u.Values);
        var lv = FromTensor(last.Values);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 60; t++)
                for (int n = 0; n < 3; n++)
                {
                    Assert.That(uv[b, t, n], Is.EqualTo(reference.U[b, t, n]).Within(1e-12), $"u b {b} t {t} n {n}");
                    Assert.That(lv[b, t, n], Is.EqualTo(reference.LastSpike[b, t, n]).Within(1e-15), $"t_spike b {b} t {t} n {n}");
                }
        Assert.That(FromTensor(tau.Values)[1, 59, 2], Is.EqualTo(6e-3).Within(1e-18));
        var e = Assert.Throws<ParameterException>(() => net.Monitor("L", "nope"));
        Assert.That(e!.Message, Does.Contain("u").And.Contain("t_spike"), "the error lists the names through the stack");
    }

    [Test]
    public void WrappingDrawsTheInnerParametersOnce()
    {
        // A random τ must come out the same with or without wrappers (same seed): the inner group is bound once.
        var random = Init.Uniform(5e-3, 20e-3);
        var (plain, _) = Build(4, 2, 0, 1.0, Array.Empty<Layer>(), lifTau: random);
        var (wrapped, _) = Build(4, 2, 0, 1.0, new Layer[] { new Layer.Del(1e-3), new Layer.Refr(2e-3), new Layer.Wta() }, lifTau: random);
        plain.Initialize();
        wrapped.Initialize();
        Assert.That(wrapped["L"].Get("tau").equal(plain["L"].Get("tau")).all().item<bool>(), Is.True);
    }

    [Test]
    public void TwoWrappersOfTheSameKindAreRejectedByName()
    {
        var e = Assert.Throws<ParameterException>(() => new Refractory(new Refractory(new Lif(2), 1e-3), 2e-3));
        Assert.That(e!.Parameter, Is.EqualTo("t_ref"));
        Assert.Throws<ParameterException>(() => new Delay(new Delay(new Lif(2), 1e-3), 2e-3));
    }

    [Test]
    public void AWrappedGroupCannotBeWrappedTwice()
    {
        var net = new Network();
        var lif = new Lif(2);
        net.Add("L", lif);
        Assert.Throws<ArgumentException>(() => new Refractory(lif, 1e-3));
    }

    [Test]
    public void AGateWrapperAroundADelayedSynapseNamesTheGroup()
    {
        var net = new Network { Dt = 1e-3 };
        net.Add("I", new TensorInput(2));
        net.Add("W", new WinnerTakeAll(new Delay(new Identity(), 1e-3)));
        net.Connect("W", "I", "L");
        net.Add("L", new Lif(2));
        var e = Assert.Throws<NetworkConfigurationException>(() => net.Initialize());
        Assert.That(e!.Message, Does.Contain("'W'").And.Contain("WinnerTakeAll → Delay → Identity"));
    }
}
