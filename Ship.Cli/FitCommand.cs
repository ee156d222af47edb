using System.CommandLine;
using Ship.Characterization.Fitting;
using Ship.Characterization.Measurements;

namespace Ship.Cli;

/// <summary>
/// <c>ship fit FILE</c>: fits the pulse-response measurements in FILE (plus retention and read-noise files when given),
/// writes fit-report.md, fit-parameters.csv, fit and residual figures, and the fitted preset device.json
/// (docs/measured-devices.md). A malformed file exits with 1 and names its row and column; a bad option exits with 2.
/// </summary>
public static class FitCommand
{
    /// <summary>The subcommand, writing to <paramref name="output"/> and <paramref name="error"/>.</summary>
    public static Command Create(TextWriter output, TextWriter error)
    {
        var file = new Argument<string>("FILE") { Description = "Pulse-response CSV: device, cycle, pulse, polarity, conductance (unit in the header, e.g. conductance_uS)." };
        var retention = new Option<string?>("--retention") { Description = "Retention CSV (device, level, time, conductance): adds a fitted power-law drift.", HelpName = "FILE" };
        var readNoise = new Option<string?>("--read-noise") { Description = "Read-noise CSV (device, read, conductance): adds a relative read noise.", HelpName = "FILE" };
        var cycling = new Option<string?>("--cycling") { Description = "Cycling (endurance) CSV (device, cycle, state high/low, conductance): adds a fitted endurance (window narrowing, Weibull lifetime; 2 write pulses per cycle).", HelpName = "FILE" };
        var outDir = new Option<string>("--out") { Description = "Folder for the report, figures and device.json.", DefaultValueFactory = _ => "fit-output", HelpName = "FOLDER" };
        var name = new Option<string?>("--name") { Description = "Name of the fitted preset (default: the file name).", HelpName = "NAME" };
        var unit = new Option<string?>("--unit") { Description = "Conductance unit for columns whose header has none: S, mS, uS or nS.", HelpName = "UNIT" };
        var levels = new Option<int?>("--levels") { Description = "NeuroSim's number of levels (pulses from Gmin to Gmax) when known; fitted otherwise.", HelpName = "N" };
        var cmd = new Command("fit",
            "Fits device models to measurements: soft bounds, NeuroSim and exponential step on the pulse response (95 % intervals, " +
            "selection by held-out cycles, device-to-device spread, cycle noise), power-law drift on retention data; writes the " +
            "report, fit/residual plots and the preset device.json. See docs/measured-devices.md.");
        cmd.Arguments.Add(file);
        foreach (var o in new Option[] { retention, readNoise, cycling, outDir, name, unit, levels }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            ConductanceUnit? u = null;
            if (parse.GetValue(unit) is { } text)
            {
                if (!MeasurementUnits.TryParseConductance(text, out var parsed))
                {
                    error.WriteLine($"ship: fit --unit: expected S, mS, uS or nS, got '{text}'.");
                    error.WriteLine("Try 'ship fit --help' for the options.");
                    return ShipCli.BadUsage;
                }
                u = parsed;
            }
            if (parse.GetValue(levels) is { } l && l < 1)
            {
                error.WriteLine($"ship: fit --levels: expected a whole number >= 1, got {l}.");
                error.WriteLine("Try 'ship fit --help' for the options.");
                return ShipCli.BadUsage;
            }
            try
            {
                var result = DeviceFitRun.Run(new DeviceFitSettings
                {
                    Pulses = parse.GetValue(file)!,
                    Retention = parse.GetValue(retention),
                    ReadNoise = parse.GetValue(readNoise),
                    Cycling = parse.GetValue(cycling),
                    Out = parse.GetValue(outDir) ?? "fit-output",
                    Name = parse.GetValue(name),
                    NeuroSimLevels = parse.GetValue(levels),
                    Read = new MeasurementReadOptions { ConductanceUnit = u },
                });
                var sel = result.Pulses.Selected;
                output.WriteLine($"selected model: {sel.Family.Name} (RMSE {sel.Rmse * 1e6:G4} µS one curve for all devices, held-out {sel.HeldOutRmse * 1e6:G4} µS per device)");
                foreach (var f in result.Pulses.Families.Where(f => !ReferenceEquals(f, sel)))
                    output.WriteLine($"  {f.Family.Name}: RMSE {f.Rmse * 1e6:G4} µS, held-out {f.HeldOutRmse * 1e6:G4} µS");
                if (result.Endurance is { } en)
                    output.WriteLine($"endurance: window halves after {en.HalfWindowCycles.Value:G4} cycles (β = {en.Sharpness.Value:G3}); {en.Failed} of {en.Devices} devices stuck" +
                        (en.LifetimeCycles is { } eta ? $", Weibull lifetime η = {eta.Value:G4} cycles, k = {en.WeibullShape!.Value:G3}" : ""));
                if (result.Drift is { } d) output.WriteLine($"drift: ν = {d.NuMean.Value:G4} ± {d.NuSigma.Value:G4} over {d.Series.Count} series");
                output.WriteLine($"{result.Files.Count} files in {Path.GetFullPath(parse.GetValue(outDir) ?? "fit-output")} (fit-report.md, device.json)");
                return ShipCli.Ok;
            }
            catch (Exception e) when (e is Ship.Core.Errors.ShipException or IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"ship: fit: {e.Message}");
                return ShipCli.Failed;
            }
        });
        return cmd;
    }
}
