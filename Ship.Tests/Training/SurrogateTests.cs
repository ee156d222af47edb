using NUnit.Framework;
using Ship.Core.Spikes;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Training;

public class SurrogateTests
{
    private static readonly double[] Xs = Enumerable.Range(-20, 41).Select(i => i * 0.05).ToArray();

    private static (double[] spikes, double[] grads) Probe(ISurrogate s, double thr = 0.3)
    {
        var v = torch.tensor(Xs.Select(x => x + thr).ToArray(), dtype: ScalarType.Float64).requires_grad_(true);
        var th = torch.tensor(thr, dtype: ScalarType.Float64);
        var spikes = new SurrogateSpikes(s).Fire(v, th);
        spikes.sum().backward();
        return (spikes.detach().data<double>().ToArray(), v.grad!.data<double>().ToArray());
    }

    [Test]
    public void FastSigmoidMatchesFormula()
    {
        var (spikes, grads) = Probe(new FastSigmoid(100));
        for (int i = 0; i < Xs.Length; i++)
        {
            Assert.That(grads[i], Is.EqualTo(1 / Math.Pow(100 * Math.Abs(Xs[i]) + 1, 2)).Within(1e-9), $"x={Xs[i]}");
            Assert.That(spikes[i], Is.EqualTo(Xs[i] + 0.3 >= 0.3 ? 1.0 : 0.0), "forward is the step v ≥ thr");
        }
    }

    [Test]
    public void ArcTanMatchesFormula()
    {
        var (_, grads) = Probe(new ArcTan(2));
        for (int i = 0; i < Xs.Length; i++)
            Assert.That(grads[i], Is.EqualTo(1.0 / (1 + Math.Pow(Math.PI / 2 * 2 * Xs[i], 2))).Within(1e-9));
    }

    [Test]
    public void TriangleMatchesFormula()
    {
        var (_, grads) = Probe(new Triangle(0.5));
        for (int i = 0; i < Xs.Length; i++)
            Assert.That(grads[i], Is.EqualTo(Math.Max(0, 1 - Math.Abs(Xs[i]) / 0.5) / 0.5).Within(1e-9));
    }

    [Test]
    public void CustomSurrogateIsUsed()
    {
        var (_, grads) = Probe(new CustomSurrogate("gauss", x => x.pow(2).neg().exp()));
        for (int i = 0; i < Xs.Length; i++)
            Assert.That(grads[i], Is.EqualTo(Math.Exp(-Xs[i] * Xs[i])).Within(1e-9));
    }

    [Test]
    public void ThresholdGetsTheOppositeGradient()
    {
        var v = torch.tensor(new[] { 0.95, 1.02 }, dtype: ScalarType.Float64);
        var thr = torch.tensor(1.0, dtype: ScalarType.Float64).requires_grad_(true);
        new SurrogateSpikes(new FastSigmoid(10)).Fire(v, thr).sum().backward();
        double expected = -(1 / Math.Pow(10 * 0.05 + 1, 2) + 1 / Math.Pow(10 * 0.02 + 1, 2));
        Assert.That(thr.grad!.item<double>(), Is.EqualTo(expected).Within(1e-9));
    }

    [Test]
    public void ForwardEqualsHeavisideAtTheThresholdEdge()
    {
        var v = torch.tensor(new float[] { 0.99999994f, 1f, 1.0000001f });
        var thr = torch.tensor(1f);
        var plain = HeavisideSpikes.Instance.Fire(v, thr).data<float>().ToArray();
        var surrogate = new SurrogateSpikes().Fire(v.clone().requires_grad_(true), thr).detach().data<float>().ToArray();
        Assert.That(plain, Is.EqualTo(new float[] { 0, 1, 1 }));
        Assert.That(surrogate, Is.EqualTo(plain));
    }
}
