using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices;

/// <summary>Small helpers shared by the device tests: reading tensors and wiring a synapse between an input and a neuron group.</summary>
internal static class DeviceTestKit
{
    public static double[] D(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    /// <summary>I (TensorInput, Ns) → S (the synapse, marked as output) → T (a leaky integrator of Nt).</summary>
    public static Network SynapseNet(SynapseGroup synapse, int ns, int nt, int batch, double dt, int steps, ScalarType dtype = ScalarType.Float64)
    {
        var net = new Network { Dt = dt, Steps = steps, BatchSize = batch, DType = dtype };
        net.Add("I", new TensorInput(ns));
        net.Add("S", synapse, "I", "T");
        net.Add("T", new LeakyIntegrator(nt));
        net.MarkOutput("S");
        return net;
    }

    /// <summary>A [batch, steps, n] input of zeros with single spikes (batch, step, channel) set to 1.</summary>
    public static Tensor Spikes(int batch, int steps, int n, ScalarType dtype, params (int B, int Step, int Channel)[] events)
    {
        var x = torch.zeros(new long[] { batch, steps, n }, dtype: dtype);
        foreach (var (b, s, c) in events) x[b, s, c].fill_(1.0);
        return x;
    }

    /// <summary>Same shape and the same values everywhere.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>Element [b, k, j] of a flattened [B, T, N] array.</summary>
    public static double At(double[] a, int steps, int n, int b, int k, int j) => a[(b * steps + k) * n + j];
}
