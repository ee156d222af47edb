using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>Noise proportional to the conductance: σ = f·|G|.</summary>
public sealed class RelativeSigma : INoiseSigma
{
    /// <summary>Creates the law σ = <paramref name="fraction"/>·|G|.</summary>
    public RelativeSigma(double fraction) => Fraction = DeviceErrors.NonNegative(nameof(RelativeSigma), "fraction", fraction);

    /// <summary>f.</summary>
    public double Fraction { get; }

    /// <inheritdoc />
    public Tensor Sigma(Tensor conductances, DeviceState state) => conductances.abs().mul_(Fraction);
}
