using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>Noise of constant σ (S, or weight units on a weight-space mapping), independent of the device's conductance.</summary>
[ShipModel("AbsoluteSigma")]
public sealed class AbsoluteSigma : INoiseSigma, IShipModel<AbsoluteSigma, AbsoluteSigma.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately); conductances in S.</summary>
    public sealed record Settings(double Sigma);

    /// <inheritdoc />
    public Settings GetSettings() => new(Value);

    /// <inheritdoc />
    public static AbsoluteSigma FromSettings(Settings settings) => new(settings.Sigma);

    /// <summary>Creates the law σ = <paramref name="sigma"/> (S).</summary>
    public AbsoluteSigma(double sigma) => Value = DeviceErrors.NonNegative(nameof(AbsoluteSigma), "sigma", sigma);

    /// <summary>σ (S).</summary>
    public double Value { get; }

    /// <inheritdoc />
    public Tensor Sigma(Tensor conductances, DeviceState state) =>
        torch.tensor(Value, dtype: ScalarType.Float64, device: state.Device);
}
