using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// One "device" per weight whose value is the weight itself, on the window [−M, M] (M = max|w|): for weight-space
/// studies such as SHIP's quantization study (§4.2.1), and for the ideal device, whose read returns W exactly.
/// </summary>
[ShipModel("DirectMapping")]
public sealed class DirectMapping : ConductanceMapping, IShipModel<DirectMapping, DirectMapping.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(double? Scale);

    /// <inheritdoc />
    public Settings GetSettings() => new(FixedScale);

    /// <inheritdoc />
    public static DirectMapping FromSettings(Settings settings) => new(settings.Scale);

    /// <summary>Creates the mapping; <paramref name="scale"/> fixes M (default max|w|).</summary>
    public DirectMapping(double? scale = null) : base(scale) { }

    /// <inheritdoc />
    public override int DevicesPerWeight => 1;

    /// <inheritdoc />
    public override Tensor Encode(Tensor weights, out WeightEncoding encoding)
    {
        double m = ScaleOf(weights);
        encoding = new WeightEncoding(m, new ConductanceRange(-m, m, nameof(DirectMapping)));
        return weights.unsqueeze(0).clone();
    }

    /// <inheritdoc />
    public override Tensor Decode(Tensor conductances, WeightEncoding encoding) => conductances[0];
}
