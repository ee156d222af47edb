using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// What decoding needs from one programming: the weight scale M, the conductance window used, and (for sign-bit
/// mappings) the sign of every weight. Owned by the device array, which disposes it at the next programming.
/// </summary>
public sealed class WeightEncoding : IDisposable
{
    /// <summary>Creates an encoding; <paramref name="sign"/> is taken over (detached from any dispose scope).</summary>
    public WeightEncoding(double scale, ConductanceRange range, Tensor? sign = null)
    {
        Scale = scale;
        Range = range;
        Sign = sign?.DetachFromDisposeScope();
    }

    /// <summary>M: the weight magnitude that maps to a full-scale conductance difference.</summary>
    public double Scale { get; }
    /// <summary>Conductance window of this programming (S; for weight-space mappings it is [−M, M] in weight units).</summary>
    public ConductanceRange Range { get; }
    /// <summary>Sign of each weight, kept digitally by sign-bit mappings; null otherwise.</summary>
    public Tensor? Sign { get; }

    /// <inheritdoc />
    public void Dispose() => Sign?.Dispose();
}

/// <summary>
/// How a weight matrix becomes device conductances and back. Conductances have a leading device axis D
/// (2 for a differential pair G+ / G−, 1 for a single device), so a weight array [Ns, Nt] becomes [D, Ns, Nt].
/// </summary>
public abstract class ConductanceMapping
{
    /// <summary>Creates a mapping; <paramref name="scale"/> fixes M, null takes M = max|w| of each programming (as SHIP).</summary>
    protected ConductanceMapping(double? scale)
    {
        if (scale is { } s) DeviceErrors.Positive(GetType().Name, "scale", s);
        FixedScale = scale;
    }

    /// <summary>Fixed weight scale M, or null for M = max|w| per programmed synapse group.</summary>
    public double? FixedScale { get; }

    /// <summary>Physical devices per weight (length of the leading axis).</summary>
    public abstract int DevicesPerWeight { get; }

    /// <summary>Target conductances (S) [D, …weights shape] for float64 weights; <paramref name="encoding"/> is what <see cref="Decode"/> needs.</summary>
    public abstract Tensor Encode(Tensor weights, out WeightEncoding encoding);

    /// <summary>Effective weights from (possibly non-ideal) conductances (S) [D, …], float64.</summary>
    public abstract Tensor Decode(Tensor conductances, WeightEncoding encoding);

    /// <summary>M for these weights: the fixed scale, else max|w| (1 when all weights are zero, so zeros stay zeros).</summary>
    protected double ScaleOf(Tensor weights)
    {
        if (FixedScale is { } s) return s;
        double m = weights.numel() == 0 ? 0 : weights.abs().max().item<double>();
        return m > 0 ? m : 1.0;
    }
}
