using Ship.Core.Errors;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Training.Local;

/// <summary>
/// First-spike times of a layer and the membrane potential each neuron had when it fired: what lateral inhibition and
/// STDP need, without keeping the whole [batch, steps, ...] potential history.
/// </summary>
/// <param name="Times">Spike step per neuron [batch, F, H, W] (float); <paramref name="Steps"/> means "never fired".</param>
/// <param name="Potentials">Potential at the spike step [batch, F, H, W] (0 where the neuron never fired).</param>
/// <param name="Steps">Number of time steps T of the window.</param>
public sealed record FirstSpikeOutput(Tensor Times, Tensor Potentials, int Steps)
{
    /// <summary>Which neurons fired [batch, F, H, W] (bool).</summary>
    public Tensor Fired => Times.lt(Steps);
}

/// <summary>
/// Convolutional spiking layer with at most one spike per neuron and rank-order (time-to-first-spike) coding, in the
/// setting of SpykeTorch (Mozafari et al. 2019) and Kheradpisheh et al. 2018: non-leaky integrate-and-fire neurons
/// whose input is the cumulative spike wave S_t[c, y, x] = 1 if the input at (c, y, x) fired at a step ≤ t. The
/// potential is V_t[f, y, x] = Σ_{c,u,v} W[f, c, u, v]·S_t[c, y+u−p, x+v−p] (a 2-D convolution with padding p and
/// stride 1); a neuron fires once, at the first step t with V_t ≥ θ. Weights lie in [0, 1] (drawn from N(mean, std²)
/// with the given seed and clipped), so V_t never decreases and the earliest, strongest matches fire first.
/// Pointwise (feature-wise) lateral inhibition keeps, at each position, only the feature that fired first (the
/// higher potential breaks ties). Everything is tensor-based over the whole batch and time window; no network stepper
/// is involved, which is what makes the one-spike setting fast. Train the weights with <see cref="WinnerStdp"/>.
/// </summary>
public sealed class FirstSpikeConvolution
{
    /// <summary>Creates the layer with weights drawn from N(<paramref name="weightMean"/>, <paramref name="weightStd"/>²) clipped to [0, 1].</summary>
    public FirstSpikeConvolution(int inChannels, int features, int kernelSize, double threshold, int padding = 0,
        double weightMean = 0.8, double weightStd = 0.05, long seed = 0, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        const string name = nameof(FirstSpikeConvolution);
        if (inChannels < 1) throw new ParameterException(name, "inChannels", $"must be ≥ 1, got {inChannels}.");
        if (features < 1) throw new ParameterException(name, "features", $"must be ≥ 1, got {features}.");
        if (kernelSize < 1) throw new ParameterException(name, "kernelSize", $"must be ≥ 1, got {kernelSize}.");
        if (padding < 0) throw new ParameterException(name, "padding", $"must be ≥ 0, got {padding}.");
        if (!(weightStd >= 0) || !double.IsFinite(weightMean)) throw new ParameterException(name, "weightMean/weightStd", $"need a finite mean and std ≥ 0, got {weightMean}, {weightStd}.");
        InChannels = inChannels;
        Features = features;
        KernelSize = kernelSize;
        Padding = padding;
        Threshold = threshold;
        var gen = new torch.Generator(unchecked((ulong)seed));
        using var w = torch.randn(new long[] { features, inChannels, kernelSize, kernelSize }, dtype: ScalarType.Float64, generator: gen);
        Weight = w.mul(weightStd).add_(weightMean).clamp_(0, 1).to(dtype).to(device ?? CPU).DetachFromDisposeScope();
    }

    /// <summary>Input channels C.</summary>
    public int InChannels { get; }
    /// <summary>Feature maps F (output channels).</summary>
    public int Features { get; }
    /// <summary>Side k of the square kernel.</summary>
    public int KernelSize { get; }
    /// <summary>Zero padding p on each side (padded inputs never fire).</summary>
    public int Padding { get; }
    /// <summary>Weights [F, C, k, k] in [0, 1]; STDP changes them in place.</summary>
    public Tensor Weight { get; }

    /// <summary>Firing threshold θ, in units of summed weights.</summary>
    public double Threshold
    {
        get => _threshold;
        set => _threshold = value > 0 && double.IsFinite(value) ? value
            : throw new ParameterException(nameof(FirstSpikeConvolution), "threshold", $"must be > 0 and finite, got {value}.");
    }
    private double _threshold;

    /// <summary>
    /// Runs the layer over a window of <paramref name="steps"/> steps. <paramref name="inputTimes"/> [batch, C, H, W]
    /// holds each input's spike step (≥ steps: never; see <see cref="FirstSpike.TimesFromRaster"/>). With
    /// <paramref name="pointwiseInhibition"/> only the first feature to fire at each position keeps its spike.
    /// </summary>
    public FirstSpikeOutput Forward(Tensor inputTimes, int steps, bool pointwiseInhibition = true)
    {
        ArgumentNullException.ThrowIfNull(inputTimes);
        if (inputTimes.dim() != 4 || inputTimes.Sizes()[1] != InChannels)
            throw new InputException(nameof(FirstSpikeConvolution), $"input times must be [batch, {InChannels}, H, W], got {Shapes.Format(inputTimes.Sizes())}.");
        if (steps < 1) throw new ParameterException(nameof(FirstSpikeConvolution), "steps", $"must be ≥ 1, got {steps}.");
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var input = inputTimes.to(Weight.dtype).to(Weight.device);
        // Small batches (STDP learns sample by sample) take all steps in one convolution, few native calls; large
        // batches go step by step, so memory stays [batch, F, H, W] whatever the window. Both give the same spikes.
        var (times, potentials) = input.Sizes()[0] * steps * Features * input.Sizes()[2] * input.Sizes()[3] <= AllStepsLimit
            ? AllSteps(input, steps) : StepByStep(input, steps);
        var output = new FirstSpikeOutput(times, potentials, steps);
        if (pointwiseInhibition) output = FirstSpike.PointwiseInhibition(output);
        return new FirstSpikeOutput(output.Times.MoveToOuterDisposeScope(), output.Potentials.MoveToOuterDisposeScope(), steps);
    }

    /// <summary>Largest batch·steps·F·H·W computed in one convolution over all steps.</summary>
    private const long AllStepsLimit = 1L << 20;

    private (Tensor Times, Tensor Potentials) AllSteps(Tensor input, int steps)
    {
        long b = input.Sizes()[0], c = InChannels, h = input.Sizes()[2], w = input.Sizes()[3];
        var t = torch.arange(steps, dtype: Weight.dtype, device: Weight.device).view(1, steps, 1, 1, 1);
        var wave = input.unsqueeze(1).le(t).to(Weight.dtype);                                          // S_t: [B, T, C, H, W]
        var v = torch.nn.functional.conv2d(wave.reshape(b * steps, c, h, w), Weight, padding: new long[] { Padding, Padding });
        v = v.view(b, steps, Features, v.Sizes()[2], v.Sizes()[3]);
        var fired = v.ge(Threshold);
        var first = fired.to(ScalarType.Float32).argmax(1, keepdim: true);                              // first step at threshold
        var any = fired.any(1);
        var times = torch.where(any, first.squeeze(1).to(Weight.dtype), torch.tensor((double)steps, Weight.dtype, Weight.device));
        return (times, v.gather(1, first).squeeze(1).mul_(any));
    }

    private (Tensor Times, Tensor Potentials) StepByStep(Tensor input, int steps)
    {
        var pad = new long[] { Padding, Padding };
        Tensor? times = null, potentials = null;
        for (int t = 0; t < steps; t++)
        {
            using var stepScope = torch.NewDisposeScope();
            var v = torch.nn.functional.conv2d(input.le(t).to(Weight.dtype), Weight, padding: pad);    // V_t from the wave S_t
            times ??= torch.full_like(v, steps).MoveToOuterDisposeScope();
            potentials ??= torch.zeros_like(v).MoveToOuterDisposeScope();
            var newly = v.ge(Threshold).logical_and_(times.eq(steps));
            times.masked_fill_(newly, t);
            potentials.copy_(torch.where(newly, v, potentials));
        }
        return (times!, potentials!);
    }
}

/// <summary>Operations on first-spike times: encoding, inhibition, winners, pooling and readout features.</summary>
public static class FirstSpike
{
    /// <summary>
    /// First spike step of every channel of a raster [batch, steps, ...] (e.g. from
    /// <c>Ship.Datasets.Encoders.TimeToFirstSpike</c>), as a float tensor [batch, ...]; channels that never fire get
    /// <c>steps</c>. Later spikes of a channel are ignored (one spike per neuron).
    /// </summary>
    public static Tensor TimesFromRaster(Tensor raster)
    {
        ArgumentNullException.ThrowIfNull(raster);
        if (raster.dim() < 3) throw new InputException(nameof(FirstSpike), $"a raster must be [batch, steps, ...], got {Shapes.Format(raster.Sizes())}.");
        using var scope = torch.NewDisposeScope();
        long steps = raster.Sizes()[1];
        var fired = raster.ne(0);
        var first = fired.to(ScalarType.Float32).argmax(1).to(ScalarType.Float32);
        return torch.where(fired.any(1), first, torch.tensor((float)steps)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Keeps at each position (b, y, x) only the feature that fired first, the higher potential breaking ties
    /// (SpykeTorch's pointwise inhibition); the others are set to "never fired".
    /// </summary>
    public static FirstSpikeOutput PointwiseInhibition(FirstSpikeOutput output)
    {
        using var scope = torch.NewDisposeScope();
        var key = Rank(output);
        var winner = key.argmax(1, keepdim: true);
        var keep = torch.zeros_like(key, dtype: ScalarType.Bool).scatter_(1, winner, torch.ones_like(winner, dtype: ScalarType.Bool)).logical_and_(output.Fired);
        var times = torch.where(keep, output.Times, torch.full_like(output.Times, output.Steps));
        var potentials = output.Potentials.mul(keep);
        return new FirstSpikeOutput(times.MoveToOuterDisposeScope(), potentials.MoveToOuterDisposeScope(), output.Steps);
    }

    /// <summary>
    /// Up to <paramref name="k"/> winners per sample for STDP (SpykeTorch's k-winners-take-all): repeatedly the neuron
    /// that fired first (highest potential on ties) wins; its whole feature map, and every feature within
    /// <paramref name="radius"/> (Chebyshev distance) of its position, can no longer win. Returns int64 tensors
    /// [batch, k] of feature, row and column, and a bool mask [batch, k] that is false where fewer neurons fired.
    /// </summary>
    public static (Tensor Feature, Tensor Row, Tensor Column, Tensor Valid) KWinners(FirstSpikeOutput output, int k, int radius = 0)
    {
        if (k < 1) throw new ParameterException(nameof(FirstSpike), "k", $"must be ≥ 1, got {k}.");
        if (radius < 0) throw new ParameterException(nameof(FirstSpike), "radius", $"must be ≥ 0, got {radius}.");
        using var scope = torch.NewDisposeScope();
        long b = output.Times.Sizes()[0], f = output.Times.Sizes()[1], h = output.Times.Sizes()[2], w = output.Times.Sizes()[3];
        var key = Rank(output).reshape(b, -1).clone();
        var dev = key.device;
        var fIdx = torch.arange(f, device: dev).view(1, f, 1, 1);
        var rIdx = torch.arange(h, device: dev).view(1, 1, h, 1);
        var cIdx = torch.arange(w, device: dev).view(1, 1, 1, w);
        var feats = new List<Tensor>(); var rows = new List<Tensor>(); var cols = new List<Tensor>(); var valid = new List<Tensor>();
        for (int i = 0; i < k; i++)
        {
            var (best, at) = key.max(1);
            var ok = best.gt(0);
            var fi = at.div(h * w, rounding_mode: RoundingMode.floor);
            var ri = at.remainder(h * w).div(w, rounding_mode: RoundingMode.floor);
            var ci = at.remainder(w);
            feats.Add(fi); rows.Add(ri); cols.Add(ci); valid.Add(ok);
            var sameFeature = fIdx.eq(fi.view(b, 1, 1, 1));
            var near = rIdx.sub(ri.view(b, 1, 1, 1)).abs().le(radius).logical_and(cIdx.sub(ci.view(b, 1, 1, 1)).abs().le(radius));
            key = key.masked_fill(sameFeature.logical_or(near).reshape(b, -1).logical_and(ok.view(b, 1)), 0);
        }
        return (torch.stack(feats, 1).MoveToOuterDisposeScope(), torch.stack(rows, 1).MoveToOuterDisposeScope(),
            torch.stack(cols, 1).MoveToOuterDisposeScope(), torch.stack(valid, 1).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Earliest spike in each pooling window (max-pooling of a spike wave propagates its earliest spike):
    /// times [batch, F, H, W] → [batch, F, H', W'] with window <paramref name="kernel"/> and stride (default kernel).
    /// </summary>
    public static Tensor Pool(Tensor times, int kernel, int? stride = null, int padding = 0)
    {
        using var scope = torch.NewDisposeScope();
        // Padding must never look like an early spike: pool the negated times, whose padding is −∞.
        var pooled = torch.nn.functional.max_pool2d(times.neg(), kernel, stride ?? kernel, padding).neg_();
        return pooled.MoveToOuterDisposeScope();
    }

    /// <summary>Readout features from spike times: (T − t)/T for a spike at step t, 0 for none, flattened to [batch, ...].</summary>
    public static Tensor Earliness(Tensor times, int steps)
    {
        using var scope = torch.NewDisposeScope();
        return times.neg().add_(steps).div_(steps).clamp_min_(0).flatten(1).MoveToOuterDisposeScope();
    }

    /// <summary>Sort key: earlier spike first, then higher potential; 0 for neurons that never fired.</summary>
    private static Tensor Rank(FirstSpikeOutput output)
    {
        // Potentials are bounded by the largest one, so (T − t)·(max + 1) separates steps before potentials compare.
        var scale = output.Potentials.max().add(1);
        return output.Times.neg().add(output.Steps).mul(scale).add_(output.Potentials).mul_(output.Fired);
    }
}
