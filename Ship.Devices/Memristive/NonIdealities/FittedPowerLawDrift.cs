using Ship.Core.Errors;
using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Power-law drift with the exponent drawn per device from a fitted distribution: at programming each device draws
/// ν = |N(μν, σν)| (from the array's generator, once per programming), and a read at elapsed time t gives
/// G·(t/t0)^(−ν) (MemTorch clock, no change for t ≤ t0) or G·((t + t0)/t0)^(−ν) (aihwkit clock). What
/// Ship.Characterization's drift fit produces from retention measurements.
/// </summary>
[ShipModel("FittedPowerLawDrift")]
public sealed class FittedPowerLawDrift : INonIdeality, IShipModel<FittedPowerLawDrift, FittedPowerLawDrift.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; the per-device ν draws are saved with the array state).</summary>
    public sealed record Settings(double T0, PowerLawClock Clock, double NuMean, double NuSigma);

    /// <inheritdoc />
    public Settings GetSettings() => new(T0, Clock, NuMean, NuSigma);

    /// <inheritdoc />
    public static FittedPowerLawDrift FromSettings(Settings s) => new(s.T0, s.Clock, s.NuMean, s.NuSigma);

    /// <summary>Creates the drift law.</summary>
    public FittedPowerLawDrift(double t0, PowerLawClock clock, double nuMean, double nuSigma)
    {
        string o = nameof(FittedPowerLawDrift);
        T0 = DeviceErrors.Positive(o, "t0", t0, " s");
        if (!double.IsFinite(nuMean)) throw new ParameterException(o, "nuMean", $"must be finite, got {nuMean}.");
        NuMean = nuMean;
        NuSigma = DeviceErrors.NonNegative(o, "nuSigma", nuSigma);
        Clock = clock;
        _law = new PowerLawDrift(t0, clock, 0);
    }

    private readonly PowerLawDrift _law;

    /// <summary>t0 (s).</summary>
    public double T0 { get; }
    /// <summary>Clock convention.</summary>
    public PowerLawClock Clock { get; }
    /// <summary>μν: mean drift exponent.</summary>
    public double NuMean { get; }
    /// <summary>σν: device-to-device spread of the exponent.</summary>
    public double NuSigma { get; }

    /// <inheritdoc />
    public Tensor Program(Tensor conductances, DeviceState state)
    {
        var nu = NuSigma > 0 ? state.Normal().mul_(NuSigma).add_(NuMean).abs_() : torch.full(state.Shape, Math.Abs(NuMean), dtype: ScalarType.Float64, device: state.Device);
        state.Remember(this, "nu", nu);
        return conductances;
    }

    /// <inheritdoc />
    public Tensor Read(Tensor conductances, DeviceState state) =>
        conductances * _law.Factor(state.Recall(this, "nu"), state.ElapsedTime);
}
