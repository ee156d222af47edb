using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Memory;

/// <summary>
/// Tensor operations with a number operand that the garbage collector cannot free in the middle of the native call.
/// TorchSharp 0.107 turns every number given to a tensor method — and the implicit α = 1 of <c>add</c>/<c>add_</c>
/// with one operand — into a temporary native <see cref="Scalar"/> whose last managed reference ends when its handle is
/// read. A collection started by another thread during the call can then run the Scalar's finalizer, which frees the
/// native value while libtorch still reads it: "Expected false to be true" from c10's <c>Scalar.h</c> (a freed tag), or
/// a wrong number. These helpers keep the Scalar reachable until the call has returned and free it at once, so a hot
/// path leaves nothing to the finalizer; the constants are process-lifetime Scalars that are never finalized.
/// (docs/reliability.md, "Native scalars and the finalizer")
/// </summary>
public static class HeldScalars
{
    /// <summary>The integer 1 (usable as α with integer and floating tensors alike); never freed.</summary>
    public static Scalar One { get; } = 1.ToScalar();
    /// <summary>The integer 0; never freed.</summary>
    public static Scalar Zero { get; } = 0.ToScalar();

    /// <summary>
    /// Sets the gradient of every tensor that has one to zero in place, with the held zero (TorchSharp's <c>zero_()</c>
    /// reads the shape and makes a second handle per gradient); the gradients stay the same tensors.
    /// </summary>
    public static void ZeroGradients(IEnumerable<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        foreach (var p in parameters)
        {
            using var g = p.grad;
            g?.fill_(Zero);
        }
    }

    /// <summary><c>a + b</c> with α held (TorchSharp's one-operand <c>add</c> makes α = 1 a temporary).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>In-place <c>a += b</c> with α held.</summary>
    public static Tensor Plus_(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>Not a tensor: use <see cref="AddNumber_"/> (TorchSharp would turn the number into a temporary tensor).</summary>
    [Obsolete("A number: use AddNumber_ (an implicit conversion would make a temporary tensor).", error: true)]
    public static Tensor Plus_(this Tensor a, double v) => throw new NotSupportedException();

    /// <summary>Not a tensor: use <see cref="AddNumber"/> (TorchSharp would turn the number into a temporary tensor).</summary>
    [Obsolete("A number: use AddNumber (an implicit conversion would make a temporary tensor).", error: true)]
    public static Tensor Plus(this Tensor a, double v) => throw new NotSupportedException();

    /// <summary><c>a + v</c>.</summary>
    public static Tensor AddNumber(this Tensor a, double v)
    {
        using var s = v.ToScalar();
        return a.add(s, One);
    }

    /// <summary>In-place <c>a += v</c>.</summary>
    public static Tensor AddNumber_(this Tensor a, double v)
    {
        using var s = v.ToScalar();
        return a.add_(s, One);
    }

    /// <summary><c>a · v</c>.</summary>
    public static Tensor MulNumber(this Tensor a, double v)
    {
        using var s = v.ToScalar();
        return a.mul(s);
    }

    /// <summary>In-place <c>a ·= v</c>.</summary>
    public static Tensor MulNumber_(this Tensor a, double v)
    {
        using var s = v.ToScalar();
        return a.mul_(s);
    }

    /// <summary><c>a / v</c>.</summary>
    public static Tensor DivNumber(this Tensor a, double v)
    {
        using var s = v.ToScalar();
        return a.div(s);
    }

    /// <summary>In-place <c>a /= v</c>.</summary>
    public static Tensor DivNumber_(this Tensor a, double v)
    {
        using var s = v.ToScalar();
        return a.div_(s);
    }

    /// <summary>In-place <c>a ← a^p</c> with an integer exponent (libtorch's integer-power fast paths apply as for <c>pow_(int)</c>).</summary>
    public static Tensor PowNumber_(this Tensor a, long p)
    {
        using var s = p.ToScalar();
        return a.pow_(s);
    }

    /// <summary>In-place <c>a ← max(a, 0)</c>.</summary>
    public static Tensor ClampMinZero_(this Tensor a) => a.clamp_min_(Zero);

    /// <summary>In-place <c>a ← max(a, v)</c>.</summary>
    public static Tensor ClampMinNumber_(this Tensor a, double v)
    {
        using var s = v.ToScalar();
        return a.clamp_min_(s);
    }

    /// <summary><c>1 − a</c> as a new tensor (computed as <c>(−a) + 1</c>).</summary>
    public static Tensor OneMinus(this Tensor a) => a.neg().add_(One, One);

    /// <summary>Elementwise <c>a ≥ v</c> (bool).</summary>
    public static Tensor GreaterOrEqualNumber(this Tensor a, double v)
    {
        using var s = v.ToScalar();
        return a.ge(s);
    }
}
