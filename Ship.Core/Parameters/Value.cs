using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Core.Parameters;

/// <summary>
/// How a parameter or initial state gets its value: a constant, a given tensor, or a generator redrawn at every
/// (re)initialization. Implicit conversions let users write <c>group.Set("tau", 20e-3)</c> or pass a tensor.
/// </summary>
public abstract record Value
{
    /// <summary>A constant value, broadcast to every element.</summary>
    public static implicit operator Value(double v) => new ConstantValue(v);
    /// <summary>A constant value, broadcast to every element.</summary>
    public static implicit operator Value(int v) => new ConstantValue(v);
    /// <summary>A constant flag, broadcast to every element (stored as 1 or 0, or as bool for bool variables).</summary>
    public static implicit operator Value(bool v) => new ConstantValue(v ? 1 : 0);
    /// <summary>A given tensor whose shape must broadcast to the variable's full shape; it is copied, never aliased.</summary>
    public static implicit operator Value(Tensor t) => new TensorValue(t);

    /// <summary>A value drawn by <paramref name="generator"/> each time the owner is initialized (weights, random initial states).</summary>
    public static Value Generated(Func<GenerateContext, Tensor> generator, string description) => new GeneratedValue(generator, description);

    /// <summary>Short human-readable description used in error messages and in inspectable summaries.</summary>
    public abstract string Describe();
}

/// <summary>A scalar constant.</summary>
public sealed record ConstantValue(double Scalar) : Value
{
    /// <inheritdoc />
    public override string Describe() => Scalar.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A user-given tensor.</summary>
public sealed record TensorValue(Tensor Tensor) : Value
{
    /// <inheritdoc />
    public override string Describe() => $"tensor {Shapes.Format(Tensor.Sizes())}";
}

/// <summary>A generator redrawn at every initialization from the network's own random generator.</summary>
public sealed record GeneratedValue(Func<GenerateContext, Tensor> Generator, string Description) : Value
{
    /// <inheritdoc />
    public override string Describe() => Description;
}

/// <summary>What a generator needs to draw a value: the full shape, the network's generator, device and dtype.</summary>
/// <param name="Shape">Full shape of the variable (batch axis included when declared).</param>
/// <param name="Rng">The owning network's random generator: draws never touch global state.</param>
/// <param name="Device">Device tensors must be created on.</param>
/// <param name="DType">Floating dtype of the network.</param>
/// <param name="Group">Tag of the group drawing the value.</param>
/// <param name="Name">Name of the variable being drawn.</param>
public sealed record GenerateContext(long[] Shape, torch.Generator Rng, Device Device, ScalarType DType, string Group, string Name);

/// <summary>Common generators, so that random initial values are one call and always use the network's RNG.</summary>
public static class Init
{
    /// <summary>Uniform draws on [low, high); described as "uniform(low, high)" in invariant round-trip form, which checkpoints parse back.</summary>
    public static Value Uniform(double low = 0, double high = 1) => Value.Generated(
        c => Networks.Draw.Rand(c.Shape, c.DType, c.Device, c.Rng).MulNumber_(high - low).AddNumber_(low),
        FormattableString.Invariant($"uniform({low:R}, {high:R})"));

    /// <summary>Normal draws with the given mean and standard deviation; described as "normal(mean, std)" (invariant, round-trip).</summary>
    public static Value Normal(double mean = 0, double std = 1) => Value.Generated(
        c => Networks.Draw.Randn(c.Shape, c.DType, c.Device, c.Rng).MulNumber_(std).AddNumber_(mean),
        FormattableString.Invariant($"normal({mean:R}, {std:R})"));

    /// <summary>A generator from a plain function of the shape, for values that need no randomness (e.g. a ramp).</summary>
    public static Value From(Func<long[], Tensor> f, string description) => Value.Generated(c => f(c.Shape), description);
}

/// <summary>Shape helpers shared by validation and messages.</summary>
public static class Shapes
{
    /// <summary>Formats a shape as [a, b, c] for messages.</summary>
    public static string Format(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>Whether <paramref name="shape"/> broadcasts to <paramref name="full"/> without adding axes beyond it (torch rules).</summary>
    public static bool BroadcastsTo(long[] shape, long[] full)
    {
        if (shape.Length > full.Length) return false;
        for (int k = 1; k <= shape.Length; k++)
        {
            long s = shape[^k], f = full[^k];
            if (s != 1 && s != f) return false;
        }
        return true;
    }
}
