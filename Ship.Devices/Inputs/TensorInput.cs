using System.Numerics;
using System.Runtime.InteropServices;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Inputs;

/// <summary>
/// Feeds a dense [batch, steps, N] tensor one step at a time (SHIP's inputN). Values are kept as given (analog values
/// stay analog; bool spikes become 0/1 in the network dtype). The data is split once per run, so a step costs no native call.
/// A checkpoint keeps the data not yet consumed, so a loaded network continues with it as the saved one would.
/// With <c>Network.TrackGradients</c> on, an input that requires gradients receives them (e.g. from an upstream module).
/// </summary>
[ShipModel("TensorInput")]
public sealed class TensorInput : NeuronGroup, IInputGroup, ISequenceGroup, ICheckpointState, IRollbackState, IShipModel<TensorInput, TensorInput.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int N);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount);

    /// <inheritdoc />
    public static TensorInput FromSettings(Settings settings) => new(settings.N);

    private Tensor? _data;
    private Tensor[]? _slices;
    private int _cursor, _length;

    /// <summary>Creates an input group of N channels.</summary>
    public TensorInput(int n) : base(n) { }

    /// <inheritdoc />
    public int RemainingSteps => _length - _cursor;

    /// <summary>A run without an explicit schedule lasts as long as the fed tensor (per run, per network).</summary>
    public int? PreferredSteps(Tensor data) => data is { IsInvalid: false } && data.dim() == 3 ? (int)data.Sizes()[1] : null;

    /// <inheritdoc />
    public void CheckFeed(Tensor data, int stepsNeeded)
    {
        if (data is null || data.IsInvalid) throw new InputException(DisplayName, "the input tensor is null or disposed.");
        if (data.is_complex())
            throw new InputException(DisplayName, $"the input is complex ({data.dtype}); inputs are real, and the imaginary part would be dropped.");
        var ctx = Context;
        var shape = data.Sizes(); // read once: each read is a native call per dimension and a new array
        if (shape.Length != 3 || shape[0] != ctx.BatchSize || shape[2] != ComponentCount || shape[1] < stepsNeeded)
            throw new InputException(DisplayName, $"expected shape [{ctx.BatchSize}, >= {stepsNeeded}, {ComponentCount}] (batch, steps, N), got {Shapes.Format(shape)}.");
        if (data.device_type != ctx.Device.type)
            throw new InputException(DisplayName, $"the input is on {data.device}, the network runs on {ctx.Device}.");
        if (data.is_floating_point() && !AllFinite(data)) throw new InputException(DisplayName, "the input contains NaN or infinite values.");
    }

    /// <summary>
    /// Whether every element is finite, in one reduction without tensor-sized temporaries (isfinite() makes four, about
    /// 1.75× the data, whose first touch costs more than the check): a sum is NaN or infinite as soon as one element
    /// is; only a non-finite sum (NaN or infinity in the data, or finite values large enough to overflow it) needs the
    /// exact test.
    /// </summary>
    private static bool AllFinite(Tensor data)
    {
        // A contiguous host tensor is read in place (no tensor made): the same answer, exact for every value.
        if (HostAllFinite(data) is { } host) return host;
        using (var sum = data.sum())
        using (var wide = sum.to_type(ScalarType.Float64))
            if (double.IsFinite(wide.item<double>())) return true;
        using var finite = data.isfinite();
        using var all = finite.all();
        return all.item<bool>();
    }

    /// <summary>Whether every element of a contiguous float32/float64 host tensor is finite, or null for any other tensor.</summary>
    private static bool? HostAllFinite(Tensor data)
    {
        var dtype = data.dtype;
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64) || data.device_type != DeviceType.CPU || !data.is_contiguous()
            || data.NumberOfElements * data.ElementSize > int.MaxValue) return null;
        var bytes = data.bytes;
        return dtype == ScalarType.Float32 ? Finite(MemoryMarshal.Cast<byte, float>(bytes)) : Finite(MemoryMarshal.Cast<byte, double>(bytes));

        // x − x is 0 for a finite x and NaN for NaN or ±∞; a vector of such differences is all zero iff every x is finite.
        static bool Finite<T>(ReadOnlySpan<T> v) where T : unmanaged, IFloatingPointIeee754<T>
        {
            int w = Vector<T>.Count, i = 0;
            // Four independent sums, read through a reference: the scan runs at the load rate, not at one add's latency.
            Vector<T> a0 = Vector<T>.Zero, a1 = Vector<T>.Zero, a2 = Vector<T>.Zero, a3 = Vector<T>.Zero;
            ref T r = ref MemoryMarshal.GetReference(v);
            for (; i + 4 * w <= v.Length; i += 4 * w)
            {
                var x0 = Vector.LoadUnsafe(ref r, (nuint)i);
                var x1 = Vector.LoadUnsafe(ref r, (nuint)(i + w));
                var x2 = Vector.LoadUnsafe(ref r, (nuint)(i + 2 * w));
                var x3 = Vector.LoadUnsafe(ref r, (nuint)(i + 3 * w));
                a0 += x0 - x0;
                a1 += x1 - x1;
                a2 += x2 - x2;
                a3 += x3 - x3;
            }
            for (; i + w <= v.Length; i += w)
            {
                var x = Vector.LoadUnsafe(ref r, (nuint)i);
                a0 += x - x;
            }
            if ((a0 + a1 + a2 + a3) != Vector<T>.Zero) return false;
            for (; i < v.Length; i++)
                if (!T.IsFinite(v[i])) return false;
            return true;
        }
    }

    /// <inheritdoc />
    public void Feed(Tensor data, int stepsNeeded)
    {
        var ctx = Context;
        // Always a copy of its own: refilling the caller's tensor later must not change what Continue consumes. A tensor
        // that requires gradients keeps its autograd link while the run records the graph (gradients reach the input).
        // The previous copy is this group's alone (what it returned were views, which keep their storage themselves):
        // freed now, not when the garbage collector finalizes it, which a training loop sees as memory growing per batch.
        ReleaseData();
        // The intermediate handles are freed here (a caller without a dispose scope would leave them to the finalizer).
        bool requiresGrad = data.requires_grad;
        bool keepGraph = requiresGrad && torch.is_grad_enabled();
        // Detached only when it would otherwise link the copy to its graph (a plain tensor is copied as it is).
        var source = keepGraph || !requiresGrad ? data : data.detach();
        // The copy goes into a block of the network's pool: a run that feeds the same shape again reuses mapped pages.
        var copy = ctx.Blocks.Empty(source.Sizes(), ctx.DType, source.device);
        copy.copy_(source);
        if (!ReferenceEquals(source, data)) source.Dispose();
        _data = Keep(copy);
        _length = (int)_data.Sizes()[1];
        _slices = null; // split lazily: a run that takes whole segments never needs per-step slices
        _cursor = 0;
    }

    private void ReleaseData()
    {
        // During a call the data from before it (and its slices) belongs to the rollback point (a failed call puts it back).
        if (!_held)
        {
            Free(_slices);
            _data?.Dispose();
        }
        _slices = null;
        _data = null;
    }

    /// <summary>Frees per-step slices: this group's own (what it handed out were aliases, which the engine owns).</summary>
    private static void Free(Tensor[]? slices)
    {
        if (slices is not null) foreach (var t in slices) t.Dispose();
    }

    private bool _held;

    /// <summary>
    /// The data and cursor before a call: a failed call puts them back (the data it fed is freed). Only data with steps
    /// left is kept through a call that feeds new data (freed once the call completes): consumed data has nothing a
    /// Continue could use, so it is freed as before and its block goes back to the pool for the new feed.
    /// </summary>
    RollbackPoint IRollbackState.Capture(bool reset)
    {
        var (data, slices, cursor, length) = (_data, _slices, _cursor, _length);
        bool keep = cursor < length;
        _held = keep;
        return new(() =>
        {
            _held = false;
            bool same = ReferenceEquals(_data, data);
            if (!same)
            {
                // The failed call's own feed: its data and slices go (what it handed out were aliases, the engine's).
                if (!ReferenceEquals(_slices, slices)) Free(_slices);
                _data?.Dispose();
                _slices = keep ? slices : null;
            }
            if (same || keep) (_data, _cursor, _length) = (data, cursor, length);
            else (_data, _cursor, _length) = (null, 0, 0); // nothing was left to continue with before the call either
        }, () =>
        {
            _held = false;
            if (keep && !ReferenceEquals(_data, data))
            {
                if (!ReferenceEquals(_slices, slices)) Free(slices);
                data?.Dispose();
            }
        });
    }

    /// <inheritdoc />
    public string? SequenceRefusal => null;

    /// <inheritdoc />
    public Tensor StepSequence(Tensor? input, int steps)
    {
        if (_cursor + steps > _length)
            throw new InputException(DisplayName, $"ran out of data: {_length - _cursor} steps left, {steps} needed.");
        var y = _data!.narrow(1, _cursor, steps);
        _cursor += steps;
        return y;
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        if (_cursor >= _length)
            throw new InputException(DisplayName, $"ran out of data after {_length} steps.");
        // Split once (one autograd node for all steps when the data records a gradient, not one per step); each step hands
        // out an alias in the step's dispose scope, whose lifetime the engine manages as any step output's, while the
        // slices stay this group's and are freed with its data.
        _slices ??= _data!.unbind(1).Select(Keep).ToArray();
        return _slices[_cursor++].alias();
    }

    void ICheckpointState.SaveState(CheckpointWriter writer) =>
        writer.SetTensor("remaining", _data?.narrow(1, _cursor, _length - _cursor));

    void ICheckpointState.LoadState(CheckpointReader reader)
    {
        var data = reader.GetNullableTensor("remaining");
        var ctx = Context;
        if (data is not null && (data.dim() != 3 || data.Sizes()[0] != ctx.BatchSize || data.Sizes()[2] != ComponentCount || data.dtype != ctx.DType))
            throw new CheckpointException(CheckpointProblem.TopologyMismatch,
                $"Input group '{DisplayName}': its saved data is {data.dtype} {Shapes.Format(data.Sizes())}, expected {ctx.DType} [{ctx.BatchSize}, steps, {ComponentCount}].");
        Free(_slices);
        _data = data;
        _length = (int)(data?.Sizes()[1] ?? 0);
        _cursor = 0;
        _slices = null;
    }
}
