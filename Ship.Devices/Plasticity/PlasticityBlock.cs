using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Plasticity;

/// <summary>How a plasticity block keeps weights inside [w_min, w_max].</summary>
public enum StdpBounds
{
    /// <summary>No bounds: purely additive updates.</summary>
    None,
    /// <summary>Additive updates, then a hard clip to [w_min, w_max] (either bound may be infinite).</summary>
    Clip,
    /// <summary>Weight-dependent (multiplicative) soft bounds: potentiation scales with (w_max − w), depression with (w − w_min); needs finite bounds.</summary>
    Soft,
}

/// <summary>How spikes enter the traces of a plasticity rule (Pfister &amp; Gerstner 2006 fit both).</summary>
public enum TraceInteraction
{
    /// <summary>Every spike adds 1 to its trace: all spike pairs (and triplets) interact.</summary>
    AllToAll,
    /// <summary>A spike sets its trace to 1: only the nearest earlier spike counts.</summary>
    Nearest,
}

/// <summary>
/// Common wiring of the learning-rule circuit blocks (<see cref="StdpBlock"/>, <see cref="TripletStdpBlock"/>,
/// <see cref="RewardStdpBlock"/>): the block reads the synapse's presynaptic input through <see cref="Tap"/>, receives the
/// postsynaptic spikes as its own input, and changes the synapse's weights in place (under no_grad) every step; while a
/// run records gradients (through the synapse to its input) each step's weights are a new tensor instead.
/// Wiring: add <see cref="Tap"/> to the network in place of the synapse, add the block and connect the postsynaptic
/// group to it. Weights persist across runs until the network is initialized again; traces restart at every run.
/// A synapse backed by a <see cref="Memristive.DeviceArray"/> with a pulse response learns by programming pulses: each
/// step the rule's change of the weights the devices hold becomes pulses (<see cref="Memristive.WeightUpdatePulsesFunctional"/>),
/// counted as writes; other weight devices are refused. The same weights must not also train by gradient.
/// </summary>
public abstract class PlasticityBlock : NeuronGroup, IRollbackState
{
    private long _seen;

    /// <summary>Creates the block for <paramref name="synapse"/>, whose target has <paramref name="postCount"/> neurons.</summary>
    protected PlasticityBlock(WeightedSynapse synapse, int postCount, StdpBounds bounds, double wMin, double wMax) : base(postCount)
    {
        Synapse = synapse ?? throw new ArgumentNullException(nameof(synapse));
        Synapse.Plastic = true; // its weights change within a run: never computed a segment ahead
        if (double.IsNaN(wMin) || double.IsNaN(wMax) || !(wMin < wMax))
            throw new ParameterException(GetType().Name, "w_min/w_max", $"needs w_min < w_max, got [{wMin}, {wMax}].");
        if (bounds == StdpBounds.Soft && !(double.IsFinite(wMin) && double.IsFinite(wMax)))
            throw new ParameterException(GetType().Name, "w_min/w_max", $"soft bounds need finite w_min and w_max, got [{wMin}, {wMax}].");
        Bounds = bounds;
        WMin = wMin;
        WMax = wMax;
        Tap = new InputTap(synapse) { Block = this };
    }

    /// <summary>The synapse whose weights learn, wrapped so that the block sees its presynaptic input: add this to the network.</summary>
    public InputTap Tap { get; }
    /// <summary>The synapse whose weights learn.</summary>
    public WeightedSynapse Synapse { get; }
    /// <inheritdoc />
    public override IEnumerable<Group> ReadsDirectly => new Group[] { Tap };

    /// <summary>How weights are bounded.</summary>
    public StdpBounds Bounds { get; }
    /// <summary>Lower weight bound (used by Clip and Soft).</summary>
    public double WMin { get; }
    /// <summary>Upper weight bound (used by Clip and Soft).</summary>
    public double WMax { get; }

    /// <inheritdoc />
    protected sealed override void OnReset()
    {
        if (!Synapse.IsBound)
            throw new NetworkConfigurationException($"{GetType().Name} '{DisplayName}': its synapse is not bound; add the block's Tap to the network (or bind the synapse first).");
        if (Synapse.WeightDevice is Memristive.DeviceArray array)
        {
            if (Synapse is Memristive.Crossbar.CrossbarSynapse { TrainThroughPeriphery: true })
                throw new NetworkConfigurationException($"{GetType().Name} '{DisplayName}': crossbar '{Synapse.DisplayName}' computes from its weights W in TrainThroughPeriphery mode, not from its devices, so pulses would not reach it; turn the mode off for online plasticity.");
            if (array.Pulses is null)
                throw new NetworkConfigurationException($"{GetType().Name} '{DisplayName}': synapse '{Synapse.DisplayName}' reads its weights from device array '{array.Name}', which has no pulse response; give it one (WithPulses) so weight updates become programming pulses.");
        }
        else if (Synapse.WeightDevice is not null)
            throw new NetworkConfigurationException($"{GetType().Name} '{DisplayName}': synapse '{Synapse.DisplayName}' reads its weights from a {Synapse.WeightDevice.GetType().Name}; online plasticity works on ideal weights or on a DeviceArray with a pulse response.");
        if (Synapse.TargetCount != ComponentCount)
            throw new NetworkConfigurationException(
                $"{GetType().Name} '{DisplayName}' has {ComponentCount} postsynaptic neurons, synapse '{Synapse.DisplayName}' has {Synapse.TargetCount} targets.");
        long ns = Synapse.SourceCount, nt = Synapse.TargetCount;
        // The update is in place, so the weights must be a full [Ns, Nt] tensor of their own (a constant is stored as a scalar).
        var w = Synapse.W.Value;
        if (w.dim() != 2 || w.Sizes()[0] != ns || w.Sizes()[1] != nt)
            Synapse.W.Tensor = w.detach().expand(ns, nt).clone().DetachFromDisposeScope();
        ResetTraces(ns, nt);
        _seen = Tap.StepCount;
    }

    /// <summary>
    /// The weights (a copy: they change in place, or are replaced while a run records gradients), the device array's
    /// pulsed state and the step counts of block and tap, put back if the call fails: a failed Run or Continue keeps
    /// none of the learning it did before failing.
    /// </summary>
    RollbackPoint IRollbackState.Capture(bool reset) => RollbackPoint.Combine(CaptureWeights(), CaptureRule(reset));

    /// <summary>What a rule keeps per run beyond its declared states (e.g. a reward converted at the reset), put back if the call fails; nothing by default.</summary>
    protected virtual RollbackPoint CaptureRule(bool reset) => RollbackPoint.Nothing;

    private RollbackPoint CaptureWeights()
    {
        var (seen, taps, last) = (_seen, Tap.StepCount, Tap.LastInput);
        var devices = Synapse.WeightDevice is Memristive.DeviceArray array ? array.CapturePulsed() : RollbackPoint.Nothing;
        var before = Synapse.W.Tensor;
        Tensor? copy = null;
        if (before is { IsInvalid: false })
            using (torch.no_grad()) copy = before.detach().clone().DetachFromDisposeScope();
        return new(() =>
        {
            (_seen, Tap.StepCount, Tap.LastInput) = (seen, taps, last);
            devices.Restore();
            if (copy is null) return;
            var now = Synapse.W.Tensor;
            if (ReferenceEquals(now, before) && now is { IsInvalid: false } && !now.requires_grad)
            {
                using (torch.no_grad()) now.copy_(copy);
                copy.Dispose();
            }
            else Synapse.W.Tensor = copy;
        }, () =>
        {
            devices.Commit();
            copy?.Dispose();
        });
    }

    /// <summary>Widens the per-source traces (declared per batch row) to [batch, Ns] and sets any other per-run state.</summary>
    protected abstract void ResetTraces(long ns, long nt);

    /// <inheritdoc />
    public sealed override Tensor Step(Tensor? input)
    {
        if (input is null)
            throw new NetworkConfigurationException($"{GetType().Name} '{DisplayName}' has no source: connect the postsynaptic group to it.");
        if (Tap.StepCount != _seen + 1)
            throw new NetworkConfigurationException(
                $"{GetType().Name} '{DisplayName}': synapse '{Synapse.DisplayName}' took {Tap.StepCount - _seen} step(s) since the block's last step, expected 1. " +
                "Add the block's Tap (not the bare synapse) to the network, and let the synapse run before the block (the block reads the postsynaptic group).");
        _seen = Tap.StepCount;
        bool recording = torch.is_grad_enabled();
        using var noGrad = torch.no_grad();
        if (Synapse.WeightDevice is Memristive.DeviceArray array) return LearnOnDevices(array, input);
        if (!recording) return Learn(Synapse.W.Value, Tap.LastInput!.detach(), input.detach());
        // While a run records gradients the synapse's product saved this step's weights for the backward: an in-place
        // update would invalidate them (autograd's version check), so the new weights are a tensor of their own.
        var old = Synapse.W.Value;
        var fresh = old.clone();
        var y = Learn(fresh, Tap.LastInput!.detach(), input.detach());
        Synapse.W.Tensor = Keep(fresh);
        if (!old.requires_grad) old.Dispose(); // the autograd graph keeps its own reference to what it saved
        return y;
    }

    /// <summary>
    /// Changes the synapse's weights outside a step (e.g. a delayed reward): <paramref name="update"/> modifies the
    /// weights [Ns, Nt] in place — W itself, or for a device-backed synapse a copy of the weights the devices hold, whose
    /// change then becomes programming pulses (<see cref="Memristive.DeviceArray.PulseWeightUpdate"/>).
    /// </summary>
    protected void ChangeWeights(Action<Tensor> update)
    {
        ArgumentNullException.ThrowIfNull(update);
        using var noGrad = torch.no_grad();
        if (Synapse.WeightDevice is not Memristive.DeviceArray array)
        {
            update(Synapse.W.Value);
            return;
        }
        using var scope = torch.NewDisposeScope();
        // Held and proposed in the weights' precision: the change is what the rule did, not the rounding of the held weights.
        var held = array.ProgrammedWeights().to(Synapse.W.Value.dtype);
        var proposed = held.clone();
        update(proposed);
        array.PulseWeightUpdate(proposed.sub(held).to(ScalarType.Float64), Context.Stream("device-pulses"));
    }

    // The rule proposes new weights from the ones the devices hold; the change becomes pulses
    // (DeviceArray.PulseWeightUpdate), so the synapse's next read shows what the devices did with them.
    private Tensor LearnOnDevices(Memristive.DeviceArray array, Tensor post)
    {
        // Both in the weights' precision: in a float32 network the rounding of the float64 conductances' weights is not
        // a change the rule asked for (it would fire spurious pulses on fine-step devices every step).
        var held = array.ProgrammedWeights().to(Synapse.W.Value.dtype);
        var proposed = held.clone(); // a copy of its own: the rule updates it in place
        var y = Learn(proposed, Tap.LastInput!.detach(), post.detach());
        array.PulseWeightUpdate(proposed.sub(held).to(ScalarType.Float64), Context.Stream("device-pulses")).Dispose();
        return y;
    }

    /// <summary>One step of the rule: updates <paramref name="w"/> [Ns, Nt] in place from pre [batch, Ns] and post [batch, Nt]; returns the block's output [batch, Nt].</summary>
    protected abstract Tensor Learn(Tensor w, Tensor pre, Tensor post);

    /// <summary>A per-source trace declared per batch row, widened to its own [batch, Ns] tensor.</summary>
    protected Tensor PerSource(Tensor declared, long ns) =>
        Keep(declared.unsqueeze(1).expand(Context.BatchSize, ns).clone());
}

/// <summary>Applies a rule's potentiation and depression to weights under the chosen bounds (shared by every plasticity block).</summary>
public static class PlasticityBounds
{
    /// <summary>
    /// w ← w + up − down (None), then clipped to [w_min, w_max] (Clip); or w ← w + up·(w_max − w) − down·(w − w_min),
    /// then clipped (Soft, the weight-dependent rule). <paramref name="up"/> and <paramref name="down"/> are [Ns, Nt]
    /// amounts ≥ 0 (either may be null); <paramref name="w"/> changes IN PLACE and is returned.
    /// </summary>
    public static Tensor Apply(Tensor w, Tensor? up, Tensor? down, StdpBounds bounds, double wMin, double wMax)
    {
        if (bounds == StdpBounds.Soft)
        {
            // Both factors use the weights before this update, so the order of potentiation and depression does not matter.
            var gainUp = up is null ? null : up.mul(w.neg().AddNumber_(wMax));
            var gainDown = down is null ? null : down.mul(w.sub(wMin));
            if (gainUp is not null) w.Plus_(gainUp);
            if (gainDown is not null) w.sub_(gainDown);
            return w.clamp_(wMin, wMax);
        }
        if (up is not null) w.Plus_(up);
        if (down is not null) w.sub_(down);
        return bounds == StdpBounds.Clip ? w.clamp_(wMin, wMax) : w;
    }

    /// <summary>A signed change: its positive part bounded as potentiation, its negative part as depression.</summary>
    public static Tensor ApplySigned(Tensor w, Tensor delta, StdpBounds bounds, double wMin, double wMax) =>
        bounds == StdpBounds.Soft
            ? Apply(w, delta.clamp_min(0), delta.neg().ClampMinZero_(), bounds, wMin, wMax)
            : Apply(w, delta, null, bounds, wMin, wMax);

    /// <summary>A trace after this step's spikes: x̃ + s (all-to-all) or 1 where s fired, else x̃ (nearest); updates <paramref name="decayed"/> in place.</summary>
    public static Tensor AddSpikes(Tensor decayed, Tensor spikes, TraceInteraction interaction) =>
        interaction == TraceInteraction.AllToAll
            ? decayed.Plus_(spikes)
            : decayed.mul_(spikes.ne(0).logical_not()).Plus_(spikes.ne(0).to_type(decayed.dtype));
}
