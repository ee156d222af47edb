using Ship.Core.Persistence;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Wrappers;

/// <summary>
/// Winner-take-all with a shared refractory period (what SHIP's WinnerTakeAllRefractory intends; SHIP's version blocks
/// every neuron forever, see docs). A spike anywhere in a batch row at the step ending t_row makes the whole row
/// refractory: a step ending at t_end is blocked for every neuron of the row when
///   t_end ≤ t_row + max(t_ref, dt) + ε,   ε = 1e-9·dt + 1e-14·t_end (as in <see cref="Refractory"/>).
/// The max with dt always blocks the step right after the spike (the winner-take-all reset), so t_ref ≤ dt behaves as
/// <see cref="WinnerTakeAll"/> and longer periods extend it exactly under any dt schedule. Rows never affect each other.
/// </summary>
[ShipModel("SharedRefractory")]
public sealed class SharedRefractory : GroupWrapper, IShipModel<SharedRefractory, SharedRefractory.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(Group Inner);

    /// <inheritdoc />
    public Settings GetSettings() => new(Inner);

    /// <inheritdoc />
    public static SharedRefractory FromSettings(Settings settings) => new(settings.Inner, 0.0);

    private readonly IIntegrationGate? _gate;
    private readonly Derived<Tensor> _effective;

    /// <summary>Wraps <paramref name="inner"/> with a shared refractory period of <paramref name="period"/> seconds (scalar or per batch row).</summary>
    public SharedRefractory(Group inner, Value period) : base(inner)
    {
        ArgumentNullException.ThrowIfNull(period);
        Period = Param("t_ref_group", Extent.Batch, period, Constraint.NonNegative, ScalarType.Float64);
        LastSpike = State("t_spike_group", Extent.Batch, double.NegativeInfinity, null, ScalarType.Float64);
        WrapperStack.CheckNames(this);
        _gate = inner is GroupWrapper w ? w.Find<IIntegrationGate>() : inner as IIntegrationGate;
        _effective = Derive("effective_period", dt => Period.Value.clamp_min(dt));
    }

    /// <summary>Shared refractory period in seconds (float64).</summary>
    public Parameter Period { get; }
    /// <summary>End time of the step of the last spike of each batch row, in seconds from the reset (−∞ before the first).</summary>
    public StateVariable LastSpike { get; }

    /// <inheritdoc />
    protected override void OnBind()
    {
        base.OnBind();
        WrapperStack.RequireGate(this);
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var ctx = Context;
        var now = ctx.Now;
        double dt = now.Dt, tEnd = now.End;
        var gate = _gate!.Integrate;
        var blocked = RefractoryFunctional.Blocked(LastSpike.Value, _effective.Value, tEnd, dt).unsqueeze(1);
        gate.Tensor = RefractoryFunctional.Hold(gate.Value, blocked);
        var y = Inner.Step(input);
        var rowSpiked = WrapperStack.Undelayed(Inner, y).detach().ne(0).any(1);
        LastSpike.Tensor = RefractoryFunctional.Record(LastSpike.Value, rowSpiked, tEnd);
        return y;
    }
}
