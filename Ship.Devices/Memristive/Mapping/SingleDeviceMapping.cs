using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// One physical device per weight around the middle of its window, for arrays that subtract a shared reference column:
/// with M = max|w| and G_ref = (Gmin + Gmax)/2, G = G_ref + w/M·(Gmax − Gmin)/2, read back w = (G − G_ref)·2M/(Gmax − Gmin).
/// Conductances in siemens (S).
/// </summary>
[ShipModel("SingleDeviceMapping")]
public sealed class SingleDeviceMapping : ConductanceMapping, IShipModel<SingleDeviceMapping, SingleDeviceMapping.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes): the window (S) and the fixed scale, if any.</summary>
    public sealed record Settings(double Gmin, double Gmax, double? Scale);

    /// <inheritdoc />
    public Settings GetSettings() => new(Range.Gmin, Range.Gmax, FixedScale);

    /// <inheritdoc />
    public static SingleDeviceMapping FromSettings(Settings settings) => new(settings.Gmin, settings.Gmax, settings.Scale);

    /// <summary>Creates the mapping on [gmin, gmax] (S); <paramref name="scale"/> fixes M (default max|w|).</summary>
    public SingleDeviceMapping(double gmin, double gmax, double? scale = null) : base(scale)
        => Range = new ConductanceRange(gmin, gmax, nameof(SingleDeviceMapping));

    /// <summary>Window of the device (S).</summary>
    public ConductanceRange Range { get; }

    /// <summary>The conductance of a zero weight, G_ref = (Gmin + Gmax)/2 (S): the value of the shared reference column.</summary>
    public double Reference => (Range.Gmin + Range.Gmax) / 2;

    /// <inheritdoc />
    public override int DevicesPerWeight => 1;

    /// <inheritdoc />
    public override Tensor Encode(Tensor weights, out WeightEncoding encoding)
    {
        double m = ScaleOf(weights);
        encoding = new WeightEncoding(m, Range);
        return weights.mul(Range.Width / (2 * m)).add_(Reference).unsqueeze(0);
    }

    /// <inheritdoc />
    public override Tensor Decode(Tensor conductances, WeightEncoding encoding) =>
        (conductances[0] - Reference).mul_(2 * encoding.Scale / encoding.Range.Width);
}
