using NUnit.Framework;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// Proves that the native bridge loads on this host (the build's libstdc++ fix).
public class TorchLoadTests
{
    [Test]
    public void CreatesAndMultipliesTensors()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var b = tensor(new float[] { 5, 6, 7, 8 }).reshape(2, 2);
        using var c = a.matmul(b);
        // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]
        Assert.That(c.data<float>().ToArray(), Is.EqualTo(new float[] { 19, 22, 43, 50 }));
    }
}
