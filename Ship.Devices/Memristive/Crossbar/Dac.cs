using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive.Crossbar;

/// <summary>
/// Settings of the row digital-to-analog converters that turn analog (non-spike) inputs into read voltages (data only).
/// A b-bit converter has exactly 2^b levels x_k = Min + k·Δ, Δ = (Max − Min)/(2^b − 1), k ∈ [0, 2^b − 1], so both ends
/// are levels; an input takes the nearest level, k = clamp(⌊(x − Min)/Δ + ½⌋, 0, 2^b − 1) (a tie goes up), and an
/// input outside [Min, Max] is counted as clipped. The row voltage is V_read·x_k.
/// </summary>
/// <param name="Bits">Resolution b (1…24).</param>
/// <param name="Min">Lowest input level (input units; a spike is 1).</param>
/// <param name="Max">Highest input level (input units, &gt; Min).</param>
public sealed record DacSettings(int Bits = 8, double Min = 0, double Max = 1)
{
    /// <summary>Checks every field; throws a <see cref="ParameterException"/> naming <paramref name="owner"/> and the field.</summary>
    public void Validate(string owner)
    {
        if (Bits < 1 || Bits > 24) throw new ParameterException(owner, "dac.bits", $"must lie in [1, 24], got {Bits}.");
        if (!double.IsFinite(Min) || !double.IsFinite(Max) || !(Min < Max))
            throw new ParameterException(owner, "dac.min/max", $"needs finite Min < Max, got Min = {Min}, Max = {Max}.");
    }
}

/// <summary>The converter of <see cref="DacSettings"/> as pure functions.</summary>
public static class DacFunctional
{
    /// <summary>Level spacing Δ = (Max − Min)/(2^b − 1).</summary>
    public static double Step(DacSettings s) => (s.Max - s.Min) / (Math.Pow(2, s.Bits) - 1);

    /// <summary>Codes k = clamp(⌊(x − Min)/Δ + ½⌋, 0, 2^b − 1); <paramref name="clipped"/> is true where x lies outside [Min, Max].</summary>
    public static Tensor Codes(Tensor x, DacSettings s, out Tensor clipped)
    {
        clipped = x.lt(s.Min).logical_or_(x.gt(s.Max));
        return x.detach().sub(s.Min).div_(Step(s)).add_(0.5).floor_().clamp_(0, Math.Pow(2, s.Bits) - 1);
    }

    /// <summary>The level of each code, Min + k·Δ (input units).</summary>
    public static Tensor Level(Tensor codes, DacSettings s) => codes.mul(Step(s)).add_(s.Min);

    /// <summary>Nearest level with a straight-through gradient (identity inside [Min, Max], zero outside).</summary>
    public static Tensor QuantizeStraightThrough(Tensor x, DacSettings s, out Tensor clipped)
    {
        using var scope = torch.NewDisposeScope();
        var q = Level(Codes(x, s, out clipped), s);
        var limited = x.clamp(s.Min, s.Max);
        var result = limited.add(q.sub(limited.detach()));
        clipped = clipped.MoveToOuterDisposeScope();
        return result.MoveToOuterDisposeScope();
    }
}
