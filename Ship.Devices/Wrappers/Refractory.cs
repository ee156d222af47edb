using Ship.Core.Persistence;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Wrappers;

/// <summary>
/// Absolute refractory period around any neuron model with an integration gate (SHIP's refractory and
/// refractory_variabletimestep). Each neuron remembers the end time t_spike of the step in which it last spiked; a step
/// spanning (t_end − dt, t_end] is blocked (gate = 0: membrane held at rest, input dropped) when
///   t_end ≤ t_spike + t_ref + ε,   ε = 1e-9·dt + 1e-14·t_end,
/// so with dt = 1 ms and t_ref = 2 ms exactly the two steps after the spike step are blocked, under any dt schedule.
/// Comparing absolute times, not counting a timer down by dt, keeps the count exact (ε only absorbs rounding of the
/// times). The neuron's own reset step (Lif's) is included in the period. The spikes used are those the neuron
/// emitted this step, even when a <see cref="Delay"/> sits between them.
/// </summary>
[ShipModel("Refractory")]
public sealed class Refractory : GroupWrapper, IShipModel<Refractory, Refractory.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(Group Inner);

    /// <inheritdoc />
    public Settings GetSettings() => new(Inner);

    /// <inheritdoc />
    public static Refractory FromSettings(Settings settings) => new(settings.Inner, 0.0);

    private readonly IIntegrationGate? _gate;

    /// <summary>Wraps <paramref name="inner"/> with a refractory period of <paramref name="period"/> seconds (per neuron and batch row if a tensor).</summary>
    public Refractory(Group inner, Value period) : base(inner)
    {
        ArgumentNullException.ThrowIfNull(period);
        Period = Param("t_ref", Extent.Batch | Extent.Component, period, Constraint.NonNegative, ScalarType.Float64);
        LastSpike = State("t_spike", Extent.Batch | Extent.Component, double.NegativeInfinity, null, ScalarType.Float64);
        WrapperStack.CheckNames(this);
        _gate = inner is GroupWrapper w ? w.Find<IIntegrationGate>() : inner as IIntegrationGate;
    }

    /// <summary>Refractory period t_ref in seconds (float64, so long runs keep sub-nanosecond resolution).</summary>
    public Parameter Period { get; }
    /// <summary>End time of the step of each neuron's last spike, in seconds from the reset (−∞ before the first).</summary>
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
        gate.Tensor = RefractoryFunctional.Hold(gate.Value, RefractoryFunctional.Blocked(LastSpike.Value, Period.Value, tEnd, dt));
        var y = Inner.Step(input);
        LastSpike.Tensor = RefractoryFunctional.Record(LastSpike.Value, WrapperStack.Undelayed(Inner, y), tEnd);
        return y;
    }
}

/// <summary>The refractory rule as pure functions of absolute times, shared by <see cref="Refractory"/> and <see cref="SharedRefractory"/>.</summary>
public static class RefractoryFunctional
{
    /// <summary>ε = 1e-9·dt + 1e-14·|t_end|: far below a step, far above the rounding of absolute times, so boundaries never move by a step.</summary>
    public static double Tolerance(double tEnd, double dt) => 1e-9 * dt + 1e-14 * Math.Abs(tEnd);

    /// <summary>True where the step ending at <paramref name="tEnd"/> lies within the period: t_end ≤ t_spike + period + ε.</summary>
    public static Tensor Blocked(Tensor lastSpike, Tensor period, double tEnd, double dt) =>
        lastSpike.Plus(period).ge(tEnd - Tolerance(tEnd, dt));

    /// <summary>The gate with blocked entries set to 0; broadcasting lets a per-row mask [B, 1] block a whole row.</summary>
    public static Tensor Hold(Tensor integrate, Tensor blocked) => integrate.masked_fill(blocked, 0);

    /// <summary>The last-spike times with <paramref name="tEnd"/> written where <paramref name="spikes"/> is non-zero (no gradient: a time stamp).</summary>
    public static Tensor Record(Tensor lastSpike, Tensor spikes, double tEnd) =>
        lastSpike.masked_fill(spikes.detach().ne(0), tEnd);
}
