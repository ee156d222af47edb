using Ship.Core.Errors;
using Ship.Core.Parameters;
using static TorchSharp.torch;

namespace Ship.Datasets.Encoders;

/// <summary>Shared argument checks of the encoders, so that every encoder reports bad input the same way.</summary>
internal static class EncoderChecks
{
    public static void Positive(string encoder, string name, double v, string unit)
    {
        if (!(v > 0) || double.IsInfinity(v))
            throw new ParameterException(encoder, name, $"must be a finite value > 0{unit}, got {v}.");
    }

    public static void Steps(string encoder, int steps)
    {
        if (steps < 1) throw new ParameterException(encoder, "steps", $"must be >= 1, got {steps}.");
    }

    /// <summary>Flattens [batch, ...] to [batch, N] (a 1-D input is one sample) as float64, after checking values are finite and in range.</summary>
    public static Tensor Intensities(string encoder, Tensor x, double min, double max, string rangeHint)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.IsInvalid) throw new ParameterException(encoder, "x", "the input tensor is disposed.");
        if (x.dim() < 1 || x.numel() == 0)
            throw new ParameterException(encoder, "x", $"expected a non-empty [batch, N] (or [N], or [batch, ...]) tensor, got {Shapes.Format(x.Sizes())}.");
        var flat = (x.dim() == 1 ? x.unsqueeze(0) : x.reshape(x.Sizes()[0], -1)).to_type(ScalarType.Float64);
        using (var finite = flat.isfinite().all())
            if (!finite.item<bool>()) { flat.Dispose(); throw new ParameterException(encoder, "x", "contains NaN or infinite values."); }
        double lo, hi;
        using (var t = flat.min()) lo = t.item<double>();
        using (var t = flat.max()) hi = t.item<double>();
        if (lo < min || hi > max)
        {
            flat.Dispose();
            throw new ParameterException(encoder, "x", $"values must lie in [{min}, {max}]{rangeHint}; they span [{lo}, {hi}].");
        }
        return flat;
    }
}
