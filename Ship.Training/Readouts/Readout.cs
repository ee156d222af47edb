using Ship.Core.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Training.Readouts;

/// <summary>Turns a run's output sequence [batch, steps, N] into scores [batch, N] that a loss compares with targets.</summary>
public interface IReadout
{
    /// <summary>Scores [batch, N] from the run (differentiable when the run tracked gradients).</summary>
    Tensor Read(RunResult result);
    /// <summary>Name for summaries.</summary>
    string Name { get; }
}

/// <summary>Base for readouts of one output group's sequence.</summary>
public abstract class SequenceReadout : IReadout
{
    /// <summary>Reads the output group with this tag, or the only output group when null.</summary>
    protected SequenceReadout(string? tag) => Tag = tag;

    /// <summary>The output group read, or null for the only one.</summary>
    public string? Tag { get; }

    /// <inheritdoc />
    public Tensor Read(RunResult result) => Reduce(Tag is null ? result.Single : result[Tag]);

    /// <summary>Reduces [batch, steps, N] over time.</summary>
    protected abstract Tensor Reduce(Tensor sequence);

    /// <inheritdoc />
    public abstract string Name { get; }
}

/// <summary>Maximum over time (SHIP's readout of a non-spiking output's membrane).</summary>
public sealed class MaxOverTime(string? tag = null) : SequenceReadout(tag)
{
    /// <inheritdoc />
    protected override Tensor Reduce(Tensor s) => s.amax(new long[] { 1 });
    /// <inheritdoc />
    public override string Name => "max over time";
}

/// <summary>Spike count: the sum over time.</summary>
public sealed class SpikeCount(string? tag = null) : SequenceReadout(tag)
{
    /// <inheritdoc />
    protected override Tensor Reduce(Tensor s) => s.sum(1);
    /// <inheritdoc />
    public override string Name => "spike count";
}

/// <summary>The value at the last step (e.g. a membrane at the end of the sample).</summary>
public sealed class LastStep(string? tag = null) : SequenceReadout(tag)
{
    /// <inheritdoc />
    protected override Tensor Reduce(Tensor s) => s.select(1, s.Sizes()[1] - 1);
    /// <inheritdoc />
    public override string Name => "last step";
}

/// <summary>Mean over time (a rate for spiking outputs).</summary>
public sealed class MeanOverTime(string? tag = null) : SequenceReadout(tag)
{
    /// <inheritdoc />
    protected override Tensor Reduce(Tensor s) => s.mean(new long[] { 1 });
    /// <inheritdoc />
    public override string Name => "mean over time";
}
