using Ship.Core.Errors;
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
    private Tensor? _pinMask, _pinValue, _target, _g0;

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
    /// <summary>Nominal conductance window of the current programming.</summary>
    public ConductanceRange Range { get; internal set; }
    /// <summary>Time since programming at which reads happen, in seconds.</summary>
    public double ElapsedTime { get; internal set; }
    /// <summary>Target conductances from the mapping, before any non-ideality.</summary>
    public Tensor Target => _target ?? throw NotProgrammed();
    /// <summary>Conductances the devices hold after programming (the starting point of every read).</summary>
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

    /// <summary>Pins devices (mask true) to fixed conductances: they ignore programming, pulses, drift and read noise (stuck-at faults).</summary>
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
        _pinMask = _pinValue = _target = _g0 = null;
    }
}
