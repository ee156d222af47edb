using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Devices.Memristive.Crossbar;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive.Crossbar;

/// <summary>ADC and DAC: exactly 2^b codes, mid-tread rounding at every boundary, clipping counted, straight-through gradients.</summary>
public class ConverterTests
{
    private static double[] D(Tensor t) => t.detach().to_type(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();

    [Test]
    public void AnAdcOfBBitsYieldsExactly2PowBCodesWithMidTreadRoundingAtEveryBoundary([Values(1, 2, 3, 5, 8)] int bits, [Values(false, true)] bool signed)
    {
        if (signed && bits < 2) return;   // a signed converter needs a sign bit and a magnitude bit
        double fs = Math.Pow(2, -18);   // ≈ 3.8 µA; a power of two, so every boundary (k − ½)·LSB is exact in binary
        double lsb = signed ? fs / Math.Pow(2, bits - 1) : fs / Math.Pow(2, bits);
        long kmin = signed ? -(1L << (bits - 1)) : 0, kmax = signed ? (1L << (bits - 1)) - 1 : (1L << bits) - 1;
        // A dense sweep over twice the range hits every code and nothing else.
        var sweep = torch.linspace(-2 * fs, 2 * fs, 200_001, dtype: ScalarType.Float64);
        var codes = AdcFunctional.Codes(sweep, bits, fs, signed, out var clipped);
        var distinct = D(codes).Distinct().OrderBy(c => c).ToArray();
        Assert.That(distinct.Length, Is.EqualTo(1L << bits));
        Assert.That(distinct[0], Is.EqualTo(kmin));
        Assert.That(distinct[^1], Is.EqualTo(kmax));
        // Boundary between k − 1 and k sits at (k − ½)·LSB; the tie goes up, just below stays down.
        for (long k = kmin + 1; k <= kmax; k++)
        {
            double edge = (k - 0.5) * lsb;
            var at = D(AdcFunctional.Codes(torch.tensor(new[] { edge, edge - lsb * 1e-9, edge + lsb * 1e-9 }, ScalarType.Float64), bits, fs, signed, out _));
            Assert.That(at, Is.EqualTo(new double[] { k, k - 1, k }), $"boundary of code {k}");
            Assert.That(D(AdcFunctional.Value(torch.tensor(new double[] { k }, ScalarType.Float64), bits, fs, signed))[0], Is.EqualTo(k * lsb).Within(1e-24));
        }
        // Clipped = the sweep points whose unclamped code lies outside [kmin, kmax].
        long expectedClipped = D(sweep).Count(i => Math.Floor(i / lsb + 0.5) < kmin || Math.Floor(i / lsb + 0.5) > kmax);
        Assert.That(clipped.sum().item<long>(), Is.EqualTo(expectedClipped));
        Assert.That(expectedClipped, Is.GreaterThan(0));
    }

    [Test]
    public void ADacOfBBitsHasExactly2PowBLevelsWithBothEndsAndMidTreadRounding([Values(1, 2, 4, 7)] int bits)
    {
        // Range [−1, 2^b − 2]: step Δ = 1 exactly, so every boundary Min + (k − ½)·Δ is exact in binary.
        double lo = -1, hi = Math.Pow(2, bits) - 2, step = 1;
        var s = new DacSettings(bits, lo, hi);
        var sweep = torch.linspace(lo - 2, hi + 2, 100_001, dtype: ScalarType.Float64);
        var codes = DacFunctional.Codes(sweep, s, out var clipped);
        var levels = D(DacFunctional.Level(codes, s)).Distinct().OrderBy(x => x).ToArray();
        Assert.That(levels.Length, Is.EqualTo(1 << bits));
        Assert.That(levels[0], Is.EqualTo(lo));
        Assert.That(levels[^1], Is.EqualTo(hi));
        for (int k = 1; k < (1 << bits); k++)
        {
            double edge = lo + (k - 0.5) * step;
            var at = D(DacFunctional.Codes(torch.tensor(new[] { edge, edge - 1e-9, edge + 1e-9 }, ScalarType.Float64), s, out _));
            Assert.That(at, Is.EqualTo(new double[] { k, k - 1, k }), $"boundary of level {k}");
        }
        long outside = D(sweep).Count(x => x < lo || x > hi);
        Assert.That(clipped.sum().item<long>(), Is.EqualTo(outside));
    }

    [Test]
    public void StraightThroughGradientsAreIdentityInsideAndZeroWhereTheConverterClips()
    {
        var i = torch.tensor(new[] { -5e-6, -1e-6, 0.3e-6, 2e-6, 9e-6 }, ScalarType.Float64).requires_grad_();
        var q = AdcFunctional.QuantizeStraightThrough(i, 4, 4e-6, true, out var clipped);
        q.sum().backward();
        Assert.That(D(i.grad!), Is.EqualTo(new double[] { 0, 1, 1, 1, 0 }));
        Assert.That(D(clipped.to_type(ScalarType.Float64)), Is.EqualTo(new double[] { 1, 0, 0, 0, 1 }));
        Assert.That(D(q), Is.EqualTo(D(AdcFunctional.Value(AdcFunctional.Codes(i, 4, 4e-6, true, out _), 4, 4e-6, true))));

        var x = torch.tensor(new[] { -0.2, 0.4, 1.3 }, ScalarType.Float64).requires_grad_();
        DacFunctional.QuantizeStraightThrough(x, new DacSettings(3, 0, 1), out var dclip).sum().backward();
        Assert.That(D(x.grad!), Is.EqualTo(new double[] { 0, 1, 0 }));
        Assert.That(dclip.sum().item<long>(), Is.EqualTo(2));
    }

    [Test]
    public void BadConverterSettingsNameTheField()
    {
        Assert.That(Assert.Throws<ParameterException>(() => new AdcSettings(Bits: 0).Validate("xb", false))!.Parameter, Is.EqualTo("adc.bits"));
        Assert.That(Assert.Throws<ParameterException>(() => new AdcSettings(Bits: 1).Validate("xb", true))!.Parameter, Is.EqualTo("adc.bits"));
        Assert.That(Assert.Throws<ParameterException>(() => new AdcSettings(FullScale: -1).Validate("xb", true))!.Parameter, Is.EqualTo("adc.full_scale"));
        Assert.That(Assert.Throws<ParameterException>(() => new AdcSettings(NoiseSigma: double.NaN).Validate("xb", true))!.Parameter, Is.EqualTo("adc.noise_sigma"));
        Assert.That(Assert.Throws<ParameterException>(() => new AdcSettings(ColumnsPerAdc: 0).Validate("xb", true))!.Parameter, Is.EqualTo("adc.columns_per_adc"));
        Assert.That(Assert.Throws<ParameterException>(() => new DacSettings(4, 1, 1).Validate("xb"))!.Parameter, Is.EqualTo("dac.min/max"));
        Assert.That(Assert.Throws<ParameterException>(() => new DacSettings(25).Validate("xb"))!.Parameter, Is.EqualTo("dac.bits"));
    }
}
