using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Training.Hardware;

/// <summary>When the training noise of <see cref="HardwareAwareWeights"/> is drawn.</summary>
public enum NoiseDraw
{
    /// <summary>Once per run (one training batch): the network sees one noisy "chip" per batch, like one programming.</summary>
    PerRun,
    /// <summary>At every step (read noise); the synapse then reads every step and is never time-batched.</summary>
    PerStep,
}

/// <summary>
/// Settings of hardware-aware training: which device non-idealities the forward pass sees.
/// Forward: w_c = clamp(w, −C, C) (C = <see cref="Clip"/>, or k·std(w) detached for <see cref="ClipSigmas"/> k, as aihwkit's
/// layer-Gaussian clipping), M = max|w_c| (detached), w_q = nearest of n levels on
/// [−M, M] (when <see cref="Levels"/> is set), w_eff = w_q + σ·M·ξ (when <see cref="Noise"/> σ &gt; 0, ξ ~ N(0, 1) from the
/// network's generator). Backward: identity through quantization and noise (straight-through), clamp's gradient through
/// clipping.
/// </summary>
public sealed record HardwareAwareOptions
{
    /// <summary>Number of conductance levels n ≥ 2, or null for no quantization.</summary>
    public int? Levels { get; init; }
    /// <summary>Device range C in weight units (weights are clipped to [−C, C]), or null for no clipping.</summary>
    public double? Clip { get; init; }
    /// <summary>Device range as k standard deviations of the layer's weights (C = k·std(w), detached), or null; ignored when <see cref="Clip"/> is set.</summary>
    public double? ClipSigmas { get; init; }
    /// <summary>Relative noise σ (fraction of the scale M); 0 for none.</summary>
    public double Noise { get; init; }
    /// <summary>When the noise is drawn (default once per run = once per training batch).</summary>
    public NoiseDraw Draw { get; init; } = NoiseDraw.PerRun;

    /// <summary>
    /// Matches <c>MemristivePresets.ShipQuantized(levels)</c>: n levels on [−max|w|, max|w|] and Gaussian level variability
    /// σ = (2M/n)/6, i.e. a relative noise of 1/(3n), drawn afresh every batch.
    /// With the default clipping at 2.5 standard deviations (and <see cref="HardwareAwareWeights.ProjectWeights"/> after each step)
    /// a single large weight cannot stretch the grid so far that most weights share the levels next to zero.
    /// </summary>
    public static HardwareAwareOptions ForQuantizedLevels(int levels, double clipSigmas = 2.5)
    {
        HardwareAwareFunctional.CheckLevels(levels);
        return new HardwareAwareOptions { Levels = levels, ClipSigmas = clipSigmas, Noise = 1.0 / (3 * levels) };
    }

    internal void Validate(string owner)
    {
        if (Levels is { } n && n < 2) throw new ParameterException(owner, "levels", $"needs at least 2 conductance levels, got {n}.");
        if (Clip is { } c && (!(c > 0) || !double.IsFinite(c))) throw new ParameterException(owner, "clip", $"the device range must be a finite limit > 0, got {c}.");
        if (ClipSigmas is { } k && (!(k > 0) || !double.IsFinite(k))) throw new ParameterException(owner, "clipSigmas", $"the device range must be a finite number of standard deviations > 0, got {k}.");
        if (!(Noise >= 0) || !double.IsFinite(Noise)) throw new ParameterException(owner, "noise", $"the relative noise σ must be finite and ≥ 0, got {Noise}.");
    }
}

/// <summary>
/// A differentiable stand-in for a device array, attached to a <see cref="WeightedSynapse"/> during training
/// (<c>synapse.WithDevice(new HardwareAwareWeights(synapse, options))</c> or <see cref="HardwareAware.Attach"/>). It plugs into
/// the synapse's existing device hook: every read (once per run, or per step for <see cref="NoiseDraw.PerStep"/>)
/// transforms the synapse's live trained weights W as <see cref="HardwareAwareOptions"/> describes, keeping the autograd
/// graph, so the <see cref="Trainer"/> trains through it unchanged. Each run draws fresh noise from the network's
/// generator. Unlike a <c>DeviceArray</c> it holds no conductances: W stays the trained (latent, full-precision) tensor.
/// </summary>
[ShipModel("HardwareAwareWeights")]
public sealed class HardwareAwareWeights : IWeightDevice, IShipModel<HardwareAwareWeights, HardwareAwareWeights.Settings>
{
    private WeightedSynapse? _synapse;

    /// <summary>Creates the transform for <paramref name="synapse"/>'s weights.</summary>
    public HardwareAwareWeights(WeightedSynapse synapse, HardwareAwareOptions options) : this(options)
    {
        _synapse = synapse ?? throw new ArgumentNullException(nameof(synapse));
    }

    /// <summary>Creates the transform unbound: the synapse that attaches it (<see cref="WeightedSynapse.WithDevice"/>) becomes its synapse.</summary>
    public HardwareAwareWeights(HardwareAwareOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate(nameof(HardwareAwareWeights));
    }

    /// <summary>Construction settings: the options (the synapse is the one it is attached to).</summary>
    public sealed record Settings(HardwareAwareOptions Options);

    /// <inheritdoc />
    public Settings GetSettings() => new(Options);

    /// <inheritdoc />
    public static HardwareAwareWeights FromSettings(Settings settings) => new((settings ?? throw new ArgumentNullException(nameof(settings))).Options);

    /// <summary>Binds to <paramref name="synapse"/>; a transform already made for another synapse is refused (it would read that synapse's weights).</summary>
    public void Attach(WeightedSynapse synapse)
    {
        ArgumentNullException.ThrowIfNull(synapse);
        if (_synapse is not null && !ReferenceEquals(_synapse, synapse))
            throw new NetworkConfigurationException(
                $"Synapse '{synapse.DisplayName}': this HardwareAwareWeights transforms the weights of synapse '{_synapse.DisplayName}'; create one per synapse.");
        _synapse = synapse;
    }

    /// <summary>The synapse whose weights are transformed.</summary>
    public WeightedSynapse Synapse => _synapse ?? throw new ShipException("This HardwareAwareWeights is not attached to a synapse yet: call synapse.WithDevice(it).");
    /// <summary>The non-idealities applied in the forward pass.</summary>
    public HardwareAwareOptions Options { get; }

    /// <inheritdoc />
    public bool ReadsVary => Options.Draw == NoiseDraw.PerStep && Options.Noise > 0;

    /// <summary>Nothing to program: the transform reads the synapse's live W at every read (the trainer may replace the tensor).</summary>
    public void Program(Tensor weights, SimulationContext ctx) { }

    /// <inheritdoc />
    public Tensor Read(SimulationContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        // The dtype view is this call's own (an alias when W already has the dtype): freed here, not by the finalizer.
        using var w = Synapse.W.Value.to(ctx.DType);
        return Transform(w, Options, ctx.Stream("hardware-noise"));
    }

    /// <summary>The forward transform of <paramref name="options"/> applied to weights w (differentiable, straight-through).</summary>
    public static Tensor Transform(Tensor w, HardwareAwareOptions options, torch.Generator rng)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(options);
        using var scope = torch.NewDisposeScope();
        var x = Limit(w, options) is { } c ? HardwareAwareFunctional.Clip(w, c) : w;
        var m = HardwareAwareFunctional.Scale(x);
        if (options.Levels is { } n) x = HardwareAwareFunctional.QuantizeStraightThrough(x, n, m);
        if (options.Noise > 0) x = HardwareAwareFunctional.AddNoise(x, options.Noise, m, rng);
        if (ReferenceEquals(x, w)) x = w.alias();
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>The clipping limit C for weights w: the fixed <see cref="HardwareAwareOptions.Clip"/>, k·std(w) for <see cref="HardwareAwareOptions.ClipSigmas"/>, or null.</summary>
    public static double? Limit(Tensor w, HardwareAwareOptions options)
    {
        if (options.Clip is { } c) return c;
        if (options.ClipSigmas is not { } k || w.numel() < 2) return null;
        using var scope = torch.NewDisposeScope();
        double sd = w.detach().to_type(ScalarType.Float64).std().item<double>();
        return sd > 0 ? k * sd : null;
    }

    /// <summary>Projects the trained W back into the device range [−C, C] in place (no gradient); call after each optimizer step so no weight wanders where the clamp's gradient is zero.</summary>
    public void ProjectWeights()
    {
        var w = Synapse.W.Value;
        if (Limit(w, Options) is not { } c) return;
        using var _ = torch.no_grad();
        w.clamp_(-c, c);
    }
}

/// <summary>Attaches hardware-aware training to a network's weighted synapses.</summary>
public static class HardwareAware
{
    /// <summary>
    /// Attaches a <see cref="HardwareAwareWeights"/> with <paramref name="options"/> to every <see cref="WeightedSynapse"/> of the
    /// network (or to those tagged in <paramref name="tags"/>) that has no device yet; call before the trainer is built.
    /// Returns the transforms (e.g. to call <see cref="ProjectAll"/> after each step).
    /// </summary>
    public static IReadOnlyList<HardwareAwareWeights> Attach(Network network, HardwareAwareOptions options, params string[] tags)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(options);
        var chosen = tags is { Length: > 0 } ? tags.Select(t => network[t]).ToList() : network.Groups.ToList();
        var list = new List<HardwareAwareWeights>();
        foreach (var g in chosen)
        {
            if (g is not WeightedSynapse s)
            {
                if (tags is { Length: > 0 }) throw new ParameterException(g.DisplayName, "device", $"is a {g.GetType().Name}, not a weighted synapse: hardware-aware weights need a weight matrix.");
                continue;
            }
            if (s.WeightDevice is not null)
                throw new NetworkConfigurationException($"Synapse '{g.DisplayName}' already has a weight device ({s.WeightDevice.GetType().Name}); hardware-aware training replaces it, so build the training network without one.");
            var hw = new HardwareAwareWeights(s, options);
            s.WithDevice(hw);
            list.Add(hw);
        }
        return list;
    }

    /// <summary>Projects every transform's weights back into its device range (no-op without clipping).</summary>
    public static void ProjectAll(IEnumerable<HardwareAwareWeights> transforms)
    {
        ArgumentNullException.ThrowIfNull(transforms);
        foreach (var t in transforms) t.ProjectWeights();
    }
}
