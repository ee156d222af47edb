using System.Text.Json.Serialization;

namespace Ship.Cli;

/// <summary>Where the study's samples come from.</summary>
/// <param name="Kind">"digits", "idx" or "csv".</param>
/// <param name="Path">Folder (idx) or file (csv); null for the embedded digits.</param>
public sealed record DatasetSpec(string Kind, string? Path)
{
    /// <summary>The embedded 8×8 digits.</summary>
    public static DatasetSpec Digits { get; } = new("digits", null);

    /// <summary>The form given on the command line (digits, idx:FOLDER, csv:FILE).</summary>
    public override string ToString() => Path is null ? Kind : $"{Kind}:{Path}";
}

/// <summary>
/// Every setting of one study run. Defaults give the full study on the embedded digits; <see cref="Quick"/> gives the
/// short CI setting. Written to settings.json next to the results, so a run can be reproduced.
/// </summary>
public sealed record StudySettings
{
    /// <summary>Data set.</summary>
    [JsonIgnore] public DatasetSpec Dataset { get; init; } = DatasetSpec.Digits;
    /// <summary>Data set as text, for settings.json.</summary>
    [JsonPropertyName("dataset")] public string DatasetText => Dataset.ToString();
    /// <summary>Fraction of the samples held out for testing (data sets without their own test part).</summary>
    public double TestFraction { get; init; } = 0.2;
    /// <summary>Seed of the hold-out split, the initial weights, the loader order and the input encoding.</summary>
    public long Seed { get; init; } = 1;
    /// <summary>Input encoding: "rate" (Bernoulli spikes, fresh every epoch) or "latency" (time to first spike).</summary>
    public string Encoding { get; init; } = "rate";
    /// <summary>Simulation steps per sample.</summary>
    public int Steps { get; init; } = 25;
    /// <summary>Time step (s).</summary>
    public double Dt { get; init; } = 1e-3;
    /// <summary>Rate of a full-intensity pixel under rate encoding (Hz).</summary>
    public double MaxRate { get; init; } = 1000;
    /// <summary>Hidden LIF neurons.</summary>
    public int Hidden { get; init; } = 128;
    /// <summary>Hidden membrane time constant (s).</summary>
    public double TauHidden { get; init; } = 20e-3;
    /// <summary>Output leaky-integrator time constant (s).</summary>
    public double TauOut { get; init; } = 20e-3;
    /// <summary>Hidden firing threshold.</summary>
    public double Threshold { get; init; } = 1.0;
    /// <summary>Training epochs.</summary>
    public int Epochs { get; init; } = 30;
    /// <summary>Samples per training batch.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Adam learning rate.</summary>
    public double LearningRate { get; init; } = 5e-3;
    /// <summary>Fast-sigmoid surrogate slope.</summary>
    public double SurrogateSlope { get; init; } = 10;
    /// <summary>Levels of the hardware-aware training (0 = train only the plain network).</summary>
    public int HwLevels { get; init; } = 4;
    /// <summary>Level counts of the quantization evaluation.</summary>
    public IReadOnlyList<int> Levels { get; init; } = new[] { 2, 4, 8, 16, 32, 64 };
    /// <summary>Elapsed times of the drift evaluation (s).</summary>
    public IReadOnlyList<double> Times { get; init; } = new[] { 1, 3.16, 10, 31.6, 100, 316, 1000, 3160, 10000 };
    /// <summary>Device presets of the drift evaluation and the device plots (rram, pcm, ideal).</summary>
    public IReadOnlyList<string> Presets { get; init; } = new[] { "rram", "pcm" };
    /// <summary>Device seeds per hardware setting (each seed is another chip).</summary>
    public int Seeds { get; init; } = 5;
    /// <summary>Torch device: "cpu" or "cuda".</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>
    /// Torch CPU threads (default 1), the most any run may use: the engine's thread policy runs the study's small
    /// training batches at 1 thread whatever is set (KernelPolicy.ChooseThreads) and larger runs at these.
    /// </summary>
    public int Threads { get; init; } = 1;
    /// <summary>Whether to add the crossbar stage (accuracy vs ADC bits and vs line resistance; docs/models/crossbar.md).</summary>
    public bool Crossbar { get; init; }
    /// <summary>ADC resolutions of the crossbar stage (bits).</summary>
    public IReadOnlyList<int> AdcBits { get; init; } = new[] { 2, 3, 4, 5, 6, 8 };
    /// <summary>Line resistances per segment of the crossbar stage (Ω).</summary>
    public IReadOnlyList<double> LineResistances { get; init; } = new double[] { 0, 1, 2, 5, 10, 20, 50 };
    /// <summary>
    /// Chip instances of the chip study (0 = none): chip k (seed k) is one draw of every device-to-device variation and
    /// parameter mismatch; each trained network is evaluated on every chip (docs/cli.md, <c>--chips</c>).
    /// </summary>
    public int Chips { get; init; }
    /// <summary>Relative σ of the neuron parameter mismatch of a chip (hidden τ and threshold, output τ; fixed per chip); 0 = devices only.</summary>
    public double ChipMismatch { get; init; } = 0.10;
    /// <summary>Output folder.</summary>
    public string Out { get; init; } = "ship-output";
    /// <summary>Whether to also write the trained networks as NIR graphs (model.nir, model-hw.nir; docs/nir.md).</summary>
    public bool Nir { get; init; }
    /// <summary>Whether this is the short CI setting.</summary>
    public bool Quick { get; init; }

    /// <summary>
    /// The short setting (&lt; 60 s): smaller network, fewer epochs, few levels, times and seeds. 15 epochs (not fewer)
    /// so the hardware-aware network has converged enough to show the study's point at 4 levels: with 5 epochs it scored
    /// 54 % on 4-level devices (plain 29 %), with 15 it scores 92 % against 51 % for plain training.
    /// </summary>
    public static StudySettings QuickDefaults { get; } = new()
    {
        Quick = true,
        Steps = 20,
        Hidden = 64,
        Epochs = 15,
        BatchSize = 64,
        Levels = new[] { 2, 4, 16 },
        Times = new[] { 1.0, 100, 10000 },
        Seeds = 2,
    };
}
