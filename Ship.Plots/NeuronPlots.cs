using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Plots;

/// <summary>Plots that drive a neuron model with a chosen input, so any neuron class can be shown without writing a network.</summary>
public static class NeuronPlots
{
    /// <summary>
    /// Runs TensorInput(N) → neuron for as many steps as <paramref name="input"/> has ([steps] for the same input to
    /// every neuron, or [steps, N]), at <paramref name="dt"/> seconds per step in double precision, monitors the
    /// membrane variable (default "u") and the output spikes, and plots neuron <paramref name="neuron"/> as
    /// <see cref="SpikePlots.MembraneTrace(string, string, IReadOnlyList{double}, IReadOnlyList{double}, IReadOnlyList{double}?, double?, string, PlotOptions?, string)"/>
    /// does. The threshold line comes from the model's parameter "thr" when it has one and none is given.
    /// CSV columns: <c>step, time_ms, u, spike</c>.
    /// </summary>
    public static FigureFiles MembraneTrace(Func<Group> makeNeuron, Tensor input, double dt, string folder, string name, int neuron = 0,
        string variable = "u", double? threshold = null, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(makeNeuron);
        ArgumentNullException.ThrowIfNull(input);
        var group = makeNeuron() ?? throw new ArgumentException("makeNeuron returned null.", nameof(makeNeuron));
        if (group.Kind != GroupKind.Neuron)
            throw new ArgumentException($"makeNeuron returned a {group.GetType().Name}, which is a synapse group; a membrane trace needs a neuron group.", nameof(makeNeuron));
        int n = group.InputSize;
        if (neuron < 0 || neuron >= group.ComponentCount) throw new ArgumentOutOfRangeException(nameof(neuron), $"neuron {neuron} is outside 0..{group.ComponentCount - 1}.");
        if (input.dim() is not (1 or 2) || (input.dim() == 2 && input.shape[1] != n) || input.shape[0] < 1)
            throw new ArgumentException($"The input must be [steps] or [steps, {n}], got [{string.Join(", ", input.shape)}].", nameof(input));
        int steps = (int)input.shape[0];

        var net = new Network("membrane-trace") { Dt = dt, Steps = steps, BatchSize = 1, DType = ScalarType.Float64 };
        net.Add("in", new TensorInput(n));
        net.Add("neuron", group);
        net.Connect("in", "neuron");
        net.MarkOutput("neuron");
        var monitor = net.Monitor("neuron", variable);

        using var scope = torch.NewDisposeScope();
        var x = (input.dim() == 1 ? input.reshape(steps, 1).expand(steps, n) : input).to_type(ScalarType.Float64).unsqueeze(0);
        var r = net.Run(x);
        double? thr = threshold;
        if (thr is null && group.AllVariables.FirstOrDefault(v => v.Name == "thr") is { } t)
        {
            var values = PlotData.ToDoubles(t.Value);
            thr = values.Length == 1 ? values[0] : values.Length > neuron ? values[neuron] : null;
        }
        return SpikePlots.MembraneTrace(folder, name, monitor, r["neuron"], 0, neuron, thr, options);
    }
}
