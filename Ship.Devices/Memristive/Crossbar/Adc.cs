using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive.Crossbar;

/// <summary>
/// Settings of the column analog-to-digital converters of a crossbar tile (data only). A b-bit converter has exactly
/// 2^b codes: unsigned (single-ended columns) k ∈ [0, 2^b − 1] with LSB = FS/2^b, or signed two's-complement
/// (differential columns) k ∈ [−2^(b−1), 2^(b−1) − 1] with LSB = FS/2^(b−1). Rounding is mid-tread,
/// k = ⌊I/LSB + ½⌋ (a tie goes up), then clamped to the code range; a clamped conversion is counted as clipped.
/// </summary>
/// <param name="Bits">Resolution b (1…24 unsigned, 2…24 signed).</param>
/// <param name="FullScale">Full-scale current FS (A, &gt; 0); null takes the largest current the tile can produce (see docs/models/crossbar.md).</param>
/// <param name="NoiseSigma">Input-referred Gaussian noise σ (A, ≥ 0), drawn from the network's generator at every conversion.</param>
/// <param name="ColumnsPerAdc">Columns sharing one converter through a multiplexer (≥ 1): sets the number of converters and conversions in series, not the values.</param>
public sealed record AdcSettings(int Bits = 8, double? FullScale = null, double NoiseSigma = 0, int ColumnsPerAdc = 1)
{
    /// <summary>Checks every field; throws a <see cref="ParameterException"/> naming <paramref name="owner"/> and the field.</summary>
    public void Validate(string owner, bool signed)
    {
        int min = signed ? 2 : 1;
        if (Bits < min || Bits > 24) throw new ParameterException(owner, "adc.bits", $"must lie in [{min}, 24] for a{(signed ? " signed" : "n unsigned")} converter, got {Bits}.");
        if (FullScale is { } fs && (!double.IsFinite(fs) || !(fs > 0))) throw new ParameterException(owner, "adc.full_scale", $"must be a finite current > 0 A, got {fs}.");
        if (!double.IsFinite(NoiseSigma) || NoiseSigma < 0) throw new ParameterException(owner, "adc.noise_sigma", $"must be a finite current >= 0 A, got {NoiseSigma}.");
        if (ColumnsPerAdc < 1) throw new ParameterException(owner, "adc.columns_per_adc", $"must be >= 1, got {ColumnsPerAdc}.");
    }
}

/// <summary>The converter of <see cref="AdcSettings"/> as pure functions on tensors of currents.</summary>
public static class AdcFunctional
{
    /// <summary>Least significant bit (A) of a b-bit converter of full scale FS: FS/2^(b−1) signed, FS/2^b unsigned.</summary>
    public static double Lsb(int bits, double fullScale, bool signed) => fullScale / Math.Pow(2, signed ? bits - 1 : bits);

    /// <summary>Lowest and highest code: [−2^(b−1), 2^(b−1) − 1] signed, [0, 2^b − 1] unsigned.</summary>
    public static (double Min, double Max) CodeRange(int bits, bool signed) =>
        signed ? (-Math.Pow(2, bits - 1), Math.Pow(2, bits - 1) - 1) : (0, Math.Pow(2, bits) - 1);

    /// <summary>
    /// Codes k = clamp(⌊I/LSB + ½⌋, kmin, kmax) of currents <paramref name="current"/> (A), as floating-point integers of the
    /// input's dtype; <paramref name="clipped"/> is a boolean tensor, true where the clamp changed the code. No gradient.
    /// </summary>
    public static Tensor Codes(Tensor current, int bits, double fullScale, bool signed, out Tensor clipped)
    {
        var (lo, hi) = CodeRange(bits, signed);
        var k = current.detach().div(Lsb(bits, fullScale, signed)).add_(0.5).floor_();
        clipped = k.lt(lo).logical_or_(k.gt(hi));
        return k.clamp_(lo, hi);
    }

    /// <summary>The current each code stands for, k·LSB (A).</summary>
    public static Tensor Value(Tensor codes, int bits, double fullScale, bool signed) => codes.mul(Lsb(bits, fullScale, signed));

    /// <summary>
    /// Converts and reconstructs, k·LSB, with a straight-through gradient (identity inside the code range, zero where
    /// the converter clips): the forward value is the quantized current, so a network can be trained for a converter.
    /// </summary>
    public static Tensor QuantizeStraightThrough(Tensor current, int bits, double fullScale, bool signed, out Tensor clipped)
    {
        using var scope = torch.NewDisposeScope();
        double lsb = Lsb(bits, fullScale, signed);
        var (lo, hi) = CodeRange(bits, signed);
        var q = Value(Codes(current, bits, fullScale, signed, out clipped), bits, fullScale, signed);
        // clamp to the representable span carries the clipping gradient (zero outside), the detached shift the rounding.
        var limited = current.clamp((lo - 0.5) * lsb, (hi + 0.5) * lsb);
        var result = limited.add(q.sub(limited.detach()));
        clipped = clipped.MoveToOuterDisposeScope();
        return result.MoveToOuterDisposeScope();
    }
}
