using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// A stand-alone population of pulse-programmed devices (no weights, no mapping), for conductance-vs-pulse-number
/// experiments: device parameters are drawn once from the generator, then trains of pulses move the conductances.
/// </summary>
public sealed class PulsedDevices : IDisposable
{
    private readonly torch.Generator _rng;
    private Tensor _g;

    /// <summary>Draws <paramref name="shape"/> devices; each starts at <paramref name="initial"/>, or at its own w_min when null.</summary>
    public PulsedDevices(PulseResponse response, long[] shape, torch.Generator rng, double? initial = null, Device? device = null)
    {
        Response = response ?? throw new ArgumentNullException(nameof(response));
        ArgumentNullException.ThrowIfNull(shape);
        _rng = rng ?? throw new ArgumentNullException(nameof(rng));
        Devices = response.DrawDevices(shape, rng, device);
        _g = (initial is { } w0 ? torch.full_like(Devices.WMin, w0) : Devices.WMin.clone()).DetachFromDisposeScope();
    }

    /// <summary>The pulse model.</summary>
    public PulseResponse Response { get; }
    /// <summary>Parameters of every device.</summary>
    public PulseDeviceParameters Devices { get; }
    /// <summary>Current conductances (a copy).</summary>
    public Tensor Conductance => _g.clone();

    /// <summary>Applies <paramref name="count"/> pulses (to masked devices only, if given) and returns the trace [count + 1, …shape].</summary>
    public Tensor Apply(int count, PulseDirection direction, Tensor? mask = null)
    {
        using var scope = torch.NewDisposeScope();
        var trace = Response.Train(_g, count, direction, Devices, _rng, mask, nameof(PulsedDevices));
        var old = _g;
        _g = trace[count].clone().DetachFromDisposeScope();
        old.Dispose();
        return trace.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Devices.Dispose();
        _g.Dispose();
    }
}
