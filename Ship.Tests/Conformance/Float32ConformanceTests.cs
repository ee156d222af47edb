using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Conformance;

/// <summary>
/// Time-batched ≡ step by step in float32, by the float32 definition of <see cref="Identical"/>: the spiking catalogue
/// neurons, with their membrane and threshold monitored, over the suite's 4-segment schedule in blocks of 7 steps.
/// Spikes may differ only where a membrane lies within 1e-5·threshold of the threshold; the suite's cases have no
/// such step (asserted), and the comparer's counting is checked on a constructed case.
/// </summary>
public class Float32ConformanceTests
{
    private const double Dt = ModelCatalog.Dt;
    private static readonly Schedule Whole = new((Dt, 12), (Dt / 2, 9), (Dt * 2, 10), (Dt, 6));

    /// <summary>Spiking entries whose membrane state holds, at a spiking step, the value compared with the threshold.</summary>
    public static IEnumerable<object[]> Cases => new[]
    {
        new object[] { "Lif", "u", "thr" },
        new object[] { "LifRest", "u", "thr" },
        new object[] { "LifRestReset", "u", "thr" },
        new object[] { "AdaptiveLif", "u", "thr" },
        new object[] { "Refractory", "u", "thr" },
    };

    private sealed record Float32Run(Tensor Spikes, Tensor Readout, Tensor Membrane, Tensor Threshold);

    private static Float32Run Run(string name, string membrane, string threshold, bool batching)
    {
        var c = ModelCatalog.Get(name).Build(23);
        var net = c.Network;
        net.DType = ScalarType.Float32;
        net.TimeBatching = batching;
        net.SequenceBlockSteps = 7;
        net.Initialize();
        var u = net.Monitor(c.ModelTag, membrane);
        var thr = c.Model.Variable(threshold);
        var thrMonitor = thr is StateVariable ? net.Monitor(c.ModelTag, threshold) : null;
        var inputs = c.Inputs(Whole.TotalSteps).ToDictionary(p => p.Key, p => p.Value.to_type(ScalarType.Float32));
        var r = net.Run(inputs, Whole);
        // A parameter threshold is the same every step: [batch, 1, N] (or a scalar) broadcasts over the steps.
        var th = thrMonitor?.Values ?? (thr.Value.dim() == 2 ? thr.Value.unsqueeze(1) : thr.Value);
        Assert.That(r[c.ModelTag].dtype, Is.EqualTo(ScalarType.Float32));
        return new(r[c.ModelTag], r["R"], u.Values, th);
    }

    [TestCaseSource(nameof(Cases))]
    public void TimeBatchedIsIdenticalToStepByStepInFloat32(string name, string membrane, string threshold)
    {
        var a = Run(name, membrane, threshold, batching: true);
        var b = Run(name, membrane, threshold, batching: false);
        Assert.That(b.Spikes.sum().item<float>(), Is.GreaterThan(0), $"{name}: the case spikes (else nothing is compared)");
        int near = Identical.AssertSpikes32(a.Spikes, b.Spikes, a.Membrane, b.Membrane, b.Threshold, name);
        Assert.That(near, Is.EqualTo(0), $"{name}: the suite's float32 cases have no step near threshold");
        Identical.AssertFloat32(a.Membrane, b.Membrane, $"{name}: membrane");
        Identical.AssertFloat32(a.Readout, b.Readout, $"{name}: readout");
    }

    [Test]
    public void TheComparerExcusesAndCountsOnlyStepsNearThreshold()
    {
        // Threshold 0.5: band ±5e-6. Sample 0 (one neuron, 4 steps): step 1 differs with run A's membrane 2e-6 above
        // threshold (near: excused); step 3 has run B's membrane 4e-6 below (near, spikes equal). Nothing else is near.
        var thr = torch.tensor(0.5, dtype: ScalarType.Float64);
        var sa = torch.tensor(new double[] { 0, 1, 0, 0 }).reshape(1, 4, 1);
        var sb = torch.tensor(new double[] { 0, 0, 0, 0 }).reshape(1, 4, 1);
        var ua = torch.tensor(new double[] { 0.1, 0.500002, 0.3, 0.49 }).reshape(1, 4, 1);
        var ub = torch.tensor(new double[] { 0.1, 0.499990, 0.3, 0.499996 }).reshape(1, 4, 1);
        var c = Identical.CompareSpikes32(sa, sb, ua, ub, thr);
        Assert.That(c.NearThresholdSteps, Is.EqualTo(2));
        Assert.That(c.ExcusedDifferences, Is.EqualTo(1));
        Assert.That(c.Mismatches, Is.Empty);

        // The same spike difference with both membranes 2e-5 away from threshold is a mismatch, reported with its place.
        var far = Identical.CompareSpikes32(sa, sb, torch.tensor(new double[] { 0.1, 0.50002, 0.3, 0.49 }).reshape(1, 4, 1),
            torch.tensor(new double[] { 0.1, 0.49998, 0.3, 0.49 }).reshape(1, 4, 1), thr);
        Assert.That(far.NearThresholdSteps, Is.EqualTo(0));
        Assert.That(far.Mismatches, Has.Count.EqualTo(1));
        Assert.That(far.Mismatches[0], Does.StartWith("sample 0, step 1, neuron 0"));
    }

    [Test]
    public void AFloat32RunWithAMembraneOnTheThresholdIsCounted()
    {
        // A real network with a step on the threshold: a LIF at rest fed exactly its threshold reaches u = β·0 + 0.75 =
        // thr in that step, which counts as near threshold (in both runs, here the same one).
        var net = new Ship.Core.Networks.Network("near") { Dt = 1e-3, BatchSize = 1, DType = ScalarType.Float32 };
        net.Add("I", new Ship.Devices.Inputs.TensorInput(1));
        net.Add("L", new Ship.Devices.Neurons.Lif(1, tau: 10e-3, threshold: 0.75));
        net.Add("IL", new Ship.Devices.Synapses.Identity(), "I", "L");
        net.MarkOutput("L");
        net.Initialize();
        var u = net.Monitor("L", "u");
        var x = torch.tensor(new float[] { 0, 0.75f, 0, 0 }).reshape(1, 4, 1);
        var r = net.Run(new Dictionary<string, Tensor> { ["I"] = x });
        var c = Identical.CompareSpikes32(r["L"], r["L"], u.Values, u.Values, torch.tensor(0.75));
        Assert.That(c.NearThresholdSteps, Is.EqualTo(1), "u = 0.75 at step 1 exactly (0 + 0.75; β·0 adds nothing)");
        Assert.That(c.Mismatches, Is.Empty);
    }
}
