using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Training.Local;

/// <summary>
/// The simplified STDP of Kheradpisheh et al. 2018 (SpykeTorch's STDP) for a <see cref="FirstSpikeConvolution"/>:
/// only the k winners of each sample learn (<see cref="FirstSpike.KWinners"/>), and for a winner of feature f at
/// (y, x) that fired at step t_post, every weight of f changes by
///   ΔW[f, c, u, v] = +a+·W(1 − W)  if the input under it fired at a step ≤ t_post (pre before, or with, post),
///   ΔW[f, c, u, v] = −a−·W(1 − W)  otherwise (it fired later or never),
/// then W is clipped to [0, 1]. The factor W(1 − W) is the soft bound that drives weights towards 0 or 1; only the
/// order of spikes matters, not their distance. A batch of samples is learned with the weights it started with and the
/// changes of all its winners summed, which for a batch of one is exactly the sequential rule. Optionally the rates
/// double every <c>growEvery</c> samples up to a+ = <c>maxAPlus</c>, keeping a−/a+ (Kheradpisheh's schedule).
/// </summary>
public sealed class WinnerStdp
{
    private long _seen;

    /// <summary>Creates the rule for <paramref name="layer"/> (defaults: a+ = 0.004, a− = 0.003 as in the paper).</summary>
    public WinnerStdp(FirstSpikeConvolution layer, double aPlus = 0.004, double aMinus = 0.003, int winners = 1, int inhibitionRadius = 0,
        int growEvery = 0, double maxAPlus = 0.15)
    {
        Layer = layer ?? throw new ArgumentNullException(nameof(layer));
        const string name = nameof(WinnerStdp);
        if (!(aPlus >= 0) || !(aMinus >= 0)) throw new ParameterException(name, "a_plus/a_minus", $"must be ≥ 0 (a− is subtracted), got {aPlus}, {aMinus}.");
        if (winners < 1) throw new ParameterException(name, "winners", $"must be ≥ 1, got {winners}.");
        if (inhibitionRadius < 0) throw new ParameterException(name, "inhibitionRadius", $"must be ≥ 0, got {inhibitionRadius}.");
        if (growEvery < 0) throw new ParameterException(name, "growEvery", $"must be ≥ 0 (0: constant rates), got {growEvery}.");
        APlus = aPlus;
        AMinus = aMinus;
        Winners = winners;
        InhibitionRadius = inhibitionRadius;
        GrowEvery = growEvery;
        MaxAPlus = maxAPlus;
    }

    /// <summary>The layer whose weights learn.</summary>
    public FirstSpikeConvolution Layer { get; }
    /// <summary>Potentiation rate a+.</summary>
    public double APlus { get; set; }
    /// <summary>Depression rate a− (a magnitude: the change is −a−·W(1 − W)).</summary>
    public double AMinus { get; set; }
    /// <summary>Winners per sample (k of k-WTA).</summary>
    public int Winners { get; }
    /// <summary>Radius of the lateral inhibition around each winner, in output positions.</summary>
    public int InhibitionRadius { get; }
    /// <summary>Samples between doublings of the rates; 0 keeps them constant.</summary>
    public int GrowEvery { get; }
    /// <summary>Largest a+ the schedule reaches.</summary>
    public double MaxAPlus { get; }

    /// <summary>Kheradpisheh's convergence measure C = mean of W(1 − W): it tends to 0 as weights settle at 0 or 1.</summary>
    public double Convergence
    {
        get
        {
            using var scope = torch.NewDisposeScope();
            var w = Layer.Weight;
            return w.mul(w.neg().add(1)).mean().to_type(ScalarType.Float64).item<double>();
        }
    }

    /// <summary>
    /// One learning step on a batch: runs the layer on <paramref name="inputTimes"/> [batch, C, H, W], picks the winners
    /// and updates the weights. Returns how many winners learned.
    /// </summary>
    public long Learn(Tensor inputTimes, int steps)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var output = Layer.Forward(inputTimes, steps, pointwiseInhibition: true);
        var (feature, row, column, valid) = FirstSpike.KWinners(output, Winners, InhibitionRadius);
        long learned = Update(inputTimes, output, feature, row, column, valid);
        Advance(inputTimes.Sizes()[0]);
        return learned;
    }

    /// <summary>
    /// Applies the rule for given winners (feature, row, column, valid: [batch, k], as from <see cref="FirstSpike.KWinners"/>)
    /// of <paramref name="output"/>, the layer's response to <paramref name="inputTimes"/>. Returns how many winners learned.
    /// </summary>
    public long Update(Tensor inputTimes, FirstSpikeOutput output, Tensor feature, Tensor row, Tensor column, Tensor valid)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var w = Layer.Weight;
        int kk = Layer.KernelSize, p = Layer.Padding;
        long b = inputTimes.Sizes()[0], c = Layer.InChannels, f = Layer.Features;
        long wo = output.Times.Sizes()[3];
        // Every receptive field as a column: [B, C·k·k, positions]; padding counts as "never fired" (after any post spike).
        var padded = torch.nn.functional.pad(inputTimes.to(w.dtype).to(w.device), new long[] { p, p, p, p }, value: output.Steps);
        var patches = torch.nn.functional.unfold(padded, kk);
        long k = feature.Sizes()[1];
        var position = row.mul(wo).add(column);                                                  // [B, k]
        var pre = patches.gather(2, position.unsqueeze(1).expand(b, c * kk * kk, k)).transpose(1, 2); // [B, k, C·k·k]
        var flatTimes = output.Times.reshape(b, f, -1);
        var post = flatTimes.gather(1, feature.unsqueeze(2).expand(b, k, flatTimes.Sizes()[2]))
            .gather(2, position.unsqueeze(2)).squeeze(2);                                        // [B, k]
        var causal = pre.le(post.unsqueeze(2));
        var rate = torch.where(causal, torch.tensor(APlus, w.dtype, w.device), torch.tensor(-AMinus, w.dtype, w.device))
            .mul_(valid.unsqueeze(2));
        var flatW = w.view(f, -1);
        var stabilizer = flatW.mul(flatW.neg().add(1));                                           // W(1 − W) before the update
        var delta = torch.zeros_like(flatW).index_add_(0, feature.flatten(), rate.reshape(b * k, -1), 1);
        flatW.add_(delta.mul_(stabilizer)).clamp_(0, 1);
        return valid.sum().to_type(ScalarType.Int64).item<long>();
    }

    private void Advance(long samples)
    {
        if (GrowEvery == 0) return;
        long before = _seen / GrowEvery;
        _seen += samples;
        for (long i = before; i < _seen / GrowEvery; i++)
        {
            if (APlus >= MaxAPlus) break;
            double ratio = APlus > 0 ? AMinus / APlus : 0;
            APlus = Math.Min(2 * APlus, MaxAPlus);
            AMinus = ratio * APlus;
        }
    }
}
