using OxyPlot;
using OxyPlot.Axes;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Plots;

/// <summary>A synapse model's response to one input spike, measured by running the model in a tiny network.</summary>
/// <param name="LagSeconds">k·dt for every step k (time since the spike entered at step 0).</param>
/// <param name="Output">The synapse's output to target 0 at every step.</param>
public sealed record ImpulseResponseData(double[] LagSeconds, double[] Output);

/// <summary>Plots that exercise a synapse model the way a network does, so any synapse class (weighted or not, wrapped or not) can be shown.</summary>
public static class SynapsePlots
{
    /// <summary>
    /// Runs a one-source, one-target network (TensorInput(1) → synapse → a pass-through probe neuron) for
    /// <paramref name="steps"/> steps of <paramref name="dt"/> seconds, in double precision, with a single spike at
    /// step 0, and returns the synapse's own output. When the synapse has a parameter "w" it is set to
    /// <paramref name="weight"/> (1 by default; null keeps the model's own value), so a memoryless synapse returns w·δ[k].
    /// </summary>
    public static ImpulseResponseData Measure(Func<Group> makeSynapse, double dt, int steps, double? weight = 1.0)
    {
        ArgumentNullException.ThrowIfNull(makeSynapse);
        if (!(dt > 0) || double.IsInfinity(dt)) throw new ArgumentOutOfRangeException(nameof(dt), dt, "dt must be a finite value > 0 seconds.");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "the response needs at least one step.");
        var synapse = makeSynapse() ?? throw new ArgumentException("makeSynapse returned null.", nameof(makeSynapse));
        if (synapse.Kind != GroupKind.Synapse)
            throw new ArgumentException($"makeSynapse returned a {synapse.GetType().Name}, which is a neuron group; an impulse response needs a synapse group.", nameof(makeSynapse));

        var net = new Network("impulse-response") { Dt = dt, Steps = steps, BatchSize = 1, DType = ScalarType.Float64 };
        net.Add("in", new TensorInput(1));
        net.Add("syn", synapse);
        net.Add("probe", new ProbeNeuron(1));
        net.Connect("syn", "in", "probe");
        // A [1, 1] tensor rather than a scalar: a constant parameter stays 0-d, and weighted models expect W as a matrix.
        if (weight is { } w && synapse.AllVariables.Any(v => v.Name == "w"))
            synapse.Set("w", torch.full(1, 1, w, dtype: ScalarType.Float64));
        net.MarkOutput("syn");

        using var scope = torch.NewDisposeScope();
        var x = torch.zeros(1, steps, 1, dtype: ScalarType.Float64);
        x[0, 0, 0] = torch.tensor(1.0, dtype: ScalarType.Float64);
        var r = net.Run(x);
        var y = r["syn"];
        var (n, m, values) = SpikePlots.Row(y, 0, "the synapse output");
        var output = Enumerable.Range(0, n).Select(k => values[k * m]).ToArray();
        var lag = Enumerable.Range(0, n).Select(k => k * dt).ToArray();
        return new ImpulseResponseData(lag, output);
    }

    /// <summary>
    /// Plots the impulse response measured by <see cref="Measure"/>: the synapse output against the lag since the
    /// spike, in ms. CSV columns: <c>step, lag_ms, output</c>.
    /// </summary>
    public static FigureFiles ImpulseResponse(Func<Group> makeSynapse, double dt, int steps, string folder, string name,
        double? weight = 1.0, string outputTitle = "Synapse output (a.u.)", PlotOptions? options = null)
    {
        var data = Measure(makeSynapse, dt, steps, weight);
        var lagMs = data.LagSeconds.Select(t => t * 1e3).ToArray();
        var model = Figure.NewModel(options);
        model.Axes.Add(Figure.Linear(AxisPosition.Bottom, "Time since the input spike (ms)"));
        model.Axes.Add(Figure.Linear(AxisPosition.Left, outputTitle));
        var line = PlotData.Line(lagMs, data.Output, Figure.Color(0), "output");
        line.MarkerType = MarkerType.Circle;
        line.MarkerSize = steps <= 100 ? 2.5 : 0;
        model.Series.Add(line);
        var rows = Enumerable.Range(0, steps).Select(k => new object[] { k, lagMs[k], data.Output[k] }).ToList();
        return Figure.Save(model, folder, name, new[] { "step", "lag_ms", "output" }, rows, options);
    }
}

/// <summary>A neuron group that passes its input through unchanged: the target a measured synapse needs, with no dynamics of its own.</summary>
internal sealed class ProbeNeuron : NeuronGroup
{
    public ProbeNeuron(int n) : base(n) { }

    public override Tensor Step(Tensor? input) =>
        input ?? torch.zeros(Context.BatchSize, ComponentCount, dtype: Context.DType, device: Context.Device);
}
