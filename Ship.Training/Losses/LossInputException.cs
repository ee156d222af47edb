using Ship.Core.Errors;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Training.Losses;

/// <summary>
/// A target, label or score tensor does not fit the loss or metric it is given to (wrong shape, label count, a label
/// outside the classes, complex values). Raised before anything runs, so the network and the optimizer are unchanged.
/// </summary>
public sealed class LossInputException : ShipException
{
    /// <summary>Creates the exception for <paramref name="loss"/>'s <paramref name="what"/>.</summary>
    public LossInputException(string loss, string what, string expected, string actual)
        : base($"Loss '{loss}': the {what} should be {expected}, got {actual}.")
    {
        Loss = loss;
        What = what;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The loss or metric (e.g. "cross-entropy", "accuracy").</summary>
    public string Loss { get; }
    /// <summary>Which tensor: "target", "labels", "scores".</summary>
    public string What { get; }
    /// <summary>What was expected.</summary>
    public string Expected { get; }
    /// <summary>What was given.</summary>
    public string Actual { get; }
}

/// <summary>The checks losses and metrics share; each reads the target once on the host at most.</summary>
public static class LossChecks
{
    /// <summary>Targets of a classification loss: [batch] whole numbers in [0, classes) for scores [batch, classes].</summary>
    public static void ClassIndices(string loss, string what, ReadOnlySpan<long> scores, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(target);
        Real(loss, what, target);
        if (scores.Length != 2) throw new LossInputException(loss, "scores", "[batch, classes]", Shapes.Format(scores.ToArray()));
        long batch = scores[0], classes = scores[1];
        if (target.dim() != 1 || target.Sizes()[0] != batch)
            throw new LossInputException(loss, what, $"[{batch}] class indices (one per sample)", $"{target.dtype} {Shapes.Format(target.Sizes())}");
        if (target.numel() == 0) return;
        if (HostRange(target) is (long min0, long max0))
        {
            // Integer labels on the host, read in place: no tensor made (the trainer checks every batch's target).
            if (min0 < 0 || max0 >= classes)
                throw new LossInputException(loss, what, $"class indices in [0, {classes - 1}] ({classes} classes)", $"values from {min0} to {max0}");
            return;
        }
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        if (!target.is_floating_point() && target.dtype != ScalarType.Bool)
        {
            // Integer labels are whole by type: their range is all there is to check (two reductions, no copies).
            var ti = target.dtype == ScalarType.Int64 ? target : target.to_type(ScalarType.Int64);
            long min = ti.min().item<long>(), max = ti.max().item<long>();
            if (min < 0 || max >= classes)
                throw new LossInputException(loss, what, $"class indices in [0, {classes - 1}] ({classes} classes)", $"values from {min} to {max}");
            return;
        }
        var t = target.detach().to_type(ScalarType.Float64);
        double lo = t.min().item<double>(), hi = t.max().item<double>();
        if (!t.eq(t.floor()).all().item<bool>() || double.IsNaN(lo) || double.IsNaN(hi))
            throw new LossInputException(loss, what, "whole class indices", $"non-integer values from {lo} to {hi}");
        if (lo < 0 || hi >= classes)
            throw new LossInputException(loss, what, $"class indices in [0, {classes - 1}] ({classes} classes)", $"values from {lo} to {hi}");
    }

    /// <summary>Smallest and largest value of a contiguous integer tensor on the host, read in place; null for any other tensor.</summary>
    internal static (long Min, long Max)? HostRange(Tensor t)
    {
        var dtype = t.dtype;
        if (dtype is not (ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte)
            || t.device_type != DeviceType.CPU || !t.is_contiguous()) return null;
        var bytes = t.bytes;
        return dtype switch
        {
            ScalarType.Int64 => Range<long>(bytes),
            ScalarType.Int32 => Range<int>(bytes),
            ScalarType.Int16 => Range<short>(bytes),
            ScalarType.Int8 => Range<sbyte>(bytes),
            ScalarType.Byte => Range<byte>(bytes),
            _ => null,
        };

        static (long, long) Range<T>(Span<byte> bytes) where T : unmanaged, System.Numerics.IBinaryInteger<T>
        {
            var v = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(bytes);
            T min = v[0], max = v[0];
            foreach (var x in v)
            {
                if (x < min) min = x;
                if (x > max) max = x;
            }
            return (long.CreateTruncating(min), long.CreateTruncating(max));
        }
    }

    /// <summary>Targets of a regression loss: exactly the scores' shape (no silent broadcasting).</summary>
    public static void SameShape(string loss, ReadOnlySpan<long> scores, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(target);
        Real(loss, "target", target);
        if (!target.Sizes().AsSpan().SequenceEqual(scores))
            throw new LossInputException(loss, "target", $"the scores' shape {Shapes.Format(scores.ToArray())}", Shapes.Format(target.Sizes()));
    }

    /// <summary>Refuses complex tensors (the imaginary part would be dropped).</summary>
    public static void Real(string loss, string what, Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.is_complex()) throw new LossInputException(loss, what, "real", $"complex ({t.dtype})");
    }
}
