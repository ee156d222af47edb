using Ship.Characterization.Measurements;
using Ship.Devices.Memristive;

namespace Ship.Characterization.Fitting;

/// <summary>How an internal fit parameter θ maps to the reported one (monotone, so confidence limits map end to end).</summary>
public enum ParameterScale
{
    /// <summary>A conductance: θ in units of the data scale, reported in siemens.</summary>
    Conductance,
    /// <summary>A positive quantity fitted as its logarithm: reported as e^θ (A, P_max, rates).</summary>
    Log,
    /// <summary>A positive conductance-like quantity fitted as its logarithm in data units: reported as e^θ·scale (S).</summary>
    LogConductance,
    /// <summary>An inverse conductance fitted as its logarithm in data units: reported as e^θ/scale (1/S).</summary>
    LogInverseConductance,
}

/// <summary>One parameter of a pulse-response family: name, unit and scale.</summary>
/// <param name="Name">Parameter name.</param>
/// <param name="Unit">Unit as printed (S, pulses, 1/S, 1/pulse).</param>
/// <param name="Scale">Internal-to-reported mapping.</param>
public sealed record ParameterSpec(string Name, string Unit, ParameterScale Scale)
{
    internal double Report(double theta, double yScale) => Scale switch
    {
        ParameterScale.Conductance => theta * yScale,
        ParameterScale.Log => Math.Exp(theta),
        ParameterScale.LogConductance => Math.Exp(theta) * yScale,
        _ => Math.Exp(theta) / yScale,
    };
}

/// <summary>
/// A family of pulse-response curves fitted to trains of identical pulses, up and down together: the curve of a train
/// as a function of the pulse number, from a start value shared by all trains of the same direction. Each family can
/// turn its fitted parameters into the library's <see cref="PulseResponse"/> so the fit becomes a device.
/// </summary>
public abstract class PulseModelFamily
{
    /// <summary>Short name used in reports and on the command line.</summary>
    public abstract string Name { get; }
    /// <summary>Parameters in fit order.</summary>
    public abstract IReadOnlyList<ParameterSpec> Parameters { get; }
    internal abstract double[] Start(IReadOnlyList<PulseTrain> trains);
    internal abstract double[] Curve(double[] theta, PulseTrain train);
    /// <summary>The device model with the reported parameters <paramref name="p"/> (by name, S and pulses) and the given spreads.</summary>
    public abstract PulseResponse ToResponse(IReadOnlyDictionary<string, double> p, double dwMinSpread = 0, double wMinSpread = 0, double wMaxSpread = 0, double cycleNoise = 0);

    internal double[] Predict(double[] theta, IReadOnlyList<PulseTrain> trains)
    {
        var all = new List<double>();
        foreach (var t in trains) all.AddRange(Curve(theta, t));
        return all.ToArray();
    }

    /// <summary>The three families: soft bounds, NeuroSim (P_max fitted unless <paramref name="neuroSimLevels"/> is given) and exponential step.</summary>
    public static IReadOnlyList<PulseModelFamily> All(int? neuroSimLevels = null) =>
        new PulseModelFamily[] { new SoftBoundsFamily(), new NeuroSimFamily(neuroSimLevels), new ExponentialStepFamily() };

    internal static (double Start, double End, int Length) Summary(IReadOnlyList<PulseTrain> trains, PulseDirection d)
    {
        var ts = trains.Where(t => t.Polarity == d).ToArray();
        if (ts.Length == 0) return (double.NaN, double.NaN, 0);
        return (ts.Average(t => t.Conductances[0]), ts.Average(t => t.Conductances[^1]), (int)ts.Max(t => t.Pulses[^1] - t.Pulses[0]) + 1);
    }
}

/// <summary>
/// Soft bounds (aihwkit SoftBoundsDevice): each up pulse closes a fixed fraction of the gap to w_max, each down pulse a
/// fixed fraction of the gap to w_min, so a train is w(p) = w_b − (w_b − w_0)·e^(−k·p): exponential saturation that never
/// reaches the bound. Parameters: start⁺, w_max, k⁺, start⁻, w_min, k⁻. As a device: with α = 1 − e^(−k⁺),
/// β = 1 − e^(−k⁻), the reference r = (α·w_max + β·w_min)/(α + β) and dw_min = α·(w_max − r).
/// </summary>
public sealed class SoftBoundsFamily : PulseModelFamily
{
    private static readonly ParameterSpec[] Specs =
    {
        new("start_up", "S", ParameterScale.Conductance), new("w_max", "S", ParameterScale.Conductance), new("k_up", "1/pulse", ParameterScale.Log),
        new("start_down", "S", ParameterScale.Conductance), new("w_min", "S", ParameterScale.Conductance), new("k_down", "1/pulse", ParameterScale.Log),
    };

    /// <inheritdoc />
    public override string Name => "soft-bounds";
    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters => Specs;

    internal override double[] Start(IReadOnlyList<PulseTrain> trains)
    {
        var up = Summary(trains, PulseDirection.Potentiation);
        var down = Summary(trains, PulseDirection.Depression);
        double hi = trains.Max(t => t.Conductances.Max()), lo = trains.Min(t => t.Conductances.Min()), range = Math.Max(hi - lo, 1e-9);
        return new[]
        {
            double.IsNaN(up.Start) ? lo : up.Start, hi + 0.05 * range, Math.Log(3.0 / Math.Max(up.Length, 3)),
            double.IsNaN(down.Start) ? hi : down.Start, lo - 0.05 * range, Math.Log(3.0 / Math.Max(down.Length, 3)),
        };
    }

    internal override double[] Curve(double[] th, PulseTrain t)
    {
        bool up = t.Polarity == PulseDirection.Potentiation;
        double s = up ? th[0] : th[3], b = up ? th[1] : th[4], k = Math.Exp(up ? th[2] : th[5]);
        return t.Pulses.Select(p => b - (b - s) * Math.Exp(-k * p)).ToArray();
    }

    /// <inheritdoc />
    public override PulseResponse ToResponse(IReadOnlyDictionary<string, double> p, double dwMinSpread = 0, double wMinSpread = 0, double wMaxSpread = 0, double cycleNoise = 0)
    {
        double alpha = -double.ExpM1(-p["k_up"]), beta = -double.ExpM1(-p["k_down"]);
        double r = (alpha * p["w_max"] + beta * p["w_min"]) / (alpha + beta);
        return new SoftBoundsPulses(alpha * (p["w_max"] - r), p["w_min"], p["w_max"], r, dwMinSpread, wMinSpread, wMaxSpread, cycleNoise);
    }
}

/// <summary>
/// NeuroSim's nonlinear update (see <see cref="NeuroSimPulses"/>): up trains start at G_min and follow
/// G_min + B⁺·(1 − e^(−p/A⁺)) up to G_max at p = P_max⁺, then stay there; down trains mirror it from G_max.
/// Parameters: G_min, G_max, A⁺, P_max⁺, A⁻, P_max⁻ (P_max fixed when the number of levels is given).
/// </summary>
public sealed class NeuroSimFamily : PulseModelFamily
{
    private readonly int? _levels;
    private readonly ParameterSpec[] _specs;

    /// <summary>Creates the family; <paramref name="levels"/> fixes P_max in both directions (NeuroSim's maxNumLevel), null fits it.</summary>
    public NeuroSimFamily(int? levels = null)
    {
        _levels = levels;
        var specs = new List<ParameterSpec> { new("g_min", "S", ParameterScale.Conductance), new("g_max", "S", ParameterScale.Conductance), new("a_up", "pulses", ParameterScale.Log) };
        if (levels is null) specs.Add(new("p_max_up", "pulses", ParameterScale.Log));
        specs.Add(new("a_down", "pulses", ParameterScale.Log));
        if (levels is null) specs.Add(new("p_max_down", "pulses", ParameterScale.Log));
        _specs = specs.ToArray();
    }

    /// <inheritdoc />
    public override string Name => "neurosim";
    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters => _specs;

    internal override double[] Start(IReadOnlyList<PulseTrain> trains)
    {
        var up = Summary(trains, PulseDirection.Potentiation);
        var down = Summary(trains, PulseDirection.Depression);
        double hi = trains.Max(t => t.Conductances.Max()), lo = trains.Min(t => t.Conductances.Min());
        int lu = Math.Max(up.Length, 3), ld = Math.Max(down.Length, 3);
        var s = new List<double> { lo, hi, Math.Log(lu / 3.0) };
        if (_levels is null) s.Add(Math.Log(0.9 * lu));
        s.Add(Math.Log(ld / 3.0));
        if (_levels is null) s.Add(Math.Log(0.9 * ld));
        return s.ToArray();
    }

    internal override double[] Curve(double[] th, PulseTrain t)
    {
        bool up = t.Polarity == PulseDirection.Potentiation;
        double gmin = th[0], gmax = th[1];
        double a, pm;
        if (_levels is { } l) { a = Math.Exp(up ? th[2] : th[3]); pm = l; }
        else { a = Math.Exp(up ? th[2] : th[4]); pm = Math.Exp(up ? th[3] : th[5]); }
        double norm = -double.ExpM1(-pm / a);
        return t.Pulses.Select(p =>
        {
            double f = -double.ExpM1(-Math.Min(p, pm) / a) / norm;
            return up ? gmin + (gmax - gmin) * f : gmax - (gmax - gmin) * f;
        }).ToArray();
    }

    /// <inheritdoc />
    public override PulseResponse ToResponse(IReadOnlyDictionary<string, double> p, double dwMinSpread = 0, double wMinSpread = 0, double wMaxSpread = 0, double cycleNoise = 0) =>
        new NeuroSimPulses(p["g_min"], p["g_max"], p["a_up"], p["a_down"],
            _levels ?? p["p_max_up"], _levels ?? p["p_max_down"], dwMinSpread, wMinSpread, wMaxSpread, cycleNoise);
}

/// <summary>
/// Exponential step (aihwkit ExpStepDevice) in its per-direction form: an up pulse adds d·max(1 − e^(κ⁺·(w − s⁺)), 0),
/// a down pulse removes d·max(1 − e^(−κ⁻·(w − s⁻)), 0): a nearly constant step far from the saturation level s that
/// vanishes there. Parameters: start⁺, start⁻, d, κ⁺, s⁺, κ⁻, s⁻. As a device: w_min = s⁻, w_max = s⁺, r = midpoint,
/// a = 0.5, b = 0, γ = κ·(w_max − w_min), A = e^(−κ·(w_max − w_min)/2).
/// </summary>
public sealed class ExponentialStepFamily : PulseModelFamily
{
    private static readonly ParameterSpec[] Specs =
    {
        new("start_up", "S", ParameterScale.Conductance), new("start_down", "S", ParameterScale.Conductance),
        new("d", "S", ParameterScale.LogConductance),
        new("kappa_up", "1/S", ParameterScale.LogInverseConductance), new("s_up", "S", ParameterScale.Conductance),
        new("kappa_down", "1/S", ParameterScale.LogInverseConductance), new("s_down", "S", ParameterScale.Conductance),
    };

    /// <inheritdoc />
    public override string Name => "exponential-step";
    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters => Specs;

    internal override double[] Start(IReadOnlyList<PulseTrain> trains)
    {
        var up = Summary(trains, PulseDirection.Potentiation);
        var down = Summary(trains, PulseDirection.Depression);
        double hi = trains.Max(t => t.Conductances.Max()), lo = trains.Min(t => t.Conductances.Min()), range = Math.Max(hi - lo, 1e-9);
        int len = Math.Max(Math.Max(up.Length, down.Length), 3);
        return new[]
        {
            double.IsNaN(up.Start) ? lo : up.Start, double.IsNaN(down.Start) ? hi : down.Start,
            Math.Log(2 * range / len), Math.Log(10 / range), hi + 0.02 * range, Math.Log(10 / range), lo - 0.02 * range,
        };
    }

    internal override double[] Curve(double[] th, PulseTrain t)
    {
        bool up = t.Polarity == PulseDirection.Potentiation;
        double w = up ? th[0] : th[1], d = Math.Exp(th[2]);
        double kappa = Math.Exp(up ? th[3] : th[5]), s = up ? th[4] : th[6];
        var result = new double[t.Pulses.Length];
        int p = 0, last = (int)t.Pulses[^1];
        for (int i = 0; i < t.Pulses.Length; i++)
        {
            int target = (int)t.Pulses[i];
            for (; p < target && p <= last; p++)
                w += up ? d * Math.Max(-double.ExpM1(kappa * (w - s)), 0) : -d * Math.Max(-double.ExpM1(-kappa * (w - s)), 0);
            result[i] = w;
        }
        return result;
    }

    /// <inheritdoc />
    public override PulseResponse ToResponse(IReadOnlyDictionary<string, double> p, double dwMinSpread = 0, double wMinSpread = 0, double wMaxSpread = 0, double cycleNoise = 0)
    {
        double wMin = p["s_down"], wMax = p["s_up"], width = wMax - wMin;
        if (!(width > 0)) throw new FitException(Name, $"the fitted saturation levels are not ordered (s_down = {wMin} S >= s_up = {wMax} S)");
        return new ExponentialStepPulses(p["d"], wMin, wMax,
            aUp: Math.Exp(-p["kappa_up"] * width / 2), aDown: Math.Exp(-p["kappa_down"] * width / 2),
            gammaUp: p["kappa_up"] * width, gammaDown: p["kappa_down"] * width, slope: 0.5, offset: 0, reference: 0.5 * (wMin + wMax),
            dwMinSpread: dwMinSpread, wMinSpread: wMinSpread, wMaxSpread: wMaxSpread, cycleNoise: cycleNoise);
    }
}
