using System.Reflection;
using NUnit.Framework;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Kernels;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.Conformance;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>
/// The kernels layer (issue 11, point 6): fused forms live in Ship.Devices.Kernels and run on the backend the context's
/// kernel policy chooses; a model's SequenceRefusal answers only whether the maths allows its sequence form, the
/// policy's answer comes separately (KernelRefusal), and the plan prints both.
/// </summary>
public class KernelLayerTests
{
    private static readonly Device Gpu = new(DeviceType.CUDA, 0);

    [Test]
    public void ThePolicyChoosesTheBackendAndSaysWhy()
    {
        var policy = new KernelPolicy { HostRecurrenceLimit = 100 };
        Assert.That(policy.ChooseRecurrence(CPU, 1_000_000, cudaCompiled: false).Backend, Is.EqualTo(KernelBackend.Host), "on the CPU the host recurrence has no size limit");
        Assert.That(policy.ChooseRecurrence(Gpu, 1_000_000, cudaCompiled: true).Backend, Is.EqualTo(KernelBackend.Cuda));
        var small = policy.ChooseRecurrence(Gpu, 100, cudaCompiled: false);
        Assert.That((small.Backend, small.Fused), Is.EqualTo((KernelBackend.Host, true)), "at the limit the copies still pay off");
        var large = policy.ChooseRecurrence(Gpu, 101, cudaCompiled: false);
        Assert.That((large.Backend, large.Fused), Is.EqualTo((KernelBackend.None, false)));
        Assert.That(large.Reason, Does.Contain("101").And.Contain("100"), "the reason names the size and the limit");
        var off = (policy with { CudaKernels = false }).ChooseRecurrence(Gpu, 101, cudaCompiled: true);
        Assert.That(off.Backend, Is.EqualTo(KernelBackend.None), "a compiled kernel the policy turned off is not used");
        Assert.That(off.Reason, Does.Contain("off"));
    }

    [Test]
    public void TheEnvironmentOverrideIsReadByThePolicyOnly()
    {
        // LifCuda reports only whether a kernel compiled for the device; the SHIP_CUDA_KERNELS override is the policy's.
        var previous = Environment.GetEnvironmentVariable("SHIP_CUDA_KERNELS");
        try
        {
            Environment.SetEnvironmentVariable("SHIP_CUDA_KERNELS", "0");
            Assert.That(KernelPolicy.FromEnvironment().CudaKernels, Is.False);
            Environment.SetEnvironmentVariable("SHIP_CUDA_KERNELS", null);
            Assert.That(KernelPolicy.FromEnvironment().CudaKernels, Is.True);
        }
        finally { Environment.SetEnvironmentVariable("SHIP_CUDA_KERNELS", previous); }
        Assert.That(LifCuda.IsAvailable(CPU), Is.False);
    }

    private static (Network Net, Lif Lif) LifNetwork()
    {
        var net = new Network { BatchSize = 2, DType = ScalarType.Float64 };
        net.Add("in", new TensorInput(3));
        net.Add("s", new Dense(0.5), "in", "L");
        var lif = net.Add("L", new Lif(4, tau: 5e-3, threshold: 0.8));
        net.MarkOutput("L");
        net.TimeBatching = true;
        return (net, lif);
    }

    [Test]
    public void SequenceRefusalIsTheMathsAndThePlanPrintsIt()
    {
        var (net, lif) = LifNetwork();
        net.Initialize();
        Assert.That(lif.SequenceRefusal, Is.Null, "float64, Heaviside spikes, fixed τ and thr: the maths allows the fused form");
        Assert.That(lif.KernelRefusal, Is.Null, "on the CPU the host kernel serves any size");
        Assert.That(net.DescribePlan(), Does.Contain("L [whole block"));

        lif.Tau.Tensor = new TorchSharp.Modules.Parameter(lif.Tau.Value.detach().clone(), requires_grad: true);
        Assert.That(lif.SequenceRefusal, Does.Contain("tau or thr is trained"));
        Assert.That(((ISequenceGroup)lif).CanRunSequence, Is.False);
        var plan = net.DescribePlan();
        Assert.That(plan, Does.Contain("L [step]").And.Contain("no whole block: tau or thr is trained"), plan);
    }

    [Test]
    public void TheFusedHostKernelGivesThePerStepResults()
    {
        var x = torch.rand(new long[] { 2, 30, 3 }, dtype: ScalarType.Float64, generator: torch.manual_seed(3)).mul(2);
        var (fused, _) = LifNetwork();
        var yf = fused.Run(x)["L"];
        var (plain, _) = LifNetwork();
        plain.TimeBatching = false;
        var yp = plain.Run(x)["L"];
        Identical.Assert(yf, yp, "fused host kernel ≡ per-step torch form");
        Assert.That(yp.sum().item<double>(), Is.GreaterThan(0), "the neurons fire, so the comparison is not vacuous");
    }

    [Test]
    public void FusedFormsLiveInTheKernelsLayer()
    {
        // Every custom autograd node of the device library (a fused forward with its own backward) is in Ship.Devices.Kernels.
        var nodes = ModelCatalog.Libraries.SelectMany(a => a.GetTypes())
            .Where(t => t.BaseType is { IsGenericType: true } b && (b.GetGenericTypeDefinition().Name.StartsWith("SingleTensorFunction", StringComparison.Ordinal)
                || b.GetGenericTypeDefinition().Name.StartsWith("MultiTensorFunction", StringComparison.Ordinal)))
            .ToList();
        Assert.That(nodes.Select(t => t.Name), Is.SupersetOf(new[] { "LifSequenceFunction", "LeakyFilterFunction" }));
        Assert.That(nodes.Where(t => t.Namespace != "Ship.Devices.Kernels").Select(t => t.FullName), Is.Empty);
        // The fused LIF node takes the initial membrane as an input and returns the final state as an output.
        var run = typeof(LifSequence).GetMethod(nameof(LifSequence.Run), BindingFlags.Public | BindingFlags.Static)!;
        Assert.That(run.ReturnType.GetGenericArguments().Length, Is.EqualTo(3), "(spikes, final membrane, final gate)");
        Assert.That(typeof(LifSequence.Args).GetProperty(nameof(LifSequence.Args.U0)), Is.Not.Null);
    }
}
