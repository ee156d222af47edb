using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Datasets;
using Ship.Datasets.Batching;
using Ship.Datasets.Embedded;
using Ship.Datasets.Encoders;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Reliability.ReliabilityKit;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

/// <summary>Same seeds, same everything: spikes, states, weights and losses, within a process and across processes.</summary>
public class DeterminismTests
{
    private static IEnumerable<string> ScenarioNames => Scenarios.Names;

    private static Dictionary<string, Tensor> Fresh(string scenario)
    {
        var net = Scenarios.Build(scenario);
        Scenarios.Part1(net, scenario);
        return Scenarios.Record(net, Scenarios.Part2(net, scenario));
    }

    [TestCaseSource(nameof(ScenarioNames))]
    public void TheSameSeedGivesBitIdenticalRunsInOneProcess(string scenario) =>
        AssertSameRecord(Fresh(scenario), Fresh(scenario));

    [TestCaseSource(nameof(ScenarioNames))]
    public void TheSameSeedGivesBitIdenticalRunsInAnotherProcess(string scenario)
    {
        var dir = TempFolder("det-" + scenario);
        var output = Path.Combine(dir, "fresh.safetensors");
        RunHelper("fresh", scenario, output);
        AssertSameRecord(Fresh(scenario), ReadRecord(output));
    }

    [Test]
    public void TrainingGivesBitIdenticalLossesAndWeightsInOneProcessAndAnother()
    {
        var here = Scenarios.Train();
        AssertSameRecord(here, Scenarios.Train());
        var losses = here["losses"].data<double>().ToArray();
        Assert.That(losses, Has.Length.EqualTo(4));
        Assert.That(losses.Distinct().Count(), Is.GreaterThan(1), "training moves the loss");
        var dir = TempFolder("det-train");
        var output = Path.Combine(dir, "train.safetensors");
        RunHelper("train", output);
        AssertSameRecord(here, ReadRecord(output));
    }

    [Test]
    public void TheSeedMatters()
    {
        var a = Scenarios.Build("mixed");
        var b = Scenarios.Build("mixed");
        b.Seed = 12;
        var ra = Scenarios.Part1(a, "mixed");
        var rb = Scenarios.Part1(b, "mixed");
        Assert.That(ra["A1"].equal(rb["A1"]).all().item<bool>() && a["PA"].Get("w").equal(b["PA"].Get("w")).all().item<bool>(), Is.False,
            "another seed draws other weights and Poisson spikes");
    }

    [Test]
    public void InterleavedNetworksDoNotAffectEachOther()
    {
        // Two networks stepped alternately give what each gives alone: no shared generator, no static state.
        var alone = Fresh("mixed");
        var aloneB = Fresh("batched");
        var a = Scenarios.Build("mixed");
        var b = Scenarios.Build("batched");
        Scenarios.Part1(a, "mixed");
        Scenarios.Part1(b, "batched");
        var ra = Scenarios.Part2(a, "mixed");
        var rb = Scenarios.Part2(b, "batched");
        AssertSameRecord(alone, Scenarios.Record(a, ra));
        AssertSameRecord(aloneB, Scenarios.Record(b, rb));
    }

    [Test]
    public void NothingDrawsFromTorchsGlobalGenerator()
    {
        // Audit: a run with every random model, a device array with noise, training and a data pipeline leaves the
        // global generator exactly where it was (every draw uses a generator owned by a network or a loader).
        torch.random.manual_seed(1234);
        var expected = torch.rand(8);
        torch.random.manual_seed(1234);
        Fresh("mixed");
        Fresh("trains");
        Scenarios.Train();
        var (train, _) = Digits.Split(0.2, seed: 3, normalize: true);
        var loader = new DenseLoader(train, 16, shuffle: true, seed: 5);
        using (var first = loader.Epoch(0).First())
            RateEncoder.Encode(first.X, 10, 1e-3, 100, new torch.Generator(7));
        var array = MemristivePresets.PcmLike(elapsedTime: 10).With(new QuantizedLevels(8, stepSpread: 0.1), new StuckAtFaults(0.05, 0.05));
        var ctx = new SimulationContext(1, seed: 3);
        array.Program(torch.ones(4, 4), ctx);
        array.Read(ctx);
        Assert.That(torch.rand(8).data<float>().ToArray(), Is.EqualTo(expected.data<float>().ToArray()));
    }

    [Test]
    public void LoaderOrdersDependOnlyOnSeedAndEpoch()
    {
        var (train, _) = Digits.Split(0.2, seed: 3);
        var a = new DenseLoader(train, 32, shuffle: true, seed: 9);
        var b = new DenseLoader(train, 32, shuffle: true, seed: 9);
        Assert.That(a.Order(2).data<long>().ToArray(), Is.EqualTo(b.Order(2).data<long>().ToArray()));
        Assert.That(a.Order(2).data<long>().ToArray(), Is.Not.EqualTo(a.Order(3).data<long>().ToArray()));
    }
}
