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
    /// <summary>m = mean over every device of |G| (conductances), the literal form of the global correction.</summary>
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
public sealed class GlobalDriftCompensation : IWeightDevice
{
    private double? _m0;
    private readonly Dictionary<double, double> _alpha = new();

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

    /// <summary>The measure m of a weight read [Ns, Nt] (or of conductances [D, Ns, Nt] for <see cref="CompensationReference.MeanAbsoluteConductance"/>).</summary>
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
