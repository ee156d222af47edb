using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Spikes;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;
using CoreParameter = Ship.Core.Parameters.Parameter;

namespace Ship.Training;

/// <summary>
/// Bridges a network to a TorchSharp optimizer: one call runs a batch with gradients (surrogate spikes, BPTT through
/// the stepper), reads out, computes the loss, back-propagates and steps. The chosen parameters are turned into
/// optimizer parameters and pinned, so re-initializing the network keeps them trained and attached.
/// Attaching a trainer never changes forward results: spikes fire at v ≥ thr with or without it.
/// </summary>
public sealed class Trainer
{
    private readonly List<double> _losses = new();
    private readonly List<CoreParameter> _trainable;
    private (long, long, ScalarType, string, string)? _probed;

    /// <summary>
    /// Creates a trainer. <paramref name="optimizer"/> receives the trainable tensors and returns any TorchSharp optimizer
    /// with its settings (e.g. <c>ps =&gt; new HeldAdam(ps, lr: 1e-3)</c>). <paramref name="trainable"/> defaults to every
    /// synapse weight "w".
    /// </summary>
    public Trainer(Network network, IReadout readout, ILoss loss,
        Func<IEnumerable<TorchSharp.Modules.Parameter>, torch.optim.Optimizer> optimizer,
        IEnumerable<CoreParameter>? trainable = null, ISurrogate? surrogate = null)
    {
        Network = network ?? throw new ArgumentNullException(nameof(network));
        Readout = readout ?? throw new ArgumentNullException(nameof(readout));
        Loss = loss ?? throw new ArgumentNullException(nameof(loss));
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!network.IsInitialized) network.Initialize();
        _trainable = (trainable ?? Trainables.Weights(network)).Distinct().ToList();
        if (_trainable.Count == 0) throw new ShipException($"Network '{network.Name}': nothing to train (no parameter selected).");
        var parameters = new List<TorchSharp.Modules.Parameter>();
        foreach (var p in _trainable)
        {
            if (!p.Value.is_floating_point())
                throw new ParameterException(p.Owner.DisplayName, p.Name, $"cannot be trained: dtype {p.Value.dtype} is not floating point.");
            var np = p.Value is TorchSharp.Modules.Parameter existing ? existing : new TorchSharp.Modules.Parameter(p.Value.detach().clone(), requires_grad: true);
            np.DetachFromDisposeScope();
            p.Tensor = np;
            p.Pinned = true;
            parameters.Add(np);
        }
        Parameters = parameters;
        Optimizer = optimizer(parameters) ?? throw new ArgumentException("The optimizer factory returned null.", nameof(optimizer));
        Surrogate = surrogate ?? new FastSigmoid();
        network.SpikeFunction = new SurrogateSpikes(Surrogate);
    }

    /// <summary>The trained network.</summary>
    public Network Network { get; }
    /// <summary>How scores are read from a run.</summary>
    public IReadout Readout { get; }
    /// <summary>The loss minimized.</summary>
    public ILoss Loss { get; }
    /// <summary>The optimizer built by the user's factory.</summary>
    public torch.optim.Optimizer Optimizer { get; }
    /// <summary>The surrogate derivative used backward through spikes.</summary>
    public ISurrogate Surrogate { get; }
    /// <summary>The optimizer's tensors, in the order of <see cref="Trainable"/>.</summary>
    public IReadOnlyList<TorchSharp.Modules.Parameter> Parameters { get; }
    /// <summary>The network parameters being trained.</summary>
    public IReadOnlyList<CoreParameter> Trainable => _trainable;
    /// <summary>Loss of every training batch, in order.</summary>
    public IReadOnlyList<double> LossHistory => _losses;

    /// <summary>
    /// Runs one batch with gradients, then loss, backward and an optimizer step; returns the batch loss. The run frees
    /// the states the network's previous run left (<see cref="Network.FreeReplacedStates"/>): read a batch's states
    /// before the next batch, or record them with a monitor.
    /// </summary>
    public double TrainBatch(IReadOnlyDictionary<string, Tensor> inputs, Tensor target, Ship.Core.Clocks.Schedule? schedule = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        // Before the run: a target that cannot fit leaves the network and the optimizer untouched. A built-in loss's
        // check is complete; a custom loss is probed once per kind of target (shape, dtype, device), not every batch.
        var shape = ExpectedScores();
        if (shape is not null)
        {
            Loss.Check(shape, target);
            if (Loss is not ICheckedLoss)
            {
                var kind = (shape[0], shape[1], target.dtype, Ship.Core.Parameters.Shapes.Format(target.Sizes()), target.device.ToString());
                if (!_probed.Equals(kind))
                {
                    ProbeLoss(shape, target);
                    _probed = kind;
                }
            }
        }
        double value;
        // The run's intra-op threads also for the loss, backward and optimizer step (libtorch's CPU autograd runs them
        // on this thread); the caller's setting comes back after, also when a step throws.
        using var threads = Network.EnterThreads(inputs, schedule);
        using var freeing = Network.FreeingReplacedStates();
        Network.TrackGradients = true;
        try
        {
            // One scope for the whole step: zero_grad's handles (one per parameter's gradient) included.
            using var scope = torch.NewDisposeScope();
            Optimizer.zero_grad();
            // The run, the loss and its backward in one call: the network records its fused chains on a tape where it can.
            var (result, loss) = Network.RunAndBackward(inputs, r => LossOf(Readout.Read(r), shape, target), schedule);
            Optimizer.step();
            value = ScalarValue(loss);
            foreach (var t in result.Outputs.Values) t.Dispose();
        }
        finally
        {
            Network.TrackGradients = false;
        }
        _losses.Add(value);
        CollectNativeGarbage();
        return value;
    }

    /// <summary>The loss of <paramref name="scores"/>: the checked form when the scores have the checked shape, a native refusal named.</summary>
    private Tensor LossOf(Tensor scores, long[]? shape, Tensor target)
    {
        try
        {
            var loss = shape is not null && Loss is ICheckedLoss checkedLoss && scores.Sizes() is [var rows, var classes] && rows == shape[0] && classes == shape[1]
                ? checkedLoss.ComputeChecked(scores, target)
                : Loss.Compute(scores, target);
            if (loss.numel() != 1) throw new ShipException($"Loss '{Loss.Name}' returned {loss.numel()} values; it must return a scalar.");
            return loss;
        }
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            // A custom loss that libtorch refuses: name the loss and both shapes instead of the raw native message alone.
            throw new LossInputException(Loss.Name, "target", $"a tensor the loss accepts with scores {Ship.Core.Parameters.Shapes.Format(scores.Sizes())}",
                $"{target.dtype} {Ship.Core.Parameters.Shapes.Format(target.Sizes())} ({e.Message.Split('\n')[0]})");
        }
    }

    private int _sinceCollect;

    /// <summary>
    /// A one-element loss as a double, read in place (a float32 or float64 value widens exactly, as the conversion to
    /// float64 did): no detached copy and no converted tensor per batch. Other dtypes take the conversion.
    /// </summary>
    internal static double ScalarValue(Tensor loss)
    {
        var dtype = loss.dtype;
        if (loss.device_type == DeviceType.CPU)
        {
            // Read from the storage: item() builds an accessor that reads the strides into a finalized pinned array.
            if (dtype == ScalarType.Float32) return System.Runtime.InteropServices.MemoryMarshal.Read<float>(loss.bytes);
            if (dtype == ScalarType.Float64) return System.Runtime.InteropServices.MemoryMarshal.Read<double>(loss.bytes);
        }
        using var plain = loss.detach();
        using var wide = plain.to_type(ScalarType.Float64);
        return wide.item<double>();
    }

    /// <summary>
    /// A young-generation garbage collection every <see cref="CollectEvery"/> batches. TorchSharp frees some native
    /// objects only in finalizers, and a training step allocates little managed memory, so the collector alone would run
    /// only every few hundred batches: first, small native blocks spread between a batch's large freed ones kept glibc's
    /// heap from being reused (resident memory grew ~20 MiB per epoch of the main job); since the library stopped
    /// leaving such objects (shape reads, scalars, item()), the young generation still grows to its budget between
    /// collections (growth over idle 50 MiB without collections, 39 with). A forced gen-0 collection after a few
    /// batches costs 0.1–0.5 ms (mostly fixed: suspension and the older generations' cards), hence every 32 batches, not
    /// every 8 as before (docs/benchmarks.md, Training).
    /// </summary>
    private void CollectNativeGarbage()
    {
        if (CollectEvery <= 0 || ++_sinceCollect < CollectEvery) return;
        _sinceCollect = 0;
        GC.Collect(0, GCCollectionMode.Forced, blocking: false);
    }

    /// <summary>Training batches between young-generation garbage collections (0: never; default 32); see docs/benchmarks.md, Training.</summary>
    public int CollectEvery { get; set; } = 32;

    /// <summary>Trains on one input tensor for the network's only input group.</summary>
    public double TrainBatch(Tensor input, Tensor target, Ship.Core.Clocks.Schedule? schedule = null) =>
        TrainBatch(new Dictionary<string, Tensor> { [OnlyInput()] = input }, target, schedule);

    /// <summary>Scores [batch, N] without gradients (inference). Like <see cref="TrainBatch(IReadOnlyDictionary{string, Tensor}, Tensor, Ship.Core.Clocks.Schedule?)"/>, it frees the states the network's previous run left (<see cref="Network.FreeReplacedStates"/>).</summary>
    public Tensor Predict(IReadOnlyDictionary<string, Tensor> inputs, Ship.Core.Clocks.Schedule? schedule = null)
    {
        using var _ = torch.no_grad();
        using var threads = Network.EnterThreads(inputs, schedule); // the run's threads for the read-out too
        using var freeing = Network.FreeingReplacedStates();
        var result = Network.Run(inputs, schedule);
        var scores = Readout.Read(result).DetachFromDisposeScope();
        // The outputs belong to the caller of Run, here this method: freed now, not by the finalizer (a view the
        // read-out returned keeps its own storage).
        foreach (var t in result.Outputs.Values) if (!ReferenceEquals(t, scores)) t.Dispose();
        return scores;
    }

    /// <summary>Scores for the network's only input group.</summary>
    public Tensor Predict(Tensor input, Ship.Core.Clocks.Schedule? schedule = null) =>
        Predict(new Dictionary<string, Tensor> { [OnlyInput()] = input }, schedule);

    /// <summary>Fraction of samples whose highest score is the label.</summary>
    public double Accuracy(Tensor input, Tensor labels, Ship.Core.Clocks.Schedule? schedule = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (ExpectedScores() is { } shape) LossChecks.ClassIndices("accuracy", "labels", shape, labels);
        using var scope = torch.NewDisposeScope();
        var scores = Predict(input, schedule);
        LossChecks.ClassIndices("accuracy", "labels", scores.Sizes(), labels);
        return scores.argmax(1).eq(labels.to_type(ScalarType.Int64)).to_type(ScalarType.Float64).mean().item<double>();
    }

    /// <summary>The scores' shape [batch, N] when the readout reads one known output group, else null (checked after the run).</summary>
    // A custom loss that libtorch refuses for this target is found on zero scores of the expected shape, before the
    // run: found after it, the forward would already have consumed the network's random streams.
    private void ProbeLoss(long[] shape, Tensor target)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        using var scores = torch.zeros(shape, dtype: Network.DType, device: Network.Device);
        try { Loss.Compute(scores, target); }
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            throw new LossInputException(Loss.Name, "target", $"a tensor the loss accepts with scores {Ship.Core.Parameters.Shapes.Format(shape)}",
                $"{target.dtype} {Ship.Core.Parameters.Shapes.Format(target.Sizes())} ({e.Message.Split('\n')[0]})");
        }
    }

    private long[]? ExpectedScores()
    {
        if (Readout is not Readouts.SequenceReadout r) return null;
        var tag = r.Tag ?? (Network.Outputs.Count == 1 ? Network.Outputs[0] : null);
        if (tag is null || !Network.Groups.Any(g => g.Tag == tag)) return null;
        return [Network.BatchSize, Network[tag].OutputSize];
    }

    private string OnlyInput()
    {
        var ins = Network.Groups.Where(g => g is IInputGroup).ToList();
        return ins.Count == 1 ? ins[0].Tag : throw new ShipException($"Network '{Network.Name}' has {ins.Count} input groups: pass inputs keyed by tag.");
    }
}

/// <summary>Ways to pick what trains.</summary>
public static class Trainables
{
    /// <summary>Every synapse weight "w" (the default).</summary>
    public static IReadOnlyList<CoreParameter> Weights(Network network) =>
        network.Groups.Where(g => g.Kind == GroupKind.Synapse)
            .SelectMany(g => g.AllVariables.OfType<CoreParameter>().Where(p => p.Name == "w"))
            .ToList();

    /// <summary>Named parameters of one group (e.g. "tau", "thr"); an unknown name is an error listing the known ones.</summary>
    public static IReadOnlyList<CoreParameter> Of(Network network, string tag, params string[] names) =>
        names.Select(n => network[tag].Variable(n) as CoreParameter
            ?? throw new ParameterException(tag, n, "is a state variable, not a parameter; only parameters train.")).ToList();
}
