using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Device-to-device variability of the conductance window: each device has its own
/// Gmin_d = Gmin + s_min·(Gmax − Gmin)·ξ1 and Gmax_d = Gmax + s_max·(Gmax − Gmin)·ξ2 (drawn once per fabricated
/// array; Gmax_d kept ≥ Gmin_d), and a conductance programmed at a fraction x of the nominal window lands at the same
/// fraction of its own: G ← Gmin_d + (G − Gmin)/(Gmax − Gmin)·(Gmax_d − Gmin_d). Its step sizes scale with its window.
/// </summary>
[ShipModel("RangeVariability")]
public sealed class RangeVariability : INonIdeality, IShipModel<RangeVariability, RangeVariability.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(double GminSpread, double GmaxSpread);

    /// <inheritdoc />
    public Settings GetSettings() => new(GminSpread, GmaxSpread);

    /// <inheritdoc />
    public static RangeVariability FromSettings(Settings settings) => new(settings.GminSpread, settings.GmaxSpread);

    /// <summary>Creates the model; spreads are fractions of the nominal window width.</summary>
    public RangeVariability(double gminSpread, double gmaxSpread)
    {
        GminSpread = DeviceErrors.NonNegative(nameof(RangeVariability), "gminSpread", gminSpread);
        GmaxSpread = DeviceErrors.NonNegative(nameof(RangeVariability), "gmaxSpread", gmaxSpread);
    }

    /// <summary>σ of Gmin_d, as a fraction of Gmax − Gmin.</summary>
    public double GminSpread { get; }
    /// <summary>σ of Gmax_d, as a fraction of Gmax − Gmin.</summary>
    public double GmaxSpread { get; }

    /// <inheritdoc />
    public Tensor Program(Tensor conductances, DeviceState state)
    {
        var r = state.Range;
        var z1 = state.Fabricated(this, "gmin", state.Normal);
        var z2 = state.Fabricated(this, "gmax", state.Normal);
        var gmin = (z1 * (GminSpread * r.Width)).add_(r.Gmin);
        var gmax = torch.maximum((z2 * (GmaxSpread * r.Width)).add_(r.Gmax), gmin);
        return (conductances - r.Gmin).div_(r.Width).mul_(gmax - gmin).add_(gmin);
    }
}
