using Ship.Core.Persistence;
using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Stuck-at faults (MemTorch): each device is independently stuck at a low conductance (HRS) with probability p_low or at
/// a high one (LRS) with probability p_high, drawn once per fabricated array. A stuck device ignores programming, pulses,
/// drift and read noise: it always reads its stuck value (default Gmin for low, Gmax for high).
/// </summary>
[ShipModel("StuckAtFaults")]
public sealed class StuckAtFaults : INonIdeality, IShipModel<StuckAtFaults, StuckAtFaults.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately); conductances in S.</summary>
    public sealed record Settings(double LowProbability, double HighProbability, double? LowConductance, double? HighConductance);

    /// <inheritdoc />
    public Settings GetSettings() => new(LowProbability, HighProbability, LowConductance, HighConductance);

    /// <inheritdoc />
    public static StuckAtFaults FromSettings(Settings settings) => new(settings.LowProbability, settings.HighProbability, settings.LowConductance, settings.HighConductance);

    /// <summary>Creates the model; the stuck conductances (S) default to the window's bounds.</summary>
    public StuckAtFaults(double lowProbability, double highProbability, double? lowConductance = null, double? highConductance = null)
    {
        LowProbability = DeviceErrors.Probability(nameof(StuckAtFaults), "lowProbability", lowProbability);
        HighProbability = DeviceErrors.Probability(nameof(StuckAtFaults), "highProbability", highProbability);
        if (lowProbability + highProbability > 1)
            throw new ParameterException(nameof(StuckAtFaults), "lowProbability + highProbability", $"the two fault probabilities must sum to at most 1, got {lowProbability + highProbability}.");
        if (lowConductance is { } l) DeviceErrors.Conductance(nameof(StuckAtFaults), "lowConductance", l);
        if (highConductance is { } h) DeviceErrors.Conductance(nameof(StuckAtFaults), "highConductance", h);
        LowConductance = lowConductance;
        HighConductance = highConductance;
    }

    /// <summary>p_low.</summary>
    public double LowProbability { get; }
    /// <summary>p_high.</summary>
    public double HighProbability { get; }
    /// <summary>Stuck-low conductance (S), or null for Gmin.</summary>
    public double? LowConductance { get; }
    /// <summary>Stuck-high conductance (S), or null for Gmax.</summary>
    public double? HighConductance { get; }

    /// <inheritdoc />
    public Tensor Program(Tensor conductances, DeviceState state)
    {
        var u = state.Fabricated(this, "u", state.Uniform);
        var low = u.lt(LowProbability);
        var high = u.ge(LowProbability).logical_and_(u.lt(LowProbability + HighProbability));
        state.Pin(low, LowConductance ?? state.Range.Gmin);
        state.Pin(high, HighConductance ?? state.Range.Gmax);
        return conductances;
    }
}
