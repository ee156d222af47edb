using NUnit.Framework;
using Ship.Core.Cuda;
using Ship.Devices.Kernels;
using Ship.Devices.Neurons;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Neurons;

/// The fused CUDA kernels are checked on a GPU machine by `Ship.Bench gpucheck` (bench/results/gpucheck-gpu.log);
/// here, on the CPU build, the optional path must stay out of the way: unavailable, with a reason, and no exception.
public class LifCudaTests
{
    [Test]
    public void KernelsAreNotUsedOnTheCpu()
    {
        Assert.That(LifCuda.IsAvailable(CPU), Is.False);
    }

    [Test]
    public void CompilingWithoutAGpuReturnsNullWithAReason()
    {
        var module = CudaModule.TryCompile("extern \"C\" __global__ void k() {}", "k.cu", out var why);
        Assert.That(module, Is.Null);
        Assert.That(why, Does.Contain("CUDA").Or.Contain("NVRTC").Or.Contain("libcuda"));
    }

    [Test]
    public void StatusNamesWhyTheKernelsAreOff()
    {
        Assert.That(LifCuda.Status, Is.Not.Empty);
    }
}
