using Ship.Core.Errors;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets.Encoders;

/// <summary>Puts sampled signals on the simulation's time grid, since encoders emit one step per sample.</summary>
public static class Resample
{
    /// <summary>
    /// Linear interpolation of a signal [samples, C] (or [batch, samples, C]) taken at <paramref name="sampleRate"/> Hz
    /// onto the times t_k = k·dt, k = 0 … ⌊(samples − 1)/(sampleRate·dt)⌋: the duration is kept exactly (SHIP's
    /// ECG script instead stretches the grid to end on the last sample).
    /// </summary>
    public static Tensor Linear(Tensor signal, double sampleRate, double dt)
    {
        ArgumentNullException.ThrowIfNull(signal);
        EncoderChecks.Positive(nameof(Resample), "sampleRate", sampleRate, " Hz");
        EncoderChecks.Positive(nameof(Resample), "dt", dt, " s");
        if (signal.dim() is not (2 or 3) || signal.Sizes()[^2] < 1)
            throw new ParameterException(nameof(Resample), "signal", $"expected [samples, C] or [batch, samples, C], got {Shapes.Format(signal.Sizes())}.");
        using var scope = torch.NewDisposeScope();
        long n = signal.Sizes()[^2];
        double step = sampleRate * dt; // input samples per output step
        long outSteps = (long)Math.Floor((n - 1) / step + 1e-9) + 1;
        var pos = torch.arange(outSteps, ScalarType.Float64, signal.device).mul_(step).clamp_max_(n - 1);
        var lo = pos.floor().to_type(ScalarType.Int64);
        var hi = lo.add(1).clamp_max_(n - 1);
        var frac = pos.sub(lo.to_type(ScalarType.Float64)).unsqueeze(-1);
        long axis = signal.dim() - 2;
        var x = signal.to_type(ScalarType.Float64);
        var a = x.index_select(axis, lo);
        var b = x.index_select(axis, hi);
        return a.add(b.sub(a).mul_(frac)).to_type(signal.dtype).MoveToOuterDisposeScope();
    }
}
