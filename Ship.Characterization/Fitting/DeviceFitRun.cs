using System.Globalization;
using System.Text;
using Ship.Characterization.Measurements;
using Ship.Core.IO;

namespace Ship.Characterization.Fitting;

/// <summary>Inputs of <see cref="DeviceFitRun.Run"/>.</summary>
public sealed record DeviceFitSettings
{
    /// <summary>Pulse-response CSV (required).</summary>
    public required string Pulses { get; init; }
    /// <summary>Retention CSV (optional): adds a fitted power-law drift.</summary>
    public string? Retention { get; init; }
    /// <summary>Read-noise CSV (optional): adds a relative read noise.</summary>
    public string? ReadNoise { get; init; }
    /// <summary>Cycling (endurance) CSV (optional): adds a fitted endurance.</summary>
    public string? Cycling { get; init; }
    /// <summary>Write pulses per cycle of the cycling data (2: one SET and one RESET pulse).</summary>
    public double PulsesPerCycle { get; init; } = 2;
    /// <summary>Folder for the report, figures and preset.</summary>
    public string Out { get; init; } = "fit-output";
    /// <summary>Name of the preset (default: the pulse file's name).</summary>
    public string? Name { get; init; }
    /// <summary>NeuroSim's number of levels (P_max) when known; null fits it.</summary>
    public int? NeuroSimLevels { get; init; }
    /// <summary>Units for columns whose header has none.</summary>
    public MeasurementReadOptions Read { get; init; } = new();
}

/// <summary>What <see cref="DeviceFitRun.Run"/> produced.</summary>
/// <param name="Pulses">The pulse fit.</param>
/// <param name="Drift">The drift fit, if retention data were given.</param>
/// <param name="Device">The fitted preset.</param>
/// <param name="Files">Every file written.</param>
/// <param name="Endurance">The endurance fit, if cycling data were given.</param>
public sealed record DeviceFitResult(PulseFitReport Pulses, PowerLawDriftReport? Drift, FittedDevice Device, IReadOnlyList<string> Files, EnduranceReport? Endurance = null);

/// <summary>
/// The whole <c>ship fit</c> job: read the measurements, fit every pulse family and select one, fit drift and read noise
/// when given, and write fit-report.md, fit-parameters.csv, the fit and residual figures, and the preset device.json.
/// </summary>
public static class DeviceFitRun
{
    /// <summary>Runs the job (see the class summary).</summary>
    public static DeviceFitResult Run(DeviceFitSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var pulses = MeasurementReader.ReadPulses(s.Pulses, s.Read);
        var retention = s.Retention is null ? null : MeasurementReader.ReadRetention(s.Retention, s.Read);
        var noise = s.ReadNoise is null ? null : MeasurementReader.ReadReadNoise(s.ReadNoise, s.Read);
        var report = PulseFitter.FitAll(pulses, new PulseFitOptions { Families = PulseModelFamily.All(s.NeuroSimLevels) });
        var drift = retention is null ? null : DriftFitter.FitPowerLaw(retention);
        var endurance = s.Cycling is null ? null : EnduranceFitter.Fit(MeasurementReader.ReadCycling(s.Cycling, s.Read));
        string name = s.Name ?? Path.GetFileNameWithoutExtension(s.Pulses);
        var device = FittedDevice.From(name, report, drift, noise, s.NeuroSimLevels, endurance, s.PulsesPerCycle);

        Directory.CreateDirectory(s.Out);
        var files = new List<string>();
        var (f1, f2) = FitPlots.PulseFit(s.Out, report);
        files.AddRange(new[] { f1.Png, f1.Svg, f1.Csv, f2.Png, f2.Svg, f2.Csv });
        if (drift is not null)
        {
            var (d1, d2) = FitPlots.DriftFit(s.Out, drift);
            files.AddRange(new[] { d1.Png, d1.Svg, d1.Csv, d2.Png, d2.Svg, d2.Csv });
        }
        if (endurance is not null)
        {
            var e = FitPlots.EnduranceFit(s.Out, endurance);
            files.AddRange(new[] { e.Png, e.Svg, e.Csv });
        }
        string paramsCsv = Path.Combine(s.Out, "fit-parameters.csv");
        var rows = new List<object[]>();
        foreach (var f in report.Families)
            foreach (var p in f.Parameters)
                rows.Add(new object[] { "pulses", f.Family.Name, "all devices", p.Name, p.Unit, p.Value, p.Lower, p.Upper });
        foreach (var (dev, f) in report.PerDevice)
            foreach (var p in f.Parameters)
                rows.Add(new object[] { "pulses", f.Family.Name, dev, p.Name, p.Unit, p.Value, p.Lower, p.Upper });
        if (drift is not null)
        {
            rows.Add(new object[] { "drift", "power-law", "all devices", "nu_mean", "", drift.NuMean.Value, drift.NuMean.Lower, drift.NuMean.Upper });
            rows.Add(new object[] { "drift", "power-law", "all devices", "nu_sigma", "", drift.NuSigma.Value, drift.NuSigma.Lower, drift.NuSigma.Upper });
            foreach (var sf in drift.Series)
                rows.Add(new object[] { "drift", "power-law", $"{sf.Device} @ {sf.Level.ToString("R", CultureInfo.InvariantCulture)} S", "nu", "", sf.Nu.Value, sf.Nu.Lower, sf.Nu.Upper });
        }
        if (endurance is not null)
            foreach (var p in new[] { endurance.Window0, endurance.HalfWindowCycles, endurance.Sharpness, endurance.CollapsePoint, endurance.LifetimeCycles, endurance.WeibullShape, endurance.StuckHighFraction })
                if (p is not null) rows.Add(new object[] { "cycling", "endurance", "all devices", p.Name, p.Unit, p.Value, p.Lower, p.Upper });
        CsvTable.Write(paramsCsv, new[] { "measurement", "model", "devices", "parameter", "unit", "value", "lower_95", "upper_95" }, rows);
        files.Add(paramsCsv);
        string json = Path.Combine(s.Out, "device.json");
        device.Save(json);
        files.Add(json);
        string md = Path.Combine(s.Out, "fit-report.md");
        File.WriteAllText(md, Markdown(report, drift, device, endurance));
        files.Add(md);
        return new DeviceFitResult(report, drift, device, files, endurance);
    }

    private static string F(double v) => v.ToString("G5", CultureInfo.InvariantCulture);

    /// <summary>The report as Markdown.</summary>
    public static string Markdown(PulseFitReport report, PowerLawDriftReport? drift, FittedDevice device, EnduranceReport? endurance = null)
    {
        var b = new StringBuilder();
        b.AppendLine($"# Device fit of {report.Source}").AppendLine();
        b.AppendLine("## Pulse response: model selection").AppendLine();
        b.AppendLine($"Rule: {report.SelectionRule}.").AppendLine();
        b.AppendLine("| model | parameters | RMSE, one curve for all devices (µS) | R² | held-out RMSE, per device (µS) | selected |").AppendLine("|---|---|---|---|---|---|");
        foreach (var f in report.Families)
            b.AppendLine($"| {f.Family.Name} | {f.Parameters.Count} | {F(f.Rmse * 1e6)} | {f.RSquared:F5} | {(double.IsNaN(f.HeldOutRmse) ? "–" : F(f.HeldOutRmse * 1e6))} | {(ReferenceEquals(f, report.Selected) ? "**yes**" : "")} |");
        b.AppendLine().AppendLine($"## {report.Selected.Family.Name}: parameters (all devices, 95 % intervals)").AppendLine();
        b.AppendLine("| parameter | value | 95 % interval | unit |").AppendLine("|---|---|---|---|");
        foreach (var p in report.Selected.Parameters) b.AppendLine($"| {p.Name} | {F(p.Value)} | [{F(p.Lower)}, {F(p.Upper)}] | {p.Unit} |");
        if (report.Selected.Family is NeuroSimFamily)
        {
            var v = report.Selected.Values;
            double pu = v.TryGetValue("p_max_up", out var a) ? a : device.NeuroSimLevels ?? double.NaN;
            double pd = v.TryGetValue("p_max_down", out var c) ? c : device.NeuroSimLevels ?? double.NaN;
            b.AppendLine().AppendLine($"NeuroSim labels: NL⁺ = {F(NeuroSimNonlinearity.Label(v["a_up"] / pu))}, NL⁻ = {F(NeuroSimNonlinearity.Label(v["a_down"] / pd))}.");
        }
        b.AppendLine().AppendLine("## Variability").AppendLine();
        b.AppendLine($"- devices fitted one by one: {report.PerDevice.Count}{(report.Problems.Count > 0 ? $" ({report.Problems.Count} failed: {string.Join("; ", report.Problems)})" : "")}");
        b.AppendLine($"- device-to-device spread: dw_min {report.DwMinSpread:P2}, w_min {report.WMinSpread:P2}, w_max {report.WMaxSpread:P2} (relative σ)");
        b.AppendLine($"- cycle-to-cycle noise of a step: {report.CycleNoise:P2} (relative σ, from step residuals)");
        if (drift is not null)
        {
            b.AppendLine().AppendLine("## Drift (power law)").AppendLine();
            b.AppendLine($"G(t) = G0·(t/t0)^(−ν), clock {drift.Options.Clock}, t0 = {F(drift.Options.T0)} s, {drift.Series.Count} series.").AppendLine();
            b.AppendLine($"- ν mean {F(drift.NuMean.Value)} [{F(drift.NuMean.Lower)}, {F(drift.NuMean.Upper)}]");
            b.AppendLine($"- ν σ over devices {F(drift.NuSigma.Value)} [{F(drift.NuSigma.Lower)}, {F(drift.NuSigma.Upper)}] (fit error per series {F(drift.NuFitError)}; the preset draws σν = {F(drift.ToDrift().NuSigma)})");
            foreach (var (level, nu, n) in drift.NuByLevel) b.AppendLine($"- level {F(level * 1e6)} µS: mean ν {F(nu)} over {n}");
        }
        if (endurance is not null)
        {
            b.AppendLine().AppendLine("## Endurance (cycling)").AppendLine();
            b.AppendLine($"Window W(n) = W0 / (1 + (n/N½)^β) closing towards G_min + c·W0; lifetime Weibull (η, k); {endurance.Devices} devices, {endurance.Failed} seen stuck (window below 5 % of its first value).").AppendLine();
            foreach (var p in new[] { endurance.Window0, endurance.HalfWindowCycles, endurance.Sharpness, endurance.CollapsePoint, endurance.LifetimeCycles, endurance.WeibullShape, endurance.StuckHighFraction })
                if (p is not null) b.AppendLine($"- {p.Name} {F(p.Value)} [{F(p.Lower)}, {F(p.Upper)}] {p.Unit}");
            b.AppendLine($"- RMS residual of the window fit {F(endurance.NarrowingRmse * 1e6)} µS");
        }
        b.AppendLine().AppendLine("## Preset").AppendLine();
        b.AppendLine($"`device.json`: {device.Family} device on [{F(device.GminS * 1e6)}, {F(device.GmaxS * 1e6)}] µS" +
            $"{(device.Drift is null ? "" : ", with drift")}{(device.Endurance is null ? "" : ", with endurance")}{(device.ReadNoiseRelative is { } r ? $", read noise {r:P2}" : "")}. " +
            "Load it with `FittedDevice.Load(\"device.json\").ToArray()` and attach it to a synapse (docs/measured-devices.md).");
        return b.ToString();
    }
}
