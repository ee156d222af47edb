using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// aihwkit's PCM programming-noise law (Nandakumar et al. 2019): with x = G/Gmax,
/// σ = (c0 + c1·x + c2·x²)·Gmax/Gref, c = (0.26348, 1.9650, −1.1731) µS fitted at Gref = 25 µS; every coefficient and
/// conductance here is in siemens (c = (0.26348e-6, 1.9650e-6, −1.1731e-6) S, Gref = 25e-6 S).
/// </summary>
[ShipModel("PcmProgrammingSigma")]
public sealed class PcmProgrammingSigma : INoiseSigma, IShipModel<PcmProgrammingSigma, PcmProgrammingSigma.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately); conductances in S.</summary>
    public sealed record Settings(double C0, double C1, double C2, double ReferenceGmax);

    /// <inheritdoc />
    public Settings GetSettings() => new(C0, C1, C2, ReferenceGmax);

    /// <inheritdoc />
    public static PcmProgrammingSigma FromSettings(Settings settings) => new(settings.C0, settings.C1, settings.C2, settings.ReferenceGmax);

    /// <summary>Creates the law with aihwkit's coefficients (S) by default.</summary>
    public PcmProgrammingSigma(double c0 = 0.26348e-6, double c1 = 1.9650e-6, double c2 = -1.1731e-6, double referenceGmax = 25e-6)
    {
        C0 = c0;
        C1 = c1;
        C2 = c2;
        ReferenceGmax = DeviceErrors.Positive(nameof(PcmProgrammingSigma), "referenceGmax", referenceGmax);
    }

    /// <summary>c0 (S at Gref).</summary>
    public double C0 { get; }
    /// <summary>c1 (S at Gref).</summary>
    public double C1 { get; }
    /// <summary>c2 (S at Gref).</summary>
    public double C2 { get; }
    /// <summary>Gmax the coefficients were fitted at (S; 25e-6 S = 25 µS).</summary>
    public double ReferenceGmax { get; }

    /// <inheritdoc />
    public Tensor Sigma(Tensor conductances, DeviceState state)
    {
        double gmax = state.Range.Gmax;
        var x = conductances / gmax;
        return (x * C2).add_(C1).mul_(x).add_(C0).mul_(gmax / ReferenceGmax);
    }
}
