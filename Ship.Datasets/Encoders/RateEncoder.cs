using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;
using static Ship.Datasets.Encoders.EncoderChecks;

namespace Ship.Datasets.Encoders;

/// <summary>
/// Rate (Bernoulli, "Poisson") coding: at every step each channel fires independently with probability
/// p = x·r_max·dt, so its mean rate is x·r_max. Two options reproduce SHIP's <c>linI</c>: intensities at or below a
/// <c>threshold</c> get rate 0, and intensities above <c>saturation</c> count as <c>saturation</c> (SHIP: threshold
/// <see cref="ShipThreshold"/> = 0.2, saturation <see cref="ShipSaturation"/> = 1; Ship.NET's defaults, 0 and none,
/// keep every positive intensity). p must not exceed 1 (a step cannot hold two spikes): the encoder
/// refuses instead of silently saturating. Every draw comes from the generator the caller passes (a network's
/// Context.Rng or a seeded torch.Generator), never from the global one, so encodings are reproducible.
/// </summary>
public static class RateEncoder
{
    /// <summary>SHIP's <c>linI</c> threshold: intensities ≤ 0.2 are sent to 0 Hz.</summary>
    public const double ShipThreshold = 0.2;

    /// <summary>SHIP's <c>linI</c> clamp: intensities above 1 give the rate of 1.</summary>
    public const double ShipSaturation = 1.0;

    /// <summary>Encodes intensities x [batch, N] (x ≥ 0; [N] or [batch, ...] accepted) into a 0/1 raster [batch, steps, N].</summary>
    /// <param name="x">Intensities; the rate of a channel is x·maxRate.</param>
    /// <param name="steps">Number of time steps.</param>
    /// <param name="dt">Time step in seconds.</param>
    /// <param name="maxRate">Rate in Hz of an input of 1.</param>
    /// <param name="generator">Source of randomness (on the device of x).</param>
    /// <param name="dtype">Floating dtype of the raster.</param>
    /// <param name="threshold">Intensities at or below it do not fire (SHIP: <see cref="ShipThreshold"/>); 0 by default.</param>
    /// <param name="saturation">Intensities above it count as it (SHIP: <see cref="ShipSaturation"/>); none by default.</param>
    public static Tensor Encode(Tensor x, int steps, double dt, double maxRate, torch.Generator generator, ScalarType dtype = ScalarType.Float32,
        double threshold = 0, double? saturation = null)
    {
        const string name = nameof(RateEncoder);
        ArgumentNullException.ThrowIfNull(generator);
        Steps(name, steps);
        Positive(name, "dt", dt, " s");
        Positive(name, "maxRate", maxRate, " Hz");
        using var scope = torch.NewDisposeScope();
        if (!double.IsFinite(threshold) || threshold < 0)
            throw new ParameterException(name, "threshold", $"must be a finite intensity >= 0, got {threshold}.");
        if (saturation is { } sat) Positive(name, "saturation", sat, "");
        var xf = Intensities(name, x, 0, double.MaxValue, "");
        if (saturation is { } cap) xf = xf.clamp_max(cap);
        var p = xf.mul(maxRate * dt);
        if (threshold > 0) p = p.masked_fill(xf.le(threshold), 0.0);
        double pMax;
        using (var m = p.max()) pMax = m.item<double>();
        if (pMax > 1)
            throw new ParameterException(name, "maxRate",
                $"the spike probability per step p = x·maxRate·dt reaches {pMax:g6} > 1 (x up to {pMax / (maxRate * dt):g6}, maxRate = {maxRate} Hz, dt = {dt} s); lower maxRate or dt, or normalize x.");
        var u = Ship.Core.Networks.Draw.Rand(new long[] { p.Sizes()[0], steps, p.Sizes()[1] }, ScalarType.Float64, p.device, generator);
        return u.lt_(p.unsqueeze(1)).to_type(dtype).MoveToOuterDisposeScope();
    }
}
