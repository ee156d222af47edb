using Ship.Core.Errors;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// The physical state of one device array, shared by its non-idealities: the programmed conductances, the per-device
/// properties drawn once per fabricated array (faults, range spread), the draws of the current programming (drift
/// exponents), the stuck (pinned) devices, and the context of the current call (generator, window, elapsed time).
/// </summary>
public sealed class DeviceState : IDisposable
{
    private readonly Dictionary<(INonIdeality, string), Tensor> _fabricated = new();
    private readonly Dictionary<(INonIdeality, string), Tensor> _programmed = new();
    private Tensor? _pinMask, _pinValue, _target, _g0, _lifetimeWrites;

    internal DeviceState(string owner, long[] shape, Device device, torch.Generator rng)
    {
        Owner = owner;
        Shape = shape;
        Device = device;
        Rng = rng;
    }

    /// <summary>Name of the array, for messages.</summary>
    public string Owner { get; }
    /// <summary>Shape of the conductance tensors: [D, …weights shape].</summary>
    public long[] Shape { get; }
    /// <summary>Device every tensor lives on.</summary>
    public Device Device { get; }
    /// <summary>The generator of the network using the array now: every draw comes from it.</summary>
    public torch.Generator Rng { get; internal set; }

    /// <summary>Programming pulses applied since the last <see cref="TakeWrites"/> (hardware ledger, docs/energy.md).</summary>
    private Energy.WriteCounts _writes = Energy.WriteCounts.Zero;

    // Counts added on the device (plasticity pulses, every step) and read to the host only when taken.
    private Tensor? _pendingWrites;

    /// <summary>Adds the counts of a pulse train (conductances before and after each pulse).</summary>
    internal void AddWrites(Energy.WriteCounts counts) => _writes += counts;

    /// <summary>
    /// What pulses change in the devices — the programmed conductances and their lifetime writes (wear) — copied before
    /// a call, so a call that fails after a learning rule pulsed the devices puts them back
    /// (<see cref="Ship.Core.Groups.IRollbackState"/>). The write counts kept for the energy ledger are not put back: a
    /// ledger takes them at the start and end of every call, failed ones included (it charges what was attempted), and
    /// counts put back after it took them would be charged twice.
    /// </summary>
    internal Ship.Core.Groups.RollbackPoint CapturePulsed()
    {
        static Tensor? Copy(Tensor? t) => t is null ? null : t.detach().clone().DetachFromDisposeScope();
        var (g0, lifetime) = (Copy(_g0), Copy(_lifetimeWrites));
        return new(() =>
        {
            if (g0 is not null) SetProgrammed(g0);
            _lifetimeWrites?.Dispose();
            _lifetimeWrites = lifetime;
        }, () =>
        {
            g0?.Dispose();
            lifetime?.Dispose();
        });
    }

    /// <summary>Adds counts held on the device ([4] float64, <see cref="Energy.WriteEnergy.CountsOf"/>), without a host read.</summary>
    internal void AddWrites(Tensor counts)
    {
        if (_pendingWrites is null) _pendingWrites = counts.to(ScalarType.Float64, Device).clone().DetachFromDisposeScope();
        else _pendingWrites.add_(counts);
    }

    /// <summary>The programming pulses counted since the last call, and forgets them.</summary>
    public Energy.WriteCounts TakeWrites()
    {
        var w = _writes;
        _writes = Energy.WriteCounts.Zero;
        if (_pendingWrites is not null)
        {
            using (var host = _pendingWrites.cpu())
            {
                var c = host.data<double>().ToArray();
                w += new Energy.WriteCounts(c[0], c[1], c[2], c[3]);
            }
            _pendingWrites.Dispose();
            _pendingWrites = null;
        }
        return w;
    }
    /// <summary>
    /// Write pulses each device received since fabrication [D, …] (float64; zeros before the first write): pulse
    /// programming, <see cref="DeviceArray.ApplyPulses(int, PulseDirection, torch.Generator, Tensor?)"/> and anything
    /// added with <see cref="AddDeviceWrites"/>. Kept across programmings of the same fabricated array and saved with it;
    /// what endurance models (<see cref="Endurance"/>) read.
    /// </summary>
    public Tensor LifetimeWrites => _lifetimeWrites ??= torch.zeros(Shape, dtype: ScalarType.Float64, device: Device).DetachFromDisposeScope();

    /// <summary>
    /// Adds <paramref name="pulses"/> (per device, broadcastable to [D, …], ≥ 0) to <see cref="LifetimeWrites"/>: the hook
    /// for writes the array does not make itself (a program-and-verify loop, weight updates done as pulses elsewhere).
    /// </summary>
    public void AddDeviceWrites(Tensor pulses)
    {
        ArgumentNullException.ThrowIfNull(pulses);
        using var scope = torch.NewDisposeScope();
        var p = pulses.detach().to(ScalarType.Float64, Device);
        // Checked before anything is added, so a refused count leaves the wear as it was.
        if (!Shapes.BroadcastsTo(p.Sizes(), Shape))
            throw new ParameterException(Owner, "pulses", $"write counts must broadcast to the devices' shape [{string.Join(", ", Shape)}], got [{string.Join(", ", p.Sizes())}].");
        if (!p.isfinite().all().item<bool>() || p.lt(0).any().item<bool>())
            throw new ParameterException(Owner, "pulses",
                $"write counts must be finite and >= 0, got {(p.isfinite().all().item<bool>() ? $"a smallest count of {p.min().item<double>()}" : "a non-finite count")}.");
        LifetimeWrites.add_(p.expand(Shape));
    }

    /// <summary>Nominal conductance window of the current programming (S).</summary>
    public ConductanceRange Range { get; internal set; }
    /// <summary>Time since programming at which reads happen, in seconds.</summary>
    public double ElapsedTime { get; internal set; }
    /// <summary>Target conductances (S) from the mapping, before any non-ideality.</summary>
    public Tensor Target => _target ?? throw NotProgrammed();
    /// <summary>Conductances (S) the devices hold after programming (the starting point of every read).</summary>
    public Tensor Programmed => _g0 ?? throw NotProgrammed();
    /// <summary>Whether the array has been programmed.</summary>
    public bool IsProgrammed => _g0 is not null;

    /// <summary>Standard normal draws of the conductance shape.</summary>
    public Tensor Normal() => Ship.Core.Networks.Draw.Randn(Shape, ScalarType.Float64, Device, Rng);

    /// <summary>Uniform draws on [0, 1) of the conductance shape.</summary>
    public Tensor Uniform() => Ship.Core.Networks.Draw.Rand(Shape, ScalarType.Float64, Device, Rng);

    /// <summary>A property drawn once per fabricated array (kept across programmings): drawn by <paramref name="draw"/> the first time it is asked for.</summary>
    public Tensor Fabricated(INonIdeality owner, string key, Func<Tensor> draw)
    {
        if (!_fabricated.TryGetValue((owner, key), out var t))
            _fabricated[(owner, key)] = t = draw().DetachFromDisposeScope();
        return t;
    }

    /// <summary>Stores a draw of the current programming (e.g. drift exponents), replaced at the next programming.</summary>
    public void Remember(INonIdeality owner, string key, Tensor value)
    {
        if (_programmed.Remove((owner, key), out var old)) old.Dispose();
        _programmed[(owner, key)] = value.DetachFromDisposeScope();
    }

    /// <summary>A draw stored by <see cref="Remember"/> during the current programming.</summary>
    public Tensor Recall(INonIdeality owner, string key) =>
        _programmed.TryGetValue((owner, key), out var t)
            ? t
            : throw new ShipException($"Device array '{Owner}': {owner.GetType().Name} has no '{key}' from programming; it must be in the array's list when the array is programmed.");

    /// <summary>Pins devices (mask true) to the fixed conductance <paramref name="value"/> (S): they ignore programming, pulses, drift and read noise (stuck-at faults).</summary>
    public void Pin(Tensor mask, double value)
    {
        var m = mask.to_type(ScalarType.Bool);
        var v = torch.full(Shape, value, dtype: ScalarType.Float64, device: Device);
        if (_pinMask is null)
        {
            _pinMask = m.clone().DetachFromDisposeScope();
            _pinValue = torch.where(m, v, torch.zeros_like(v)).DetachFromDisposeScope();
        }
        else
        {
            var nm = _pinMask.logical_or(m).DetachFromDisposeScope();
            var nv = torch.where(m, v, _pinValue!).DetachFromDisposeScope();
            _pinMask.Dispose();
            _pinValue!.Dispose();
            _pinMask = nm;
            _pinValue = nv;
        }
    }

    /// <summary>Devices pinned by faults (true = stuck), or null if none.</summary>
    public Tensor? PinnedMask => _pinMask;

    internal Tensor ApplyPins(Tensor g) => _pinMask is null ? g : torch.where(_pinMask, _pinValue!, g);

    internal void BeginProgramming(ConductanceRange range, Tensor target)
    {
        Range = range;
        foreach (var t in _programmed.Values) t.Dispose();
        _programmed.Clear();
        _pinMask?.Dispose();
        _pinValue?.Dispose();
        _pinMask = _pinValue = null;
        _target?.Dispose();
        _target = target.DetachFromDisposeScope();
    }

    internal void SetProgrammed(Tensor g)
    {
        var old = _g0;
        _g0 = g.DetachFromDisposeScope();
        if (!ReferenceEquals(old, _g0)) old?.Dispose();
    }

    /// <summary>Writes everything a later read or programming depends on; draws are keyed by the position of their non-ideality in the array.</summary>
    internal void Save(CheckpointWriter w, IReadOnlyList<INonIdeality> effects)
    {
        w.Set("shape", string.Join(",", Shape));
        w.Set("gmin", Range.Gmin);
        w.Set("gmax", Range.Gmax);
        w.Set("elapsed_time", ElapsedTime);
        w.SetTensor("target", _target);
        w.SetTensor("programmed", _g0);
        w.SetTensor("pin_mask", _pinMask);
        w.SetTensor("pin_value", _pinValue);
        w.SetTensor("lifetime_writes", _lifetimeWrites);
        // Pulses not yet taken by a ledger (e.g. a delayed reward applied after the last run): the next run's ledger
        // charges them, so they travel with the checkpoint — the host counts and the device accumulator apart, so the
        // loaded array adds later pulses in the same order (the same last bits). Read without taking them.
        using (var t = torch.tensor(new[] { _writes.Pulses, _writes.MeanConductance, _writes.LineCells, _writes.HalfSelectConductance }, ScalarType.Float64))
            w.SetTensor("pending_writes", t);
        w.SetTensor("pending_device_writes", _pendingWrites);
        SaveDraws(w.Child("fabricated"), _fabricated, effects);
        SaveDraws(w.Child("programming_draws"), _programmed, effects);
    }

    private void SaveDraws(CheckpointWriter w, Dictionary<(INonIdeality, string), Tensor> draws, IReadOnlyList<INonIdeality> effects)
    {
        foreach (var ((owner, key), t) in draws)
        {
            int index = -1;
            for (int k = 0; k < effects.Count; k++) if (ReferenceEquals(effects[k], owner)) index = k;
            if (index < 0)
                throw new CheckpointException(CheckpointProblem.NotSaveable, $"Device array '{Owner}': a draw '{key}' belongs to a {owner.GetType().Name} that is not in the array's list.");
            w.SetTensor($"{index}.{key}", t);
        }
    }

    /// <summary>Rebuilds a state saved by <see cref="Save"/>, checking every tensor against the saved shape.</summary>
    internal static DeviceState Load(CheckpointReader r, string owner, IReadOnlyList<INonIdeality> effects, Device device, torch.Generator rng)
    {
        long[] shape;
        try { shape = r.GetString("shape").Split(',').Select(long.Parse).ToArray(); }
        catch (FormatException) { throw new CheckpointException(CheckpointProblem.Corrupted, $"Device array '{owner}': the saved shape is not a list of sizes."); }
        var s = new DeviceState(owner, shape, device, rng)
        {
            Range = new ConductanceRange(r.GetDouble("gmin"), r.GetDouble("gmax"), owner),
            ElapsedTime = r.GetDouble("elapsed_time"),
        };
        // Shape and dtype checked here: a wrong one would otherwise reach libtorch in the middle of a run.
        Tensor? Checked(Tensor? t, string what, ScalarType dtype)
        {
            if (t is not null && (!t.Sizes().SequenceEqual(shape) || t.dtype != dtype))
                throw new CheckpointException(CheckpointProblem.TopologyMismatch,
                    $"Device array '{owner}': saved {what} is {t.dtype} [{string.Join(", ", t.Sizes())}], the devices are {dtype} [{string.Join(", ", shape)}].");
            return t;
        }
        s._target = Checked(r.GetNullableTensor("target"), "target", ScalarType.Float64);
        s._g0 = Checked(r.GetNullableTensor("programmed"), "programmed conductances", ScalarType.Float64);
        s._pinMask = Checked(r.GetNullableTensor("pin_mask"), "stuck-device mask", ScalarType.Bool);
        s._pinValue = Checked(r.GetNullableTensor("pin_value"), "stuck-device values", ScalarType.Float64);
        // Absent in checkpoints written before write counting: no writes recorded then.
        s._lifetimeWrites = r.Has("lifetime_writes") ? Checked(r.GetNullableTensor("lifetime_writes"), "lifetime write counts", ScalarType.Float64) : null;
        // Absent in checkpoints written before pending counts were saved: nothing pending then.
        Tensor? Counts(string key)
        {
            if (!r.Has(key)) return null;
            var t = r.GetTensor(key);
            if (t.dtype != ScalarType.Float64 || t.dim() != 1 || t.Sizes()[0] != 4)
            {
                var message = $"Device array '{owner}': saved {key.Replace('_', ' ')} are {t.dtype} [{string.Join(", ", t.Sizes())}], expected Float64 [4] (pulses, mean conductance, line cells, half-select conductance).";
                t.Dispose();
                throw new CheckpointException(CheckpointProblem.TopologyMismatch, message);
            }
            return t;
        }
        if (Counts("pending_writes") is { } pending)
        {
            using (pending)
            using (var host = pending.cpu())
            {
                var c = host.data<double>().ToArray();
                s._writes = new Energy.WriteCounts(c[0], c[1], c[2], c[3]);
            }
        }
        s._pendingWrites = Counts("pending_device_writes")?.DetachFromDisposeScope();
        LoadDraws(r.Child("fabricated"), s._fabricated, effects, owner);
        LoadDraws(r.Child("programming_draws"), s._programmed, effects, owner);
        return s;
    }

    private static void LoadDraws(CheckpointReader r, Dictionary<(INonIdeality, string), Tensor> draws, IReadOnlyList<INonIdeality> effects, string owner)
    {
        foreach (var name in r.Keys.ToList())
        {
            int dot = name.IndexOf('.');
            if (dot < 1 || !int.TryParse(name[..dot], out int index) || index < 0 || index >= effects.Count)
                throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"Device array '{owner}': saved draw '{name}' names no non-ideality of the array (it has {effects.Count}).");
            var draw = r.GetTensor(name);
            if (!draw.is_floating_point() && draw.dtype != ScalarType.Bool)
                throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"Device array '{owner}': saved draw '{name}' is {draw.dtype}, not a real or boolean tensor.");
            draws[(effects[index], name[(dot + 1)..])] = draw;
        }
    }

    private ShipException NotProgrammed() => new($"Device array '{Owner}' is not programmed yet.");

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _fabricated.Values.Concat(_programmed.Values)) t.Dispose();
        _fabricated.Clear();
        _programmed.Clear();
        _pinMask?.Dispose();
        _pinValue?.Dispose();
        _target?.Dispose();
        _g0?.Dispose();
        _lifetimeWrites?.Dispose();
        _pendingWrites?.Dispose();
        _pinMask = _pinValue = _target = _g0 = _lifetimeWrites = _pendingWrites = null;
    }
}
