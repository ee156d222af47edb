using Ship.Core.Networks;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Groups;

/// <summary>
/// A group that adds behaviour around another group (refractoriness, delay, winner-take-all) by composition, so wrappers
/// stack in any order and any depth (SHIP's class factories recurse forever when stacked). The wrapper has the inner
/// group's kind and sizes; its own variables are listed together with the inner group's, so monitors and the stepper
/// see all of them by name. Wrapper variable names must not clash with the inner group's.
/// </summary>
public abstract class GroupWrapper : Group
{
    /// <summary>Wraps <paramref name="inner"/>, which must not belong to a network already.</summary>
    protected GroupWrapper(Group inner) : base(inner.Kind, inner.Kind == GroupKind.Neuron ? inner.ComponentCount : 0)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (inner.Tag.Length > 0)
            throw new ArgumentException($"Group '{inner.Tag}' already belongs to a network and cannot be wrapped.", nameof(inner));
        Inner = inner;
    }

    /// <summary>The wrapped group.</summary>
    public Group Inner { get; }

    /// <summary>The innermost group of a wrapper stack, whatever its depth.</summary>
    public Group Core => Inner is GroupWrapper w ? w.Core : Inner;

    /// <summary>The first group of type T in the stack (this wrapper included), or null; lets a wrapper find e.g. the integration gate.</summary>
    public T? Find<T>() where T : class
    {
        for (Group? g = this; g is not null; g = (g as GroupWrapper)?.Inner)
            if (g is T t) return t;
        return null;
    }

    /// <inheritdoc />
    public override int InputSize => Inner.InputSize;
    /// <inheritdoc />
    public override int OutputSize => Inner.OutputSize;
    /// <inheritdoc />
    public override int OutputDelaySteps => Inner.OutputDelaySteps;
    /// <inheritdoc />
    public override int OutputDelayStepsAt(double dt) => Inner.OutputDelayStepsAt(dt);
    /// <inheritdoc />
    public override void ValidateTimeStep(double dt) => Inner.ValidateTimeStep(dt);
    /// <inheritdoc />
    public override IEnumerable<Variable> AllVariables => base.AllVariables.Concat(Inner.AllVariables);

    internal override void OnTagged(string tag)
    {
        base.OnTagged(tag);
        Inner.Tag = tag;
        Inner.OnTagged(tag);
    }

    internal override void SetSynapseSizes(int ns, int nt)
    {
        base.SetSynapseSizes(ns, nt);
        Inner.SetSynapseSizes(ns, nt);
    }

    /// <inheritdoc />
    public override void ValidateSizes() => Inner.ValidateSizes();

    /// <inheritdoc />
    public override void Bind(SimulationContext ctx)
    {
        Inner.Bind(ctx);
        base.Bind(ctx);
    }

    internal override IEnumerable<Group> StackInnerFirst => Inner.StackInnerFirst.Append(this);

    /// <inheritdoc />
    public override void ResetState()
    {
        Inner.ResetState();
        base.ResetState();
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input) => Inner.Step(input);

    /// <inheritdoc />
    public override Tensor PeekDelayedOutput() => Inner.PeekDelayedOutput();
}

/// <summary>
/// A neuron model whose integration can be suspended for a step (SHIP's "integrate" flag): while the gate is 0 the
/// membrane is held at rest and the step's input is dropped. Refractory and winner-take-all wrappers act through it.
/// </summary>
public interface IIntegrationGate
{
    /// <summary>Per [batch, N]: 1 integrates on the next step, 0 holds the membrane at rest and drops that step's input.</summary>
    StateVariable Integrate { get; }
}
