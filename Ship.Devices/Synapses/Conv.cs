using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Synapses;

/// <summary>
/// Convolutional synapse in 1 or 2 spatial dimensions (NIR's Conv1d / Conv2d, PyTorch's cross-correlation), with stride,
/// zero padding, dilation and channel groups. Sources are the input feature map [C_in, H(, W)] and targets the output
/// map [C_out, H_out(, W_out)], both flattened in C order as every Ship.NET group's components are.
/// y[c_out, p] = bias[c_out] + Σ_{c_in in the group of c_out, k} K[c_out, c_in, k]·x[c_in, p·stride + k·dilation − padding].
/// The kernel is stored as W [C_in/groups · ∏kernel, C_out] (<see cref="Group.ConnectionShape"/>): one column of
/// crossbar devices per output channel, the layout of a convolution mapped onto a crossbar (im2col), so a device array
/// attached with <see cref="WeightedSynapse.WithDevice"/> programs and reads the kernel like any weighted synapse.
/// Bias is per target (channel bias repeated over positions). Output sizes: ⌊(n + 2p − d·(k − 1) − 1)/s⌋ + 1.
/// </summary>
[ShipModel("Conv")]
public sealed class Conv : WeightedSynapse, IShipModel<Conv, Conv.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; kernel and bias are parameters, saved separately).</summary>
    public sealed record Settings(IWeightDevice? Device, bool Plastic, int[] InputShape, int OutChannels, int[] Kernel, int[] Stride, int[] Padding, int[] Dilation, int Groups);

    /// <inheritdoc />
    public Settings GetSettings() => new(WeightDevice, Plastic, InputShape, OutChannels, Kernel, Stride, Padding, Dilation, Groups);

    /// <inheritdoc />
    public static Conv FromSettings(Settings s) =>
        Restore(new Conv(s.InputShape, s.OutChannels, s.Kernel, s.Stride, s.Padding, s.Dilation, s.Groups), new WeightedSettings(s.Device, s.Plastic));

    /// <summary>Creates the synapse for an input map of shape <paramref name="inputShape"/> = [C_in, H] or [C_in, H, W].</summary>
    public Conv(int[] inputShape, int outChannels, int[] kernel, int[]? stride = null, int[]? padding = null, int[]? dilation = null,
        int groups = 1, Value? weights = null, Value? bias = null) : base(weights)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(kernel);
        int dims = inputShape.Length - 1;
        if (dims is < 1 or > 2) throw new ParameterException(GetType().Name, "input_shape", $"expected [C_in, H] or [C_in, H, W], got [{string.Join(", ", inputShape)}].");
        Kernel = Check("kernel", kernel, dims, 1);
        Stride = Check("stride", stride ?? Ones(dims), dims, 1);
        Padding = Check("padding", padding ?? new int[dims], dims, 0);
        Dilation = Check("dilation", dilation ?? Ones(dims), dims, 1);
        if (inputShape.Any(d => d < 1)) throw new ParameterException(GetType().Name, "input_shape", $"every size must be >= 1, got [{string.Join(", ", inputShape)}].");
        if (groups < 1 || inputShape[0] % groups != 0 || outChannels % groups != 0)
            throw new ParameterException(GetType().Name, "groups", $"must be >= 1 and divide C_in = {inputShape[0]} and C_out = {outChannels}, got {groups}.");
        InputShape = (int[])inputShape.Clone();
        OutChannels = outChannels;
        Groups = groups;
        OutputShape = ConvFunctional.OutputShape(InputShape, outChannels, Kernel, Stride, Padding, Dilation);
        if (OutputShape.Any(d => d < 1))
            throw new ParameterException(GetType().Name, "kernel", $"the kernel does not fit the padded input [{string.Join(", ", inputShape)}] (output [{string.Join(", ", OutputShape)}]).");
        Bias = Param("bias", Extent.Component, bias ?? 0.0, Constraint.Finite);
    }

    private static int[] Ones(int n) => Enumerable.Repeat(1, n).ToArray();

    private int[] Check(string name, int[] v, int dims, int min) =>
        v.Length == dims && v.All(x => x >= min)
            ? (int[])v.Clone()
            : throw new ParameterException(GetType().Name, name, $"expected {dims} value(s) >= {min}, got [{string.Join(", ", v)}].");

    /// <summary>Input map shape [C_in, H(, W)].</summary>
    public int[] InputShape { get; }
    /// <summary>Output map shape [C_out, H_out(, W_out)].</summary>
    public int[] OutputShape { get; }
    /// <summary>Output channels C_out.</summary>
    public int OutChannels { get; }
    /// <summary>Kernel size per spatial axis.</summary>
    public int[] Kernel { get; }
    /// <summary>Stride per spatial axis.</summary>
    public int[] Stride { get; }
    /// <summary>Zero padding per spatial axis (both sides).</summary>
    public int[] Padding { get; }
    /// <summary>Dilation per spatial axis.</summary>
    public int[] Dilation { get; }
    /// <summary>Channel groups.</summary>
    public int Groups { get; }
    /// <summary>Bias per target [C_out·∏spatial_out].</summary>
    public Parameter Bias { get; }

    /// <summary>Kernel entries per output channel: C_in/groups · ∏kernel.</summary>
    public int KernelRows => InputShape[0] / Groups * Kernel.Aggregate(1, (a, b) => a * b);

    /// <inheritdoc />
    public override (long Rows, long Columns) ConnectionShape => (KernelRows, OutChannels);

    /// <inheritdoc />
    public override void ValidateSizes()
    {
        long ns = InputShape.Aggregate(1L, (a, b) => a * b), nt = OutputShape.Aggregate(1L, (a, b) => a * b);
        if (SourceCount != ns || TargetCount != nt)
            throw new NetworkConfigurationException(
                $"Conv '{DisplayName}' maps [{string.Join(", ", InputShape)}] ({ns} sources) to [{string.Join(", ", OutputShape)}] ({nt} targets), but is wired to {SourceCount} sources and {TargetCount} targets.");
    }

    /// <summary>The kernel in PyTorch's layout [C_out, C_in/groups, k...] from a weight matrix [rows, C_out].</summary>
    public Tensor KernelTensor(Tensor w) => ConvFunctional.ToKernel(w, OutChannels, InputShape[0] / Groups, Kernel);

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var w = Weights;
        if (w.dim() != 2)
            throw new ShipException($"Conv '{DisplayName}': the device reads a weight per batch row ({w.dim()}-d); convolutions take one kernel for the whole batch.");
        return ConvFunctional.Forward(input!, KernelTensor(w), InputShape, Stride, Padding, Dilation, Groups).Plus(Bias.Value);
    }
}

/// <summary>The convolution as pure functions (shapes, kernel layout, forward pass).</summary>
public static class ConvFunctional
{
    /// <summary>[C_out, ⌊(n + 2p − d·(k − 1) − 1)/s⌋ + 1 per spatial axis].</summary>
    public static int[] OutputShape(int[] inputShape, int outChannels, int[] kernel, int[] stride, int[] padding, int[] dilation)
    {
        var r = new int[inputShape.Length];
        r[0] = outChannels;
        for (int a = 0; a < kernel.Length; a++)
            r[a + 1] = (int)Math.Floor((inputShape[a + 1] + 2.0 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) / stride[a]) + 1;
        return r;
    }

    /// <summary>W [C_in/g·∏k, C_out] → kernel [C_out, C_in/g, k...] (rows ordered channel-major, then kernel axes in C order).</summary>
    public static Tensor ToKernel(Tensor w, int outChannels, int inPerGroup, int[] kernel) =>
        w.t().reshape(new long[] { outChannels, inPerGroup }.Concat(kernel.Select(k => (long)k)).ToArray());

    /// <summary>Kernel [C_out, C_in/g, k...] → W [C_in/g·∏k, C_out].</summary>
    public static Tensor FromKernel(Tensor kernel) => kernel.reshape(kernel.Sizes()[0], -1).t().contiguous();

    /// <summary>x [batch, C_in·∏n] → y [batch, C_out·∏n_out] (no bias).</summary>
    public static Tensor Forward(Tensor x, Tensor kernel, int[] inputShape, int[] stride, int[] padding, int[] dilation, int groups)
    {
        long batch = x.Sizes()[0];
        var map = x.reshape(new long[] { batch }.Concat(inputShape.Select(d => (long)d)).ToArray());
        var y = inputShape.Length == 2
            ? nn.functional.conv1d(map, kernel, null, stride[0], padding[0], dilation[0], groups)
            : nn.functional.conv2d(map, kernel, null, stride.Select(s => (long)s).ToArray(), padding.Select(p => (long)p).ToArray(),
                dilation.Select(d => (long)d).ToArray(), groups);
        return y.reshape(batch, -1);
    }
}
