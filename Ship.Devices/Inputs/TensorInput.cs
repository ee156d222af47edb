using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Inputs;

/// <summary>
/// Feeds a dense [batch, steps, N] tensor one step at a time (SHIP's inputN). Values are kept as given (analog values
/// stay analog; bool spikes become 0/1 in the network dtype). The data is split once per run, so a step costs no native call.
/// </summary>
public sealed class TensorInput : NeuronGroup, IInputGroup
{
    private Tensor[] _slices = Array.Empty<Tensor>();
    private int _cursor;

    /// <summary>Creates an input group of N channels.</summary>
    public TensorInput(int n) : base(n) { }

    /// <inheritdoc />
    public int RemainingSteps => _slices.Length - _cursor;

    /// <inheritdoc />
    public void CheckFeed(Tensor data, int stepsNeeded)
    {
        if (data is null || data.IsInvalid) throw new InputException(DisplayName, "the input tensor is null or disposed.");
        var ctx = Context;
        var expected = $"[{ctx.BatchSize}, >= {stepsNeeded}, {ComponentCount}] (batch, steps, N)";
        if (data.dim() != 3 || data.shape[0] != ctx.BatchSize || data.shape[2] != ComponentCount || data.shape[1] < stepsNeeded)
            throw new InputException(DisplayName, $"expected shape {expected}, got {Shapes.Format(data.shape)}.");
        if (data.device.type != ctx.Device.type)
            throw new InputException(DisplayName, $"the input is on {data.device}, the network runs on {ctx.Device}.");
        if (data.is_floating_point())
        {
            using var finite = data.isfinite().all();
            if (!finite.item<bool>()) throw new InputException(DisplayName, "the input contains NaN or infinite values.");
        }
    }

    /// <inheritdoc />
    public void Feed(Tensor data, int stepsNeeded)
    {
        var ctx = Context;
        using var converted = data.detach().to_type(ctx.DType).contiguous();
        _slices = converted.unbind(1).Select(Keep).ToArray();
        _cursor = 0;
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        if (_cursor >= _slices.Length)
            throw new InputException(DisplayName, $"ran out of data after {_slices.Length} steps.");
        return _slices[_cursor++];
    }
}
