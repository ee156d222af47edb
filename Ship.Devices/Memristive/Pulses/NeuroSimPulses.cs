using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// NeuroSim's nonlinear weight update (Chen, Peng, Yu, NeuroSim+; its RealDevice): from G_min, P potentiation pulses give
/// G(P) = B·(1 − e^(−P/A)) + G_min with B = (G_max − G_min)/(1 − e^(−P_max/A)), so the curve reaches G_max after P_max
/// pulses and is clipped there; depression mirrors it from G_max with its own A and P_max. As a step in the state
/// (what NeuroSim computes by inverting G(P)): Δ⁺ = (G_min + B⁺ − G)·(1 − e^(−1/A⁺)), Δ⁻ = −(G − G_max + B⁻)·(1 − e^(−1/A⁻)).
/// A is in pulses (NeuroSim's normalized A times P_max; see the NL label mapping in Ship.Characterization). Conductances
/// in siemens. Device-to-device spread: dw_min scales both steps (dw_min = (G_max − G_min)/P_max⁺ nominally), w_min/w_max
/// move each device's window; cycle-to-cycle noise multiplies each step.
/// </summary>
[ShipModel("NeuroSimPulses")]
public sealed class NeuroSimPulses : PulseResponse, IShipModel<NeuroSimPulses, NeuroSimPulses.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(double GMin, double GMax, double AUp, double ADown, double PulsesUp, double PulsesDown,
        double DwMinSpread, double WMinSpread, double WMaxSpread, double CycleNoise);

    /// <inheritdoc />
    public Settings GetSettings() => new(WMin, WMax, AUp, ADown, PulsesUp, PulsesDown, DwMinSpread, WMinSpread, WMaxSpread, CycleNoise);

    /// <inheritdoc />
    public static NeuroSimPulses FromSettings(Settings s) =>
        new(s.GMin, s.GMax, s.AUp, s.ADown, s.PulsesUp, s.PulsesDown, s.DwMinSpread, s.WMinSpread, s.WMaxSpread, s.CycleNoise);

    /// <summary>Creates the model: window [<paramref name="gMin"/>, <paramref name="gMax"/>] (S), A and P_max per direction (pulses).</summary>
    public NeuroSimPulses(double gMin, double gMax, double aUp, double aDown, double pulsesUp, double pulsesDown,
                          double dwMinSpread = 0, double wMinSpread = 0, double wMaxSpread = 0, double cycleNoise = 0)
        : base(Step(gMin, gMax, pulsesUp), gMin, gMax, 0.5 * (gMin + gMax), dwMinSpread, wMinSpread, wMaxSpread, cycleNoise)
    {
        string o = nameof(NeuroSimPulses);
        AUp = DeviceErrors.Positive(o, "aUp", aUp);
        ADown = DeviceErrors.Positive(o, "aDown", aDown);
        PulsesUp = DeviceErrors.Positive(o, "pulsesUp", pulsesUp);
        PulsesDown = DeviceErrors.Positive(o, "pulsesDown", pulsesDown);
    }

    private static double Step(double gMin, double gMax, double pulses) =>
        double.IsFinite(gMax - gMin) && pulses > 0 && double.IsFinite(pulses) ? Math.Abs(gMax - gMin) / pulses : double.NaN;

    /// <summary>A⁺ (pulses).</summary>
    public double AUp { get; }
    /// <summary>A⁻ (pulses).</summary>
    public double ADown { get; }
    /// <summary>P_max⁺: potentiation pulses from G_min to G_max.</summary>
    public double PulsesUp { get; }
    /// <summary>P_max⁻: depression pulses from G_max to G_min.</summary>
    public double PulsesDown { get; }

    /// <summary>Noise-free conductance after <paramref name="pulses"/> pulses from the start of a full train (G_min up, G_max down).</summary>
    public double Curve(double pulses, PulseDirection direction)
    {
        bool up = direction == PulseDirection.Potentiation;
        double a = up ? AUp : ADown, pm = up ? PulsesUp : PulsesDown, p = Math.Min(Math.Max(pulses, 0), pm);
        double f = -double.ExpM1(-p / a) / -double.ExpM1(-pm / a);
        return up ? WMin + (WMax - WMin) * f : WMax - (WMax - WMin) * f;
    }

    /// <inheritdoc />
    public override Tensor Increment(Tensor w, PulseDirection direction, PulseDeviceParameters devices)
    {
        bool up = direction == PulseDirection.Potentiation;
        double a = up ? AUp : ADown, pm = up ? PulsesUp : PulsesDown;
        double shrink = -double.ExpM1(-1 / a), window = 1 / -double.ExpM1(-pm / a);
        var b = (devices.WMax - devices.WMin).mul_(window);
        var scale = devices.DwMin / DwMin;
        return up
            ? (devices.WMin + b - w).mul_(shrink).mul_(scale)
            : (w - devices.WMax + b).mul_(-shrink).mul_(scale);
    }
}
