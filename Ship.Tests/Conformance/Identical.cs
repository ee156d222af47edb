using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Conformance;

/// <summary>
/// The definition of "identical" of issue #11, in float64: every value within 1e-12 of the reference relative to the
/// largest magnitude of the same tensor (spikes, 0 or 1, must therefore be equal), same shape. The suite runs float64.
/// </summary>
internal static class Identical
{
    public const double Relative = 1e-12;

    public static double[] D(Tensor t) => t.numel() == 0 ? Array.Empty<double>() : t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    /// <summary>Asserts <paramref name="actual"/> ≡ <paramref name="expected"/>; returns the largest difference.</summary>
    public static double Assert(Tensor actual, Tensor expected, string what)
    {
        NUnit.Framework.Assert.That(actual.shape, Is.EqualTo(expected.shape), $"{what}: shape");
        var a = D(actual);
        var e = D(expected);
        double scale = e.Length == 0 ? 0 : e.Max(Math.Abs);
        double worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (double.IsNaN(e[i]) && double.IsNaN(a[i])) continue;
            if (double.IsInfinity(e[i]) && a[i] == e[i]) continue;
            double d = Math.Abs(a[i] - e[i]);
            worst = Math.Max(worst, d);
            if (!(d <= Relative * scale)) NUnit.Framework.Assert.Fail($"{what}: element {i} is {a[i]:R}, expected {e[i]:R} (tolerance {Relative * scale:g3})");
        }
        return worst;
    }

    /// <summary>Every state of every group of two networks built alike, by tag and name.</summary>
    public static void States(Network actual, Network expected, string what)
    {
        foreach (var g in expected.Groups)
            foreach (var v in g.AllVariables.OfType<StateVariable>())
                if (v.Tensor is { } t && actual[g.Tag].Variable(v.Name).Tensor is { } u && t.is_floating_point())
                    Assert(u, t, $"{what}: state {g.Tag}.{v.Name}");
    }
}
