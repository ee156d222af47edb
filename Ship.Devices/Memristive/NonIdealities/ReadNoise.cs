using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Gaussian read noise, drawn afresh at every read: G ← G + σ(G)·ξ. Makes reads vary, so a synapse reads its devices
/// every step. σ from an <see cref="INoiseSigma"/> law (absolute, relative, or aihwkit's 1/f law).
/// </summary>
[ShipModel("ReadNoise")]
public sealed class ReadNoise : INonIdeality, IShipModel<ReadNoise, ReadNoise.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(INoiseSigma Sigma);

    /// <inheritdoc />
    public Settings GetSettings() => new(SigmaLaw);

    /// <inheritdoc />
    public static ReadNoise FromSettings(Settings settings) => new(settings.Sigma);

    /// <summary>Creates the noise with the given σ law.</summary>
    public ReadNoise(INoiseSigma sigma) => SigmaLaw = sigma ?? throw new ArgumentNullException(nameof(sigma));

    /// <summary>Noise of constant σ (S).</summary>
    public static ReadNoise Absolute(double sigma) => new(new AbsoluteSigma(sigma));
    /// <summary>Noise of σ = fraction·|G|.</summary>
    public static ReadNoise Relative(double fraction) => new(new RelativeSigma(fraction));
    /// <summary>aihwkit's 1/f law; <paramref name="timeOffset"/> = 20 s reproduces aihwkit's clock.</summary>
    public static ReadNoise OneOverF(double timeOffset = 0, double readTime = 250e-9) => new(new OneOverFReadSigma(readTime, timeOffset));

    /// <summary>The σ law.</summary>
    public INoiseSigma SigmaLaw { get; }

    /// <inheritdoc />
    public bool ReadsVary => true;

    /// <inheritdoc />
    public Tensor Read(Tensor conductances, DeviceState state) =>
        conductances + SigmaLaw.Sigma(conductances, state) * state.Normal();
}
