using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Differential pair with a reference device and a sign bit, as in SHIP's drift study (Gemo et al. 2023, §4.2.2):
/// M = max|w|, G+ = |w|/M·(Gmax − Gmin) + Gmin, G− = Gmin, sign(w) kept digitally;
/// read back w = sign(w)·(G+ − G−)/(Gmax − Gmin)·M. Both devices drift independently; a zero weight stays zero
/// because its sign is 0.
/// </summary>
[ShipModel("DifferentialReferenceMapping")]
public sealed class DifferentialReferenceMapping : ConductanceMapping, IShipModel<DifferentialReferenceMapping, DifferentialReferenceMapping.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately); conductances in S.</summary>
    public sealed record Settings(double Gmin, double Gmax, double? Scale);

    /// <inheritdoc />
    public Settings GetSettings() => new(Range.Gmin, Range.Gmax, FixedScale);

    /// <inheritdoc />
    public static DifferentialReferenceMapping FromSettings(Settings settings) => new(settings.Gmin, settings.Gmax, settings.Scale);

    /// <summary>Creates the mapping on [gmin, gmax] (S; SHIP: 50e-6–120e-6 S = 50–120 µS); <paramref name="scale"/> fixes M (default max|w|).</summary>
    public DifferentialReferenceMapping(double gmin = 50e-6, double gmax = 120e-6, double? scale = null) : base(scale)
        => Range = new ConductanceRange(DeviceErrors.Conductance(nameof(DifferentialReferenceMapping), "gmin", gmin), gmax, nameof(DifferentialReferenceMapping));

    /// <summary>Window of the programmed device (S); the reference sits at Gmin.</summary>
    public ConductanceRange Range { get; }

    /// <inheritdoc />
    public override int DevicesPerWeight => 2;

    /// <inheritdoc />
    public override Tensor Encode(Tensor weights, out WeightEncoding encoding)
    {
        double m = ScaleOf(weights);
        encoding = new WeightEncoding(m, Range, weights.sign());
        var plus = weights.abs().mul_(Range.Width / m).add_(Range.Gmin);
        var minus = torch.full_like(plus, Range.Gmin);
        return torch.stack(new[] { plus, minus });
    }

    /// <inheritdoc />
    public override Tensor Decode(Tensor conductances, WeightEncoding encoding) =>
        (conductances[0] - conductances[1]).mul_(encoding.Scale / encoding.Range.Width).mul_(encoding.Sign!);
}
