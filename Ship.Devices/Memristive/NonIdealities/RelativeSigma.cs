using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>Noise proportional to the conductance: σ = f·|G| (in the conductances' unit, S).</summary>
[ShipModel("RelativeSigma")]
public sealed class RelativeSigma : INoiseSigma, IShipModel<RelativeSigma, RelativeSigma.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(double Fraction);

    /// <inheritdoc />
    public Settings GetSettings() => new(Fraction);

    /// <inheritdoc />
    public static RelativeSigma FromSettings(Settings settings) => new(settings.Fraction);

    /// <summary>Creates the law σ = <paramref name="fraction"/>·|G|.</summary>
    public RelativeSigma(double fraction) => Fraction = DeviceErrors.NonNegative(nameof(RelativeSigma), "fraction", fraction);

    /// <summary>f.</summary>
    public double Fraction { get; }

    /// <inheritdoc />
    public Tensor Sigma(Tensor conductances, DeviceState state) => conductances.abs().mul_(Fraction);
}
