using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Inputs;

/// <summary>
/// Feeds spike trains of different lengths, one per batch row (SHIP's list_inputN). Give the trains with
/// <see cref="Feed(IReadOnlyList{Tensor})"/> (each [steps_i, N]); every Run that passes no tensor for this group uses
/// them, zero-padded to the run's length. Values are kept as given (analog values stay analog; bool becomes 0/1).
/// With <see cref="AdaptSteps"/> (default) a run without a schedule lasts as many steps as the longest train; this
/// applies to that run of this network only (SHIP changes a global step count for every network). A dense
/// [batch, steps, N] tensor may also be passed to Run as for <see cref="TensorInput"/>; it too may be shorter than the
/// run (zero-padded) and, with AdaptSteps, sets the run's length; <see cref="Pad"/> builds one from trains, e.g. to continue
/// a run with new trains.
/// </summary>
[ShipModel("SpikeTrainInput")]
public sealed class SpikeTrainInput : NeuronGroup, IInputGroup, ICheckpointState, IRollbackState, IShipModel<SpikeTrainInput, SpikeTrainInput.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int N, bool AdaptSteps);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount, AdaptSteps);

    /// <inheritdoc />
    public static SpikeTrainInput FromSettings(Settings settings) => new(settings.N, settings.AdaptSteps);

    private Tensor[] _slices = Array.Empty<Tensor>();
    private Tensor? _full; // [batch, steps, N]: what the slices view
    private int _cursor;
    private Tensor? _staged;
    private int _trainCount;

    /// <summary>Creates an input of N channels; <paramref name="adaptSteps"/> lets a run without a schedule last as long as the longest train.</summary>
    public SpikeTrainInput(int n, bool adaptSteps = true) : base(n) => AdaptSteps = adaptSteps;

    /// <summary>Whether a run without an explicit schedule takes its step count from the data (the longest train) instead of the network's Steps.</summary>
    public bool AdaptSteps { get; set; }

    /// <summary>Length of the longest train given to <see cref="Feed(IReadOnlyList{Tensor})"/>, or 0 if none was given.</summary>
    public int LongestTrain => _staged is null ? 0 : (int)_staged.Sizes()[1];

    /// <inheritdoc />
    public int RemainingSteps => _slices.Length - _cursor;

    /// <summary>
    /// Keeps a zero-padded copy of the trains (one per batch row, each [steps_i, N], any lengths, 0 allowed) for every
    /// following Run. Checks N and finiteness now; the count against the batch size is checked when a run starts.
    /// Continue does not restart them: it goes on with what is left, or with a tensor passed to it (see <see cref="Pad"/>).
    /// </summary>
    public void Feed(IReadOnlyList<Tensor> trains)
    {
        var padded = Pad(trains);
        _staged?.Dispose();
        _staged = Keep(padded);
        _trainCount = trains.Count;
    }

    /// <summary>
    /// The trains zero-padded to one [count, longest, N] tensor (float64 if any train is, else float32), validated as by
    /// <see cref="Feed(IReadOnlyList{Tensor})"/>; pass it to Continue to go on with new trains.
    /// </summary>
    public Tensor Pad(IReadOnlyList<Tensor> trains)
    {
        if (trains is null || trains.Count == 0)
            throw new InputException(DisplayName, "no spike trains given: pass one [steps_i, N] tensor per batch row.");
        var device = trains[0] is { IsInvalid: false } t0 ? t0.device : CPU;
        bool dbl = false;
        long longest = 0;
        for (int k = 0; k < trains.Count; k++)
        {
            var t = trains[k];
            if (t is null || t.IsInvalid) throw new InputException(DisplayName, $"spike train {k} is null or disposed.");
            if (t.dim() != 2 || t.Sizes()[1] != ComponentCount)
                throw new InputException(DisplayName, $"spike train {k}: expected shape [steps, {ComponentCount}] (steps, N), got {Shapes.Format(t.Sizes())}.");
            if (t.device.type != device.type || t.device.index != device.index)
                throw new InputException(DisplayName, $"spike train {k} is on {t.device}, train 0 is on {device}: put all trains on one device.");
            if (t.dtype == ScalarType.ComplexFloat32 || t.dtype == ScalarType.ComplexFloat64)
                throw new InputException(DisplayName, $"spike train {k}: complex values are not supported (got {t.dtype}).");
            if (t.is_floating_point())
            {
                using var each = t.isfinite();
                using var finite = each.all();
                if (!finite.item<bool>()) throw new InputException(DisplayName, $"spike train {k} contains NaN or infinite values.");
            }
            dbl |= t.dtype == ScalarType.Float64;
            longest = Math.Max(longest, t.Sizes()[0]);
        }
        var dtype = dbl ? ScalarType.Float64 : ScalarType.Float32;
        var padded = torch.zeros(new long[] { trains.Count, longest, ComponentCount }, dtype: dtype, device: device);
        using (torch.no_grad())
            for (int k = 0; k < trains.Count; k++)
                if (trains[k].Sizes()[0] > 0)
                    padded[k].narrow(0, 0, trains[k].Sizes()[0]).copy_(trains[k].detach().to_type(dtype));
        return padded;
    }

    /// <summary>Forgets the trains given to <see cref="Feed(IReadOnlyList{Tensor})"/>, so runs need data passed to them again.</summary>
    public void ClearTrains()
    {
        _staged?.Dispose();
        _staged = null;
        _trainCount = 0;
    }

    Tensor? IInputGroup.StagedData => _staged;

    int? IInputGroup.PreferredSteps(Tensor data) =>
        AdaptSteps && data is { IsInvalid: false } && data.dim() == 3 && data.Sizes()[1] > 0 && data.Sizes()[1] <= int.MaxValue
            ? (int)data.Sizes()[1]
            : null;

    void IInputGroup.CheckFeed(Tensor data, int stepsNeeded)
    {
        if (data is null || data.IsInvalid) throw new InputException(DisplayName, "the input tensor is null or disposed.");
        var ctx = Context;
        if (ReferenceEquals(data, _staged) && _trainCount != ctx.BatchSize)
            throw new InputException(DisplayName, $"got {_trainCount} spike trains for a batch of {ctx.BatchSize}: give one train per batch row.");
        if (data.dim() != 3 || data.Sizes()[0] != ctx.BatchSize || data.Sizes()[2] != ComponentCount)
            throw new InputException(DisplayName, $"expected shape [{ctx.BatchSize}, steps, {ComponentCount}] (batch, steps, N; shorter runs are zero-padded), got {Shapes.Format(data.Sizes())}.");
        if (data.device.type != ctx.Device.type)
            throw new InputException(DisplayName, $"the input is on {data.device}, the network runs on {ctx.Device}.");
        if (data.is_floating_point())
        {
            using var each = data.isfinite();
            using var finite = each.all();
            if (!finite.item<bool>()) throw new InputException(DisplayName, "the input contains NaN or infinite values.");
        }
    }

    void IInputGroup.Feed(Tensor data, int stepsNeeded)
    {
        var ctx = Context;
        // A copy: the caller may refill its tensor. Every intermediate is freed here (three per run were left to the finalizer).
        using var plain = data.detach();
        using var copied = plain.to_type(ctx.DType, copy: true);
        using var converted = copied.contiguous();
        long missing = stepsNeeded - converted.Sizes()[1];
        Tensor full;
        if (missing > 0)
        {
            using var pad = torch.zeros(new long[] { converted.Sizes()[0], missing, converted.Sizes()[2] }, dtype: ctx.DType, device: converted.device);
            full = torch.cat(new[] { converted, pad }, 1);
        }
        else full = converted.alias();
        _full = Keep(full);
        _slices = full.unbind(1).Select(Keep).ToArray();
        _cursor = 0;
    }

    /// <summary>The fed steps and cursor before a call, put back if it fails.</summary>
    RollbackPoint IRollbackState.Capture(bool reset)
    {
        var (slices, cursor, full) = (_slices, _cursor, _full);
        // Feed (only ever called inside a call) replaces _full without freeing it: the point frees the loser.
        return new(() =>
        {
            bool same = ReferenceEquals(_full, full);
            if (!same)
            {
                // The failed call's own feed: its data and slices go (what it handed out were aliases, the engine's).
                if (!ReferenceEquals(_slices, slices)) Free(_slices);
                _full?.Dispose();
            }
            (_slices, _cursor, _full) = (slices, cursor, full);
        }, () =>
        {
            if (!ReferenceEquals(_full, full))
            {
                if (!ReferenceEquals(_slices, slices)) Free(slices);
                full?.Dispose();
            }
        });
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        if (_cursor >= _slices.Length)
            throw new InputException(DisplayName, $"ran out of data after {_slices.Length} steps.");
        // An alias in the step's dispose scope, whose lifetime the engine manages as any step output's; the slices stay
        // this group's and are freed with its data (they were left to the finalizer at every run before).
        return _slices[_cursor++].alias();
    }

    /// <summary>Frees per-step slices: this group's own (what it handed out were aliases).</summary>
    private static void Free(Tensor[]? slices)
    {
        if (slices is not null) foreach (var t in slices) t.Dispose();
    }

    void ICheckpointState.SaveState(CheckpointWriter writer)
    {
        writer.SetTensor("staged", _staged);
        writer.Set("train_count", (long)_trainCount);
        writer.SetTensor("remaining", RemainingSteps > 0 ? torch.stack(_slices[_cursor..], 1) : null);
    }

    void ICheckpointState.LoadState(CheckpointReader reader)
    {
        var ctx = Context;
        var staged = reader.GetNullableTensor("staged");
        var remaining = reader.GetNullableTensor("remaining");
        int count = reader.GetInt("train_count");
        if (staged is not null && (staged.dim() != 3 || staged.Sizes()[0] != count || staged.Sizes()[2] != ComponentCount))
            throw new CheckpointException(CheckpointProblem.TopologyMismatch,
                $"Input group '{DisplayName}': its saved trains are {Shapes.Format(staged.Sizes())}, expected [{count}, steps, {ComponentCount}].");
        if (remaining is not null && (remaining.dim() != 3 || remaining.Sizes()[0] != ctx.BatchSize || remaining.Sizes()[2] != ComponentCount || remaining.dtype != ctx.DType))
            throw new CheckpointException(CheckpointProblem.TopologyMismatch,
                $"Input group '{DisplayName}': its saved data is {remaining.dtype} {Shapes.Format(remaining.Sizes())}, expected {ctx.DType} [{ctx.BatchSize}, steps, {ComponentCount}].");
        _staged?.Dispose();
        _staged = staged;
        _trainCount = count;
        Free(_slices);
        _full?.Dispose();
        _full = remaining is null ? null : Keep(remaining);
        _slices = remaining is null ? Array.Empty<Tensor>() : remaining.unbind(1).Select(Keep).ToArray();
        _cursor = 0;
    }
}
