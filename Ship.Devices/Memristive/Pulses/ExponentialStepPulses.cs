using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Exponential step (aihwkit ExpStepDevice, fitted to CMOS-like/RRAM responses): with z = 2a·(w − r)/(w_max − w_min) + b,
/// potentiation Δw = dw_min·max(1 − A⁺·e^(γ⁺·z), 0), depression Δw = −dw_min·max(1 − A⁻·e^(−γ⁻·z), 0), then hard bounds.
/// Defaults are aihwkit's fit (A⁺ = 0.00081, A⁻ = 0.36833, γ⁺ = 12.44625, γ⁻ = 12.78785, a = 0.244, b = 0.2425).
/// </summary>
[ShipModel("ExponentialStepPulses")]
public sealed class ExponentialStepPulses : PulseResponse, IShipModel<ExponentialStepPulses, ExponentialStepPulses.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately); conductances in S.</summary>
    public sealed record Settings(double DwMin, double WMin, double WMax, double AUp, double ADown, double GammaUp, double GammaDown, double Slope, double Offset, double Reference, double DwMinSpread, double WMinSpread, double WMaxSpread, double CycleNoise);

    /// <inheritdoc />
    public Settings GetSettings() => new(DwMin, WMin, WMax, AUp, ADown, GammaUp, GammaDown, Slope, Offset, Reference, DwMinSpread, WMinSpread, WMaxSpread, CycleNoise);

    /// <inheritdoc />
    public static ExponentialStepPulses FromSettings(Settings settings) => new(settings.DwMin, settings.WMin, settings.WMax, settings.AUp, settings.ADown, settings.GammaUp, settings.GammaDown, settings.Slope, settings.Offset, settings.Reference, settings.DwMinSpread, settings.WMinSpread, settings.WMaxSpread, settings.CycleNoise);

    /// <summary>Creates the model with aihwkit's fit parameters by default.</summary>
    public ExponentialStepPulses(double dwMin = 0.001, double wMin = -0.6, double wMax = 0.6,
                                 double aUp = 0.00081, double aDown = 0.36833, double gammaUp = 12.44625, double gammaDown = 12.78785,
                                 double slope = 0.244, double offset = 0.2425, double reference = 0,
                                 double dwMinSpread = 0, double wMinSpread = 0, double wMaxSpread = 0, double cycleNoise = 0)
        : base(dwMin, wMin, wMax, reference, dwMinSpread, wMinSpread, wMaxSpread, cycleNoise)
    {
        string o = nameof(ExponentialStepPulses);
        AUp = DeviceErrors.NonNegative(o, "aUp", aUp);
        ADown = DeviceErrors.NonNegative(o, "aDown", aDown);
        GammaUp = DeviceErrors.NonNegative(o, "gammaUp", gammaUp);
        GammaDown = DeviceErrors.NonNegative(o, "gammaDown", gammaDown);
        if (!double.IsFinite(slope)) throw new Ship.Core.Errors.ParameterException(o, "slope", $"must be finite, got {slope}.");
        if (!double.IsFinite(offset)) throw new Ship.Core.Errors.ParameterException(o, "offset", $"must be finite, got {offset}.");
        Slope = slope;
        Offset = offset;
    }

    /// <summary>A⁺.</summary>
    public double AUp { get; }
    /// <summary>A⁻.</summary>
    public double ADown { get; }
    /// <summary>γ⁺.</summary>
    public double GammaUp { get; }
    /// <summary>γ⁻.</summary>
    public double GammaDown { get; }
    /// <summary>a: slope of z in w.</summary>
    public double Slope { get; }
    /// <summary>b: offset of z.</summary>
    public double Offset { get; }

    /// <inheritdoc />
    public override Tensor Increment(Tensor w, PulseDirection direction, PulseDeviceParameters devices)
    {
        var z = (w - Reference).mul_(2 * Slope).div_(devices.WMax - devices.WMin).add_(Offset);
        if (direction == PulseDirection.Potentiation)
            return z.mul_(GammaUp).exp_().mul_(-AUp).add_(1).clamp_(min: 0).mul_(devices.DwMin);
        return z.mul_(-GammaDown).exp_().mul_(-ADown).add_(1).clamp_(min: 0).mul_(devices.DwMin).neg_();
    }
}
