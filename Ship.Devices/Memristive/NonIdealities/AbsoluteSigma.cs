using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>Noise of constant σ (S, or weight units on a weight-space mapping), independent of the device's conductance.</summary>
public sealed class AbsoluteSigma : INoiseSigma
{
    /// <summary>Creates the law σ = <paramref name="sigma"/> (S).</summary>
    public AbsoluteSigma(double sigma) => Value = DeviceErrors.NonNegative(nameof(AbsoluteSigma), "sigma", sigma);

    /// <summary>σ (S).</summary>
    public double Value { get; }

    /// <inheritdoc />
    public Tensor Sigma(Tensor conductances, DeviceState state) =>
        torch.tensor(Value, dtype: ScalarType.Float64, device: state.Device);
}
