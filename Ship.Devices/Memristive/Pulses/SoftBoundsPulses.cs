using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Soft bounds (aihwkit SoftBoundsDevice): the step shrinks linearly to zero at the bound it moves towards,
/// potentiation Δw = dw_min·(1 − (w − r)/(w_max − r)), depression Δw = −dw_min·(1 − (w − r)/(w_min − r)); with r = 0
/// these are dw_min·(1 − w/w_max) and −dw_min·(1 − w/w_min). From w0, k noise-free up pulses give
/// w_k = w_max − (w_max − w0)·(1 − dw_min/w_max)^k (r = 0): exponential saturation.
/// </summary>
[ShipModel("SoftBoundsPulses")]
public sealed class SoftBoundsPulses : PulseResponse, IShipModel<SoftBoundsPulses, SoftBoundsPulses.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately); conductances in S.</summary>
    public sealed record Settings(double DwMin, double WMin, double WMax, double Reference, double DwMinSpread, double WMinSpread, double WMaxSpread, double CycleNoise);

    /// <inheritdoc />
    public Settings GetSettings() => new(DwMin, WMin, WMax, Reference, DwMinSpread, WMinSpread, WMaxSpread, CycleNoise);

    /// <inheritdoc />
    public static SoftBoundsPulses FromSettings(Settings settings) => new(settings.DwMin, settings.WMin, settings.WMax, settings.Reference, settings.DwMinSpread, settings.WMinSpread, settings.WMaxSpread, settings.CycleNoise);

    /// <summary>Creates the model; defaults are aihwkit's dw_min and bounds with spreads and noise off.</summary>
    public SoftBoundsPulses(double dwMin = 0.001, double wMin = -0.6, double wMax = 0.6, double reference = 0,
                            double dwMinSpread = 0, double wMinSpread = 0, double wMaxSpread = 0, double cycleNoise = 0)
        : base(dwMin, wMin, wMax, reference, dwMinSpread, wMinSpread, wMaxSpread, cycleNoise) { }

    /// <inheritdoc />
    public override Tensor Increment(Tensor w, PulseDirection direction, PulseDeviceParameters devices)
    {
        var rel = direction == PulseDirection.Potentiation
            ? (w - Reference).div_(devices.WMax - Reference)
            : (w - Reference).div_(devices.WMin - Reference);
        var step = rel.neg_().add_(1).mul_(devices.DwMin);
        return direction == PulseDirection.Potentiation ? step : step.neg_();
    }
}
