using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// aihwkit's accumulated 1/f read noise of PCM: σ = |G|·Qs·sqrt(ln((t + t_r)/(2·t_r))), Qs = min(0.0088/x^0.65, 0.2),
/// x = |G0|/Gmax with G0 the programmed conductance, t_r = 250 ns, t = elapsed time + <see cref="TimeOffset"/>
/// (aihwkit counts from t0 = 20 s before the first read, so its presets use an offset of 20 s). σ = 0 while
/// (t + t_r)/(2·t_r) ≤ 1.
/// </summary>
[ShipModel("OneOverFReadSigma")]
public sealed class OneOverFReadSigma : INoiseSigma, IShipModel<OneOverFReadSigma, OneOverFReadSigma.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(double ReadTime, double TimeOffset, double QsScale, double QsExponent, double QsMax);

    /// <inheritdoc />
    public Settings GetSettings() => new(ReadTime, TimeOffset, QsScale, QsExponent, QsMax);

    /// <inheritdoc />
    public static OneOverFReadSigma FromSettings(Settings settings) => new(settings.ReadTime, settings.TimeOffset, settings.QsScale, settings.QsExponent, settings.QsMax);

    /// <summary>Creates the law with aihwkit's constants by default.</summary>
    public OneOverFReadSigma(double readTime = 250e-9, double timeOffset = 0, double qsScale = 0.0088, double qsExponent = 0.65, double qsMax = 0.2)
    {
        string o = nameof(OneOverFReadSigma);
        ReadTime = DeviceErrors.Positive(o, "readTime", readTime, " s");
        TimeOffset = DeviceErrors.Time(o, "timeOffset", timeOffset);
        QsScale = DeviceErrors.NonNegative(o, "qsScale", qsScale);
        QsExponent = DeviceErrors.NonNegative(o, "qsExponent", qsExponent);
        QsMax = DeviceErrors.NonNegative(o, "qsMax", qsMax);
    }

    /// <summary>t_r (s).</summary>
    public double ReadTime { get; }
    /// <summary>Added to the elapsed time (s).</summary>
    public double TimeOffset { get; }
    /// <summary>0.0088.</summary>
    public double QsScale { get; }
    /// <summary>0.65.</summary>
    public double QsExponent { get; }
    /// <summary>0.2.</summary>
    public double QsMax { get; }

    /// <summary>sqrt(ln((t + t_r)/(2 t_r))), or 0 where the log is not positive.</summary>
    public double TimeFactor(double elapsed)
    {
        double t = elapsed + TimeOffset;
        double l = Math.Log((t + ReadTime) / (2 * ReadTime));
        return l > 0 ? Math.Sqrt(l) : 0;
    }

    /// <inheritdoc />
    public Tensor Sigma(Tensor conductances, DeviceState state)
    {
        var x = state.Programmed.abs().div_(state.Range.Gmax);
        var qs = x.pow_(QsExponent).reciprocal_().mul_(QsScale).clamp_(max: QsMax);
        return qs.mul_(conductances.abs()).mul_(TimeFactor(state.ElapsedTime));
    }
}
