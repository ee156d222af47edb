using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using static TorchSharp.torch;

namespace Ship.Devices.Synapses;

/// <summary>How a pooling window combines its inputs.</summary>
public enum PoolKind
{
    /// <summary>The sum of the window (NIR's SumPool2d).</summary>
    Sum,
    /// <summary>The mean of the window, zero padding counted (NIR's AvgPool2d, PyTorch's default).</summary>
    Average,
}

/// <summary>
/// 2-d pooling synapse (NIR's SumPool2d / AvgPool2d) over an input map [C, H, W] flattened in C order: each output
/// y[c, i, j] combines x[c, i·s_h + a − p_h, j·s_w + b − p_w] for a &lt; k_h, b &lt; k_w (zeros outside), summed or
/// averaged over the k_h·k_w window. No weights: channels never mix.
/// </summary>
[ShipModel("Pool2d")]
public sealed class Pool2d : SynapseGroup, IShipModel<Pool2d, Pool2d.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes).</summary>
    public sealed record Settings(int[] InputShape, int[] Kernel, PoolKind Mode, int[] Stride, int[] Padding);

    /// <inheritdoc />
    public Settings GetSettings() => new(InputShape, Kernel, Mode, Stride, Padding);

    /// <inheritdoc />
    public static Pool2d FromSettings(Settings settings) => new(settings.InputShape, settings.Kernel, settings.Mode, settings.Stride, settings.Padding);

    /// <summary>Creates the pooling for an input map [C, H, W].</summary>
    public Pool2d(int[] inputShape, int[] kernel, PoolKind kind, int[]? stride = null, int[]? padding = null)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(kernel);
        if (inputShape.Length != 3 || inputShape.Any(d => d < 1)) throw new ParameterException(GetType().Name, "input_shape", $"expected [C, H, W] of sizes >= 1, got [{string.Join(", ", inputShape)}].");
        if (kernel.Length != 2 || kernel.Any(k => k < 1)) throw new ParameterException(GetType().Name, "kernel_size", $"expected 2 values >= 1, got [{string.Join(", ", kernel)}].");
        stride ??= (int[])kernel.Clone();
        padding ??= new int[2];
        if (stride.Length != 2 || stride.Any(s => s < 1)) throw new ParameterException(GetType().Name, "stride", $"expected 2 values >= 1, got [{string.Join(", ", stride)}].");
        if (padding.Length != 2 || padding.Any(p => p < 0)) throw new ParameterException(GetType().Name, "padding", $"expected 2 values >= 0, got [{string.Join(", ", padding)}].");
        InputShape = (int[])inputShape.Clone();
        Kernel = (int[])kernel.Clone();
        Stride = (int[])stride.Clone();
        Padding = (int[])padding.Clone();
        Mode = kind;
        OutputShape = ConvFunctional.OutputShape(InputShape, InputShape[0], Kernel, Stride, Padding, new[] { 1, 1 });
        if (OutputShape.Any(d => d < 1)) throw new ParameterException(GetType().Name, "kernel_size", $"the window does not fit the padded input [{string.Join(", ", inputShape)}].");
    }

    /// <summary>Input map [C, H, W].</summary>
    public int[] InputShape { get; }
    /// <summary>Output map [C, H_out, W_out].</summary>
    public int[] OutputShape { get; }
    /// <summary>Window size (height, width).</summary>
    public int[] Kernel { get; }
    /// <summary>Stride (height, width).</summary>
    public int[] Stride { get; }
    /// <summary>Zero padding (height, width).</summary>
    public int[] Padding { get; }
    /// <summary>Sum or average.</summary>
    public PoolKind Mode { get; }

    /// <inheritdoc />
    public override void ValidateSizes()
    {
        long ns = InputShape.Aggregate(1L, (a, b) => a * b), nt = OutputShape.Aggregate(1L, (a, b) => a * b);
        if (SourceCount != ns || TargetCount != nt)
            throw new NetworkConfigurationException($"Pool2d '{DisplayName}' maps {ns} sources to {nt} targets, but is wired to {SourceCount} sources and {TargetCount} targets.");
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input) => Pool2dFunctional.Forward(input!, InputShape, Kernel, Stride, Padding, Mode);
}

/// <summary>Pooling as a pure function.</summary>
public static class Pool2dFunctional
{
    /// <summary>x [batch, C·H·W] → [batch, C·H_out·W_out]; the sum divides by 1 instead of the window size.</summary>
    public static Tensor Forward(Tensor x, int[] inputShape, int[] kernel, int[] stride, int[] padding, PoolKind kind)
    {
        long batch = x.Sizes()[0];
        var map = x.reshape(batch, inputShape[0], inputShape[1], inputShape[2]);
        var y = nn.functional.avg_pool2d(map, new long[] { kernel[0], kernel[1] }, new long[] { stride[0], stride[1] }, new long[] { padding[0], padding[1] },
            ceil_mode: false, count_include_pad: true, divisor_override: kind == PoolKind.Sum ? 1 : null);
        return y.reshape(batch, -1);
    }
}
