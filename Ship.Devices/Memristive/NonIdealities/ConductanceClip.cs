using Ship.Core.Persistence;
using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>Clamps conductances (S) to physical limits after programming and at every read (aihwkit clamps PCM at G ≥ 0).</summary>
[ShipModel("ConductanceClip")]
public sealed class ConductanceClip : INonIdeality, IShipModel<ConductanceClip, ConductanceClip.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately); conductances in S.</summary>
    public sealed record Settings(double? Min, double? Max);

    /// <inheritdoc />
    public Settings GetSettings() => new(Min, Max);

    /// <inheritdoc />
    public static ConductanceClip FromSettings(Settings settings) => new(settings.Min, settings.Max);

    /// <summary>Creates the clip at conductances <paramref name="min"/> and <paramref name="max"/> (S); a null bound is open.</summary>
    public ConductanceClip(double? min = 0, double? max = null)
    {
        if (min is { } lo && double.IsNaN(lo)) throw new ParameterException(nameof(ConductanceClip), "min", "is NaN, which clips nothing; give a number or null for no lower bound.");
        if (max is { } hi && double.IsNaN(hi)) throw new ParameterException(nameof(ConductanceClip), "max", "is NaN, which clips nothing; give a number or null for no upper bound.");
        if (min is { } a && max is { } b && !(a < b))
            throw new ParameterException(nameof(ConductanceClip), "min/max", $"needs min < max, got min = {a}, max = {b}.");
        Min = min;
        Max = max;
    }

    /// <summary>Lower limit (S) or null.</summary>
    public double? Min { get; }
    /// <summary>Upper limit (S) or null.</summary>
    public double? Max { get; }

    private Tensor Clip(Tensor g) => (Min, Max) switch
    {
        (null, null) => g,
        ({ } a, null) => g.clamp(min: a),
        (null, { } b) => g.clamp(max: b),
        ({ } a, { } b) => g.clamp(a, b),
    };

    /// <inheritdoc />
    public Tensor Program(Tensor conductances, DeviceState state) => Clip(conductances);

    /// <inheritdoc />
    public Tensor Read(Tensor conductances, DeviceState state) => Clip(conductances);
}
