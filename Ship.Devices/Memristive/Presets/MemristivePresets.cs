using Ship.Core.Errors;

namespace Ship.Devices.Memristive;

/// <summary>
/// Ready-made device arrays (each call returns a new, unprogrammed array). Compose further with
/// <see cref="DeviceArray.With"/>, e.g. <c>MemristivePresets.ShipRram().With(new StuckAtFaults(0.01, 0.01))</c>.
/// </summary>
public static class MemristivePresets
{
    /// <summary>
    /// SHIP's drift study (Gemo, Spiga, Brivio, Front. Neurosci. 2023, §4.2.2 and suppl. S4): reference-pair mapping on
    /// 50–120 µS, i.e. [50e-6, 120e-6] S (M = max|w| per synapse group) and the fitted HfO2 RRAM drift; nothing else.
    /// Conductances are in siemens; <paramref name="elapsedTime"/> in seconds.
    /// </summary>
    public static DeviceArray ShipRram(double elapsedTime = 0) =>
        new("SHIP RRAM", new DifferentialReferenceMapping(50e-6, 120e-6), new RramDrift()) { ElapsedTime = elapsedTime };

    /// <summary>
    /// SHIP's weight-quantization study (§4.2.1): n levels on [−max|w|, max|w|] in weight space with Gaussian level
    /// variability σ (default (range/n)/6). A weight-space study: its "conductances" are the weights themselves (weight
    /// units, not siemens), as in SHIP.
    /// </summary>
    public static DeviceArray ShipQuantized(int levels, double? levelSigma = null) =>
        new("SHIP quantized", new DirectMapping(), new QuantizedLevels(levels, levelSigma));

    /// <summary>
    /// PCM-like device after aihwkit's PCMLikeNoiseModel: sign-selected pair on [0, <paramref name="gmax"/>] (S, default
    /// 25e-6 S = 25 µS), power-law drift
    /// with per-device ν (t0 = 20 s), the PCM programming-noise polynomial, 1/f read noise on aihwkit's clock
    /// (elapsed time + 20 s), conductances clamped at 0.
    /// </summary>
    public static DeviceArray PcmLike(double elapsedTime = 0, double gmax = 25e-6) =>
        new("PCM-like", new SymmetricDifferentialMapping(0, gmax),
            PowerLawDrift.Aihwkit(),
            ProgrammingNoise.AihwkitPcm(),
            ReadNoise.OneOverF(timeOffset: 20),
            new ConductanceClip(0, null)) { ElapsedTime = elapsedTime };

    /// <summary>An ideal device: reading returns the programmed weights exactly (weight space, no siemens involved).</summary>
    public static DeviceArray Ideal() => new("ideal", new DirectMapping());

    /// <summary>The preset names understood by <see cref="ByName"/>, the CLI's <c>--device-preset</c> and the examples' <c>--preset</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "rram", "pcm", "ideal" };

    /// <summary>
    /// A new, unprogrammed array of the preset called <paramref name="name"/> (one of <see cref="Names"/>: rram =
    /// <see cref="ShipRram"/>, pcm = <see cref="PcmLike"/>, ideal = <see cref="Ideal"/>), read at
    /// <paramref name="elapsedTime"/> seconds; any other name throws <see cref="UnknownPresetException"/> listing the known ones.
    /// </summary>
    public static DeviceArray ByName(string name, double elapsedTime = 0) => name switch
    {
        "rram" => ShipRram(elapsedTime),
        "pcm" => PcmLike(elapsedTime),
        "ideal" => new DeviceArray("ideal", new DirectMapping()) { ElapsedTime = elapsedTime },
        _ => throw new UnknownPresetException(name, Names),
    };
}

/// <summary>A device preset name that is not one of <see cref="MemristivePresets.Names"/>.</summary>
public sealed class UnknownPresetException : ShipException
{
    /// <summary>Creates the error for <paramref name="name"/>, listing <paramref name="known"/>.</summary>
    public UnknownPresetException(string? name, IReadOnlyList<string> known)
        : base($"Unknown device preset '{name}': expected one of {string.Join(", ", known)}.")
    {
        Name = name;
        Known = known;
    }

    /// <summary>The name asked for.</summary>
    public string? Name { get; }
    /// <summary>The names that exist.</summary>
    public IReadOnlyList<string> Known { get; }
}
