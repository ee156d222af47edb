using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Gaussian programming (write) noise, drawn once per programming: G ← G + σ(G)·ξ, ξ ~ N(0, 1), with σ from an
/// <see cref="INoiseSigma"/> law (absolute, relative, or aihwkit's PCM polynomial).
/// </summary>
[ShipModel("ProgrammingNoise")]
public sealed class ProgrammingNoise : INonIdeality, IShipModel<ProgrammingNoise, ProgrammingNoise.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(INoiseSigma Sigma);

    /// <inheritdoc />
    public Settings GetSettings() => new(SigmaLaw);

    /// <inheritdoc />
    public static ProgrammingNoise FromSettings(Settings settings) => new(settings.Sigma);

    /// <summary>Creates the noise with the given σ law.</summary>
    public ProgrammingNoise(INoiseSigma sigma) => SigmaLaw = sigma ?? throw new ArgumentNullException(nameof(sigma));

    /// <summary>Noise of constant σ (S).</summary>
    public static ProgrammingNoise Absolute(double sigma) => new(new AbsoluteSigma(sigma));
    /// <summary>Noise of σ = fraction·|G|.</summary>
    public static ProgrammingNoise Relative(double fraction) => new(new RelativeSigma(fraction));
    /// <summary>aihwkit's PCM law σ = (0.26348 + 1.9650·x − 1.1731·x²) µS·Gmax/(25 µS), in siemens.</summary>
    public static ProgrammingNoise AihwkitPcm() => new(new PcmProgrammingSigma());

    /// <summary>The σ law.</summary>
    public INoiseSigma SigmaLaw { get; }

    /// <inheritdoc />
    public Tensor Program(Tensor conductances, DeviceState state) =>
        conductances + SigmaLaw.Sigma(conductances, state) * state.Normal();
}
