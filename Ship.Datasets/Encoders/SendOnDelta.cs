using Ship.Core.Errors;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets.Encoders;

/// <summary>How the send-on-delta reference follows the signal after an emission.</summary>
public enum DeltaReference
{
    /// <summary>
    /// The reference moves by exactly the emitted amount, r ← r + m·δ: the residual below δ is kept, a receiver that sums
    /// the spikes reconstructs the reference exactly, and a change larger than the code can carry in one step is sent
    /// over the following steps (slope overload) instead of being lost. Ship.NET's default.
    /// </summary>
    Track,
    /// <summary>
    /// The reference jumps to the current sample, r ← x, whenever anything is emitted (SHIP's analog2spike): the
    /// sub-δ residual and any change beyond the largest code are lost, so the decoded signal can drift.
    /// </summary>
    Sample,
}

/// <summary>
/// Send-on-delta (delta modulation) coding of analog signals, SHIP's ECG encoding. Per channel, with reference r
/// (initially 0, or the first sample) and threshold δ, at step k:
///   m = trunc((x_k − r)/δ), clipped to [−M, M] with M = 2^bits − 1;
///   m &gt; 0 sets the "up" outputs to the binary digits of m, m &lt; 0 the "down" outputs to those of |m|;
///   then r ← r + m·δ (<see cref="DeltaReference.Track"/>) or r ← x_k if m ≠ 0 (<see cref="DeltaReference.Sample"/>).
/// With bits = 1 a channel emits at most one up or one down spike per step; with more bits a change of several δ is
/// sent at once on binary-weighted outputs (several spikes per step). A 1e-9 relative tolerance makes a change of
/// exactly δ count as one δ despite round-off. Output layout, per input channel c: outputs c·2b … c·2b + b − 1 are
/// the up digits (weights 2^0 … 2^(b−1)), outputs c·2b + b … c·2b + 2b − 1 the down digits (SHIP's order).
/// One output step per input sample: resample first (see <see cref="Resample.Linear"/>) to match the network's dt.
/// </summary>
public static class SendOnDelta
{
    private const double Tolerance = 1e-9;
    private const string Name = nameof(SendOnDelta);

    /// <summary>Encodes a signal [steps, C] or [batch, steps, C] into spikes [steps, 2·bits·C] or [batch, steps, 2·bits·C].</summary>
    /// <param name="signal">Samples, one per time step.</param>
    /// <param name="delta">Threshold δ in signal units.</param>
    /// <param name="bits">Binary digits per direction b (1..16): changes up to (2^b − 1)·δ are sent in one step.</param>
    /// <param name="reference">How the reference follows the signal.</param>
    /// <param name="startAtFirstSample">Start the reference at the first sample (no burst for a signal with an offset) instead of 0 (SHIP).</param>
    /// <param name="dtype">Floating dtype of the spikes.</param>
    public static Tensor Encode(Tensor signal, double delta, int bits = 1, DeltaReference reference = DeltaReference.Track,
        bool startAtFirstSample = false, ScalarType dtype = ScalarType.Float32)
    {
        var (x, batch, steps, channels, batched) = Prepare(signal, delta, bits);
        int outs = 2 * bits * channels;
        var spikes = new float[batch * steps * outs];
        long maxCode = (1L << bits) - 1;
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < channels; c++)
            {
                double r = startAtFirstSample ? x[(long)b * steps * channels + c] : 0.0;
                for (int k = 0; k < steps; k++)
                {
                    double xk = x[((long)b * steps + k) * channels + c];
                    double q = (xk - r) / delta;
                    long m = (long)Math.Truncate(q + Math.Sign(q) * Tolerance * Math.Max(1.0, Math.Abs(q)));
                    m = Math.Clamp(m, -maxCode, maxCode);
                    if (m == 0) continue;
                    r = reference == DeltaReference.Track ? r + m * delta : xk;
                    long mag = Math.Abs(m);
                    int first = ((b * steps + k) * channels + c) * 2 * bits + (m > 0 ? 0 : bits);
                    for (int j = 0; j < bits; j++)
                        if (((mag >> j) & 1) != 0) spikes[first + j] = 1f;
                }
            }
        var shape = batched ? new long[] { batch, steps, outs } : new long[] { steps, outs };
        using var t = torch.tensor(spikes, shape, ScalarType.Float32);
        return t.to(dtype, signal.device);
    }

    /// <summary>
    /// Sums the spikes back into the reference a receiver sees, r_k = r_(k−1) + δ·(Σ_j 2^j·up_j − Σ_j 2^j·down_j):
    /// equal to the encoder's reference with <see cref="DeltaReference.Track"/> (so |x − r| &lt; δ whenever the code
    /// was not saturated), only an approximation with <see cref="DeltaReference.Sample"/>.
    /// </summary>
    /// <param name="spikes">Spikes [steps, 2·bits·C] or [batch, steps, 2·bits·C] as made by <see cref="Encode"/>.</param>
    /// <param name="delta">Threshold δ used to encode.</param>
    /// <param name="bits">Digits per direction used to encode.</param>
    /// <param name="initial">Initial reference (0, or the first sample if the encoder started there), [C] or a scalar.</param>
    public static Tensor Decode(Tensor spikes, double delta, int bits = 1, Tensor? initial = null)
    {
        ArgumentNullException.ThrowIfNull(spikes);
        EncoderChecks.Positive(Name, "delta", delta, " (signal units)");
        CheckBits(bits);
        if (spikes.dim() is not (2 or 3) || spikes.Sizes()[^1] % (2 * bits) != 0)
            throw new ParameterException(Name, "spikes",
                $"expected [steps, 2·bits·C] or [batch, steps, 2·bits·C] with bits = {bits}, got {Shapes.Format(spikes.Sizes())}.");
        using var scope = torch.NewDisposeScope();
        long c = spikes.Sizes()[^1] / (2 * bits);
        var shape = spikes.Sizes().Take((int)spikes.dim() - 1).Concat(new[] { c, 2L, (long)bits }).ToArray();
        var weights = torch.pow(2.0, torch.arange(bits, ScalarType.Float64, spikes.device));
        var digits = spikes.to_type(ScalarType.Float64).reshape(shape).mul(weights).sum(-1);
        var steps = digits.select(-1, 0).sub(digits.select(-1, 1)).mul_(delta);
        var r = steps.cumsum(spikes.dim() - 2);
        if (initial is not null) r = r.add(initial.to(ScalarType.Float64, spikes.device));
        return r.MoveToOuterDisposeScope();
    }

    private static void CheckBits(int bits)
    {
        if (bits < 1 || bits > 16) throw new ParameterException(Name, "bits", $"must be in 1..16, got {bits}.");
    }

    private static (double[] X, int Batch, int Steps, int Channels, bool Batched) Prepare(Tensor signal, double delta, int bits)
    {
        ArgumentNullException.ThrowIfNull(signal);
        EncoderChecks.Positive(Name, "delta", delta, " (signal units)");
        CheckBits(bits);
        if (signal.IsInvalid) throw new ParameterException(Name, "signal", "the tensor is disposed.");
        if (signal.dim() is not (2 or 3) || signal.numel() == 0)
            throw new ParameterException(Name, "signal", $"expected a non-empty [steps, C] or [batch, steps, C] tensor, got {Shapes.Format(signal.Sizes())}.");
        bool batched = signal.dim() == 3;
        int batch = batched ? (int)signal.Sizes()[0] : 1;
        int steps = (int)signal.Sizes()[^2];
        int channels = (int)signal.Sizes()[^1];
        double[] x;
        using (var d = signal.to(ScalarType.Float64, CPU).contiguous()) x = d.data<double>().ToArray();
        if (x.Any(v => !double.IsFinite(v))) throw new ParameterException(Name, "signal", "contains NaN or infinite values.");
        return (x, batch, steps, channels, batched);
    }
}
