using Ship.Core.Persistence;
using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Linear step (aihwkit LinearStepDevice, multiplicative-noise form): the step changes linearly with w,
/// potentiation Δw = dw_min·(1 − γ⁺·(w − r)/(w_max − r)), depression Δw = −dw_min·(1 − γ⁻·(w − r)/(w_min − r)),
/// then hard bounds. γ = 0 is a constant step (a linear conductance-vs-pulse ramp up to the bound); γ = 1 is soft bounds.
/// </summary>
[ShipModel("LinearStepPulses")]
public sealed class LinearStepPulses : PulseResponse, IShipModel<LinearStepPulses, LinearStepPulses.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately); conductances in S.</summary>
    public sealed record Settings(double DwMin, double WMin, double WMax, double GammaUp, double GammaDown, double Reference, double DwMinSpread, double WMinSpread, double WMaxSpread, double CycleNoise);

    /// <inheritdoc />
    public Settings GetSettings() => new(DwMin, WMin, WMax, GammaUp, GammaDown, Reference, DwMinSpread, WMinSpread, WMaxSpread, CycleNoise);

    /// <inheritdoc />
    public static LinearStepPulses FromSettings(Settings settings) => new(settings.DwMin, settings.WMin, settings.WMax, settings.GammaUp, settings.GammaDown, settings.Reference, settings.DwMinSpread, settings.WMinSpread, settings.WMaxSpread, settings.CycleNoise);

    /// <summary>Creates the model; γ⁺ = γ⁻ = 0 (constant step) by default.</summary>
    public LinearStepPulses(double dwMin = 0.001, double wMin = -0.6, double wMax = 0.6, double gammaUp = 0, double gammaDown = 0,
                            double reference = 0, double dwMinSpread = 0, double wMinSpread = 0, double wMaxSpread = 0, double cycleNoise = 0)
        : base(dwMin, wMin, wMax, reference, dwMinSpread, wMinSpread, wMaxSpread, cycleNoise)
    {
        GammaUp = DeviceErrors.NonNegative(nameof(LinearStepPulses), "gammaUp", gammaUp);
        GammaDown = DeviceErrors.NonNegative(nameof(LinearStepPulses), "gammaDown", gammaDown);
    }

    /// <summary>γ⁺: relative decrease of the up step at w_max.</summary>
    public double GammaUp { get; }
    /// <summary>γ⁻: relative decrease of the down step at w_min.</summary>
    public double GammaDown { get; }

    /// <inheritdoc />
    public override Tensor Increment(Tensor w, PulseDirection direction, PulseDeviceParameters devices)
    {
        bool up = direction == PulseDirection.Potentiation;
        var rel = (w - Reference).div_(up ? devices.WMax - Reference : devices.WMin - Reference);
        var step = rel.mul_(-(up ? GammaUp : GammaDown)).add_(1).mul_(devices.DwMin);
        return up ? step : step.neg_();
    }
}
