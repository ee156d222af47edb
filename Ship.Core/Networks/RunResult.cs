using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>What one Run or Continue call produced: each output group's [batch, steps, N] tensor and the times of those steps.</summary>
public sealed class RunResult
{
    internal RunResult(IReadOnlyDictionary<string, Tensor> outputs, double[] times, int firstStep)
    {
        Outputs = outputs;
        Times = times;
        FirstStep = firstStep;
    }

    /// <summary>Output of every output group over the steps of this call, [batch, steps, N], keyed by tag.</summary>
    public IReadOnlyDictionary<string, Tensor> Outputs { get; }
    /// <summary>Time at the end of each step of this call (see <see cref="Clocks.Timeline"/>).</summary>
    public double[] Times { get; }
    /// <summary>Index of this call's first step counted from the last reset (non-zero for continued runs).</summary>
    public int FirstStep { get; }

    /// <summary>The output of one group; the error lists the output groups if the tag is not one of them.</summary>
    public Tensor this[string tag] => Outputs.TryGetValue(tag, out var t)
        ? t
        : throw new Errors.ShipException($"'{tag}' is not an output group of this run; outputs: {string.Join(", ", Outputs.Keys)}.");

    /// <summary>The output when there is exactly one output group.</summary>
    public Tensor Single => Outputs.Count == 1
        ? Outputs.Values.First()
        : throw new Errors.ShipException($"The run has {Outputs.Count} output groups ({string.Join(", ", Outputs.Keys)}): index by tag.");
}
