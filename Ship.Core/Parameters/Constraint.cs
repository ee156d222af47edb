namespace Ship.Core.Parameters;

/// <summary>A range a parameter's values must lie in, checked at initialization so that a bad value fails early with its name.</summary>
public sealed record Constraint(string Description, double Min, double Max, bool MinInclusive, bool MaxInclusive)
{
    /// <summary>Any finite value.</summary>
    public static readonly Constraint Finite = new("finite", double.NegativeInfinity, double.PositiveInfinity, false, false);
    /// <summary>Strictly positive values, e.g. time constants.</summary>
    public static readonly Constraint Positive = new("> 0", 0, double.PositiveInfinity, false, false);
    /// <summary>Zero or positive values, e.g. durations that may be off.</summary>
    public static readonly Constraint NonNegative = new(">= 0", 0, double.PositiveInfinity, true, false);
    /// <summary>Time constants of a decay exp(−dt/τ): τ &gt; 0 seconds, and τ = +∞ for no leak (decay 1; NIR's I and IF nodes).</summary>
    public static readonly Constraint TimeConstant = new("> 0 s (+∞ for no leak)", 0, double.PositiveInfinity, false, true);
    /// <summary>Probabilities.</summary>
    public static readonly Constraint Probability = new("in [0, 1]", 0, 1, true, true);

    /// <summary>Whether a single value satisfies the constraint (NaN never does; +∞ only where the range includes it).</summary>
    public bool Admits(double v) =>
        !double.IsNaN(v) && (!double.IsInfinity(v) || (double.IsPositiveInfinity(v) && MaxInclusive && double.IsPositiveInfinity(Max)))
        && (MinInclusive ? v >= Min : v > Min)
        && (MaxInclusive ? v <= Max : v < Max);
}
