using NUnit.Framework;
using OxyPlot.Annotations;
using OxyPlot.Series;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Plots;
using TorchSharp;
using static Ship.Tests.Plots.PlotAssert;
using static TorchSharp.torch;

namespace Ship.Tests.Plots;

/// <summary>A test-only synapse with memory: i ← β·i + x·W, output i; its impulse response is w·β^k.</summary>
internal sealed class DecayingSynapse : WeightedSynapse
{
    private readonly Derived<double> _beta;

    public DecayingSynapse(double tau) : base(null)
    {
        I = State("i", Extent.Batch | Extent.Component, 0.0);
        _beta = Derive("beta", dt => Math.Exp(-dt / tau));
    }

    public StateVariable I { get; }

    public override Tensor Step(Tensor? input)
    {
        var i = I.Value.mul(_beta.Value).add(torch.mm(input!, Weights));
        I.Tensor = i;
        return i;
    }
}

/// <summary>A do-nothing wrapper, to show the impulse response reaches a weight inside a wrapper stack.</summary>
internal sealed class PassThroughWrapper : GroupWrapper
{
    public PassThroughWrapper(Group inner) : base(inner) { }
}

public class ModelPlotTests
{
    [Test]
    public void DenseImpulseResponseIsWeightTimesDelta()
    {
        var dir = NewFolder("impulse");
        const double w = 0.7, dt = 1e-3;
        const int steps = 12;
        var f = SynapsePlots.ImpulseResponse(() => new Dense(), dt, steps, dir, "dense", weight: w);

        FilesWritten(f, dir, "dense");
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "step", "lag_ms", "output" }));
        Assert.That(Column(rows, 2), Is.EqualTo(Enumerable.Range(0, steps).Select(k => k == 0 ? w : 0.0)), "w·δ[k]");
        Assert.That(Column(rows, 1), Is.EqualTo(Enumerable.Range(0, steps).Select(k => k * dt * 1e3)).Within(1e-12));
        Assert.That(Lines(f.Model).Single().Points.Select(p => p.Y), Is.EqualTo(Column(rows, 2)));
    }

    [Test]
    public void DefaultWeightIsOneAndModelsWithoutWeightsWork()
    {
        var dense = SynapsePlots.Measure(() => new Dense(), 1e-3, 4);
        Assert.That(dense.Output, Is.EqualTo(new[] { 1.0, 0, 0, 0 }));
        var kept = SynapsePlots.Measure(() => new Dense(torch.full(1, 1, 0.25)), 1e-3, 3, weight: null);
        Assert.That(kept.Output, Is.EqualTo(new[] { 0.25, 0, 0 }), "weight: null keeps the model's own w");
        var wire = SynapsePlots.Measure(() => new Identity(), 1e-3, 3);
        Assert.That(wire.Output, Is.EqualTo(new[] { 1.0, 0, 0 }));
    }

    [Test]
    public void SynapseWithMemoryDecaysExponentially()
    {
        var dir = NewFolder("impulse2");
        const double tau = 5e-3, dt = 0.5e-3, w = 2.0;
        const int steps = 40;
        var f = SynapsePlots.ImpulseResponse(() => new DecayingSynapse(tau), dt, steps, dir, "decay", weight: w);
        var y = Column(ReadCsv(f.Csv).Rows, 2);
        double beta = Math.Exp(-dt / tau);
        Assert.That(y, Is.EqualTo(Enumerable.Range(0, steps).Select(k => w * Math.Pow(beta, k))).Within(1e-12));
    }

    [Test]
    public void WrappedSynapseGetsTheWeight()
    {
        var r = SynapsePlots.Measure(() => new PassThroughWrapper(new DecayingSynapse(2e-3)), 1e-3, 5, weight: 3);
        double beta = Math.Exp(-0.5);
        Assert.That(r.Output, Is.EqualTo(Enumerable.Range(0, 5).Select(k => 3 * Math.Pow(beta, k))).Within(1e-12));
    }

    [Test]
    public void ImpulseResponseRejectsNeuronFactories()
    {
        var ex = Assert.Throws<ArgumentException>(() => SynapsePlots.Measure(() => new Lif(1), 1e-3, 5));
        Assert.That(ex!.Message, Does.Contain("Lif"));
    }

    [Test]
    public void NeuronMembraneTraceFollowsTheLifRecurrence()
    {
        var dir = NewFolder("neuron");
        const double tau = 8e-3, dt = 1e-3, thr = 1.2;
        const int steps = 70;
        // A ramp of input current, so the firing rate grows.
        var x = Enumerable.Range(0, steps).Select(k => 0.1 + 0.006 * k).ToArray();
        var f = NeuronPlots.MembraneTrace(() => new Lif(1, tau, thr), torch.tensor(x, dtype: ScalarType.Float64), dt, dir, "lif");

        FilesWritten(f, dir, "lif");
        // Double-precision reference of the LIF equations (Lif's XML doc): u ← g·max(0, β·u + x), s = u ≥ thr, g ← 1 − s.
        double beta = Math.Exp(-dt / tau), u = 0, gate = 1;
        var eu = new double[steps];
        var es = new double[steps];
        for (int k = 0; k < steps; k++)
        {
            u = gate * Math.Max(0, beta * u + x[k]);
            es[k] = u >= thr ? 1 : 0;
            gate = 1 - es[k];
            eu[k] = u;
        }
        var rows = ReadCsv(f.Csv).Rows;
        Assert.That(Column(rows, 2), Is.EqualTo(eu).Within(1e-12));
        Assert.That(Column(rows, 3), Is.EqualTo(es));
        Assert.That(es.Sum(), Is.GreaterThanOrEqualTo(3), "the ramp makes it fire");
        Assert.That(Column(rows, 1), Is.EqualTo(Enumerable.Range(1, steps).Select(k => k * dt * 1e3)).Within(1e-9));
        Assert.That(f.Model.Annotations.OfType<LineAnnotation>().Single().Y, Is.EqualTo(thr).Within(1e-12), "threshold read from the model");
        Assert.That(SeriesOf<ScatterSeries>(f.Model).Single().Points, Has.Count.EqualTo((int)es.Sum()));
    }

    [Test]
    public void NeuronTraceRejectsWrongInputShape()
    {
        var dir = NewFolder("neuronbad");
        Assert.Throws<ArgumentException>(() => NeuronPlots.MembraneTrace(() => new Lif(2), torch.zeros(5, 3), 1e-3, dir, "x"));
        Assert.Throws<ArgumentException>(() => NeuronPlots.MembraneTrace(() => new Dense(), torch.zeros(5), 1e-3, dir, "x"));
    }
}
