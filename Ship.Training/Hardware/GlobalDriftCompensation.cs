using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Memristive;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Training.Hardware;

/// <summary>What a global drift compensation measures on a reference read and on a read at time t.</summary>
public enum CompensationReference
{
    /// <summary>m = mean over the array of |w| (the effective weights read back); the default.</summary>
    MeanAbsoluteWeight,
    /// <summary>m = mean over every device of |G| (conductances, S), the literal form of the global correction.</summary>
    MeanAbsoluteConductance,
    /// <summary>m = Σ_j |Σ_i w_ij|: the outputs of the array for an all-ones input, as aihwkit's GlobalDriftCompensation reads them.</summary>
    OnesInput,
}

/// <summary>
/// Global drift compensation (aihwkit's GlobalDriftCompensation): right after programming the array is measured once
/// (reference read at <see cref="ReferenceTime"/>, m0); when it is read at elapsed time t a calibration read gives m(t),
/// and every weight read at t is multiplied by α(t) = m0 / m(t) — one digital scale per array, which undoes the
/// common part of the drift (the mean decay) but not its device-to-device spread. m is chosen by
/// <see cref="Reference"/>. α is measured once per elapsed time (and per programming) and cached, so noisy reads use one
/// calibration, as a chip would.
/// </summary>
[ShipModel("GlobalDriftCompensation")]
public sealed class GlobalDriftCompensation : IWeightDevice, ICheckpointState, IShipModel<GlobalDriftCompensation, GlobalDriftCompensation.Settings>
{
    private double? _m0;
    private readonly Dictionary<double, double> _alpha = new();

    /// <summary>Construction settings: the wrapped array (with its own settings), the reference and its time.</summary>
    public sealed record Settings(DeviceArray Array, CompensationReference Reference, double ReferenceTime);

    /// <inheritdoc />
    public Settings GetSettings() => new(Array, Reference, ReferenceTime);

    /// <inheritdoc />
    public static GlobalDriftCompensation FromSettings(Settings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new(settings.Array, settings.Reference, settings.ReferenceTime);
    }

    /// <summary>The array belongs to one synapse: attaching the wrapper attaches the array.</summary>
    public void Attach(WeightedSynapse synapse) => ((IWeightDevice)Array).Attach(synapse);

    void ICheckpointState.SaveState(CheckpointWriter writer)
    {
        ((ICheckpointState)Array).SaveState(writer.Child("array"));
        writer.Set("m0", _m0);
        // The calibration cache: a noisy calibration read is not redone after loading, as a chip keeps its factors.
        var cached = _alpha.OrderBy(kv => kv.Key).SelectMany(kv => new[] { kv.Key, kv.Value }).ToArray();
        using var t = torch.tensor(cached, ScalarType.Float64);
        writer.SetTensor("alpha", t.reshape(-1, 2));
    }

    void ICheckpointState.LoadState(CheckpointReader reader)
    {
        ((ICheckpointState)Array).LoadState(reader.Child("array"));
        _m0 = reader.GetNullableDouble("m0");
        using var t = reader.GetTensor("alpha");
        if (t.dtype != ScalarType.Float64 || t.dim() != 2 || t.Sizes()[1] != 2)
            throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"the drift calibration of '{Array.Name}' is stored as {t.dtype} [{string.Join(", ", t.Sizes())}], expected Float64 [k, 2].");
        var v = t.cpu().data<double>().ToArray();
        _alpha.Clear();
        for (int k = 0; k + 1 < v.Length; k += 2) _alpha[v[k]] = v[k + 1];
    }

    /// <summary>Wraps <paramref name="array"/>; attach the wrapper to the synapse instead of the array.</summary>
    public GlobalDriftCompensation(DeviceArray array, CompensationReference reference = CompensationReference.MeanAbsoluteWeight, double referenceTime = 0)
    {
        Array = array ?? throw new ArgumentNullException(nameof(array));
        if (!(referenceTime >= 0) || !double.IsFinite(referenceTime))
            throw new ParameterException(nameof(GlobalDriftCompensation), "referenceTime", $"must be a finite time ≥ 0 s, got {referenceTime}.");
        Reference = reference;
        ReferenceTime = referenceTime;
    }

    /// <summary>The compensated device array.</summary>
    public DeviceArray Array { get; }
    /// <summary>What the reference and calibration reads measure.</summary>
    public CompensationReference Reference { get; }
    /// <summary>Elapsed time of the reference read (s), 0 = right after programming.</summary>
    public double ReferenceTime { get; }

    /// <summary>Elapsed time at which the array is read (forwarded to the array).</summary>
    public double ElapsedTime
    {
        get => Array.ElapsedTime;
        set => Array.ElapsedTime = value;
    }

    /// <inheritdoc />
    public bool ReadsVary => Array.ReadsVary;

    /// <summary>The reference measure m0 of the last programming.</summary>
    public double ReferenceMeasure => _m0 ?? throw new ShipException($"Drift compensation of '{Array.Name}' has no reference: program the array first.");

    /// <summary>The scale α at the current elapsed time (measured with a calibration read on first use).</summary>
    public double Alpha(SimulationContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        double t = Array.ElapsedTime;
        if (_alpha.TryGetValue(t, out var a)) return a;
        double m = Measure(ctx);
        a = Factor(ReferenceMeasure, m);
        _alpha[t] = a;
        return a;
    }

    /// <inheritdoc />
    public void Program(Tensor weights, SimulationContext ctx)
    {
        Array.Program(weights, ctx);
        _alpha.Clear();
        double t = Array.ElapsedTime;
        try
        {
            Array.ElapsedTime = ReferenceTime;
            _m0 = Measure(ctx);
        }
        finally { Array.ElapsedTime = t; }
    }

    /// <inheritdoc />
    public Tensor Read(SimulationContext ctx)
    {
        double a = Alpha(ctx);
        using var w = Array.Read(ctx);
        return w.mul(a);
    }

    /// <summary>α = m0/m(t); 1 when m(t) is 0 (nothing left to scale).</summary>
    public static double Factor(double reference, double current) => current > 0 ? reference / current : 1.0;

    /// <summary>The measure m of a weight read [Ns, Nt] (or of conductances (S) [D, Ns, Nt] for <see cref="CompensationReference.MeanAbsoluteConductance"/>).</summary>
    public static double Measure(Tensor read, CompensationReference reference)
    {
        ArgumentNullException.ThrowIfNull(read);
        using var scope = torch.NewDisposeScope();
        var x = read.detach().to_type(ScalarType.Float64);
        return reference switch
        {
            CompensationReference.OnesInput => x.sum(x.dim() - 2).abs_().sum().item<double>(),
            _ => x.abs().mean().item<double>(),
        };
    }

    private double Measure(SimulationContext ctx)
    {
        using var scope = torch.NewDisposeScope();
        var read = Reference == CompensationReference.MeanAbsoluteConductance ? Array.ReadConductances(ctx) : Array.Read(ctx);
        return Measure(read, Reference);
    }
}
