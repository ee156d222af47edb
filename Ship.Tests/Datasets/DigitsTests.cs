using NUnit.Framework;
using Ship.Datasets;
using Ship.Datasets.Embedded;
using static TorchSharp.torch;

namespace Ship.Tests.Datasets;

public class DigitsTests
{
    // Class distribution of the UCI optdigits test file (optdigits.tes), from the data set's description.
    private static readonly int[] UciClassCounts = { 178, 182, 177, 183, 181, 182, 181, 179, 174, 180 };

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static long[] Labels(LabeledSet s) => s.Labels.data<long>().ToArray();

    [Test]
    public void LoadGivesTheUciTestSet()
    {
        using var d = Digits.Load();
        Assert.That(d.Inputs.shape, Is.EqualTo(new long[] { 1797, 64 }));
        Assert.That(d.Inputs.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(d.Labels.dtype, Is.EqualTo(ScalarType.Int64));
        var y = Labels(d);
        for (int c = 0; c < 10; c++) Assert.That(y.Count(v => v == c), Is.EqualTo(UciClassCounts[c]), $"class {c}");
        var px = d.Inputs.data<float>().ToArray();
        Assert.That(px.All(v => v >= 0 && v <= 16 && v == MathF.Floor(v)), Is.True, "pixels are integer counts 0..16");
        // First row of the file: a zero.
        Assert.That(px.Take(8).ToArray(), Is.EqualTo(new float[] { 0, 0, 5, 13, 9, 1, 0, 0 }));
        Assert.That(y[0], Is.EqualTo(0));
        Assert.That(y[^1], Is.EqualTo(8));
    }

    [Test]
    public void NormalizeDividesBySixteen()
    {
        using var raw = Digits.Load();
        using var norm = Digits.Load(normalize: true);
        using var expected = raw.Inputs / 16.0;
        Assert.That(norm.Inputs.allclose(expected, rtol: 0, atol: 1e-7), Is.True);
        Assert.That(norm.Inputs.max().item<float>(), Is.EqualTo(1f));
    }

    [Test]
    public void SplitIsStratifiedDisjointAndSeeded()
    {
        var (train, test) = Digits.Split(testFraction: 0.2, seed: 3);
        using var _1 = train;
        using var _2 = test;
        var yTest = Labels(test);
        var yTrain = Labels(train);
        for (int c = 0; c < 10; c++)
        {
            int expectedTest = (int)Math.Round(0.2 * UciClassCounts[c], MidpointRounding.AwayFromZero);
            Assert.That(yTest.Count(v => v == c), Is.EqualTo(expectedTest), $"class {c} test share");
            Assert.That(yTrain.Count(v => v == c), Is.EqualTo(UciClassCounts[c] - expectedTest), $"class {c} train share");
        }
        Assert.That(train.Count + test.Count, Is.EqualTo(1797));

        // Disjoint and complete: recover indices through the stratified split itself and compare to the data.
        using var all = Digits.Load();
        var (iTrain, iTest) = DataSplit.Stratified(all.Labels, 0.2, 3);
        var a = iTrain.data<long>().ToArray();
        var b = iTest.data<long>().ToArray();
        Assert.That(a.Concat(b).OrderBy(v => v), Is.EqualTo(Enumerable.Range(0, 1797).Select(v => (long)v)));
        using var picked = all.Inputs.index_select(0, iTest);
        Assert.That(Same(picked, test.Inputs), Is.True, "the test part holds the samples at the split's indices");

        var (train2, test2) = Digits.Split(testFraction: 0.2, seed: 3);
        var (train3, test3) = Digits.Split(testFraction: 0.2, seed: 4);
        using (train2) using (test2) using (train3) using (test3)
        {
            Assert.That(Same(test2.Inputs, test.Inputs), Is.True, "same seed, same split");
            Assert.That(Same(test3.Inputs, test.Inputs), Is.False, "another seed, another split");
        }
    }

    [Test]
    public void SplitDoesNotTouchTheGlobalGenerator()
    {
        manual_seed(42);
        var expected = rand(4).data<float>().ToArray();
        manual_seed(42);
        var (tr, te) = Digits.Split(seed: 9);
        tr.Dispose();
        te.Dispose();
        Assert.That(rand(4).data<float>().ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void CreditNamesCreatorsAndLicence()
    {
        Assert.That(Digits.Credit, Does.Contain("Alpaydin").And.Contain("Kaynak").And.Contain("CC BY 4.0"));
    }
}
