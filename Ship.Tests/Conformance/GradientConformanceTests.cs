using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Devices.Memristive.Crossbar;
using Ship.Training.Hardware;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Conformance;

/// <summary>
/// Gradient conformance of every catalogue entry (issue #11): in float64, with surrogate spikes, the gradients of a
/// fixed loss over every output with respect to the fed input tensor, the upstream weights and the model's own weights
/// are the same time-batched and step by step, within 1e-9·max|g| + 1e-12, over a 4-segment schedule cut into blocks
/// of 7 steps (7 blocks). What cannot carry a gradient is listed with its reason, and each reason is asserted.
/// </summary>
public class GradientConformanceTests
{
    private const double Dt = ModelCatalog.Dt;
    private static readonly Schedule Whole = new((Dt, 12), (Dt / 2, 9), (Dt * 2, 10), (Dt, 6));

    /// <summary>Entries whose case has no differentiable path at all, and why.</summary>
    public static readonly IReadOnlyDictionary<string, string> NoGradientPath = new Dictionary<string, string>
    {
        ["Crossbar+Pairs"] = "the exact IR-drop solve is not differentiable, so TrainThroughPeriphery refuses it, and without it the converters round with no gradient",
    };

    /// <summary>Entries whose own output carries no gradient although their case does (through the other groups), and why.</summary>
    public static readonly IReadOnlyDictionary<string, string> ModelOutputWithoutGradient = new Dictionary<string, string>
    {
        ["PoissonSource"] = "its spikes are random draws: nothing differentiable feeds them",
        ["SpikeTrainInput"] = "its spikes are staged data: nothing differentiable feeds them",
        ["StdpBlock"] = "a learning rule computes its output and weight updates under no_grad",
        ["StdpBlock+Nearest"] = "a learning rule computes its output and weight updates under no_grad",
        ["StdpBlock+DeviceArray"] = "a learning rule computes its output and weight updates under no_grad",
        ["TripletStdpBlock"] = "a learning rule computes its output and weight updates under no_grad",
        ["RewardStdpBlock"] = "a learning rule computes its output and weight updates under no_grad",
        ["TripletStdpBlock+DeviceArray"] = "a learning rule computes its output and weight updates under no_grad",
        ["RewardStdpBlock+DeviceArray"] = "a learning rule computes its output and weight updates under no_grad",
    };

    /// <summary>Every entry with a differentiable path.</summary>
    public static IEnumerable<object[]> Differentiable => ModelCatalog.All.Where(e => !NoGradientPath.ContainsKey(e.Name)).Select(e => new object[] { e.Name });

    private sealed record Target(string What, Tensor Tensor, bool Expected);

    private sealed record Outcome(List<(string What, double[]? Gradient, bool Expected)> Gradients, Dictionary<string, bool> OutputRequiresGrad);

    /// <summary>Whether a weight device keeps W out of the forward (W is what gets programmed; reads come from conductances).</summary>
    private static bool WeightsFromDevice(ModelEntry e, ModelCase c) =>
        e.DeviceType is not null && e.DeviceType != typeof(HardwareAwareWeights) && !(c.Model is CrossbarSynapse { TrainThroughPeriphery: true });

    private static Outcome Gradients(string name, bool batching, bool periphery = true)
    {
        var entry = ModelCatalog.Get(name);
        var c = entry.Build(11);
        var net = c.Network;
        net.TimeBatching = batching;
        net.SequenceBlockSteps = 7;
        // A crossbar carries gradients only in its training mode (straight-through converters, approximate IR drop).
        if (c.Model is CrossbarSynapse x) x.TrainThroughPeriphery = periphery;
        net.Initialize();
        var targets = new List<Target>();
        foreach (var g in net.Groups)
        {
            if (g.Tag is not ("IM" or "IL") && g.Tag != c.ModelTag) continue;
            if (g.AllVariables.OfType<Parameter>().FirstOrDefault(v => v.Name == "w") is not { Tensor: { } w } p || !w.is_floating_point()) continue;
            p.Tensor = new TorchSharp.Modules.Parameter(w.detach().clone(), requires_grad: true);
            targets.Add(new($"{g.Tag}.w", p.Tensor, g.Tag != c.ModelTag || !WeightsFromDevice(entry, c)));
        }
        var inputs = c.Inputs(Whole.TotalSteps).ToDictionary(p => p.Key, p => p.Value.clone().requires_grad_(true));
        foreach (var (tag, t) in inputs) targets.Add(new($"input {tag}", t, true));
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
        net.TrackGradients = true;
        var r = net.Run(inputs.ToDictionary(p => p.Key, p => (Tensor)p.Value), Whole);
        var requires = r.Outputs.ToDictionary(p => p.Key, p => p.Value.requires_grad);
        Tensor loss = torch.zeros(1, dtype: ScalarType.Float64);
        int k = 1;
        foreach (var (_, y) in r.Outputs.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var weights = torch.linspace(0.1, 1.0, y.shape[1], dtype: ScalarType.Float64).reshape(1, -1, 1);
            loss = loss + (y * weights).sum() * (0.5 * k++);
        }
        if (loss.requires_grad) loss.backward();
        return new(targets.Select(t => (t.What, t.Tensor.grad is { } g ? Identical.D(g) : null, t.Expected)).ToList(), requires);
    }

    [TestCaseSource(nameof(Differentiable))]
    public void GradientsAreIdenticalAcrossBlocksAndSegments(string name)
    {
        var batched = Gradients(name, batching: true);
        var stepped = Gradients(name, batching: false);
        Assert.That(stepped.Gradients.Count, Is.GreaterThan(0), $"{name}: something to differentiate");
        for (int t = 0; t < stepped.Gradients.Count; t++)
        {
            var (what, expected, wanted) = stepped.Gradients[t];
            double[]? actual = batched.Gradients[t].Gradient;
            if (!wanted)
            {
                // A device-backed synapse reads conductances programmed from W: W itself is not part of the forward.
                Assert.That(expected, Is.Null, $"{name}: {what} is programmed into a device, not read by the forward");
                Assert.That(actual, Is.Null, $"{name}: {what} (time-batched)");
                continue;
            }
            Assert.That(expected, Is.Not.Null, $"{name}: {what} receives a gradient step by step");
            Assert.That(actual, Is.Not.Null, $"{name}: {what} receives a gradient time-batched");
            double[] e = expected!, a = actual!;
            double max = e.Max(Math.Abs);
            Assert.That(max, Is.GreaterThan(0), $"{name}: the gradient of {what} is not trivially zero");
            Assert.That(a.Length, Is.EqualTo(e.Length));
            for (int i = 0; i < e.Length; i++)
                Assert.That(a[i], Is.EqualTo(e[i]).Within(1e-9 * max + 1e-12), $"{name}: {what}, element {i}");
        }
        var model = ModelCatalog.Get(name).Build(11).ModelTag;
        if (!stepped.OutputRequiresGrad.TryGetValue(model, out bool own)) return; // the model is not an output of its case
        if (ModelOutputWithoutGradient.ContainsKey(name))
            Assert.That(own, Is.False, $"{name}: listed as carrying no gradient itself ({ModelOutputWithoutGradient[name]})");
        else
            Assert.That(own && batched.OutputRequiresGrad[model], $"{name}: its own output carries the gradient in both modes");
    }

    /// <summary>Entries whose case runs no group as a whole block even time-batched (so both modes step), and why.</summary>
    public static readonly IReadOnlyDictionary<string, string> SteppedThroughout = new Dictionary<string, string>
    {
        ["SpikeTrainInput"] = "the source has no whole-segment form, and the Dense and LIF it feeds step with it",
    };

    [TestCaseSource(nameof(Differentiable))]
    public void TheTimeBatchedGradientRunComputesWholeBlocks(string name)
    {
        // Without this, a plan that stepped every group when gradients are recorded would make the comparison above
        // compare stepping with stepping and pass whatever the fused nodes do.
        var c = ModelCatalog.Get(name).Build(11);
        var net = c.Network;
        net.TimeBatching = true;
        net.SequenceBlockSteps = 7;
        if (c.Model is CrossbarSynapse x) x.TrainThroughPeriphery = true;
        net.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
        net.TrackGradients = true;
        net.Initialize();
        var plan = net.DescribePlan(Whole);
        if (SteppedThroughout.TryGetValue(name, out var why))
        {
            Assert.That(plan, Does.Not.Contain("[whole block"), $"{name}: listed as stepped throughout ({why})\n{plan}");
            Assert.That(plan, Does.Contain(". L [step] — output; no whole block: its source 'IL' is stepped"), $"the plan says why\n{plan}");
            return;
        }
        Assert.That(plan, Does.Contain("[whole block"), $"{name}: some group of the case runs a whole block\n{plan}");
        if (c.Model is Ship.Core.Groups.ISequenceGroup s && s.SequenceRefusal is null && s.KernelRefusal is null)
            Assert.That(plan, Does.Contain($". {c.ModelTag} [whole block"), $"{name}: the model itself runs whole blocks\n{plan}");
    }

    /// <summary>The entries listed as having no differentiable path.</summary>
    public static IEnumerable<object[]> WithoutGradientPath => NoGradientPath.Keys.Select(k => new object[] { k });

    [Test]
    public void EveryListedEntryIsACatalogueEntry()
    {
        // A renamed or removed entry must not leave a stale excuse behind.
        var names = ModelCatalog.All.Select(e => e.Name).ToHashSet();
        Assert.That(NoGradientPath.Keys.Concat(ModelOutputWithoutGradient.Keys).Concat(SteppedThroughout.Keys).Where(k => !names.Contains(k)), Is.Empty);
        Assert.That(Differentiable.Count() + NoGradientPath.Count, Is.EqualTo(ModelCatalog.All.Count), "every entry is differentiated or listed");
    }

    [TestCaseSource(nameof(WithoutGradientPath))]
    public void AnEntryWithoutAGradientPathFailsForTheListedReason(string name)
    {
        Assert.That(NoGradientPath[name], Is.Not.Empty);
        // The reason of the only such entry today: refused in training mode, no gradient outside it.
        Assert.That(ModelCatalog.Get(name).Build(1).Model, Is.InstanceOf<CrossbarSynapse>(), $"{name}: the listed reason is about crossbars");
        var e = Assert.Throws<ParameterException>(() => Gradients(name, batching: false, periphery: true));
        Assert.That(e!.Message, Does.Contain("not differentiable"));
        var plain = Gradients(name, batching: false, periphery: false);
        Assert.That(plain.OutputRequiresGrad.Values, Has.All.False, $"{name}: no output carries a gradient outside training mode");
        Assert.That(plain.Gradients.Select(g => g.Gradient), Has.All.Null, $"{name}: nothing receives a gradient");
    }

    [Test]
    public void CrossbarsCarryNoGradientOutsideTrainingMode()
    {
        // The reason the crossbar entries are differentiated in TrainThroughPeriphery mode only.
        var o = Gradients("Crossbar+SingleDevice", batching: true, periphery: false);
        Assert.That(o.OutputRequiresGrad.Values, Has.All.False);
        Assert.That(o.Gradients.Select(g => g.Gradient), Has.All.Null);
    }

    [TestCase("StdpBlock")]
    [TestCase("RewardStdpBlock")]
    public void PlasticWeightsLearnTheSameWhileRecordingGradients(string name)
    {
        // While recording, a block writes each step's weights to a new tensor (the product saved the old one): the
        // learned weights must be those of a run without gradients, element for element.
        Tensor Learned(bool record)
        {
            var c = ModelCatalog.Get(name).Build(5);
            c.Network.TrackGradients = record;
            c.Network.SpikeFunction = new SurrogateSpikes(new FastSigmoid(5));
            var inputs = c.Inputs(Whole.TotalSteps).ToDictionary(p => p.Key, p => (Tensor)p.Value.clone().requires_grad_(record));
            c.Network.Run(inputs, Whole);
            return c.Network["S"].Variable("w").Value.detach().clone();
        }
        var plain = Learned(false);
        var recorded = Learned(true);
        Identical.Assert(recorded, plain, $"{name}: learned weights");
        var fresh = ModelCatalog.Get(name).Build(5).Network;
        fresh.Initialize();
        Assert.That(plain.sub(fresh["S"].Variable("w").Value).abs().max().item<double>(), Is.GreaterThan(0), $"{name}: the rule changed the weights");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AnInputThatRequiresGradientsReceivesThem(bool batching)
    {
        // input → Scale(0.7) → Relay: y = 0.7·x, so d(Σ c·y)/dx = 0.7·c exactly; without TrackGradients nothing records.
        Network Build(bool record)
        {
            var net = new Network("input-grad") { Dt = 1e-3, BatchSize = 2, DType = ScalarType.Float64, TimeBatching = batching, TrackGradients = record };
            net.Add("I", new Ship.Devices.Inputs.TensorInput(3));
            net.Add("S", new Ship.Devices.Synapses.Scale(0.7), "I", "R");
            net.Add("R", new Ship.Devices.Neurons.Relay(3));
            net.MarkOutput("R");
            return net;
        }
        var x = torch.rand(new long[] { 2, 6, 3 }, ScalarType.Float64, generator: new torch.Generator(3)).requires_grad_(true);
        var c = torch.arange(36, dtype: ScalarType.Float64).reshape(2, 6, 3).add(1);
        var y = Build(record: true).Run(new Dictionary<string, Tensor> { ["I"] = x })["R"];
        (y * c).sum().backward();
        Assert.That(Identical.D(x.grad!), Is.EqualTo(Identical.D(c.mul(0.7))).Within(1e-15));
        var plain = Build(record: false).Run(new Dictionary<string, Tensor> { ["I"] = x })["R"];
        Assert.That(plain.requires_grad, Is.False, "without TrackGradients the input's link is not kept");
    }
}
