using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Datasets.Embedded;
using Ship.Datasets.Encoders;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Datasets;

public class TimeToFirstSpikeTests
{
    private const double Dt = 1e-3;
    private const int Steps = 20;

    /// <summary>Raster with one spike at (b, k[b][n], n) wherever k ≥ 0, built here from expected steps.</summary>
    private static float[] Expected(int[][] k, int steps)
    {
        int b = k.Length, n = k[0].Length;
        var r = new float[b * steps * n];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < n; j++)
                if (k[i][j] >= 0) r[(i * steps + k[i][j]) * n + j] = 1;
        return r;
    }

    private static int StepOf(double t) => (int)Math.Floor(t / Dt + 1e-9);

    [Test]
    public void LinearLatencyFollowsTheEquation()
    {
        double[][] x = { new[] { 1.0, 0.5, 0.27, 0.0, 0.001 }, new[] { 0.8, 0.0, 0.63, 1.0, 0.05 } };
        const double xMax = 1.0, window = Steps * Dt;
        using var input = tensor(x.SelectMany(r => r).ToArray(), new long[] { 2, 5 });
        using var raster = TimeToFirstSpike.Linear(input, Steps, Dt, xMax);
        Assert.That(raster.shape, Is.EqualTo(new long[] { 2, Steps, 5 }));
        var k = x.Select(r => r.Select(v => v > 0 ? StepOf((1 - v / xMax) * window) : -1).ToArray()).ToArray();
        Assert.That(k[0][0], Is.EqualTo(0), "x = x_max fires in the first step");
        Assert.That(k[0][4], Is.EqualTo(Steps - 1), "a faint input fires in the last step");
        Assert.That(raster.data<float>().ToArray(), Is.EqualTo(Expected(k, Steps)));
    }

    [Test]
    public void LinearWindowShorterThanRunKeepsSpikesInside()
    {
        const double window = 7.5e-3, xMax = 16;
        double[] x = { 16, 8, 1, 0.01, 0 };
        using var raster = TimeToFirstSpike.Linear(tensor(x), Steps, Dt, xMax, window);
        var k = x.Select(v => v > 0 ? StepOf((1 - v / xMax) * window) : -1).ToArray();
        Assert.That(k.Max(), Is.EqualTo(7), "K = ceil(7.5) = 8 steps: 0..7");
        Assert.That(raster.shape, Is.EqualTo(new long[] { 1, Steps, 5 }));
        Assert.That(raster.data<float>().ToArray(), Is.EqualTo(Expected(new[] { k }, Steps)));
    }

    [TestCase(LateSpikes.Drop)]
    [TestCase(LateSpikes.LastStep)]
    public void LogarithmicLatencyFollowsTheEquation(LateSpikes late)
    {
        const double tau = 5e-3, xMax = 2.0, window = Steps * Dt;
        double[] x = { 2.0, 2 * Math.Exp(-1.3), 2 * Math.Exp(-2.55), 2 * Math.Exp(-3.9), 2 * Math.Exp(-6), 0 };
        using var raster = TimeToFirstSpike.Logarithmic(tensor(x), Steps, Dt, tau, xMax, late: late);
        var k = x.Select(v =>
        {
            if (v <= 0) return -1;
            double t = tau * Math.Log(xMax / v);
            if (t >= window) return late == LateSpikes.Drop ? -1 : Steps - 1;
            return StepOf(t);
        }).ToArray();
        Assert.That(k.Take(4), Is.EqualTo(new[] { 0, 6, 12, 19 }), "t = 0, 6.5, 12.75, 19.5 ms");
        Assert.That(raster.data<float>().ToArray(), Is.EqualTo(Expected(new[] { k }, Steps)));
    }

    [Test]
    public void DigitsImagesGiveAtMostOneSpikePerPixel()
    {
        using var d = Digits.Load();
        using var some = d.Inputs.narrow(0, 0, 50).reshape(50, 8, 8);
        using var raster = TimeToFirstSpike.Linear(some, Steps, Dt, xMax: Digits.MaxPixel);
        Assert.That(raster.shape, Is.EqualTo(new long[] { 50, Steps, 64 }));
        using var counts = raster.sum(1);
        using var nonzero = some.reshape(50, 64).gt(0).to_type(ScalarType.Float32);
        Assert.That(counts.eq(nonzero).all().item<bool>(), Is.True, "one spike for every non-zero pixel, none for zeros");
    }

    [Test]
    public void BadInputsNameTheParameter()
    {
        var e1 = Assert.Throws<ParameterException>(() => TimeToFirstSpike.Linear(tensor(new[] { 0.5, -0.1 }), Steps, Dt))!;
        Assert.That(e1.Parameter, Is.EqualTo("x"));
        var e2 = Assert.Throws<ParameterException>(() => TimeToFirstSpike.Linear(tensor(new[] { 255.0 }), Steps, Dt, xMax: 1))!;
        Assert.That(e2.Message, Does.Contain("[0, 1]").And.Contain("255"));
        var e3 = Assert.Throws<ParameterException>(() => TimeToFirstSpike.Linear(tensor(new[] { 0.5 }), Steps, Dt, window: 0.05))!;
        Assert.That(e3.Parameter, Is.EqualTo("window"));
        var e4 = Assert.Throws<ParameterException>(() => TimeToFirstSpike.Logarithmic(tensor(new[] { 0.5 }), Steps, Dt, tau: 0))!;
        Assert.That(e4.Parameter, Is.EqualTo("tau"));
        var e5 = Assert.Throws<ParameterException>(() => TimeToFirstSpike.Linear(tensor(new[] { double.NaN }), Steps, Dt))!;
        Assert.That(e5.Message, Does.Contain("NaN"));
    }
}

public class RateEncoderTests
{
    [Test]
    public void SpikeFrequencyMatchesProbabilityWithinFiveSigma()
    {
        double[] x = { 0, 0.25, 0.5, 1.0 };
        const double maxRate = 200, dt = 1e-3;
        const int steps = 4000, batch = 2;
        using var input = tensor(x).unsqueeze(0).expand(batch, -1).contiguous();
        using var raster = RateEncoder.Encode(input, steps, dt, maxRate, new torch.Generator(5));
        Assert.That(raster.shape, Is.EqualTo(new long[] { batch, steps, 4 }));
        var mean = raster.mean(new long[] { 0, 1 }, type: ScalarType.Float64).data<double>().ToArray();
        for (int n = 0; n < x.Length; n++)
        {
            double p = x[n] * maxRate * dt;
            double sigma = Math.Sqrt(p * (1 - p) / (steps * batch));
            Assert.That(mean[n], Is.EqualTo(p).Within(5 * sigma + 1e-12), $"channel {n}, p = {p}");
        }
        using var distinct = raster.unique().Item1;
        Assert.That(distinct.data<float>().ToArray(), Is.EqualTo(new[] { 0f, 1f }));
    }

    [Test]
    public void ProbabilityOneFiresEveryStep()
    {
        using var raster = RateEncoder.Encode(tensor(new[] { 1.0 }), 50, 1e-3, 1000, new torch.Generator(1));
        Assert.That(raster.sum().item<float>(), Is.EqualTo(50f));
    }

    [Test]
    public void ProbabilityAboveOneIsRefused()
    {
        var e = Assert.Throws<ParameterException>(() => RateEncoder.Encode(tensor(new[] { 0.5, 16.0 }), 10, 1e-3, 100, new torch.Generator(1)))!;
        Assert.That(e.Parameter, Is.EqualTo("maxRate"));
        Assert.That(e.Message, Does.Contain("1.6"));
        Assert.Throws<ParameterException>(() => RateEncoder.Encode(tensor(new[] { -0.5 }), 10, 1e-3, 100, new torch.Generator(1)));
    }

    [Test]
    public void SameGeneratorSeedSameSpikesAndGlobalGeneratorUntouched()
    {
        using var x = full(3, 5, 0.3);
        manual_seed(123);
        var reference = rand(6).data<float>().ToArray();
        manual_seed(123);
        using var a = RateEncoder.Encode(x, 40, 1e-3, 300, new torch.Generator(77));
        Assert.That(rand(6).data<float>().ToArray(), Is.EqualTo(reference), "the global generator did not move");
        using var b = RateEncoder.Encode(x, 40, 1e-3, 300, new torch.Generator(77));
        using var c = RateEncoder.Encode(x, 40, 1e-3, 300, new torch.Generator(78));
        Assert.That(a.eq(b).all().item<bool>(), Is.True);
        Assert.That(a.eq(c).all().item<bool>(), Is.False);
    }
}

public class SendOnDeltaTests
{
    private static float[] Column(Tensor spikes, int output) =>
        spikes.select(-1, output).data<float>().ToArray();

    [Test]
    public void TrackingReferenceOneBitHandSequence()
    {
        // δ = 0.5, r starts at 0. By hand: q = (x − r)/δ, m = trunc(q) clipped to ±1, r += m·δ.
        // x:  0.2  0.6  1.0  1.7  1.0  0.4  0.4  -0.6
        // q:  0.4  1.2  1.0  1.4  -1   -1.2 -0.2 -2.2
        // m:  0    1    1    1    -1   -1   0    -1      (r: 0, .5, 1, 1.5, 1, .5, .5, 0)
        using var x = tensor(new[] { 0.2, 0.6, 1.0, 1.7, 1.0, 0.4, 0.4, -0.6 }).unsqueeze(1);
        using var s = SendOnDelta.Encode(x, 0.5);
        Assert.That(s.shape, Is.EqualTo(new long[] { 8, 2 }));
        Assert.That(Column(s, 0), Is.EqualTo(new float[] { 0, 1, 1, 1, 0, 0, 0, 0 }), "up");
        Assert.That(Column(s, 1), Is.EqualTo(new float[] { 0, 0, 0, 0, 1, 1, 0, 1 }), "down");
        using var r = SendOnDelta.Decode(s, 0.5);
        Assert.That(r.squeeze(1).data<double>().ToArray(), Is.EqualTo(new[] { 0, 0.5, 1, 1.5, 1, 0.5, 0.5, 0 }).Within(1e-12));
    }

    [Test]
    public void SampleReferenceReproducesShip()
    {
        // SHIP's analog2spike: after an emission the reference becomes the sample itself.
        // x:  0.2  0.6  1.0  1.7  1.0  0.4  0.4  -0.6
        // q:  0.4  1.2  0.8  2.2  -1.4 -1.2 0    -2
        // m:  0    1    0    1    -1   -1   0    -1      (r: 0, .6, .6, 1.7, 1, .4, .4, -.6)
        using var x = tensor(new[] { 0.2, 0.6, 1.0, 1.7, 1.0, 0.4, 0.4, -0.6 }).unsqueeze(1);
        using var s = SendOnDelta.Encode(x, 0.5, reference: DeltaReference.Sample);
        Assert.That(Column(s, 0), Is.EqualTo(new float[] { 0, 1, 0, 1, 0, 0, 0, 0 }), "up");
        Assert.That(Column(s, 1), Is.EqualTo(new float[] { 0, 0, 0, 0, 1, 1, 0, 1 }), "down");
    }

    [Test]
    public void TwoBitsSendSeveralDeltasAtOnce()
    {
        // δ = 0.5, bits = 2 (M = 3), outputs per channel [up 2^0, up 2^1, down 2^0, down 2^1].
        // x:  0    1.6  1.6  -0.1  3.0  3.0  2.0
        // q:  0    3.2  0.2  -3.2  6    3    -2
        // m:  0    3    0    -3    3    3    -2     (r: 0, 1.5, 1.5, 0, 1.5, 3, 2)
        using var x = tensor(new[] { 0, 1.6, 1.6, -0.1, 3.0, 3.0, 2.0 }).unsqueeze(1);
        using var s = SendOnDelta.Encode(x, 0.5, bits: 2);
        Assert.That(s.shape, Is.EqualTo(new long[] { 7, 4 }));
        Assert.That(Column(s, 0), Is.EqualTo(new float[] { 0, 1, 0, 0, 1, 1, 0 }), "up 1");
        Assert.That(Column(s, 1), Is.EqualTo(new float[] { 0, 1, 0, 0, 1, 1, 0 }), "up 2");
        Assert.That(Column(s, 2), Is.EqualTo(new float[] { 0, 0, 0, 1, 0, 0, 0 }), "down 1");
        Assert.That(Column(s, 3), Is.EqualTo(new float[] { 0, 0, 0, 1, 0, 0, 1 }), "down 2");
        using var r = SendOnDelta.Decode(s, 0.5, bits: 2);
        Assert.That(r.squeeze(1).data<double>().ToArray(), Is.EqualTo(new[] { 0, 1.5, 1.5, 0, 1.5, 3, 2 }).Within(1e-12));
    }

    [Test]
    public void ChannelsAndBatchesAreLaidOutPerChannel()
    {
        // batch 2, 3 steps, 2 channels; channel 1 of sample 1 rises by 2δ at step 2 → with bits = 2, up digit 2^1 on output 1·4 + 1.
        var data = new double[] { 0, 0, 0, 0, 0, 0, /* sample 1 */ 0, 0, 0, 0, 0, 1.0 };
        using var x = tensor(data, new long[] { 2, 3, 2 });
        using var s = SendOnDelta.Encode(x, 0.5, bits: 2);
        Assert.That(s.shape, Is.EqualTo(new long[] { 2, 3, 8 }));
        Assert.That(s.sum().item<float>(), Is.EqualTo(1f));
        Assert.That(s[1, 2, 5].item<float>(), Is.EqualTo(1f));
    }

    [Test]
    public void StartingAtFirstSampleAvoidsTheOffsetBurst()
    {
        using var x = tensor(new[] { 5.0, 5.2, 5.6 }).unsqueeze(1);
        using var fromZero = SendOnDelta.Encode(x, 0.5);
        using var fromFirst = SendOnDelta.Encode(x, 0.5, startAtFirstSample: true);
        Assert.That(Column(fromFirst, 0), Is.EqualTo(new float[] { 0, 0, 1 }), "5.6 − 5.0 = 1.2 δ: one up spike");
        Assert.That(Column(fromZero, 0), Is.EqualTo(new float[] { 1, 1, 1 }), "from 0 the encoder climbs one δ per step");
    }

    [Test]
    public void ChangeOfExactlyDeltaCountsDespiteRoundOff()
    {
        Assert.That((0.3 - 0.1) / 0.2, Is.LessThan(1.0), "the raw quotient rounds below 1");
        using var x = tensor(new[] { 0.1, 0.3 }).unsqueeze(1);
        using var s = SendOnDelta.Encode(x, 0.2, startAtFirstSample: true);
        Assert.That(Column(s, 0), Is.EqualTo(new float[] { 0, 1 }));
    }

    [TestCase(1)]
    [TestCase(3)]
    public void TrackingStaysWithinDeltaWhenNotOverloaded(int bits)
    {
        // A sine whose largest step change is below (2^bits − 1)·δ: the decoded reference stays within δ of it.
        const double delta = 0.05;
        int steps = 500;
        double maxSlope = 0.9 * ((1 << bits) - 1) * delta;
        double w = 0.05, amp = maxSlope / w;
        var x = Enumerable.Range(0, steps).Select(k => amp * Math.Sin(w * k) + 0.3).ToArray();
        using var signal = tensor(x).unsqueeze(1);
        // Start at the first sample: from 0 the 0.3 offset alone would overload the one-bit code for 6 steps.
        using var s = SendOnDelta.Encode(signal, delta, bits, startAtFirstSample: true);
        using var r = SendOnDelta.Decode(s, delta, bits, initial: tensor(x[0]));
        var rec = r.squeeze(1).data<double>().ToArray();
        double worst = x.Zip(rec, (a, b) => Math.Abs(a - b)).Max();
        Assert.That(worst, Is.LessThan(delta));
        Assert.That(s.sum().item<float>(), Is.GreaterThan(10f), "the signal did produce spikes");
    }

    [Test]
    public void BadArgumentsAreNamed()
    {
        using var x = zeros(4, 1);
        Assert.That(Assert.Throws<ParameterException>(() => SendOnDelta.Encode(x, 0))!.Parameter, Is.EqualTo("delta"));
        Assert.That(Assert.Throws<ParameterException>(() => SendOnDelta.Encode(x, 0.1, bits: 0))!.Parameter, Is.EqualTo("bits"));
        Assert.That(Assert.Throws<ParameterException>(() => SendOnDelta.Encode(zeros(4), 0.1))!.Parameter, Is.EqualTo("signal"));
    }
}

public class ResampleTests
{
    [Test]
    public void LinearInterpolationKeepsTheDuration()
    {
        // 5 samples at 100 Hz span 40 ms; dt = 15 ms gives t = 0, 15, 30 ms, i.e. sample positions 0, 1.5, 3.
        using var x = tensor(new[] { 0.0, 1, 4, 9, 16 }).unsqueeze(1);
        using var y = Resample.Linear(x, 100, 15e-3);
        Assert.That(y.squeeze(1).data<double>().ToArray(), Is.EqualTo(new[] { 0, 2.5, 9 }).Within(1e-12));
    }
}
