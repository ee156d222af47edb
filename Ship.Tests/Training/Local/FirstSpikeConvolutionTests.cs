using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Datasets.Encoders;
using Ship.Training.Local;
using TorchSharp;
using static TorchSharp.torch;
using static Ship.Tests.Training.Local.TripletStdpTests;

namespace Ship.Tests.Training.Local;

public class FirstSpikeConvolutionTests
{
    private const int T = 6, C = 2, H = 5, W = 5, F = 3, K = 3, P = 1;

    /// <summary>Reference first spikes in doubles: V_t = Σ W·[t_in ≤ t] over the padded receptive field, first t with V_t ≥ θ.</summary>
    private static (double[] Times, double[] Pot) Reference(double[] tin, int b, double[] w, double thr)
    {
        int ho = H + 2 * P - K + 1, wo = W + 2 * P - K + 1;
        var times = new double[b * F * ho * wo];
        var pot = new double[times.Length];
        for (int s = 0; s < b; s++)
            for (int f = 0; f < F; f++)
                for (int y = 0; y < ho; y++)
                    for (int x = 0; x < wo; x++)
                    {
                        int o = ((s * F + f) * ho + y) * wo + x;
                        times[o] = T;
                        for (int t = 0; t < T; t++)
                        {
                            double v = 0;
                            for (int c = 0; c < C; c++)
                                for (int u = 0; u < K; u++)
                                    for (int q = 0; q < K; q++)
                                    {
                                        int yy = y + u - P, xx = x + q - P;
                                        if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                                        if (tin[((s * C + c) * H + yy) * W + xx] <= t) v += w[((f * C + c) * K + u) * K + q];
                                    }
                            if (v >= thr) { times[o] = t; pot[o] = v; break; }
                        }
                    }
        return (times, pot);
    }

    private static FirstSpikeConvolution Layer(double thr, int seed = 3)
    {
        var layer = new FirstSpikeConvolution(C, F, K, thr, P, weightMean: 0.5, weightStd: 0.3, seed: seed, dtype: ScalarType.Float64);
        Assert.That(Flat(layer.Weight), Is.All.InRange(0.0, 1.0), "weights are drawn inside [0, 1]");
        return layer;
    }

    private static Tensor RandomTimes(int b, int seed) =>
        torch.randint(0, T + 2, new long[] { b, C, H, W }, generator: new torch.Generator((ulong)seed)).to_type(ScalarType.Float64);

    [Test]
    public void FirstSpikeTimesAndPotentialsMatchTheIntegrateAndFireReference()
    {
        var layer = Layer(2.5);
        var tin = RandomTimes(4, 1);
        var output = layer.Forward(tin, T, pointwiseInhibition: false);
        var (times, pot) = Reference(Flat(tin), 4, Flat(layer.Weight), 2.5);
        Assert.That(Flat(output.Times), Is.EqualTo(times));
        Assert.That(Flat(output.Potentials), Is.EqualTo(pot).Within(1e-12));
        Assert.That(times.Count(t => t < T), Is.InRange(10, times.Length - 10), "some neurons fire and some do not");
    }

    [Test]
    public void LargeBatchesGiveTheSameSpikesAsSmallOnes()
    {
        // Large batches are computed step by step, small ones in one convolution over all steps.
        var layer = Layer(2.5);
        var tin = RandomTimes(2500, 2);
        var all = layer.Forward(tin, T);
        var few = layer.Forward(tin[TensorIndex.Slice(0, 7)], T);
        Assert.That(Flat(all.Times[TensorIndex.Slice(0, 7)]), Is.EqualTo(Flat(few.Times)));
        Assert.That(Flat(all.Potentials[TensorIndex.Slice(0, 7)]), Is.EqualTo(Flat(few.Potentials)).Within(1e-12));
    }

    [Test]
    public void PointwiseInhibitionKeepsTheEarliestThenStrongestFeature()
    {
        var layer = Layer(2.0);
        var tin = RandomTimes(3, 4);
        var raw = layer.Forward(tin, T, pointwiseInhibition: false);
        var kept = layer.Forward(tin, T);
        var rt = Flat(raw.Times); var rp = Flat(raw.Potentials); var kt = Flat(kept.Times);
        int plane = H * W; // padding 1, kernel 3: the output is H x W
        for (int s = 0; s < 3; s++)
            for (int pos = 0; pos < plane; pos++)
            {
                int best = -1;
                for (int f = 0; f < F; f++)
                {
                    int o = (s * F + f) * plane + pos;
                    if (rt[o] >= T) continue;
                    if (best < 0) { best = f; continue; }
                    int ob = (s * F + best) * plane + pos;
                    if (rt[o] < rt[ob] || (rt[o] == rt[ob] && rp[o] > rp[ob])) best = f;
                }
                for (int f = 0; f < F; f++)
                {
                    int o = (s * F + f) * plane + pos;
                    Assert.That(kt[o], Is.EqualTo(f == best ? rt[o] : T), $"sample {s} feature {f} position {pos}");
                }
            }
    }

    [Test]
    public void KWinnersTakeTheEarliestAndInhibitTheirFeatureAndNeighbourhood()
    {
        // One sample, 2 features on a 1x5 line. Times and potentials chosen by hand.
        var times = torch.tensor(new double[] { 3, 1, 6, 2, 1, /* feature 1 */ 1, 4, 0, 6, 5 }).view(1, 2, 1, 5);
        var pots = torch.tensor(new double[] { 3, 2.5, 0, 3, 2.7, /* feature 1 */ 2.6, 3, 3.1, 0, 2.2 }).view(1, 2, 1, 5);
        var output = new FirstSpikeOutput(times, pots, 6);
        // radius 0: first feature 1 at x=2 (t=0); feature 1 is then out; next the earliest of feature 0: x=4 (t=1, 2.7 > 2.5).
        var (f, r, c, ok) = FirstSpike.KWinners(output, 3, radius: 0);
        Assert.That(f.data<long>().Take(2), Is.EqualTo(new long[] { 1, 0 }));
        Assert.That(c.data<long>().Take(2), Is.EqualTo(new long[] { 2, 4 }));
        Assert.That(ok.data<bool>().ToArray(), Is.EqualTo(new[] { true, true, false }), "only two features exist");
        // radius 2 around x=2 also silences x=0..4 of feature 0: a single winner.
        var (f2, _, c2, ok2) = FirstSpike.KWinners(output, 3, radius: 2);
        Assert.That(ok2.data<bool>().ToArray(), Is.EqualTo(new[] { true, false, false }));
        Assert.That((f2[0, 0].item<long>(), c2[0, 0].item<long>()), Is.EqualTo((1L, 2L)));
        // radius 1 leaves x=4 of feature 0 (distance 2).
        var (f3, _, c3, ok3) = FirstSpike.KWinners(output, 3, radius: 1);
        Assert.That(ok3.data<bool>().ToArray(), Is.EqualTo(new[] { true, true, false }));
        Assert.That((f3[0, 1].item<long>(), c3[0, 1].item<long>()), Is.EqualTo((0L, 4L)));
        Assert.Throws<ParameterException>(() => FirstSpike.KWinners(output, 0));
    }

    [Test]
    public void StdpChangesOnlyWinnersByOrderOfSpikes()
    {
        const double aPlus = 0.05, aMinus = 0.03;
        var layer = Layer(2.5, seed: 7);
        var w0 = Flat(layer.Weight);
        var tin = RandomTimes(2, 5);
        var stdp = new WinnerStdp(layer, aPlus, aMinus, winners: 2, inhibitionRadius: 1);
        var output = layer.Forward(tin, T);
        var (f, r, c, ok) = FirstSpike.KWinners(output, 2, 1);
        long learned = stdp.Update(tin, output, f, r, c, ok);

        // Reference: each valid winner adds ±a·w(1 − w) (w before the update) to its own feature's kernel.
        var delta = new double[w0.Length];
        var tinF = Flat(tin); var tout = Flat(output.Times);
        int winners = 0;
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < 2; k++)
            {
                if (!ok[s, k].item<bool>()) continue;
                winners++;
                int fi = (int)f[s, k].item<long>(), y = (int)r[s, k].item<long>(), x = (int)c[s, k].item<long>();
                double post = tout[((s * F + fi) * H + y) * W + x];
                Assert.That(post, Is.LessThan(T), "a winner fired");
                for (int ch = 0; ch < C; ch++)
                    for (int u = 0; u < K; u++)
                        for (int q = 0; q < K; q++)
                        {
                            int yy = y + u - P, xx = x + q - P;
                            bool inside = yy >= 0 && yy < H && xx >= 0 && xx < W;
                            double pre = inside ? tinF[((s * C + ch) * H + yy) * W + xx] : double.PositiveInfinity;
                            int wi = ((fi * C + ch) * K + u) * K + q;
                            delta[wi] += (pre <= post ? aPlus : -aMinus) * w0[wi] * (1 - w0[wi]);
                        }
            }
        Assert.That(learned, Is.EqualTo(winners));
        Assert.That(winners, Is.GreaterThanOrEqualTo(3), "the case exercises several winners");
        var expected = w0.Zip(delta, (a, d) => Math.Clamp(a + d, 0, 1)).ToArray();
        Assert.That(Flat(layer.Weight), Is.EqualTo(expected).Within(1e-12));
        Assert.That(delta.Count(d => d > 0), Is.GreaterThan(0));
        Assert.That(delta.Count(d => d < 0), Is.GreaterThan(0));
    }

    [Test]
    public void RatesDoubleOnScheduleUpToTheCap()
    {
        var layer = Layer(2.5);
        var stdp = new WinnerStdp(layer, 0.004, 0.003, growEvery: 3, maxAPlus: 0.02);
        var tin = RandomTimes(2, 6);
        stdp.Learn(tin, T);                      // 2 samples seen
        Assert.That(stdp.APlus, Is.EqualTo(0.004));
        stdp.Learn(tin, T);                      // 4: one doubling
        Assert.That(stdp.APlus, Is.EqualTo(0.008));
        Assert.That(stdp.AMinus, Is.EqualTo(0.006).Within(1e-15));
        for (int i = 0; i < 5; i++) stdp.Learn(tin, T);
        Assert.That(stdp.APlus, Is.EqualTo(0.02), "capped");
        Assert.That(stdp.AMinus, Is.EqualTo(0.015).Within(1e-15), "a−/a+ kept");
    }

    [Test]
    public void PoolingPropagatesTheEarliestSpikeAndEarlinessMapsTimes()
    {
        var times = torch.tensor(new double[] { 3, 5, 9, 9, /**/ 7, 1, 9, 9, /**/ 2, 9, 9, 9, /**/ 9, 9, 9, 4 }).view(1, 1, 4, 4);
        var pooled = FirstSpike.Pool(times, 2);
        Assert.That(Flat(pooled), Is.EqualTo(new double[] { 1, 9, 2, 4 }));
        Assert.That(Flat(FirstSpike.Earliness(pooled, 9)), Is.EqualTo(new[] { 8 / 9.0, 0, 7 / 9.0, 5 / 9.0 }).Within(1e-15));
    }

    [Test]
    public void TimesFromRasterReadTheTimeToFirstSpikeEncoder()
    {
        var x = torch.tensor(new double[] { 1.0, 0.5, 0.0, 0.26, 0.01 }).view(1, 5);
        const int steps = 8;
        var times = Flat(FirstSpike.TimesFromRaster(TimeToFirstSpike.Linear(x, steps, 1e-3, 1.0)));
        // Linear latency (1 − x)·W, step ⌊(1 − x)·steps⌋; x = 0 never fires.
        Assert.That(times, Is.EqualTo(new double[] { 0, 4, steps, 5, 7 }));
    }

    [Test]
    public void BadShapesAndSettingsRaiseTypedErrors()
    {
        Assert.Throws<ParameterException>(() => new FirstSpikeConvolution(0, 1, 3, 1.0));
        Assert.Throws<ParameterException>(() => new FirstSpikeConvolution(1, 1, 3, 0.0));
        var layer = Layer(1.0);
        Assert.Throws<InputException>(() => layer.Forward(torch.zeros(2, 3, 5, 5), T));
        Assert.Throws<ParameterException>(() => new WinnerStdp(layer, winners: 0));
    }
}
