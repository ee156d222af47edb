using Ship.Core.Persistence;
using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Finite conductance levels (SHIP's weight-quantization study, §4.2.1): n levels evenly spaced on the window,
/// L_k = Gmin + k·Δ with Δ = (Gmax − Gmin)/(n − 1); each device goes to the nearest level (boundaries halfway between
/// levels, a value on a boundary goes up, outer bins open-ended), then gets Gaussian level variability
/// N(0, σ²) with σ = (Gmax − Gmin)/n/6 unless given (three-sigma separation). Optionally each device's step is
/// Δ·(1 + s·ξ), drawn once per device (device-to-device step-size spread).
/// Example: n = 3 on [−1, 1] → levels {−1, 0, 1}, boundaries ±0.5, σ = 1/9.
/// </summary>
[ShipModel("QuantizedLevels")]
public sealed class QuantizedLevels : INonIdeality, IShipModel<QuantizedLevels, QuantizedLevels.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int Levels, double? LevelSigma, double StepSpread);

    /// <inheritdoc />
    public Settings GetSettings() => new(Levels, LevelSigma, StepSpread);

    /// <inheritdoc />
    public static QuantizedLevels FromSettings(Settings settings) => new(settings.Levels, settings.LevelSigma, settings.StepSpread);

    /// <summary>Creates the model; <paramref name="levelSigma"/> null means (range/n)/6, 0 turns variability off.</summary>
    public QuantizedLevels(int levels, double? levelSigma = null, double stepSpread = 0)
    {
        if (levels < 2) throw new ParameterException(nameof(QuantizedLevels), "levels", $"needs at least 2 conductance levels, got {levels}.");
        Levels = levels;
        if (levelSigma is { } s) DeviceErrors.NonNegative(nameof(QuantizedLevels), "levelSigma", s);
        LevelSigma = levelSigma;
        StepSpread = DeviceErrors.NonNegative(nameof(QuantizedLevels), "stepSpread", stepSpread);
    }

    /// <summary>Number of levels n ≥ 2.</summary>
    public int Levels { get; }
    /// <summary>σ of the level variability (S, or weight units on a weight-space mapping), or null for (range/n)/6.</summary>
    public double? LevelSigma { get; }
    /// <summary>Relative device-to-device spread of the level step.</summary>
    public double StepSpread { get; }

    /// <summary>The n level values L_k = Gmin + k·Δ on <paramref name="range"/> (in its units; S for siemens ranges), lowest first.</summary>
    public double[] LevelValues(ConductanceRange range)
    {
        double step = range.Width / (Levels - 1);
        return Enumerable.Range(0, Levels).Select(k => k == Levels - 1 ? range.Gmax : range.Gmin + k * step).ToArray();
    }

    /// <summary>
    /// The n − 1 bin edges between neighbouring levels, halfway: Gmin + (k + ½)·Δ. A value on an edge goes to the upper
    /// level; the outer bins are open-ended.
    /// </summary>
    public double[] BinEdges(ConductanceRange range)
    {
        double step = range.Width / (Levels - 1);
        return Enumerable.Range(0, Levels - 1).Select(k => range.Gmin + (k + 0.5) * step).ToArray();
    }

    /// <summary>σ (S) used on a window of the given width (S).</summary>
    public double SigmaFor(double width) => LevelSigma ?? width / Levels / 6;

    /// <summary>Index of the nearest level for conductances g (S), k = clamp(floor((g − Gmin)/Δ + ½), 0, n − 1).</summary>
    public static Tensor LevelIndex(Tensor g, ConductanceRange range, int levels)
    {
        double step = range.Width / (levels - 1);
        return (g - range.Gmin).div_(step).add_(0.5).floor_().clamp_(0, levels - 1);
    }

    /// <inheritdoc />
    public Tensor Program(Tensor conductances, DeviceState state)
    {
        var r = state.Range;
        double step = r.Width / (Levels - 1);
        var k = LevelIndex(conductances, r, Levels);
        var steps = StepSpread > 0
            ? state.Fabricated(this, "step", () => state.Normal().mul_(StepSpread).add_(1)).mul(step)
            : torch.tensor(step, dtype: ScalarType.Float64, device: state.Device);
        var q = k.mul_(steps).add_(r.Gmin);
        double sigma = SigmaFor(r.Width);
        return sigma > 0 ? q.add_(state.Normal().mul_(sigma)) : q;
    }
}
