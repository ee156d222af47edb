using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Core.Networks;
using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Synapses;

/// <summary>
/// Where the weights a synapse uses come from when they are physical devices (e.g. a memristive differential pair):
/// the target weights are programmed once, and every read returns the effective weights with the device's
/// non-idealities (quantization, faults, drift at the study's elapsed time, read noise).
/// </summary>
public interface IWeightDevice
{
    /// <summary>Programs the devices to represent <paramref name="weights"/> [Ns, Nt]; draws device-to-device variability from the network's generator.</summary>
    void Program(Tensor weights, SimulationContext ctx);

    /// <summary>The effective weights [Ns, Nt] (or [batch, Ns, Nt]) as read now.</summary>
    Tensor Read(SimulationContext ctx);

    /// <summary>Whether two reads differ (read noise): then the synapse reads every step instead of once per run.</summary>
    bool ReadsVary { get; }

    /// <summary>
    /// Called when <paramref name="synapse"/> attaches this device (<see cref="WeightedSynapse.WithDevice"/>). A device
    /// that holds one synapse's conductances refuses a second synapse here; a device that reads its synapse's weights
    /// (hardware-aware training) binds to it. Does nothing by default.
    /// </summary>
    void Attach(WeightedSynapse synapse) { }
}

/// <summary>
/// Base of synapse models with a weight matrix W [Ns, Nt]. The weights used in a step are W itself or, when a
/// <see cref="IWeightDevice"/> is attached, what the device reads — so every weighted model works with devices.
/// </summary>
public abstract class WeightedSynapse : SynapseGroup, ICheckpointState, IRollbackState
{
    private Tensor? _read;

    /// <summary>Declares W (default: uniform on [0, 1), as in SHIP).</summary>
    protected WeightedSynapse(Value? weights)
    {
        W = Param("w", Extent.Connection, weights ?? Init.Uniform(0, 1), Constraint.Finite);
    }

    /// <summary>Target weights [Ns, Nt].</summary>
    public Parameter W { get; }

    /// <summary>The device array holding the weights, or null for ideal weights.</summary>
    public IWeightDevice? WeightDevice { get; private set; }

    /// <summary>
    /// Set by plasticity rules that change the weights during a run: the synapse then never computes a whole segment
    /// in advance (its weights at step t depend on what happened before t).
    /// </summary>
    public bool Plastic { get; set; }

    /// <summary>Whether the weights used may differ from step to step (plasticity or per-read noise).</summary>
    protected bool ChangesDuringRun => Plastic || WeightDevice is { ReadsVary: true };

    /// <summary>Attaches a device array; it is programmed from W at every initialization.</summary>
    public WeightedSynapse WithDevice(IWeightDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (ReferenceEquals(device, WeightDevice)) return this;
        device.Attach(this);
        WeightDevice = device;
        return this;
    }

    /// <summary>Construction settings shared by weighted synapses: the attached device and the plasticity flag (weights are a parameter).</summary>
    public sealed record WeightedSettings(IWeightDevice? Device, bool Plastic);

    /// <summary>This synapse's <see cref="WeightedSettings"/>.</summary>
    protected WeightedSettings SynapseSettings() => new(WeightDevice, Plastic);

    /// <summary>Applies <paramref name="settings"/> to a newly built synapse and returns it.</summary>
    protected static T Restore<T>(T synapse, WeightedSettings settings) where T : WeightedSynapse
    {
        ArgumentNullException.ThrowIfNull(synapse);
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Device is { } device) synapse.WithDevice(device);
        synapse.Plastic = settings.Plastic;
        return synapse;
    }

    /// <inheritdoc />
    protected override void OnBind()
    {
        base.OnBind();
        ExpandWeights();
        WeightDevice?.Program(W.Value, Context);
        _read = null;
    }

    /// <inheritdoc />
    protected override void ParameterChanged(Parameter parameter)
    {
        if (ReferenceEquals(parameter, W))
        {
            ExpandWeights();
            WeightDevice?.Program(W.Value, Context);
        }
        _read = null;
        base.ParameterChanged(parameter);
    }

    /// <summary>
    /// Gives W its full <see cref="Group.ConnectionShape"/> ([Ns, Nt] unless a model says otherwise) when it was set as a scalar or a per-source/per-target vector: matrix products,
    /// devices and training need one weight per connection. A trained (pinned) W is already full.
    /// </summary>
    private void ExpandWeights()
    {
        var w = W.Value;
        var (rows, columns) = ConnectionShape;
        if (w.dim() == 2 && w.Sizes()[0] == rows && w.Sizes()[1] == columns) return;
        W.Tensor = Keep(w.expand(rows, columns).clone());
    }

    /// <inheritdoc />
    protected override void OnReset()
    {
        base.OnReset();
        _read = WeightDevice is { ReadsVary: false } d ? Keep(d.Read(Context)) : null;
    }

    void ICheckpointState.SaveState(CheckpointWriter writer) => SaveCheckpoint(writer);

    RollbackPoint IRollbackState.Capture(bool reset) => CaptureRollback(reset);

    /// <summary>
    /// What a call changes beyond the declared states, put back if it fails: the device read of the run (a Run reads
    /// anew, and a device drawing per run would otherwise keep the failed Run's draw). Overrides combine with the base.
    /// </summary>
    protected virtual RollbackPoint CaptureRollback(bool reset)
    {
        var read = _read;
        // A failed call frees the read it made and puts the old one back; a completed call frees the read it replaced (a
        // Run reads anew at its reset): only this point still held it.
        return new(() =>
        {
            if (_read is not null && !ReferenceEquals(_read, read)) _read.Dispose();
            _read = read;
        }, () =>
        {
            if (read is not null && !ReferenceEquals(read, _read)) read.Dispose();
        });
    }

    void ICheckpointState.LoadState(CheckpointReader reader) => LoadCheckpoint(reader);

    /// <summary>Saves run state beyond the declared variables: the attached device's programmed state. Overrides call the base.</summary>
    protected virtual void SaveCheckpoint(CheckpointWriter writer)
    {
        if (WeightDevice is ICheckpointState device) device.SaveState(writer.Child("device"));
        // The device read of this run: a device that draws per run (hardware-aware noise) would draw anew otherwise.
        writer.SetTensor("read", _read);
    }

    /// <summary>Restores what <see cref="SaveCheckpoint"/> wrote; the device read of the run is redone from the restored device.</summary>
    protected virtual void LoadCheckpoint(CheckpointReader reader)
    {
        if (WeightDevice is ICheckpointState device) device.LoadState(reader.Child("device"));
        _read?.Dispose();
        _read = null;
        if (reader.GetNullableTensor("read") is not { } read) return;
        var (rows, columns) = ConnectionShape;
        if (read.dtype != Context.DType || read.dim() != 2 || read.Sizes()[0] != rows || read.Sizes()[1] != columns)
        {
            var message = $"the device read of synapse '{DisplayName}' is stored as {read.dtype} {Shapes.Format(read.Sizes())}, the synapse reads {Context.DType} [{rows}, {columns}].";
            read.Dispose();
            throw new CheckpointException(CheckpointProblem.TopologyMismatch, message);
        }
        _read = Keep(read);
    }

    /// <summary>The weights to use in this step: W, the device read of this run, or a fresh read for noisy devices and for devices a plasticity block pulses during the run.</summary>
    protected Tensor Weights => WeightDevice switch
    {
        null => W.Value,
        { ReadsVary: true } d => d.Read(Context),
        { } d when Plastic => d.Read(Context),
        _ => _read ??= Keep(WeightDevice.Read(Context)),
    };
}
