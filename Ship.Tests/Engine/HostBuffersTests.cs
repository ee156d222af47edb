using NUnit.Framework;
using Ship.Core.Memory;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// Huge-page advice only changes how pages are mapped: shapes, dtypes and values must be those of a plain tensor, and
/// the advice must be taken exactly where the kernel offers it (Linux, THP not "never", a large host block).
public class HostBuffersTests
{
    private static bool ThpOffered()
    {
        const string f = "/sys/kernel/mm/transparent_hugepage/enabled";
        return OperatingSystem.IsLinux() && File.Exists(f) && !File.ReadAllText(f).Contains("[never]");
    }

    [Test]
    public void LargeBlocksAreAdvisedWhereTheKernelOffersHugePages()
    {
        using var big = HostBuffers.Empty(new long[] { 10, 500, 2048 }, ScalarType.Float32, CPU);
        Assert.That(big.shape, Is.EqualTo(new long[] { 10, 500, 2048 }));
        Assert.That(big.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(HostBuffers.TryAdviseHugePages(big), Is.EqualTo(ThpOffered()));
    }

    [Test]
    public void SmallBlocksAreLeftAlone()
    {
        using var small = HostBuffers.Empty(new long[] { 10, 500, 32 }, ScalarType.Float32, CPU);
        Assert.That(HostBuffers.TryAdviseHugePages(small), Is.False);
    }

    [Test]
    public void AdvisedBlocksHoldWhatIsWritten()
    {
        using var like = torch.arange(0, 10L * 1024 * 1024, dtype: ScalarType.Float32).reshape(10, 1024, 1024);
        using var t = HostBuffers.EmptyLike(like);
        t.copy_(like);
        Assert.That(t.eq(like).all().item<bool>(), Is.True);
        Assert.That(t.shape, Is.EqualTo(like.shape));
    }
}
