using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>Direction of a programming pulse.</summary>
public enum PulseDirection
{
    /// <summary>SET-like pulse: conductance goes up.</summary>
    Potentiation,
    /// <summary>RESET-like pulse: conductance goes down.</summary>
    Depression,
}

/// <summary>Per-device pulse parameters (drawn once per fabricated array): step size and bounds of every device.</summary>
public sealed class PulseDeviceParameters : IDisposable
{
    /// <summary>Takes over the tensors (they leave any dispose scope).</summary>
    public PulseDeviceParameters(Tensor dwMin, Tensor wMin, Tensor wMax)
    {
        DwMin = dwMin.DetachFromDisposeScope();
        WMin = wMin.DetachFromDisposeScope();
        WMax = wMax.DetachFromDisposeScope();
    }

    /// <summary>Step size dw_min of each device (S on a physical window).</summary>
    public Tensor DwMin { get; }
    /// <summary>Lower bound w_min of each device (S on a physical window).</summary>
    public Tensor WMin { get; }
    /// <summary>Upper bound w_max of each device (S on a physical window).</summary>
    public Tensor WMax { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        DwMin.Dispose();
        WMin.Dispose();
        WMax.Dispose();
    }
}

/// <summary>
/// How a device's conductance w responds to one programming pulse (aihwkit's "update once" step models). Subclasses
/// give the noise-free increment Δw(w); the base adds what all share: device-to-device spread of dw_min, w_min and
/// w_max (relative, drawn once per device: dw_min·(1 + σ·ξ), r + (w_max − r)·|1 + σ·ξ|, r − (r − w_min)·|1 + σ·ξ|,
/// dw_min clamped at 0), multiplicative cycle-to-cycle noise on each step Δw·(1 + σ_c2c·ξ), and hard clipping to the
/// device's [w_min, w_max]. The reference r (default 0, aihwkit's convention w_min &lt; 0 &lt; w_max) is where the step
/// equals dw_min; set it inside the window to use conductance units (siemens, e.g. r = (Gmin + Gmax)/2).
/// Adding a pulse model is adding one subclass.
/// </summary>
public abstract class PulseResponse
{
    /// <summary>Validates and stores the shared parameters.</summary>
    protected PulseResponse(double dwMin, double wMin, double wMax, double reference,
                            double dwMinSpread, double wMinSpread, double wMaxSpread, double cycleNoise)
    {
        string owner = GetType().Name;
        DwMin = DeviceErrors.Positive(owner, "dwMin", dwMin);
        if (!double.IsFinite(wMin) || !double.IsFinite(wMax) || !double.IsFinite(reference) || !(wMin < reference && reference < wMax))
            throw new ParameterException(owner, "wMin/wMax", $"needs finite wMin < reference < wMax, got wMin = {wMin}, reference = {reference}, wMax = {wMax}.");
        WMin = wMin;
        WMax = wMax;
        Reference = reference;
        DwMinSpread = DeviceErrors.NonNegative(owner, "dwMinSpread", dwMinSpread);
        WMinSpread = DeviceErrors.NonNegative(owner, "wMinSpread", wMinSpread);
        WMaxSpread = DeviceErrors.NonNegative(owner, "wMaxSpread", wMaxSpread);
        CycleNoise = DeviceErrors.NonNegative(owner, "cycleNoise", cycleNoise);
    }

    /// <summary>Mean step size (S on a physical window; weight units in aihwkit's normalised convention).</summary>
    public double DwMin { get; }
    /// <summary>Mean lower bound (S on a physical window).</summary>
    public double WMin { get; }
    /// <summary>Mean upper bound (S on a physical window).</summary>
    public double WMax { get; }
    /// <summary>Point where the step equals dw_min (0 in aihwkit).</summary>
    public double Reference { get; }
    /// <summary>Device-to-device spread of dw_min, relative.</summary>
    public double DwMinSpread { get; }
    /// <summary>Device-to-device spread of w_min (relative to its distance from the reference).</summary>
    public double WMinSpread { get; }
    /// <summary>Device-to-device spread of w_max (relative to its distance from the reference).</summary>
    public double WMaxSpread { get; }
    /// <summary>Cycle-to-cycle noise of every step, relative (σ of the factor 1 + σ·ξ).</summary>
    public double CycleNoise { get; }

    /// <summary>Noise-free increment of one pulse for devices at w with parameters <paramref name="devices"/> (signed).</summary>
    public abstract Tensor Increment(Tensor w, PulseDirection direction, PulseDeviceParameters devices);

    /// <summary>Draws the parameters of devices of the given shape (float64) from <paramref name="rng"/>.</summary>
    public PulseDeviceParameters DrawDevices(long[] shape, torch.Generator rng, Device? device = null)
    {
        using var scope = torch.NewDisposeScope();
        var dev = device ?? CPU;
        Tensor Factor(double spread) => spread > 0
            ? Ship.Core.Networks.Draw.Randn(shape, ScalarType.Float64, dev, rng).mul_(spread).add_(1)
            : torch.ones(shape, dtype: ScalarType.Float64, device: dev);
        var dw = Factor(DwMinSpread).mul_(DwMin).clamp_(min: 0);
        var wMin = Factor(WMinSpread).abs_().mul_(WMin - Reference).add_(Reference);
        var wMax = Factor(WMaxSpread).abs_().mul_(WMax - Reference).add_(Reference);
        return new PulseDeviceParameters(dw, wMin, wMax);
    }

    /// <summary>Parameters of nominal devices (no spread), for the open-loop pulse counts a programmer would use.</summary>
    public PulseDeviceParameters NominalDevices(long[] shape, Device? device = null)
    {
        var dev = device ?? CPU;
        return new PulseDeviceParameters(
            torch.full(shape, DwMin, dtype: ScalarType.Float64, device: dev),
            torch.full(shape, WMin, dtype: ScalarType.Float64, device: dev),
            torch.full(shape, WMax, dtype: ScalarType.Float64, device: dev));
    }

    /// <summary>One pulse: w + Δw(w)·(1 + σ_c2c·ξ), clipped to each device's bounds. Draws only when cycle noise is on.</summary>
    public Tensor Pulse(Tensor w, PulseDirection direction, PulseDeviceParameters devices, torch.Generator rng)
    {
        var dw = Increment(w, direction, devices);
        if (CycleNoise > 0)
            dw = dw.mul(Ship.Core.Networks.Draw.Randn(w.Sizes(), w.dtype, w.device, rng).mul_(CycleNoise).add_(1));
        return torch.minimum(torch.maximum(w + dw, devices.WMin), devices.WMax);
    }

    /// <summary>|Δw| of one pulse at <paramref name="w"/> (S): SET where <paramref name="up"/> is true, RESET elsewhere.</summary>
    internal Tensor StepSize(Tensor w, Tensor up, PulseDeviceParameters devices) =>
        torch.where(up, Increment(w, PulseDirection.Potentiation, devices), Increment(w, PulseDirection.Depression, devices)).abs_();

    /// <summary>
    /// One pulse of a burst: a SET where <paramref name="pulsed"/> and <paramref name="up"/>, a RESET where
    /// <paramref name="pulsed"/> and <paramref name="down"/>, <paramref name="w"/> elsewhere (both pulses are drawn, SET first).
    /// </summary>
    internal Tensor PulseWhere(Tensor w, Tensor pulsed, Tensor up, Tensor down, PulseDeviceParameters devices, torch.Generator rng) =>
        torch.where(pulsed.logical_and(up), Pulse(w, PulseDirection.Potentiation, devices, rng),
            torch.where(pulsed.logical_and(down), Pulse(w, PulseDirection.Depression, devices, rng), w));

    /// <summary>
    /// <paramref name="count"/> pulses from <paramref name="w0"/> (only where <paramref name="mask"/> is true, if given):
    /// the conductance before and after each pulse, [count + 1, …w0 shape].
    /// </summary>
    public Tensor Train(Tensor w0, int count, PulseDirection direction, PulseDeviceParameters devices, torch.Generator rng,
                        Tensor? mask = null, string? owner = null)
    {
        if (count < 0) throw new ParameterException(owner ?? GetType().Name, "count", $"the number of pulses must be >= 0, got {count}.");
        Tensor? m = null;
        if (mask is not null)
        {
            try { m = mask.to_type(ScalarType.Bool).to(w0.device).expand(w0.Sizes()); }
            catch (Exception e) when (e is not ShipException)
            {
                throw new ParameterException(owner ?? GetType().Name, "mask", $"must broadcast to the device shape [{string.Join(", ", w0.Sizes())}], got [{string.Join(", ", mask.Sizes())}].");
            }
        }
        var trace = new List<Tensor>(count + 1) { w0.clone() };
        var w = trace[0];
        for (int k = 0; k < count; k++)
        {
            var next = Pulse(w, direction, devices, rng);
            if (m is not null) next = torch.where(m, next, w);
            trace.Add(next);
            w = next;
        }
        return torch.stack(trace);
    }
}
