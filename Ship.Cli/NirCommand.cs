using System.CommandLine;
using System.Globalization;
using Ship.Core.Persistence;
using Ship.Nir;

namespace Ship.Cli;

/// <summary>
/// <c>ship nir export CHECKPOINT FILE</c> writes a saved network as a NIR graph; <c>ship nir import FILE --dt S --out
/// CHECKPOINT</c> builds a network from a NIR graph at the given time step and saves it as a checkpoint (docs/nir.md).
/// </summary>
public static class NirCommand
{
    /// <summary>The <c>nir</c> command with its two subcommands, writing to <paramref name="output"/> and <paramref name="error"/>.</summary>
    public static Command Create(TextWriter output, TextWriter error)
    {
        var nir = new Command("nir", "Exchange networks with other simulators and neuromorphic hardware through NIR files (docs/nir.md).");

        var checkpoint = new Argument<string>("CHECKPOINT") { Description = "A saved network (checkpoint folder, docs/persistence.md)." };
        var file = new Argument<string>("FILE") { Description = "The NIR file to write." };
        var noMeta = new Option<bool>("--no-checkpoint") { Description = "Do not embed the Ship.NET checkpoint in the graph metadata (smaller file; a re-import then uses the NIR nodes only)." };
        var export = new Command("export", "Writes a saved network as a NIR graph (dt and the checkpoint go into the graph metadata).");
        export.Arguments.Add(checkpoint);
        export.Arguments.Add(file);
        export.Options.Add(noMeta);
        export.SetAction(p => Guard(error, "export", () =>
        {
            var net = new NetworkCheckpoint(new ModelRegistry()).Load(p.GetValue(checkpoint)!);
            NirGraph.Write(net, p.GetValue(file)!, embedCheckpoint: !p.GetValue(noMeta));
            output.WriteLine($"wrote {Path.GetFullPath(p.GetValue(file)!)}: {net.Groups.Count} groups, dt = {net.Dt.ToString("R", CultureInfo.InvariantCulture)} s");
        }));
        nir.Subcommands.Add(export);

        var input = new Argument<string>("FILE") { Description = "The NIR file to read." };
        var dt = new Option<double?>("--dt") { Description = "Time step in seconds (required: a NIR graph stores no time step).", HelpName = "SECONDS", Required = true };
        var outDir = new Option<string?>("--out") { Description = "Checkpoint folder to write.", HelpName = "CHECKPOINT", Required = true };
        var nodesOnly = new Option<bool>("--nodes-only") { Description = "Ignore a Ship.NET checkpoint in the metadata and build from the NIR nodes." };
        var import = new Command("import", "Builds a network from a NIR graph at --dt and saves it as a checkpoint.");
        import.Arguments.Add(input);
        import.Options.Add(dt);
        import.Options.Add(outDir);
        import.Options.Add(nodesOnly);
        import.SetAction(p =>
        {
            double step = p.GetValue(dt) ?? double.NaN;
            string? folder = p.GetValue(outDir);
            if (!(step > 0) || double.IsInfinity(step))
            {
                error.WriteLine($"ship: nir import: --dt must be a positive number of seconds, got {step.ToString("R", CultureInfo.InvariantCulture)}.");
                return ShipCli.BadUsage;
            }
            try { folder = ShipCli.OutFolder("--out", folder); }
            catch (UsageException e)
            {
                error.WriteLine($"ship: nir import: {e.Message}");
                return ShipCli.BadUsage;
            }
            return Guard(error, "import", () =>
            {
                var net = NirGraph.Read(p.GetValue(input)!, step, new NirImportOptions { UseShipMetadata = !p.GetValue(nodesOnly) });
                net.Initialize();
                new NetworkCheckpoint(new ModelRegistry()).Save(net, folder!);
                output.WriteLine($"wrote {Path.GetFullPath(folder)}: {net.Groups.Count} groups ({string.Join(", ", net.Groups.Select(g => $"{g.Tag}: {g.GetType().Name}"))})");
            });
        });
        nir.Subcommands.Add(import);
        return nir;
    }

    private static int Guard(TextWriter error, string what, Action action)
    {
        try
        {
            action();
            return ShipCli.Ok;
        }
        catch (Exception e) when (e is Ship.Core.Errors.ShipException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"ship: nir {what}: {e.Message}");
            return ShipCli.Failed;
        }
    }
}
