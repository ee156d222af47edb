using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Differential pair where the sign chooses the device (aihwkit's single-pair converter): with M = max|w|,
/// w ≥ 0 → G+ = w/M·(Gmax − Gmin) + Gmin, G− = Gmin; w &lt; 0 → G+ = Gmin, G− = |w|/M·(Gmax − Gmin) + Gmin;
/// read back w = (G+ − G−)/(Gmax − Gmin)·M. No sign bit: a zero weight is two Gmin devices, so drift and noise
/// can move it away from zero.
/// </summary>
[ShipModel("SymmetricDifferentialMapping")]
public sealed class SymmetricDifferentialMapping : ConductanceMapping, IShipModel<SymmetricDifferentialMapping, SymmetricDifferentialMapping.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately); conductances in S.</summary>
    public sealed record Settings(double Gmin, double Gmax, double? Scale);

    /// <inheritdoc />
    public Settings GetSettings() => new(Range.Gmin, Range.Gmax, FixedScale);

    /// <inheritdoc />
    public static SymmetricDifferentialMapping FromSettings(Settings settings) => new(settings.Gmin, settings.Gmax, settings.Scale);

    /// <summary>Creates the mapping on [gmin, gmax] (S, e.g. 0 and 25e-6 for aihwkit's PCM); <paramref name="scale"/> fixes M (default max|w|).</summary>
    public SymmetricDifferentialMapping(double gmin, double gmax, double? scale = null) : base(scale)
        => Range = new ConductanceRange(DeviceErrors.Conductance(nameof(SymmetricDifferentialMapping), "gmin", gmin), gmax, nameof(SymmetricDifferentialMapping));

    /// <summary>Window of both devices (S).</summary>
    public ConductanceRange Range { get; }

    /// <inheritdoc />
    public override int DevicesPerWeight => 2;

    /// <inheritdoc />
    public override Tensor Encode(Tensor weights, out WeightEncoding encoding)
    {
        double m = ScaleOf(weights);
        encoding = new WeightEncoding(m, Range);
        var plus = weights.clamp(min: 0).mul_(Range.Width / m).add_(Range.Gmin);
        var minus = weights.neg().clamp_(min: 0).mul_(Range.Width / m).add_(Range.Gmin);
        return torch.stack(new[] { plus, minus });
    }

    /// <inheritdoc />
    public override Tensor Decode(Tensor conductances, WeightEncoding encoding) =>
        (conductances[0] - conductances[1]).mul_(encoding.Scale / encoding.Range.Width);
}
