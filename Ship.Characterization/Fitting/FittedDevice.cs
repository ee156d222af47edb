using System.Text.Json;
using System.Text.Json.Serialization;
using Ship.Characterization.Measurements;
using Ship.Devices.Memristive;

namespace Ship.Characterization.Fitting;

/// <summary>
/// A device fitted from measurements, as data: the selected pulse-response family and its parameters (S, pulses),
/// device-to-device spreads, cycle-to-cycle noise, the programming window, and optionally a fitted drift law and a
/// relative read noise. <see cref="ToArray"/> makes a <see cref="DeviceArray"/> usable in any network (and saved with it
/// by the network checkpoint); <see cref="Save"/>/<see cref="Load"/> keep the preset as JSON (what <c>ship fit</c> writes).
/// </summary>
public sealed record FittedDevice
{
    /// <summary>Name of the preset (appears in errors and reports).</summary>
    public required string Name { get; init; }
    /// <summary>Where the measurements came from.</summary>
    public string Source { get; init; } = "";
    /// <summary>Pulse-response family: soft-bounds, neurosim or exponential-step.</summary>
    public required string Family { get; init; }
    /// <summary>NeuroSim's fixed number of levels, when the fit used one.</summary>
    public int? NeuroSimLevels { get; init; }
    /// <summary>Fitted parameters of the family (S, pulses, 1/S).</summary>
    public required Dictionary<string, double> Parameters { get; init; }
    /// <summary>Device-to-device spread of dw_min (relative σ).</summary>
    public double DwMinSpread { get; init; }
    /// <summary>Device-to-device spread of w_min.</summary>
    public double WMinSpread { get; init; }
    /// <summary>Device-to-device spread of w_max.</summary>
    public double WMaxSpread { get; init; }
    /// <summary>Cycle-to-cycle noise of each step (relative σ).</summary>
    public double CycleNoise { get; init; }
    /// <summary>Lower end of the programming window (S): weights map onto [GminS, GmaxS].</summary>
    public required double GminS { get; init; }
    /// <summary>Upper end of the programming window (S).</summary>
    public required double GmaxS { get; init; }
    /// <summary>Fitted power-law drift, if retention data were given.</summary>
    public DriftSpec? Drift { get; init; }
    /// <summary>Relative read-noise σ (σ/G), if read-noise data were given.</summary>
    public double? ReadNoiseRelative { get; init; }
    /// <summary>Endurance (window narrowing and failures with the write pulses; counts in pulses), or null when not fitted.</summary>
    public Endurance.Settings? Endurance { get; init; }

    /// <summary>Power-law drift as data.</summary>
    /// <param name="T0">t0 (s).</param>
    /// <param name="Clock">Clock convention.</param>
    /// <param name="NuMean">μν.</param>
    /// <param name="NuSigma">σν.</param>
    public sealed record DriftSpec(double T0, PowerLawClock Clock, double NuMean, double NuSigma);

    /// <summary>The pulse response of the fitted family.</summary>
    public PulseResponse Response()
    {
        PulseModelFamily family = Family switch
        {
            "soft-bounds" => new SoftBoundsFamily(),
            "neurosim" => new NeuroSimFamily(NeuroSimLevels),
            "exponential-step" => new ExponentialStepFamily(),
            _ => throw new Ship.Core.Errors.ParameterException(Name, nameof(Family), $"must be soft-bounds, neurosim or exponential-step, got '{Family}'."),
        };
        foreach (var p in family.Parameters)
            if (!Parameters.ContainsKey(p.Name))
                throw new Ship.Core.Errors.ParameterException(Name, p.Name, $"the {Family} family needs it; the preset has [{string.Join(", ", Parameters.Keys)}].");
        return family.ToResponse(Parameters, DwMinSpread, WMinSpread, WMaxSpread, CycleNoise);
    }

    /// <summary>
    /// A new device array: symmetric differential pair on [GminS, GmaxS], programmed by identical pulses through the
    /// fitted response (so nonlinearity, spreads and cycle noise shape the programmed weights), then the fitted drift
    /// and read noise; pulses applied later (<see cref="DeviceArray.ApplyPulses(int, PulseDirection, TorchSharp.torch.Generator, TorchSharp.torch.Tensor?)"/>) follow the same response.
    /// </summary>
    public DeviceArray ToArray(double elapsedTime = 0)
    {
        var response = Response();
        var effects = new List<INonIdeality> { new PulseProgramming(response) };
        if (Drift is { } d) effects.Add(new FittedPowerLawDrift(d.T0, d.Clock, d.NuMean, d.NuSigma));
        if (ReadNoiseRelative is { } r && r > 0) effects.Add(ReadNoise.Relative(r));
        // Last, so a failed device reads exactly its stuck value.
        if (Endurance is { } e) effects.Add(Ship.Devices.Memristive.Endurance.FromSettings(e));
        return new DeviceArray(Name, new SymmetricDifferentialMapping(GminS, GmaxS), effects.ToArray()) { Pulses = response, ElapsedTime = elapsedTime };
    }

    /// <summary>Builds the preset from a pulse fit (and optionally a drift fit and read-noise data).</summary>
    public static FittedDevice From(string name, PulseFitReport pulses, PowerLawDriftReport? drift = null, ReadNoiseMeasurements? readNoise = null,
        int? neuroSimLevels = null, EnduranceReport? endurance = null, double pulsesPerCycle = 2)
    {
        ArgumentNullException.ThrowIfNull(pulses);
        var response = pulses.Response;
        // The window the devices actually cover in the measurements: from the mean start of the up trains to the mean
        // end of the up trains, inside the response's bounds.
        var ups = pulses.Selected.Family is NeuroSimFamily
            ? (response.WMin, response.WMax)
            : (Math.Max(response.WMin, pulses.PerDeviceOrPooledUpRange().Lo), Math.Min(response.WMax, pulses.PerDeviceOrPooledUpRange().Hi));
        double? rn = readNoise is null ? null : readNoise.PerDevice().Where(d => d.Reads > 1 && d.Mean > 0).Select(d => d.Sigma / d.Mean).DefaultIfEmpty(0).Average();
        return new FittedDevice
        {
            Name = name,
            Source = pulses.Source,
            Family = pulses.Selected.Family.Name,
            NeuroSimLevels = neuroSimLevels,
            Parameters = pulses.Selected.Values.ToDictionary(kv => kv.Key, kv => kv.Value),
            DwMinSpread = pulses.DwMinSpread,
            WMinSpread = pulses.WMinSpread,
            WMaxSpread = pulses.WMaxSpread,
            CycleNoise = pulses.CycleNoise,
            GminS = ups.Item1,
            GmaxS = ups.Item2,
            Drift = drift is null ? null : new DriftSpec(drift.Options.T0, drift.Options.Clock, drift.ToDrift().NuMean, drift.ToDrift().NuSigma),
            ReadNoiseRelative = rn,
            Endurance = endurance?.ToEndurance(pulsesPerCycle).GetSettings(),
        };
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Writes the preset as JSON.</summary>
    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    /// <summary>Reads a preset written by <see cref="Save"/>; a malformed file is a <see cref="MeasurementFileException"/> naming it.</summary>
    public static FittedDevice Load(string path)
    {
        if (!File.Exists(path)) throw new MeasurementFileException(path, 0, "(file)", "an existing preset file", Ship.Core.Errors.UserFiles.WhatIsAt(path, file: true));
        try
        {
            return JsonSerializer.Deserialize<FittedDevice>(File.ReadAllText(path), Json)
                ?? throw new MeasurementFileException(path, 0, "(json)", "a fitted-device preset", "null");
        }
        catch (JsonException e)
        {
            throw new MeasurementFileException(path, (e.LineNumber ?? -1) + 1, e.Path ?? "(json)", "a fitted-device preset (ship fit writes one)", e.Message);
        }
    }
}
