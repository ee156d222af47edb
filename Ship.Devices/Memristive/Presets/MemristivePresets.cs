namespace Ship.Devices.Memristive;

/// <summary>
/// Ready-made device arrays (each call returns a new, unprogrammed array). Compose further with
/// <see cref="DeviceArray.With"/>, e.g. <c>MemristivePresets.ShipRram().With(new StuckAtFaults(0.01, 0.01))</c>.
/// </summary>
public static class MemristivePresets
{
    /// <summary>
    /// SHIP's drift study (Gemo, Spiga, Brivio, Front. Neurosci. 2023, §4.2.2 and suppl. S4): reference-pair mapping on
    /// 50–120 µS (M = max|w| per synapse group) and the fitted HfO2 RRAM drift; nothing else.
    /// </summary>
    public static DeviceArray ShipRram(double elapsedTime = 0) =>
        new("SHIP RRAM", new DifferentialReferenceMapping(50, 120), new RramDrift()) { ElapsedTime = elapsedTime };

    /// <summary>
    /// SHIP's weight-quantization study (§4.2.1): n levels on [−max|w|, max|w|] in weight space with Gaussian level
    /// variability σ (default (range/n)/6).
    /// </summary>
    public static DeviceArray ShipQuantized(int levels, double? levelSigma = null) =>
        new("SHIP quantized", new DirectMapping(), new QuantizedLevels(levels, levelSigma));

    /// <summary>
    /// PCM-like device after aihwkit's PCMLikeNoiseModel: sign-selected pair on [0, gmax] µS (default 25), power-law drift
    /// with per-device ν (t0 = 20 s), the PCM programming-noise polynomial, 1/f read noise on aihwkit's clock
    /// (elapsed time + 20 s), conductances clamped at 0.
    /// </summary>
    public static DeviceArray PcmLike(double elapsedTime = 0, double gmax = 25) =>
        new("PCM-like", new SymmetricDifferentialMapping(0, gmax),
            PowerLawDrift.Aihwkit(),
            ProgrammingNoise.AihwkitPcm(),
            ReadNoise.OneOverF(timeOffset: 20),
            new ConductanceClip(0, null)) { ElapsedTime = elapsedTime };

    /// <summary>An ideal device: reading returns the programmed weights exactly.</summary>
    public static DeviceArray Ideal() => new("ideal", new DirectMapping());
}
