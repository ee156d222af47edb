using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Inputs;

/// The input check finds NaN and infinities with one reduction; data whose sum overflows but is finite must still pass.
public class TensorInputFiniteTests
{
    private static Network Net(ScalarType dtype)
    {
        var net = new Network { Steps = 4, BatchSize = 2, DType = dtype };
        net.Add("I", new TensorInput(3));
        net.Add("L", new Lif(3));
        net.Connect("I", "L");
        net.MarkOutput("I");
        return net;
    }

    [TestCase(ScalarType.Float32, 3e38)]
    [TestCase(ScalarType.Float64, 1.7e308)]
    public void FiniteDataWhoseSumOverflowsIsAccepted(ScalarType dtype, double big)
    {
        var x = torch.full(new long[] { 2, 4, 3 }, big, dtype: dtype);
        using (var sum = x.sum()) Assert.That(double.IsInfinity(sum.to_type(ScalarType.Float64).item<double>()), "the sum overflows");
        var r = Net(dtype).Run(x);
        Assert.That(r["I"].to_type(ScalarType.Float64).max().item<double>(), Is.EqualTo(big).Within(big * 1e-6));
    }

    [TestCase(float.NaN)]
    [TestCase(float.NegativeInfinity)]
    public void OneNonFiniteValueAmongLargeOnesIsRejected(float bad)
    {
        var x = torch.full(new long[] { 2, 4, 3 }, 1e30f);
        x[1, 3, 2] = torch.tensor(bad);
        Assert.Throws<InputException>(() => Net(ScalarType.Float32).Run(x));
    }

    [Test]
    public void ANonFiniteValueAnywhereInALongInputIsFound([Values(ScalarType.Float32, ScalarType.Float64)] ScalarType dtype)
    {
        // 2 × 101 × 3 = 606 values: the scan's four-vector body, its one-vector rest and its scalar tail each get one bad value.
        int steps = 101;
        var net = new Network { Steps = steps, BatchSize = 2, DType = dtype };
        net.Add("I", new TensorInput(3));
        net.Add("L", new Lif(3));
        net.Connect("I", "L");
        net.MarkOutput("I");
        foreach (long at in new long[] { 0, 1, 37, 300, 575, 598, 599, 604, 605 })
            foreach (var bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
            {
                var x = torch.full(new long[] { 2, steps, 3 }, 0.5, dtype: dtype);
                using (var flat = x.view(-1)) flat[at] = torch.tensor(bad, dtype: dtype);
                Assert.Throws<InputException>(() => net.Run(x), $"{bad} at flat index {at}");
            }
        Assert.DoesNotThrow(() => net.Run(torch.full(new long[] { 2, steps, 3 }, 0.5, dtype: dtype)));
    }

    [Test]
    public void PositiveAndNegativeInfinityCancellingInTheSumAreRejected()
    {
        var x = torch.zeros(new long[] { 2, 4, 3 });
        x[0, 0, 0] = torch.tensor(float.PositiveInfinity);
        x[1, 1, 1] = torch.tensor(float.NegativeInfinity);
        Assert.Throws<InputException>(() => Net(ScalarType.Float32).Run(x));
    }
}
