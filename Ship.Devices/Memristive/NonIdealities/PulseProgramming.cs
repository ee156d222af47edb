using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Open-loop programming by identical potentiation pulses: every device is reset to its own w_min, then receives the
/// number of pulses n that would bring a nominal device (no spread, no noise) closest to its target; the real device,
/// with its own dw_min/w_min/w_max and cycle-to-cycle noise, lands where its response takes it. Nonlinear, bounded
/// programming errors come from the <see cref="PulseResponse"/> (soft bounds, linear step, exponential step).
/// The response's bounds are in the array's conductance units (S for a physical window).
/// </summary>
[ShipModel("PulseProgramming")]
public sealed class PulseProgramming : INonIdeality, IShipModel<PulseProgramming, PulseProgramming.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(PulseResponse Response, int MaxPulses);

    /// <inheritdoc />
    public Settings GetSettings() => new(Response, MaxPulses);

    /// <inheritdoc />
    public static PulseProgramming FromSettings(Settings settings) => new(settings.Response, settings.MaxPulses);

    /// <summary>Creates the model; at most <paramref name="maxPulses"/> pulses are applied per device.</summary>
    public PulseProgramming(PulseResponse response, int maxPulses = 10000)
    {
        Response = response ?? throw new ArgumentNullException(nameof(response));
        if (maxPulses < 1) throw new Ship.Core.Errors.ParameterException(nameof(PulseProgramming), "maxPulses", $"must be >= 1, got {maxPulses}.");
        MaxPulses = maxPulses;
    }

    /// <summary>The device response to one pulse.</summary>
    public PulseResponse Response { get; }
    /// <summary>Cap on pulses per device.</summary>
    public int MaxPulses { get; }

    /// <summary>Conductance (S on a physical window) of a nominal device after 0, 1, … pulses from w_min (non-decreasing), until it saturates or the cap.</summary>
    public Tensor NominalTrajectory(Device? device = null)
    {
        using var scope = torch.NewDisposeScope();
        using var nominal = Response.NominalDevices(new long[] { 1 }, device);
        var points = new List<Tensor> { nominal.WMin.clone() };
        var w = points[0];
        double tol = 1e-12 * (Response.WMax - Response.WMin);
        for (int k = 0; k < MaxPulses; k++)
        {
            var next = Response.Increment(w, PulseDirection.Potentiation, nominal).add_(w);
            next = torch.minimum(torch.maximum(next, nominal.WMin), nominal.WMax);
            points.Add(next);
            if ((next - w).item<double>() <= tol) break;
            w = next;
        }
        return torch.cat(points).cummax(0).values.MoveToOuterDisposeScope();
    }

    /// <summary>Pulses a nominal device needs to come closest to each target (index into <see cref="NominalTrajectory"/>).</summary>
    public static Tensor PulseCounts(Tensor trajectory, Tensor targets)
    {
        var flat = targets.flatten().contiguous();
        long last = trajectory.Sizes()[0] - 1;
        var hi = torch.searchsorted(trajectory, flat).clamp_(0, last);
        var lo = (hi - 1).clamp_(0, last);
        var dHi = (trajectory.index_select(0, hi) - flat).abs_();
        var dLo = (trajectory.index_select(0, lo) - flat).abs_();
        return torch.where(dLo.le(dHi), lo, hi).reshape(targets.Sizes());
    }

    /// <inheritdoc />
    public Tensor Program(Tensor conductances, DeviceState state)
    {
        var packed = state.Fabricated(this, "devices", () =>
        {
            using var p = Response.DrawDevices(state.Shape, state.Rng, state.Device);
            return torch.stack(new[] { p.DwMin, p.WMin, p.WMax });
        });
        using var devices = new PulseDeviceParameters(packed[0].clone(), packed[1].clone(), packed[2].clone());
        var counts = PulseCounts(NominalTrajectory(state.Device), conductances);
        long max = counts.max().item<long>();
        var w = devices.WMin.clone().DetachFromDisposeScope();
        // The pulses' write counts (hardware ledger), summed on the device and read once at the end.
        var writes = torch.zeros(4, dtype: ScalarType.Float64, device: state.Device).DetachFromDisposeScope();
        for (long k = 1; k <= max; k++)
        {
            using var scope = torch.NewDisposeScope();
            var pulsed = counts.ge(k);
            var next = torch.where(pulsed, Response.Pulse(w, PulseDirection.Potentiation, devices, state.Rng), w)
                .DetachFromDisposeScope();
            writes.add_(Energy.WriteEnergy.CountsOf(torch.stack(new[] { w, next }), pulsed));
            w.Dispose();
            w = next;
        }
        state.AddDeviceWrites(counts); // endurance: each device's own pulse count
        using (var host = writes.cpu())
        {
            var c = host.data<double>().ToArray();
            state.AddWrites(new Energy.WriteCounts(c[0], c[1], c[2], c[3]));
        }
        writes.Dispose();
        var result = w.clone();
        w.Dispose();
        return result;
    }
}
