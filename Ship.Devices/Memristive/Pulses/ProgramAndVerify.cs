using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// Settings of a closed-loop write-verify programming (<see cref="ProgramAndVerifyFunctional"/>): every iteration reads
/// each unfinished device (the array's read noise, <see cref="ReadsPerVerify"/> reads averaged), stops the devices whose
/// read lies within <see cref="Tolerance"/> of their target, and gives the others a burst of SET (read below target) or
/// RESET (read above) pulses through the array's <see cref="PulseResponse"/>, until every device has converged or used
/// <see cref="MaxPulses"/> pulses. The burst is one pulse (<see cref="MaxPulsesPerVerify"/> = 1, the incremental loop)
/// or, adaptive, the number of nominal steps that fit in the read error, floor(|G_target − G_read| / |Δw_nominal(G_read)|),
/// between 1 and <see cref="MaxPulsesPerVerify"/> (fewer verify reads for the same pulses). Pulse amplitude and width
/// are fixed: the pulse response has one step law per direction, so an adaptive amplitude is modelled as a number of
/// identical pulses.
/// </summary>
/// <param name="Tolerance">Accepted |G_read − G_target| (S), &gt; 0.</param>
/// <param name="MaxPulses">Pulses one device may receive before the loop gives up on it, ≥ 1.</param>
/// <param name="MaxPulsesPerVerify">Most pulses between two verify reads of a device, ≥ 1 (1 = one pulse per read).</param>
/// <param name="ReadsPerVerify">Reads averaged per verify, ≥ 1 (averaging n reads divides the read noise σ by √n).</param>
/// <param name="FromErased">
/// Start every device (stuck ones excepted) from the low end of the programming's window, Gmin (S): writing a fresh or
/// erased array; the erase itself (a block RESET) is not counted. False: start from the programmed conductances
/// (correcting an open-loop programming).
/// </param>
public sealed record ProgramVerifySettings(double Tolerance, int MaxPulses = 1000, int MaxPulsesPerVerify = 1, int ReadsPerVerify = 1, bool FromErased = false)
{
    /// <summary>One pulse per verify read, at most <paramref name="maxPulses"/> pulses per device (the incremental loop).</summary>
    public static ProgramVerifySettings Incremental(double tolerance, int maxPulses = 1000) => new(tolerance, maxPulses, 1, 1);

    /// <summary>Bursts sized by the read error (up to <paramref name="maxPulsesPerVerify"/> pulses per read).</summary>
    public static ProgramVerifySettings Adaptive(double tolerance, int maxPulses = 1000, int maxPulsesPerVerify = 64) => new(tolerance, maxPulses, maxPulsesPerVerify, 1);

    /// <summary>
    /// A tolerance of <paramref name="fraction"/> of the window <paramref name="range"/> (S), e.g. 1 % of Gmax − Gmin, the
    /// accuracy device papers report for write-verify of multi-level cells; adaptive bursts, 3 reads averaged.
    /// </summary>
    public static ProgramVerifySettings ForWindow(ConductanceRange range, double fraction = 0.01, int maxPulses = 1000)
    {
        DeviceErrors.Positive(nameof(ProgramVerifySettings), "fraction", fraction);
        return new(fraction * (range.Gmax - range.Gmin), maxPulses, 64, 3);
    }

    /// <summary>Throws a <see cref="ParameterException"/> naming the first setting out of range (owner = <paramref name="owner"/>).</summary>
    public void Validate(string owner)
    {
        if (!double.IsFinite(Tolerance) || !(Tolerance > 0))
            throw new ParameterException(owner, nameof(Tolerance), $"must be a finite conductance > 0 S, got {Tolerance}.");
        if (MaxPulses < 1) throw new ParameterException(owner, nameof(MaxPulses), $"must be >= 1, got {MaxPulses}.");
        if (MaxPulsesPerVerify < 1) throw new ParameterException(owner, nameof(MaxPulsesPerVerify), $"must be >= 1, got {MaxPulsesPerVerify}.");
        if (ReadsPerVerify < 1) throw new ParameterException(owner, nameof(ReadsPerVerify), $"must be >= 1, got {ReadsPerVerify}.");
    }
}

/// <summary>What a program-and-verify run did to each device (tensors of the devices' shape [D, …], float64 on their device).</summary>
public sealed class ProgramVerifyResult : IDisposable
{
    internal ProgramVerifyResult(Tensor pulses, Tensor error, Tensor converged, int verifyReads, Energy.WriteCounts writes)
    {
        Pulses = pulses.DetachFromDisposeScope();
        Error = error.DetachFromDisposeScope();
        Converged = converged.DetachFromDisposeScope();
        VerifyReads = verifyReads;
        Writes = writes;
    }

    /// <summary>Programming pulses each device received.</summary>
    public Tensor Pulses { get; }
    /// <summary>Final programmed conductance minus target (S), noise-free (what the device holds, not what the last read saw).</summary>
    public Tensor Error { get; }
    /// <summary>Whether a verify read of each device came within the tolerance (bool); such a device was not pulsed again.</summary>
    public Tensor Converged { get; }
    /// <summary>Verify iterations (each reads every unfinished device <see cref="ProgramVerifySettings.ReadsPerVerify"/> times), including the final one.</summary>
    public int VerifyReads { get; }
    /// <summary>The pulses reduced for the write energy (also added to the array's write counts for the hardware ledger).</summary>
    public Energy.WriteCounts Writes { get; }
    /// <summary>All pulses (Σ of <see cref="Pulses"/>).</summary>
    public double TotalPulses => Writes.Pulses;
    /// <summary>Fraction of devices that converged.</summary>
    public double ConvergedFraction => Converged.to_type(ScalarType.Float64).mean().item<double>();

    /// <inheritdoc />
    public void Dispose()
    {
        Pulses.Dispose();
        Error.Dispose();
        Converged.Dispose();
    }
}

/// <summary>The write-verify loop as a function of the device conductances, pulse model, read and settings.</summary>
public static class ProgramAndVerifyFunctional
{
    /// <summary>
    /// Runs the loop of <see cref="ProgramVerifySettings"/> from conductances <paramref name="g0"/> (S) towards
    /// <paramref name="targets"/> (S, same shape). <paramref name="read"/> returns one verify read of given conductances;
    /// <paramref name="afterPulse"/> maps the conductances after a pulse (stuck devices); every pulse's write counts are
    /// summed (<see cref="Energy.WriteEnergy.CountsOf"/>: conductance before and after, the driven row, half-selected
    /// cells). Returns the final conductances, the per-device pulse counts, the convergence flags, the verify
    /// iterations and the write counts (read to the host once).
    /// </summary>
    public static (Tensor G, Tensor Pulses, Tensor Converged, int VerifyReads, Energy.WriteCounts Writes) Run(
        Tensor g0, Tensor targets, PulseResponse response, PulseDeviceParameters devices, ProgramVerifySettings settings,
        Func<Tensor, Tensor> read, Func<Tensor, Tensor> afterPulse, torch.Generator rng)
    {
        using var outer = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var shape = g0.Sizes();
        using var nominal = settings.MaxPulsesPerVerify > 1 ? response.NominalDevices(shape, g0.device) : null;
        // Held outside every scope and replaced pulse by pulse, so memory stays at a few copies of the array.
        var g = g0.to(ScalarType.Float64).clone().DetachFromDisposeScope();
        var target = targets.to(ScalarType.Float64, g0.device);
        var pulses = torch.zeros(shape, dtype: ScalarType.Float64, device: g0.device);
        var writes = torch.zeros(4, dtype: ScalarType.Float64, device: g0.device);
        var done = torch.zeros(shape, dtype: ScalarType.Bool, device: g0.device);
        int iterations = 0;
        while (true)
        {
            using var scope = torch.NewDisposeScope();
            iterations++;
            var seen = read(g);
            for (int r = 1; r < settings.ReadsPerVerify; r++) seen = seen + read(g);
            if (settings.ReadsPerVerify > 1) seen = seen / settings.ReadsPerVerify;
            var err = target - seen;
            // A device within tolerance is finished for good: it is not read or pulsed again.
            done.logical_or_(err.abs().le(settings.Tolerance));
            var active = done.logical_not().logical_and(pulses.lt(settings.MaxPulses));
            if (!active.any().item<bool>()) break;
            var up = err.gt(0);
            Tensor n;
            if (nominal is null) n = active.to(ScalarType.Float64);
            else
            {
                // Whole nominal steps that fit in the error, at least one: no overshoot on a nominal device.
                var step = response.StepSize(seen, up, nominal);
                n = err.abs().div_(step).nan_to_num_(nan: 1, posinf: settings.MaxPulsesPerVerify).floor_()
                    .clamp_(1, settings.MaxPulsesPerVerify);
                n = torch.minimum(n, pulses.neg().add_(settings.MaxPulses)).mul_(active.to(ScalarType.Float64));
            }
            long burst = (long)n.max().item<double>();
            var down = up.logical_not();
            for (long j = 1; j <= burst; j++)
            {
                var pulsed = n.ge(j);
                var next = afterPulse(response.PulseWhere(g, pulsed, up, down, devices, rng));
                writes.add_(Energy.WriteEnergy.CountsOf(torch.stack(new[] { g, next }), pulsed));
                var old = g;
                g = next.DetachFromDisposeScope();
                old.Dispose();
            }
            pulses.add_(n);
        }
        var c = writes.cpu().data<double>().ToArray();
        outer.Attach(g);
        return (g.MoveToOuterDisposeScope(), pulses.MoveToOuterDisposeScope(), done.MoveToOuterDisposeScope(), iterations,
                new Energy.WriteCounts(c[0], c[1], c[2], c[3]));
    }
}
