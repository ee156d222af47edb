using Ship.Core.Persistence;
using Ship.Core.Groups;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Wrappers;

/// <summary>
/// Winner-take-all around any neuron model with an integration gate (SHIP's WinnerTakeAll): when any neuron of a batch
/// row spikes in a step, no neuron of that row integrates in the next step,
///   gate[b, :] ← 0  if  Σ_n s[b, n] &gt; 0,
/// so every membrane of the row restarts from rest. Rows of a batch are independent samples and never affect each other.
/// The spikes used are those the neuron emitted this step, even when a <see cref="Delay"/> sits between them.
/// No parameters and no state of its own: the decision is carried by the gate.
/// </summary>
[ShipModel("WinnerTakeAll")]
public sealed class WinnerTakeAll : GroupWrapper, IShipModel<WinnerTakeAll, WinnerTakeAll.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(Group Inner);

    /// <inheritdoc />
    public Settings GetSettings() => new(Inner);

    /// <inheritdoc />
    public static WinnerTakeAll FromSettings(Settings settings) => new(settings.Inner);

    private readonly IIntegrationGate? _gate;

    /// <summary>Wraps <paramref name="inner"/>, whose stack must contain an integration gate.</summary>
    public WinnerTakeAll(Group inner) : base(inner)
    {
        _gate = inner is GroupWrapper w ? w.Find<IIntegrationGate>() : inner as IIntegrationGate;
    }

    /// <inheritdoc />
    protected override void OnBind()
    {
        base.OnBind();
        WrapperStack.RequireGate(this);
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var y = Inner.Step(input);
        var gate = _gate!.Integrate;
        gate.Tensor = WinnerTakeAllFunctional.Hold(gate.Value, WrapperStack.Undelayed(Inner, y));
        return y;
    }
}

/// <summary>The winner-take-all rule as a pure function, so it can be tested and reused without a group.</summary>
public static class WinnerTakeAllFunctional
{
    /// <summary>The gate [B, N] with every row that has a non-zero entry in <paramref name="spikes"/> [B, N] set to 0.</summary>
    public static Tensor Hold(Tensor integrate, Tensor spikes) =>
        integrate.masked_fill(spikes.detach().ne(0).any(1, keepdim: true), 0);
}
