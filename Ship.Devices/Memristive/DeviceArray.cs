using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Persistence;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// A crossbar of memristive devices holding a synapse's weights (CrossSim/aihwkit style): a
/// <see cref="ConductanceMapping"/> turns weights into device conductances, then the listed
/// <see cref="INonIdeality"/> models act in order, once at programming and at every read. Attach with
/// <c>synapse.WithDevice(array)</c>; any <see cref="WeightedSynapse"/> then computes with the read weights.
/// Per-device properties (faults, range spread, pulse parameters) are drawn once, at the first programming
/// ("fabrication"), and kept across reprogrammings of the same shape; <see cref="ElapsedTime"/> is the time since
/// programming at which the study reads, independent of the simulation step.
/// Reads are not differentiable with respect to W (programming is an offline step).
/// </summary>
[ShipModel("DeviceArray")]
public sealed class DeviceArray : IWeightDevice, IDisposable, ICheckpointState, IShipModel<DeviceArray, DeviceArray.Settings>
{
    private WeightedSynapse? _owner;

    /// <summary>
    /// An array holds the conductances of one synapse: attaching it to a second synapse would make one compute with the
    /// other's weights, so it is refused with a <see cref="NetworkConfigurationException"/> naming both.
    /// </summary>
    public void Attach(WeightedSynapse synapse)
    {
        ArgumentNullException.ThrowIfNull(synapse);
        if (_owner is not null && !ReferenceEquals(_owner, synapse))
            throw new NetworkConfigurationException(
                $"Device array '{Name}' is already attached to synapse '{_owner.DisplayName}'; synapse '{synapse.DisplayName}' needs its own array (an array holds one synapse's conductances).");
        _owner = synapse;
    }

    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(string Name, ConductanceMapping Mapping, IReadOnlyList<INonIdeality> NonIdealities, PulseResponse? Pulses, double ElapsedTime);

    /// <inheritdoc />
    public Settings GetSettings() => new(Name, Mapping, NonIdealities, Pulses, ElapsedTime);

    /// <inheritdoc />
    public static DeviceArray FromSettings(Settings settings) => new(settings.Name, settings.Mapping, settings.NonIdealities.ToArray()) { Pulses = settings.Pulses, ElapsedTime = settings.ElapsedTime };

    private readonly INonIdeality[] _effects;
    private DeviceState? _state;
    private WeightEncoding? _encoding;
    private PulseDeviceParameters? _pulseDevices;
    private double _elapsed;
    private bool _refabricate;

    /// <summary>Creates an array with the given mapping and non-idealities (applied in list order).</summary>
    public DeviceArray(ConductanceMapping mapping, params INonIdeality[] nonIdealities)
        : this(nameof(DeviceArray), mapping, nonIdealities) { }

    /// <summary>Creates a named array (the name appears in every error about it).</summary>
    public DeviceArray(string name, ConductanceMapping mapping, params INonIdeality[] nonIdealities)
    {
        Name = string.IsNullOrWhiteSpace(name) ? nameof(DeviceArray) : name;
        Mapping = mapping ?? throw new ArgumentNullException(nameof(mapping));
        ArgumentNullException.ThrowIfNull(nonIdealities);
        if (nonIdealities.Any(e => e is null)) throw new ArgumentNullException(nameof(nonIdealities), "a non-ideality is null");
        _effects = nonIdealities.ToArray();
    }

    /// <summary>Name used in messages.</summary>
    public string Name { get; }
    /// <summary>Weight ↔ conductance mapping.</summary>
    public ConductanceMapping Mapping { get; }
    /// <summary>The non-idealities, in the order they act.</summary>
    public IReadOnlyList<INonIdeality> NonIdealities => _effects;
    /// <summary>Response of a device to one programming pulse, for <see cref="ApplyPulses(int, PulseDirection, torch.Generator, Tensor?)"/>; null if pulses are not modelled.</summary>
    public PulseResponse? Pulses { get; init; }

    /// <summary>Time since programming at which reads happen (s, ≥ 0); a property of the study, not of the simulation clock. Takes effect at the next read (next run).</summary>
    public double ElapsedTime
    {
        get => _elapsed;
        set => _elapsed = DeviceErrors.Time(Name, nameof(ElapsedTime), value);
    }

    /// <inheritdoc />
    public bool ReadsVary => _effects.Any(e => e.ReadsVary);

    /// <summary>Whether the array holds programmed conductances.</summary>
    public bool IsProgrammed => _state?.IsProgrammed == true;

    /// <summary>The shared device state (programmed conductances, stuck devices…), for inspection.</summary>
    public DeviceState State => _state is { IsProgrammed: true } s
        ? s
        : throw new ShipException($"Device array '{Name}' is not programmed: attach it to a synapse and initialize the network, or call Program.");

    /// <summary>What decoding the current programming needs (weight scale M, window, sign bits), for circuit models that place the conductances themselves.</summary>
    public WeightEncoding Encoding => _encoding ?? throw new ShipException($"Device array '{Name}' is not programmed: attach it to a synapse and initialize the network, or call Program.");

    /// <summary>A new array with the same mapping, pulses and elapsed time and more non-idealities appended (composition of presets).</summary>
    public DeviceArray With(params INonIdeality[] more) =>
        new(Name, Mapping, _effects.Concat(more).ToArray()) { Pulses = Pulses, ElapsedTime = ElapsedTime };

    /// <summary>A new array with the same mapping and non-idealities whose devices respond to pulses as <paramref name="response"/>.</summary>
    public DeviceArray WithPulses(PulseResponse response) =>
        new(Name, Mapping, _effects) { Pulses = response ?? throw new ArgumentNullException(nameof(response)), ElapsedTime = ElapsedTime };

    /// <summary>Makes the next programming draw new devices (a new chip) instead of reusing the fabricated ones.</summary>
    public void Refabricate() => _refabricate = true;

    /// <inheritdoc />
    public void Program(Tensor weights, SimulationContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ProgramCore(weights, ctx.Device, ctx.Stream("programming"));
    }

    /// <summary>
    /// Programs the array without a network (device bench): every draw comes from <paramref name="rng"/>, tensors live on
    /// <paramref name="device"/> (CPU by default). Same physics as the network path.
    /// </summary>
    public void Program(Tensor weights, torch.Generator rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ProgramCore(weights, device ?? CPU, rng);
    }

    private void ProgramCore(Tensor weights, Device device, torch.Generator rng)
    {
        ArgumentNullException.ThrowIfNull(weights);
        using var scope = torch.NewDisposeScope();
        var w = weights.detach().to(ScalarType.Float64, device);
        if (!w.isfinite().all().item<bool>())
            throw new ParameterException(Name, "weights", "weights to program must be finite.");
        var shape = new[] { (long)Mapping.DevicesPerWeight }.Concat(w.Sizes()).ToArray();
        if (_refabricate || _state is null || !_state.Shape.SequenceEqual(shape)
            || _state.Device.type != device.type || _state.Device.index != device.index)
        {
            _state?.Dispose();
            _pulseDevices?.Dispose();
            _pulseDevices = null;
            _state = new DeviceState(Name, shape, device, rng);
            _refabricate = false;
        }
        var s = _state;
        s.Rng = rng;
        s.ElapsedTime = _elapsed;
        var g = Mapping.Encode(w, out var encoding);
        _encoding?.Dispose();
        _encoding = encoding;
        s.BeginProgramming(encoding.Range, g.clone());
        foreach (var e in _effects) g = e.Program(g, s);
        s.SetProgrammed(s.ApplyPins(g).clone());
    }

    /// <summary>Conductances (S) of every device [D, …] as read now (at <see cref="ElapsedTime"/>), float64.</summary>
    public Tensor ReadConductances(SimulationContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        using var scope = torch.NewDisposeScope();
        return ReadCore(ctx.Stream("read-noise")).MoveToOuterDisposeScope();
    }

    /// <summary>Conductances of every device [D, …] as read now, without a network (device bench): draws come from <paramref name="rng"/>.</summary>
    public Tensor ReadConductances(torch.Generator rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        using var scope = torch.NewDisposeScope();
        return ReadCore(rng).MoveToOuterDisposeScope();
    }

    /// <summary>Weights as read now (float64), without a network (device bench).</summary>
    public Tensor ReadWeights(torch.Generator rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        using var scope = torch.NewDisposeScope();
        return Mapping.Decode(ReadCore(rng), _encoding!).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public Tensor Read(SimulationContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        using var scope = torch.NewDisposeScope();
        var w = Mapping.Decode(ReadCore(ctx.Stream("read-noise")), _encoding!).to(ctx.DType).contiguous();
        return w.MoveToOuterDisposeScope();
    }

    private Tensor ReadCore(torch.Generator rng)
    {
        var s = State;
        s.Rng = rng;
        s.ElapsedTime = _elapsed;
        var g = s.Programmed.alias();
        foreach (var e in _effects) g = e.Read(g, s);
        g = s.ApplyPins(g);
        // Kept (a handle on the same storage, no copy) so the hardware ledger charges what was actually read.
        var last = _lastRead;
        _lastRead = g.detach().DetachFromDisposeScope();
        last?.Dispose();
        return g;
    }

    private Tensor? _lastRead;

    /// <summary>
    /// The conductances (S) [D, …] the latest read returned — drifted, noisy, faulty as the synapse computed with them
    /// (a network read, <see cref="ReadConductances(SimulationContext)"/> or a bench read) — or null before the first
    /// read. Valid until the next read; read-only (the hardware ledger's read energy, tests).
    /// </summary>
    public Tensor? LastReadConductances => _lastRead;

    /// <summary>
    /// Applies <paramref name="count"/> identical pulses to every device (or to those where <paramref name="mask"/> is
    /// true) and returns the programmed conductance (S) after each: [count + 1, D, …] (row 0 = before the first pulse).
    /// The devices keep the result (a later read starts from it); stuck devices do not move. For conductance-vs-pulse plots.
    /// </summary>
    public Tensor ApplyPulses(int count, PulseDirection direction, SimulationContext ctx, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        return ApplyPulses(count, direction, ctx.Stream("pulses"), mask);
    }

    /// <summary>As <see cref="ApplyPulses(int, PulseDirection, SimulationContext, Tensor?)"/>, without a network: draws come from <paramref name="rng"/>.</summary>
    public Tensor ApplyPulses(int count, PulseDirection direction, torch.Generator rng, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var response = Pulses ?? throw new ParameterException(Name, nameof(Pulses), "no pulse response: create the array with WithPulses(…) before applying pulses.");
        if (count < 0) throw new ParameterException(Name, "count", $"the number of pulses must be >= 0, got {count}.");
        var s = State;
        using var scope = torch.NewDisposeScope();
        _pulseDevices ??= response.DrawDevices(s.Shape, rng, s.Device);
        var trace = response.Train(s.Programmed, count, direction, _pulseDevices, rng, mask, Name);
        trace = s.ApplyPins(trace);
        s.AddWrites(Energy.WriteEnergy.OfPulseTrain(trace, mask)); // hardware ledger: the pulses' write energy
        s.AddDeviceWrites(mask is null ? torch.tensor((double)count) : mask.to(ScalarType.Float64, s.Device).mul(count)); // endurance
        s.SetProgrammed(trace[count].clone());
        return trace.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Closed-loop program-and-verify (<see cref="ProgramVerifySettings"/>) of the programmed devices towards
    /// <paramref name="targets"/> (S, the devices' shape [D, …]; null = the mapping's targets of the current programming,
    /// <see cref="DeviceState.Target"/>): verify reads with the array's read noise (<see cref="ReadNoise"/> models in its
    /// list, at 0 s after programming), SET/RESET pulses through <see cref="Pulses"/>. The devices keep the result; every
    /// pulse is counted for the hardware ledger (<see cref="TakeWrites"/>) and in the devices' lifetime writes (endurance).
    /// Draws come from the network's "programming" stream. Bad settings or targets throw before anything changes.
    /// </summary>
    public ProgramVerifyResult ProgramAndVerify(ProgramVerifySettings settings, SimulationContext ctx, Tensor? targets = null)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        return ProgramAndVerify(settings, ctx.Stream("programming"), targets);
    }

    /// <summary>As <see cref="ProgramAndVerify(ProgramVerifySettings, SimulationContext, Tensor?)"/>, without a network: draws come from <paramref name="rng"/>.</summary>
    public ProgramVerifyResult ProgramAndVerify(ProgramVerifySettings settings, torch.Generator rng, Tensor? targets = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(rng);
        settings.Validate(Name);
        var response = Pulses ?? throw new ParameterException(Name, nameof(Pulses), "no pulse response: create the array with WithPulses(…) before program-and-verify.");
        var s = State;
        using var scope = torch.NewDisposeScope();
        var t = targets is null ? s.Target : targets.detach().to(ScalarType.Float64, s.Device);
        if (!t.Sizes().SequenceEqual(s.Shape))
            throw new ParameterException(Name, "targets", $"target conductances must have the devices' shape [{string.Join(", ", s.Shape)}], got [{string.Join(", ", t.Sizes())}].");
        if (!t.isfinite().all().item<bool>())
            throw new ParameterException(Name, "targets", "target conductances must be finite (S).");
        _pulseDevices ??= response.DrawDevices(s.Shape, rng, s.Device);
        s.Rng = rng;
        var noise = _effects.OfType<ReadNoise>().ToArray();
        Tensor Verify(Tensor g)
        {
            foreach (var e in noise) g = e.Read(g, s);
            return s.ApplyPins(g);
        }
        s.ElapsedTime = 0; // verify reads follow the pulses at once
        try
        {
            var start = settings.FromErased ? s.ApplyPins(torch.full_like(s.Programmed, s.Range.Gmin)) : s.Programmed;
            var (g, pulses, ok, reads, writes) = ProgramAndVerifyFunctional.Run(start, t, response, _pulseDevices, settings, Verify, s.ApplyPins, rng);
            s.AddWrites(writes); // hardware ledger: the pulses' write energy
            s.AddDeviceWrites(pulses); // endurance
            s.SetProgrammed(g.clone());
            return new ProgramVerifyResult(pulses, g - t, ok, reads, writes);
        }
        finally { s.ElapsedTime = _elapsed; }
    }

    /// <summary>The weights the devices hold now (float64 [… weights shape]): the programmed conductances decoded, without read effects.</summary>
    public Tensor ProgrammedWeights()
    {
        var s = State;
        return Mapping.Decode(s.Programmed, _encoding!);
    }

    /// <summary>
    /// Turns the weight change <paramref name="deltaW"/> (weight units, the weights' shape) into programming pulses on the
    /// devices (<see cref="WeightUpdatePulsesFunctional"/>: the most sensitive device of each weight, stochastically rounded
    /// pulse counts, SET or RESET) and applies them through <see cref="Pulses"/>, so the weights move only as the devices
    /// allow (their steps, bounds, cycle noise, stuck devices). Every pulse is counted for the hardware ledger and in the
    /// lifetime writes (endurance); the counts stay on the device until taken (host reads: the finiteness check of
    /// the change and the longest train's length). Returns the pulses per device [D, …]. Used by the plasticity blocks on a device-backed synapse. A change of
    /// the wrong shape or not finite throws a <see cref="ParameterException"/> before anything changes.
    /// </summary>
    public Tensor PulseWeightUpdate(Tensor deltaW, torch.Generator rng)
    {
        ArgumentNullException.ThrowIfNull(deltaW);
        ArgumentNullException.ThrowIfNull(rng);
        var response = Pulses ?? throw new ParameterException(Name, nameof(Pulses), "no pulse response: create the array with WithPulses(…) to change its weights by pulses.");
        var s = State;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var dw = deltaW.detach().to(ScalarType.Float64, s.Device);
        if (!dw.Sizes().SequenceEqual(s.Shape[1..]))
            throw new ParameterException(Name, "deltaW", $"a weight change must have the weights' shape [{string.Join(", ", s.Shape[1..])}], got [{string.Join(", ", dw.Sizes())}].");
        // Before any draw: a NaN or infinite change would silently become NaN (no pulse at all) or capped pulse counts.
        if (!dw.isfinite().all().item<bool>())
            throw new ParameterException(Name, "deltaW", "a weight change must be finite (weight units), got NaN or infinite entries.");
        _pulseDevices ??= response.DrawDevices(s.Shape, rng, s.Device);
        var g = s.Programmed;
        // The decode is linear in each conductance: one probe per device of a weight gives ∂w/∂G_d exactly.
        double h = _encoding!.Range.Width > 0 ? _encoding.Range.Width : 1.0;
        var w0 = Mapping.Decode(g, _encoding);
        var sens = new List<Tensor>();
        for (long d = 0; d < s.Shape[0]; d++)
        {
            var probe = g.clone();
            probe[d].add_(h);
            sens.Add(Mapping.Decode(probe, _encoding).sub_(w0).div_(h));
        }
        var uniform = Ship.Core.Networks.Draw.Rand(dw.Sizes(), ScalarType.Float64, s.Device, rng);
        var (pulses, up) = WeightUpdatePulsesFunctional.Counts(dw, torch.stack(sens), g, response, uniform);
        long longest = (long)pulses.max().item<double>();
        if (longest == 0) return pulses.MoveToOuterDisposeScope();
        var down = up.logical_not();
        var w = g.clone();
        for (long j = 1; j <= longest; j++)
        {
            var pulsed = pulses.ge(j);
            var next = s.ApplyPins(response.PulseWhere(w, pulsed, up, down, _pulseDevices, rng));
            s.AddWrites(Energy.WriteEnergy.CountsOf(torch.stack(new[] { w, next }), pulsed)); // hardware ledger
            w = next;
        }
        s.LifetimeWrites.add_(pulses); // endurance (counts are ≥ 0 and of the devices' shape by construction)
        s.SetProgrammed(w.clone());
        return pulses.MoveToOuterDisposeScope();
    }

    /// <summary>What a learning rule's pulses change during a call (conductances, write counts, the pulse devices drawn on first use), to put back if the call fails.</summary>
    internal Ship.Core.Groups.RollbackPoint CapturePulsed()
    {
        if (_state is null) return Ship.Core.Groups.RollbackPoint.Nothing;
        var state = _state.CapturePulsed();
        var devices = _pulseDevices;
        return new(() =>
        {
            state.Restore();
            if (!ReferenceEquals(_pulseDevices, devices)) _pulseDevices?.Dispose();
            _pulseDevices = devices;
        }, state.Commit);
    }

    /// <summary>Programming pulses the devices received since the last call (pulse programming, <see cref="ApplyPulses(int, PulseDirection, torch.Generator, Tensor?)"/>), for the hardware ledger; none when not programmed.</summary>
    public Energy.WriteCounts TakeWrites() => _state?.TakeWrites() ?? Energy.WriteCounts.Zero;

    /// <summary>
    /// Saves the fabricated and programmed devices: conductances, device-to-device draws, stuck masks, the encoding
    /// and pulse parameters, so a loaded array reads exactly what this one reads without redrawing anything.
    /// </summary>
    void ICheckpointState.SaveState(CheckpointWriter writer)
    {
        writer.Set("refabricate", _refabricate);
        if (_state is null) writer.Set("state", (string?)null);
        else _state.Save(writer.Child("state"), _effects);
        if (_encoding is null) writer.Set("encoding", (string?)null);
        else
        {
            var e = writer.Child("encoding");
            e.Set("scale", _encoding.Scale);
            e.Set("gmin", _encoding.Range.Gmin);
            e.Set("gmax", _encoding.Range.Gmax);
            e.SetTensor("sign", _encoding.Sign);
        }
        if (_pulseDevices is null) writer.Set("pulse_devices", (string?)null);
        else
        {
            var p = writer.Child("pulse_devices");
            p.SetTensor("dw_min", _pulseDevices.DwMin);
            p.SetTensor("w_min", _pulseDevices.WMin);
            p.SetTensor("w_max", _pulseDevices.WMax);
        }
    }

    void ICheckpointState.LoadState(CheckpointReader reader)
    {
        // Built completely before anything is replaced, so a bad entry leaves the array as it was.
        var ctx = reader.Network?.Context ?? throw new CheckpointException(CheckpointProblem.Corrupted, $"Device array '{Name}': no network to restore into.");
        var state = reader.Has("state") ? DeviceState.Load(reader.Child("state"), Name, _effects, ctx.Device, ctx.Stream("programming")) : null;
        WeightEncoding? encoding = null;
        if (reader.Has("encoding"))
        {
            var e = reader.Child("encoding");
            encoding = new WeightEncoding(e.GetDouble("scale"), new ConductanceRange(e.GetDouble("gmin"), e.GetDouble("gmax"), Name), e.GetNullableTensor("sign"));
        }
        PulseDeviceParameters? pulses = null;
        if (reader.Has("pulse_devices"))
        {
            var p = reader.Child("pulse_devices");
            pulses = new PulseDeviceParameters(p.GetTensor("dw_min"), p.GetTensor("w_min"), p.GetTensor("w_max"));
        }
        Dispose();
        _state = state;
        _encoding = encoding;
        _pulseDevices = pulses;
        _refabricate = reader.GetBool("refabricate");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _lastRead?.Dispose();
        _lastRead = null;
        _state?.Dispose();
        _encoding?.Dispose();
        _pulseDevices?.Dispose();
        _state = null;
        _encoding = null;
        _pulseDevices = null;
    }
}
