using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Conformance;

/// <summary>
/// The definition of "identical" of issue #11. In float64: every value within 1e-12 of the reference relative to the
/// largest magnitude of the same tensor (spikes, 0 or 1, must therefore be equal), same shape. In float32: analog values
/// within 1e-5 relative (<see cref="AssertFloat32"/>); spikes equal except at (step, neuron) where either run's membrane
/// is within 1e-5·|threshold| of the threshold, such steps counted and reported (<see cref="CompareSpikes32"/>).
/// </summary>
internal static class Identical
{
    public const double Relative = 1e-12;
    /// <summary>The float32 tolerance: analog values relative to the tensor's largest magnitude, membranes relative to the threshold.</summary>
    public const double Relative32 = 1e-5;

    /// <summary>What a float32 spike comparison found: steps near threshold (excused) and spike differences that are not.</summary>
    public sealed record SpikeComparison(int NearThresholdSteps, int ExcusedDifferences, IReadOnlyList<string> Mismatches);

    /// <summary>
    /// Compares spikes [batch, steps, N] of two float32 runs given each run's membrane at the spike decision (same shape)
    /// and the threshold (broadcastable to it): a (sample, step, neuron) whose membrane in either run lies within
    /// 1e-5·|threshold| of the threshold is counted as near threshold and may differ; any other difference is a mismatch.
    /// </summary>
    public static SpikeComparison CompareSpikes32(Tensor spikesA, Tensor spikesB, Tensor membraneA, Tensor membraneB, Tensor threshold)
    {
        NUnit.Framework.Assert.That(spikesA.shape, Is.EqualTo(spikesB.shape), "spike shapes");
        NUnit.Framework.Assert.That(membraneA.shape, Is.EqualTo(spikesA.shape), "membrane shape (run A)");
        NUnit.Framework.Assert.That(membraneB.shape, Is.EqualTo(spikesB.shape), "membrane shape (run B)");
        var shape = spikesA.shape;
        using var thr = threshold.detach().to_type(ScalarType.Float64).expand(shape).contiguous();
        double[] sa = D(spikesA), sb = D(spikesB), ua = D(membraneA), ub = D(membraneB), th = D(thr);
        long steps = shape[1], n = shape[2];
        int near = 0, excused = 0;
        var mismatches = new List<string>();
        for (int i = 0; i < sa.Length; i++)
        {
            double band = Relative32 * Math.Abs(th[i]);
            bool isNear = Math.Abs(ua[i] - th[i]) <= band || Math.Abs(ub[i] - th[i]) <= band;
            if (isNear) near++;
            if (sa[i] == sb[i]) continue;
            if (isNear) { excused++; continue; }
            long b = i / (steps * n), t = i / n % steps, j = i % n;
            mismatches.Add($"sample {b}, step {t}, neuron {j}: spikes {sa[i]} vs {sb[i]}, membranes {ua[i]:R} / {ub[i]:R}, threshold {th[i]:R}");
        }
        return new SpikeComparison(near, excused, mismatches);
    }

    /// <summary>Asserts float32 spikes identical (<see cref="CompareSpikes32"/>), reports the near-threshold count and returns it.</summary>
    public static int AssertSpikes32(Tensor spikesA, Tensor spikesB, Tensor membraneA, Tensor membraneB, Tensor threshold, string what)
    {
        var c = CompareSpikes32(spikesA, spikesB, membraneA, membraneB, threshold);
        TestContext.Out.WriteLine($"{what}: {c.NearThresholdSteps} step(s) near threshold, {c.ExcusedDifferences} spike difference(s) there");
        NUnit.Framework.Assert.That(c.Mismatches, Is.Empty, $"{what}: spikes differ away from the threshold");
        return c.NearThresholdSteps;
    }

    /// <summary>Asserts float32 analog values within 1e-5 of the reference relative to its largest magnitude; returns the largest difference.</summary>
    public static double AssertFloat32(Tensor actual, Tensor expected, string what)
    {
        NUnit.Framework.Assert.That(actual.shape, Is.EqualTo(expected.shape), $"{what}: shape");
        var a = D(actual);
        var e = D(expected);
        double scale = e.Length == 0 ? 0 : e.Max(Math.Abs), worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs(a[i] - e[i]);
            worst = Math.Max(worst, d);
            if (!(d <= Relative32 * scale)) NUnit.Framework.Assert.Fail($"{what}: element {i} is {a[i]:R}, expected {e[i]:R} (tolerance {Relative32 * scale:g3})");
        }
        return worst;
    }

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
