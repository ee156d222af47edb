using Ship.Core.Errors;
using Ship.Core.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Characterization.Mismatch;

/// <summary>Shape of a mismatch draw ξ (mean 0, standard deviation 1 in every case).</summary>
public enum MismatchDistribution
{
    /// <summary>Standard normal.</summary>
    Normal,
    /// <summary>Uniform on [−√3, √3].</summary>
    Uniform,
    /// <summary>Relative only: the factor is e^(s·ξ − s²/2) with ξ normal and s² = ln(1 + σ²), so its mean is 1 and its σ is σ (never negative).</summary>
    LogNormal,
}

/// <summary>When a mismatch is drawn.</summary>
public enum MismatchScope
{
    /// <summary>Once per chip instance (fabrication): the same values in every run of that chip.</summary>
    FixedPerChip,
    /// <summary>Anew at every <see cref="ChipMismatch.Apply"/> call (e.g. temperature- or bias-dependent), from the group's own random stream of the network.</summary>
    PerRun,
}

/// <summary>
/// Mismatch of one model parameter: every element of <c>Group.Parameter</c> becomes p·(1 + σ·ξ) (relative) or p + σ·ξ
/// (absolute). Rockpool's convention for a deviation quoted "at kσ" (e.g. "30 % at 3σ") is σ = deviation/k:
/// <see cref="SigmaFromDeviation"/>(0.30, 3) = 0.10.
/// </summary>
/// <param name="Group">Tag of the group.</param>
/// <param name="Parameter">Name of the parameter.</param>
/// <param name="Sigma">σ: a fraction (relative) or in the parameter's unit (absolute).</param>
/// <param name="Relative">Whether σ is relative to the nominal value.</param>
/// <param name="Distribution">Shape of ξ.</param>
/// <param name="Scope">Fixed per chip or redrawn per run.</param>
public sealed record MismatchSpec(string Group, string Parameter, double Sigma, bool Relative = true,
    MismatchDistribution Distribution = MismatchDistribution.Normal, MismatchScope Scope = MismatchScope.FixedPerChip)
{
    /// <summary>σ for a deviation quoted at <paramref name="atSigmas"/> standard deviations (Rockpool: 30 % at 3σ → 10 %).</summary>
    public static double SigmaFromDeviation(double deviation, double atSigmas = 3) =>
        atSigmas > 0 && double.IsFinite(deviation) && deviation >= 0
            ? deviation / atSigmas
            : throw new ParameterException(nameof(MismatchSpec), "deviation", $"needs a finite deviation >= 0 and atSigmas > 0, got {deviation} at {atSigmas}σ.");
}

/// <summary>
/// A chip instance: one draw of every mismatch specification applied to an initialized network's parameters. Fixed-per-chip
/// draws come from the group's random stream "mismatch:&lt;parameter&gt;" keyed by <see cref="ChipSeed"/> instead of the
/// network seed (<see cref="RandomStreams.SeedFor"/>(chip seed, group, purpose)), so chip k is the same chip in every
/// process and run, chips with different seeds differ, and a specification's draw does not depend on the others; per-run
/// draws come from the same-named stream of the network (seeded from the network seed) at each <see cref="Apply"/>. The nominal values are read at the first Apply and every later Apply starts from them, so
/// mismatch never accumulates. Device arrays of the network are refabricated (new device-to-device draws) at the first Apply.
/// </summary>
public sealed class ChipMismatch : IDisposable
{
    private readonly MismatchSpec[] _specs;
    private readonly Dictionary<(string, string), Tensor> _nominal = new();
    private readonly Dictionary<int, Tensor> _fixed = new();

    /// <summary>Creates chip <paramref name="chipSeed"/> with the given specifications.</summary>
    public ChipMismatch(long chipSeed, params MismatchSpec[] specs)
    {
        ArgumentNullException.ThrowIfNull(specs);
        foreach (var s in specs)
        {
            if (!(s.Sigma >= 0) || !double.IsFinite(s.Sigma))
                throw new ParameterException(s.Group, s.Parameter, $"mismatch σ must be finite and >= 0, got {s.Sigma}.");
            if (s.Distribution == MismatchDistribution.LogNormal && !s.Relative)
                throw new ParameterException(s.Group, s.Parameter, "a log-normal mismatch is relative; set Relative = true or use Normal/Uniform.");
        }
        _specs = specs.ToArray();
        ChipSeed = chipSeed;
    }

    /// <summary>Seed of this chip's fixed draws.</summary>
    public long ChipSeed { get; }
    /// <summary>The specifications.</summary>
    public IReadOnlyList<MismatchSpec> Specs => _specs;

    /// <summary>Sets every specified parameter of <paramref name="network"/> (initialized) to nominal ⊕ mismatch; call before each run for per-run draws.</summary>
    public void Apply(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        bool first = _nominal.Count == 0;
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < _specs.Length; i++)
        {
            var s = _specs[i];
            var group = network[s.Group];
            if (!_nominal.TryGetValue((s.Group, s.Parameter), out var nominal))
            {
                var now = group.Get(s.Parameter).detach();
                long n = group.ComponentCount;
                // A scalar parameter gets one value per component, so every neuron or synapse of the chip differs.
                nominal = (now.numel() == 1 && n > 1 ? now.reshape(1).expand(n) : now).to_type(ScalarType.Float64).cpu().clone().DetachFromDisposeScope();
                _nominal[(s.Group, s.Parameter)] = nominal;
            }
            Tensor xi;
            string purpose = "mismatch:" + s.Parameter;
            if (s.Scope == MismatchScope.FixedPerChip)
            {
                if (!_fixed.TryGetValue(i, out var f))
                {
                    using var chipStream = new torch.Generator(RandomStreams.SeedFor(ChipSeed, s.Group, purpose), CPU);
                    _fixed[i] = f = Xi(nominal.shape, s.Distribution, chipStream).DetachFromDisposeScope();
                }
                xi = f;
            }
            else xi = Xi(nominal.shape, s.Distribution, group.Context.Stream(purpose));
            Tensor value = s.Distribution == MismatchDistribution.LogNormal
                ? nominal * LogNormalFactor(xi, s.Sigma)
                : s.Relative ? nominal * (xi * s.Sigma + 1) : nominal + xi * s.Sigma;
            group.Set(s.Parameter, value.to(group.Get(s.Parameter).dtype).clone().MoveToOuterDisposeScope());
        }
        if (first)
            foreach (var g in network.Groups)
                if (g is Ship.Devices.Synapses.WeightedSynapse { WeightDevice: Ship.Devices.Memristive.DeviceArray a }) a.Refabricate();
    }

    private static Tensor LogNormalFactor(Tensor xi, double sigma)
    {
        double s2 = Math.Log(1 + sigma * sigma);
        return (xi * Math.Sqrt(s2) - s2 / 2).exp();
    }

    private static Tensor Xi(long[] shape, MismatchDistribution d, torch.Generator rng) => d == MismatchDistribution.Uniform
        ? Draw.Rand(shape, ScalarType.Float64, CPU, rng).mul_(2 * Math.Sqrt(3)).sub_(Math.Sqrt(3))
        : Draw.Randn(shape, ScalarType.Float64, CPU, rng);

    /// <summary>Frees the stored nominal values and draws.</summary>
    public void Dispose()
    {
        foreach (var t in _nominal.Values.Concat(_fixed.Values)) t.Dispose();
        _nominal.Clear();
        _fixed.Clear();
    }
}
