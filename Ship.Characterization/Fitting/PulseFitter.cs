using Ship.Characterization.Measurements;
using Ship.Devices.Memristive;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Characterization.Fitting;

/// <summary>A fitted parameter with its confidence interval, in reported units.</summary>
/// <param name="Name">Parameter name.</param>
/// <param name="Unit">Unit.</param>
/// <param name="Value">Estimate.</param>
/// <param name="Lower">Lower confidence limit.</param>
/// <param name="Upper">Upper confidence limit.</param>
public sealed record FittedParameter(string Name, string Unit, double Value, double Lower, double Upper)
{
    /// <summary>Whether <paramref name="v"/> lies inside the interval.</summary>
    public bool Covers(double v) => v >= Lower && v <= Upper;
}

/// <summary>Options of <see cref="PulseFitter.FitAll"/>.</summary>
public sealed record PulseFitOptions
{
    /// <summary>Families to compare (default: soft bounds, NeuroSim, exponential step).</summary>
    public IReadOnlyList<PulseModelFamily>? Families { get; init; }
    /// <summary>Confidence level of the intervals (0.95).</summary>
    public double Level { get; init; } = 0.95;
    /// <summary>
    /// Model selection: the first family (in list order) whose held-out RMSE is within this fraction of the best one
    /// wins (0.02), so a family that adds nothing over an earlier one does not win by noise.
    /// </summary>
    public double SelectionTolerance { get; init; } = 0.02;
    /// <summary>Fit every device on its own to estimate device-to-device spread (true).</summary>
    public bool PerDevice { get; init; } = true;
}

/// <summary>One family fitted to a set of trains: parameters with intervals, goodness of fit, held-out error.</summary>
public sealed class PulseFamilyFit
{
    internal PulseFamilyFit(PulseModelFamily family, LeastSquaresResult fit, double yScale, double level, double heldOutRmse)
    {
        Family = family;
        Fit = fit;
        YScale = yScale;
        HeldOutRmse = heldOutRmse;
        var ps = new List<FittedParameter>();
        for (int i = 0; i < family.Parameters.Count; i++)
        {
            var spec = family.Parameters[i];
            var (lo, hi) = fit.Interval(i, level);
            double a = spec.Report(lo, yScale), b = spec.Report(hi, yScale);
            ps.Add(new FittedParameter(spec.Name, spec.Unit, spec.Report(fit.Theta[i], yScale), Math.Min(a, b), Math.Max(a, b)));
        }
        Parameters = ps;
    }

    /// <summary>The family.</summary>
    public PulseModelFamily Family { get; }
    /// <summary>The least-squares result (internal units).</summary>
    public LeastSquaresResult Fit { get; }
    /// <summary>Data scale: internal conductances are siemens / YScale.</summary>
    public double YScale { get; }
    /// <summary>Parameters in reported units with confidence intervals.</summary>
    public IReadOnlyList<FittedParameter> Parameters { get; }
    /// <summary>Parameter values by name.</summary>
    public IReadOnlyDictionary<string, double> Values => Parameters.ToDictionary(p => p.Name, p => p.Value);
    /// <summary>RMS residual on the fitted data (S).</summary>
    public double Rmse => Fit.Rmse * YScale;
    /// <summary>R² on the fitted data.</summary>
    public double RSquared => Fit.RSquared;
    /// <summary>RMS error on held-out cycles (S), NaN when none were held out.</summary>
    public double HeldOutRmse { get; }
    /// <summary>Bayesian information criterion n·ln(RSS/n) + k·ln n (internal units).</summary>
    public double Bic => Fit.Count * Math.Log(Fit.Rss / Fit.Count) + Fit.Theta.Length * Math.Log(Fit.Count);

    /// <summary>Model curve (S) at the pulse numbers of <paramref name="train"/>.</summary>
    public double[] Predict(PulseTrain train) =>
        Family.Curve(Fit.Theta, Scaled(train, YScale)).Select(v => v * YScale).ToArray();

    internal static PulseTrain Scaled(PulseTrain t, double yScale) => t with { Conductances = t.Conductances.Select(v => v / yScale).ToArray() };
}

/// <summary>The full pulse-response fit of a data set: every family, the selected one, device spread, cycle noise, the device model.</summary>
public sealed class PulseFitReport
{
    internal PulseFitReport(string source, IReadOnlyList<PulseFamilyFit> families, PulseFamilyFit selected, string rule,
        IReadOnlyList<(string Device, PulseFamilyFit Fit)> perDevice, IReadOnlyList<string> problems,
        double dwMinSpread, double wMinSpread, double wMaxSpread, double cycleNoise, PulseResponse response)
    {
        Source = source;
        Families = families;
        Selected = selected;
        SelectionRule = rule;
        PerDevice = perDevice;
        Problems = problems;
        DwMinSpread = dwMinSpread;
        WMinSpread = wMinSpread;
        WMaxSpread = wMaxSpread;
        CycleNoise = cycleNoise;
        Response = response;
    }

    /// <summary>Where the data came from.</summary>
    public string Source { get; }
    /// <summary>Every family fitted to all devices and cycles together.</summary>
    public IReadOnlyList<PulseFamilyFit> Families { get; }
    /// <summary>The family chosen by held-out error.</summary>
    public PulseFamilyFit Selected { get; }
    /// <summary>How the selection was made, in words.</summary>
    public string SelectionRule { get; }
    /// <summary>The selected family fitted to each device on its own.</summary>
    public IReadOnlyList<(string Device, PulseFamilyFit Fit)> PerDevice { get; }
    /// <summary>Devices whose own fit failed, with the reason.</summary>
    public IReadOnlyList<string> Problems { get; }
    /// <summary>Device-to-device spread of dw_min (relative σ over per-device fits).</summary>
    public double DwMinSpread { get; }
    /// <summary>Device-to-device spread of w_min (relative to its distance from the reference).</summary>
    public double WMinSpread { get; }
    /// <summary>Device-to-device spread of w_max (relative to its distance from the reference).</summary>
    public double WMaxSpread { get; }
    /// <summary>Cycle-to-cycle noise: σ of the relative step error Δ_measured/Δ_model − 1 (robust, from the median absolute deviation).</summary>
    public double CycleNoise { get; }
    /// <summary>The fitted device: the selected family with the spreads and the cycle noise.</summary>
    public PulseResponse Response { get; }

    /// <summary>Range the up trains cover (S): mean of their first reads to mean of their last reads, from the selected fit's curves.</summary>
    public (double Lo, double Hi) PerDeviceOrPooledUpRange()
    {
        var ups = Trains.Where(t => t.Polarity == PulseDirection.Potentiation).ToArray();
        if (ups.Length == 0) return (Response.WMin, Response.WMax);
        var curves = ups.Select(Selected.Predict).ToArray();
        return (curves.Average(c => c[0]), curves.Average(c => c[^1]));
    }

    /// <summary>The trains that were fitted.</summary>
    public IReadOnlyList<PulseTrain> Trains { get; init; } = Array.Empty<PulseTrain>();
}

/// <summary>
/// Fits pulse-response measurements: every family on all data (parameters with confidence intervals, RMSE, R²), model
/// selection by RMS error on held-out cycles (the last quarter of the cycles, at least one, not used in that fit; BIC
/// when the data have a single cycle), the selected family per device for the device-to-device spread, and the
/// cycle-to-cycle noise from the step residuals. Conductances in siemens throughout.
/// </summary>
public static class PulseFitter
{
    /// <summary>Fits one family to <paramref name="trains"/> (siemens).</summary>
    public static PulseFamilyFit Fit(PulseModelFamily family, IReadOnlyList<PulseTrain> trains, double level = 0.95, IReadOnlyList<PulseTrain>? heldOut = null, string? what = null)
    {
        FitOptionChecks.Level("PulseFitter.Fit", level);
        ArgumentNullException.ThrowIfNull(family);
        if (trains.Count == 0) throw new FitException(what ?? family.Name, "no trains to fit");
        double yScale = trains.Max(t => t.Conductances.Max(Math.Abs));
        if (!(yScale > 0)) throw new FitException(what ?? family.Name, "all conductances are zero");
        var scaled = trains.Select(t => PulseFamilyFit.Scaled(t, yScale)).ToArray();
        var observed = scaled.SelectMany(t => t.Conductances).ToArray();
        var fit = LeastSquares.Fit(what ?? family.Name, th => family.Predict(th, scaled), observed, family.Start(scaled));
        double held = double.NaN;
        if (heldOut is { Count: > 0 })
        {
            var hs = heldOut.Select(t => PulseFamilyFit.Scaled(t, yScale)).ToArray();
            var pred = family.Predict(fit.Theta, hs);
            var obs = hs.SelectMany(t => t.Conductances).ToArray();
            held = Math.Sqrt(obs.Select((v, i) => (v - pred[i]) * (v - pred[i])).Average()) * yScale;
        }
        return new PulseFamilyFit(family, fit, yScale, level, held);
    }

    /// <summary>The whole analysis of a data set (see the class summary).</summary>
    public static PulseFitReport FitAll(PulseMeasurements data, PulseFitOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var o = options ?? new PulseFitOptions();
        FitOptionChecks.Level(nameof(PulseFitOptions), o.Level);
        FitOptionChecks.NonNegative(nameof(PulseFitOptions), nameof(o.SelectionTolerance), o.SelectionTolerance, "fraction of the best held-out RMSE");
        var families = o.Families ?? PulseModelFamily.All();
        var trains = data.Trains();
        var cycles = data.Cycles;
        int hold = cycles.Count >= 2 ? Math.Max(1, cycles.Count / 4) : 0;
        var heldCycles = cycles.Skip(cycles.Count - hold).ToHashSet();
        var fits = new List<PulseFamilyFit>();
        var selectionFits = new List<PulseFamilyFit>();
        var devices = data.Devices;
        foreach (var f in families)
        {
            if (hold > 0)
            {
                var pooled = Fit(f, trains.Where(t => !heldCycles.Contains(t.Cycle)).ToArray(), o.Level,
                    trains.Where(t => heldCycles.Contains(t.Cycle)).ToArray(), $"{f.Name} on {data.Source} (selection)");
                selectionFits.Add(new PulseFamilyFit(f, pooled.Fit, pooled.YScale, o.Level, HeldOutPerDevice(f, data, heldCycles, pooled, o.Level)));
            }
            fits.Add(Fit(f, trains, o.Level, null, $"{f.Name} on {data.Source}"));
        }
        int chosen;
        string rule;
        if (hold > 0)
        {
            double best = selectionFits.Min(f => f.HeldOutRmse);
            chosen = selectionFits.FindIndex(f => f.HeldOutRmse <= best * (1 + o.SelectionTolerance));
            rule = $"held-out RMSE on cycle(s) {string.Join(", ", heldCycles.Order())}, each device fitted on its other {cycles.Count - hold} cycle(s) " +
                $"(device-to-device spread does not count as model error); the first family within {o.SelectionTolerance:P0} of the best wins";
            fits = fits.Select((f, i) => new PulseFamilyFit(f.Family, f.Fit, f.YScale, o.Level, selectionFits[i].HeldOutRmse)).ToList();
        }
        else
        {
            chosen = fits.Select((f, i) => (f.Bic, i)).Min().i;
            rule = "a single cycle: no cycle to hold out, lowest BIC";
        }
        var selected = fits[chosen];
        var nominal = selected.Family.ToResponse(selected.Values);

        var perDevice = new List<(string, PulseFamilyFit)>();
        var problems = new List<string>();
        if (o.PerDevice && devices.Count >= 2)
            foreach (var d in devices)
            {
                try { perDevice.Add((d, Fit(selected.Family, data.Trains(d), o.Level, null, $"{selected.Family.Name} on device '{d}'"))); }
                catch (Ship.Core.Errors.ShipException e) { problems.Add($"device '{d}': {e.Message}"); }
            }
        double dwSpread = 0, wMinSpread = 0, wMaxSpread = 0;
        var responses = new List<PulseResponse>();
        var ownTrains = new List<(PulseResponse, IReadOnlyList<PulseTrain>)>();
        foreach (var (d, f) in perDevice)
        {
            try
            {
                responses.Add(f.Family.ToResponse(f.Values));
                ownTrains.Add((responses[^1], data.Trains(d)));
            }
            catch (Ship.Core.Errors.ShipException e) { problems.Add($"device '{d}': {e.Message}"); }
        }
        if (responses.Count >= 2)
        {
            dwSpread = Sd(responses.Select(r => r.DwMin / nominal.DwMin));
            wMaxSpread = Sd(responses.Select(r => (r.WMax - nominal.Reference) / (nominal.WMax - nominal.Reference)));
            wMinSpread = Sd(responses.Select(r => (nominal.Reference - r.WMin) / (nominal.Reference - nominal.WMin)));
        }
        // Each device's steps against its own model when per-device fits exist, so device spread is not counted as cycle noise.
        double c2c = ownTrains.Count >= 2 ? CycleNoiseOf(ownTrains) : CycleNoiseOf(new[] { (nominal, (IReadOnlyList<PulseTrain>)trains) });
        var response = selected.Family.ToResponse(selected.Values, dwSpread, wMinSpread, wMaxSpread, c2c);
        return new PulseFitReport(data.Source, fits, selected, rule, perDevice, problems, dwSpread, wMinSpread, wMaxSpread, c2c, response) { Trains = trains };
    }

    // RMS error on the held-out cycles when each device is fitted on its own training cycles; a device whose own fit
    // fails is scored with the pooled fit instead.
    private static double HeldOutPerDevice(PulseModelFamily f, PulseMeasurements data, HashSet<int> held, PulseFamilyFit pooled, double level)
    {
        double sse = 0;
        int n = 0;
        foreach (var d in data.Devices)
        {
            var mine = data.Trains(d);
            var train = mine.Where(t => !held.Contains(t.Cycle)).ToArray();
            var test = mine.Where(t => held.Contains(t.Cycle)).ToArray();
            if (test.Length == 0) continue;
            PulseFamilyFit model = pooled;
            if (train.Length > 0 && data.Devices.Count > 1)
                try { model = Fit(f, train, level, null, $"{f.Name} on device '{d}' (selection)"); }
                catch (Ship.Core.Errors.ShipException) { model = pooled; }
            foreach (var t in test)
            {
                var pred = model.Predict(t);
                for (int i = 0; i < pred.Length; i++) { sse += (t.Conductances[i] - pred[i]) * (t.Conductances[i] - pred[i]); n++; }
            }
        }
        return Math.Sqrt(sse / Math.Max(1, n));
    }

    private static double Sd(IEnumerable<double> v)
    {
        var a = v.ToArray();
        double m = a.Average();
        return Math.Sqrt(a.Sum(x => (x - m) * (x - m)) / (a.Length - 1));
    }

    /// <summary>
    /// σ of the relative step error Δ_measured/Δ_model(G_measured) − 1 (each train against its device's model) over single-pulse steps whose model step is at
    /// least a tenth of the largest, estimated as 1.4826·MAD (robust to the few steps near saturation). Read noise in
    /// the data adds to it (√2·σ_read/Δ per step).
    /// </summary>
    public static double CycleNoiseOf(IEnumerable<(PulseResponse Response, IReadOnlyList<PulseTrain> Trains)> models)
    {
        var ratios = new List<double>();
        using var scope = torch.NewDisposeScope();
        foreach (var (response, trains) in models)
        foreach (var t in trains)
        {
            using var nominal = response.NominalDevices(new long[] { 1 });
            var steps = new List<(double G, double D)>();
            for (int i = 0; i + 1 < t.Pulses.Length; i++)
                if (t.Pulses[i + 1] - t.Pulses[i] == 1) steps.Add((t.Conductances[i], t.Conductances[i + 1] - t.Conductances[i]));
            if (steps.Count == 0) continue;
            var g = torch.tensor(steps.Select(s => s.G).ToArray(), ScalarType.Float64);
            var model = response.Increment(g, t.Polarity, nominal).data<double>().ToArray();
            double maxStep = model.Max(Math.Abs);
            for (int i = 0; i < steps.Count; i++)
                if (Math.Abs(model[i]) >= 0.1 * maxStep && maxStep > 0) ratios.Add(steps[i].D / model[i] - 1);
        }
        if (ratios.Count < 2) return 0;
        double med = Median(ratios);
        return 1.4826 * Median(ratios.Select(r => Math.Abs(r - med)).ToList());
    }

    private static double Median(IList<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }
}
