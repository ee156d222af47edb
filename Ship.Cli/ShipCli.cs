using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Spectre.Console;
using TorchSharp;

namespace Ship.Cli;

/// <summary>
/// The <c>ship</c> command line. With no arguments it runs the full hardware-aware study on the embedded digits and writes
/// ./ship-output; <c>ship compare</c> runs the hardware-aware vs plain check over training seeds (whole, or one shard of
/// them with <c>--shard i/n</c>), and <c>ship merge</c> combines the shards. Bad options print a
/// message naming the option and exit with code 2; a failure during the run exits with 1.
/// </summary>
public static class ShipCli
{
    /// <summary>Exit code of a successful run.</summary>
    public const int Ok = 0;
    /// <summary>Exit code of a run that failed while working.</summary>
    public const int Failed = 1;
    /// <summary>Exit code of a bad command line.</summary>
    public const int BadUsage = 2;

    /// <summary>Runs the command line on the process console.</summary>
    public static int Run(string[] args) => Run(args, Console.Out, Console.Error, live: null);

    /// <summary>
    /// Runs the command line writing to <paramref name="output"/> and <paramref name="error"/>; <paramref name="live"/> forces
    /// (true) or forbids (false) the live progress display, null decides from the terminal (live only on an interactive
    /// console whose output is not redirected).
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, bool? live)
    {
        ArgumentNullException.ThrowIfNull(args);
        var o = new CliOptions();
        var root = new RootCommand(
            "Ship.NET: hardware-aware study of a spiking network. With no options: train a two-layer LIF network on the embedded " +
            "8x8 digits, evaluate it as memristive hardware under quantization and drift, and write plots, CSVs, the trained " +
            "network and summary.md to ./ship-output.");
        o.AddStudyOptions(root);
        root.Options.Add(o.Chips);
        root.Options.Add(o.ChipMismatchOption);
        root.Options.Add(o.Shard);
        root.SetAction(parse => Execute(parse, o, output, error, live, compare: false));

        var compare = new Command("compare",
            "Hardware-aware vs plain training, each over several training seeds, evaluated on hardware with few conductance " +
            "levels (device variability on); prints mean ± std and whether the margin exceeds the seed spread, and writes compare.csv.");
        o.AddStudyOptions(compare);
        compare.Options.Add(o.Shard);
        compare.SetAction(parse => Execute(parse, o, output, error, live, compare: true));
        root.Subcommands.Add(compare);

        var folders = new Argument<string[]>("FOLDER")
        {
            Description = "Folders holding the shards' compare-shard-i-of-n.csv/.json or chips-shard-i-of-n.csv/.json files (the --out of each shard; several when the shards wrote to different folders).",
            Arity = ArgumentArity.OneOrMore,
        };
        var mergeOut = new Option<string?>("--out") { Description = "Where to write the merged results (default: the first FOLDER).", HelpName = "FOLDER" };
        var merge = new Command("merge",
            "Combines the shards of a sharded 'ship compare --shard i/n' or 'ship --chips N --shard i/n' run into exactly the outputs " +
            "of the unsharded run (compare: compare.csv, the compare-per-seed plot and the printed verdict; chips: chips.csv, " +
            "chips-summary.csv, the chips-histogram plot and chips.md), after checking that all n shards are present once, " +
            "were run with the same settings and cover every point (training seed, chip) exactly once. See docs/sweeps.md.");
        merge.Arguments.Add(folders);
        merge.Options.Add(mergeOut);
        merge.SetAction(parse => ExecuteMerge(parse.GetValue(folders) ?? Array.Empty<string>(), parse.GetValue(mergeOut), output, error, live, CommandLine(parse)));
        root.Subcommands.Add(merge);
        root.Subcommands.Add(FitCommand.Create(output, error));
        root.Subcommands.Add(NirCommand.Create(output, error));

        // Hardware ledger (issue #14): energy table of a saved study.
        var energyFolder = new Argument<string>("FOLDER") { Description = "A study's output folder: settings.json, model.safetensors (and model-hw.safetensors if present).", Arity = ArgumentArity.ExactlyOne };
        var energy = new Command("energy",
            "Prints energy and operations per inference of the networks saved in FOLDER on its test set: NeuroBench metrics, the digital " +
            "references (Horowitz 45 nm, keras-spiking's devices) and every device preset of the study on a 1T1R crossbar. See docs/energy.md.");
        energy.Arguments.Add(energyFolder);
        energy.SetAction(parse => ExecuteEnergy(parse.GetValue(energyFolder)!, output, error));
        root.Subcommands.Add(energy);

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) error.WriteLine($"ship: {Readable(e.Message)}");
            error.WriteLine("Try 'ship --help' for the options.");
            return BadUsage;
        }
        if (!parsed.Tokens.Any(t => t.Value is "--help" or "-h" or "-?" or "--version"))
        {
            // The first touch of TorchSharp: where its natives cannot load, one line with the cause instead of a long trace.
            try { Ship.Core.Native.TorchSharpLoad.EnsureLoaded(); }
            catch (Ship.Core.Errors.TorchSharpLoadException e)
            {
                error.WriteLine($"ship: {e.Message}");
                return Failed;
            }
        }
        return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
    }

    /// <summary>
    /// A parser message as a person reads it: "Cannot parse argument 'abc' for option '--hidden' as expected type
    /// 'System.Nullable`1[System.Int32]'" becomes "--hidden: 'abc' is not a whole number"; other messages pass unchanged.
    /// </summary>
    public static string Readable(string message)
    {
        var m = System.Text.RegularExpressions.Regex.Match(message, @"^Cannot parse argument '(.*)' for option '(.*)' as expected type '(.*)'\.?$");
        if (!m.Success) return message;
        string type = m.Groups[3].Value;
        string expected = type.Contains("Int32") || type.Contains("Int64") ? "a whole number"
            : type.Contains("Double") || type.Contains("Single") ? "a number (e.g. 0.005 or 1e-3)"
            : type.Contains("Boolean") ? "true or false"
            : "a valid value";
        return $"{m.Groups[2].Value}: '{m.Groups[1].Value}' is not {expected}.";
    }

    /// <summary>
    /// Checks that <paramref name="path"/> can be an output folder: neither it nor any folder above it may be an existing
    /// file (creating it would fail later with a message that does not name the option).
    /// </summary>
    internal static string OutFolder(string option, string? path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{option} needs a folder name.");
        string full;
        try { full = Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UsageException($"{option}: '{path}' is not a usable folder path ({e.Message}).");
        }
        for (var p = full; !string.IsNullOrEmpty(p); p = Path.GetDirectoryName(p))
            if (File.Exists(p))
                throw new UsageException(p == full
                    ? $"{option}: '{path}' is a file; give a folder (it is created if missing)."
                    : $"{option}: '{path}' cannot be a folder because '{p}' is a file.");
        return path;
    }

    private static int Execute(ParseResult parse, CliOptions o, TextWriter output, TextWriter error, bool? live, bool compare)
    {
        StudySettings settings;
        Ship.Training.Sweeps.ShardSpec? shard = null;
        try
        {
            settings = o.Settings(parse, compare);
            shard = o.ShardOf(parse);
            if (!compare && shard is not null && settings.Chips == 0)
                throw new UsageException("--shard cuts the chip study: give --chips N too (or shard 'ship compare').");
        }
        catch (UsageException e)
        {
            error.WriteLine($"ship: {e.Message}");
            error.WriteLine("Try 'ship --help' for the options.");
            return BadUsage;
        }
        var reporter = MakeReporter(output, live);
        try
        {
            var commandLine = CommandLine(parse);
            if (compare) return HardwareComparison.Run(settings, reporter, o.CompareLevels(parse), shard, commandLine);
            if (shard is not null) return ChipStudy.RunShard(settings, reporter, shard, commandLine);
            var result = new Study(settings, reporter, commandLine).Run();
            reporter.Heading("Done");
            reporter.Info($"test accuracy {Study.Pct(result.Plain.TestAccuracy)} (plain, ideal weights)" +
                (result.HardwareAware is { } h ? $"; hardware-aware {Study.Pct(h.TestAccuracy)} (its ideal weights; it is trained for {settings.HwLevels}-level devices, not for them)" : ""));
            if (Study.FewLevelsLine(result, settings) is { } few) reporter.Info(few);
            reporter.Info($"whole study {result.Seconds:F1} s; {result.Files.Count} files in {Path.GetFullPath(settings.Out)} (see summary.md)");
            return Ok;
        }
        catch (Exception e) when (e is Ship.Core.Errors.ShipException or IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            error.WriteLine($"ship: {e.Message}");
            return Failed;
        }
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            // libtorch errors carry a C++ stack after the first line; the first line is the message a person can act on.
            error.WriteLine($"ship: torch failed: {e.Message.Split('\n')[0]}");
            return Failed;
        }
    }

    private static int ExecuteEnergy(string folder, TextWriter output, TextWriter error)
    {
        try
        {
            output.Write(EnergyStudy.Print(folder));
            return Ok;
        }
        catch (Exception e) when (e is Ship.Core.Errors.ShipException or IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException or System.Text.Json.JsonException)
        {
            error.WriteLine($"ship: {e.Message}");
            return Failed;
        }
    }

    /// <summary>The command line as typed (program name first), for provenance.json.</summary>
    private static IReadOnlyList<string> CommandLine(ParseResult parse) => new[] { "ship" }.Concat(parse.Tokens.Select(t => t.Value)).ToArray();

    private static int ExecuteMerge(string[] folders, string? outDir, TextWriter output, TextWriter error, bool? live, IReadOnlyList<string> commandLine)
    {
        try
        {
            if (outDir is not null) OutFolder("merge --out", outDir);
        }
        catch (UsageException e)
        {
            error.WriteLine($"ship: {e.Message}");
            error.WriteLine("Try 'ship merge --help' for the options.");
            return BadUsage;
        }
        try
        {
            return MergeSweeps(folders, outDir ?? folders[0], MakeReporter(output, live), commandLine);
        }
        catch (Ship.Training.Sweeps.ShardException e)
        {
            // The folders given do not hold one complete, consistent sharded run: a usage problem, fixed by rerunning shards.
            error.WriteLine($"ship: merge: {e.Message}");
            error.WriteLine("Try 'ship merge --help'; docs/sweeps.md explains the checks.");
            return BadUsage;
        }
        catch (Exception e) when (e is Ship.Core.Errors.ShipException or IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            error.WriteLine($"ship: merge: {e.Message}");
            return Failed;
        }
    }

    /// <summary>
    /// Merges every sharded sweep found in <paramref name="folders"/> (compare, chips; both when both are there): each is
    /// checked and merged by its own command's merge, which writes what its unsharded run writes.
    /// </summary>
    internal static int MergeSweeps(IReadOnlyList<string> folders, string outDir, Reporter report, IReadOnlyList<string>? commandLine)
    {
        var sweeps = folders.SelectMany(Ship.Training.Sweeps.SweepShards.FindManifests)
            .Select(f => Path.GetFileName(f)[..Path.GetFileName(f).IndexOf("-shard-", StringComparison.Ordinal)])
            .Distinct().OrderBy(n => n, StringComparer.Ordinal).ToArray();
        if (sweeps.Length == 0)
            throw new Ship.Training.Sweeps.ShardException($"no shards of 'compare' or 'chips' (compare-shard-i-of-n.json, chips-shard-i-of-n.json) found in {string.Join(", ", folders)}.");
        foreach (var sweep in sweeps)
        {
            int code = sweep switch
            {
                HardwareComparison.SweepName => HardwareComparison.Merge(folders, outDir, report, commandLine),
                ChipStudy.SweepName => ChipStudy.Merge(folders, outDir, report, commandLine),
                _ => throw new Ship.Training.Sweeps.ShardException($"'{sweep}' is no sweep this version merges (compare, chips).",
                    folders.SelectMany(Ship.Training.Sweeps.SweepShards.FindManifests).First(f => Path.GetFileName(f).StartsWith(sweep + "-shard-", StringComparison.Ordinal))),
            };
            if (code != Ok) return code;
        }
        return Ok;
    }

    private static Reporter MakeReporter(TextWriter output, bool? live)
    {
        bool isLive = live ?? (ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = isLive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = isLive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = isLive ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!isLive) console.Profile.Width = 240; // log lines stay whole instead of wrapping at 80 columns
        return new Reporter(console, isLive);
    }
}

/// <summary>A command-line value that is well-formed but not usable (reported with exit code 2).</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>The options of the study and compare commands, and their conversion to <see cref="StudySettings"/>.</summary>
internal sealed class CliOptions
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public Option<string?> Dataset { get; } = new("--dataset") { Description = "Data: digits (embedded 8x8 digits, default), idx:FOLDER (MNIST-style IDX files with train-/t10k- parts) or csv:FILE (one sample per row: non-negative features, integer label last).", HelpName = "digits|idx:FOLDER|csv:FILE" };
    public Option<int?> Hidden { get; } = new("--hidden") { Description = "Hidden LIF neurons (default 128; quick 64).", HelpName = "N" };
    public Option<int?> Steps { get; } = new("--steps") { Description = "Simulation steps of 1 ms per sample (default 25; quick 20).", HelpName = "N" };
    public Option<int?> Epochs { get; } = new("--epochs") { Description = "Training epochs (default 30; quick 15).", HelpName = "N" };
    public Option<string?> Presets { get; } = new("--device-preset") { Description = "Device preset(s) for the drift study and device plots: rram (SHIP's HfO2 RRAM drift), pcm (aihwkit-like PCM: power-law drift, programming and read noise), ideal, or a fitted device file (device.json from 'ship fit'); comma-separated (default rram,pcm).", HelpName = "rram|pcm|ideal|FILE.json[,...]" };
    public Option<string?> Levels { get; } = new("--levels") { Description = "Conductance level counts for accuracy vs levels, each >= 2 (default 2,4,8,16,32,64; quick 2,4,16).", HelpName = "2,4,8,..." };
    public Option<string?> Times { get; } = new("--times") { Description = "Elapsed times since programming in seconds for accuracy vs time (default 1,3.16,10,...,1e4 log-spaced; quick 1,100,1e4).", HelpName = "1,10,...,1e4" };
    public Option<int?> Seeds { get; } = new("--seeds") { Description = "Seeds per hardware setting: device seeds in the study (default 5; quick 2), training seeds in compare (default 5).", HelpName = "N" };
    public Option<string?> Device { get; } = new("--device") { Description = "Torch device: cpu (default) or cuda (needs a CUDA build of TorchSharp).", HelpName = "cpu|cuda" };
    public Option<string?> Out { get; } = new("--out") { Description = "Output folder (default ./ship-output; compare: ./ship-compare).", HelpName = "FOLDER" };
    public Option<bool> Nir { get; } = new("--nir") { Description = "Also write the trained networks as NIR graphs (model.nir, model-hw.nir) for other simulators and neuromorphic hardware (docs/nir.md)." };
    public Option<bool> Quick { get; } = new("--quick") { Description = "Short setting for CI (< 60 s): 64 hidden, 20 steps, 15 epochs of batch 64, levels 2,4,16, times 1,100,1e4, 2 seeds; other options still override." };
    public Option<string?> Encoding { get; } = new("--encoding") { Description = "Input coding: rate (Bernoulli spikes, redrawn every epoch; default) or latency (time to first spike).", HelpName = "rate|latency" };
    public Option<int?> HwLevels { get; } = new("--hw-levels") { Description = "Levels seen by hardware-aware training (default 4; 0 = train only the plain network). In compare: the levels of the comparison.", HelpName = "N" };
    public Option<double?> MaxRate { get; } = new("--max-rate") { Description = "Rate coding: spike rate of a full-intensity input in Hz (default 1000 = 1/dt: a full-intensity input fires every step).", HelpName = "HZ" };
    public Option<double?> LearningRate { get; } = new("--lr") { Description = "Adam learning rate, cosine-annealed over the epochs (default 0.005).", HelpName = "RATE" };
    public Option<int?> BatchSize { get; } = new("--batch-size") { Description = "Training batch size (default 32; quick 64).", HelpName = "N" };
    public Option<int?> Threads { get; } = new("--threads") { Description = "Torch CPU threads (default 1; the most any run may use: runs below the engine's work threshold use 1 whatever is set, larger ones use these; raise it for large data sets).", HelpName = "N" };
    public Option<bool> Crossbar { get; } = new("--crossbar") { Description = "Also evaluate the plain network on crossbar tiles (128 x 128 1T1R, 1-100 uS pairs): accuracy vs ADC bits (2,3,4,5,6,8) and vs line resistance (0-50 ohm per segment, approximate IR drop); adds about 10 s (docs/models/crossbar.md)." };
    public Option<long?> Seed { get; } = new("--seed") { Description = "Seed of the split, initial weights, batch order and encoding (default 1; compare trains with seeds 1..--seeds on this split).", HelpName = "N" };

    public Option<string?> Shard { get; } = new("--shard") { Description = "Run only shard i of n of the sweep (1 <= i <= n): compare's training seeds (seed k goes to shard ((k - 1) mod n) + 1) or, with --chips, the study's chips (chip k goes to shard ((k - 1) mod n) + 1; the shard trains, evaluates its chips and writes nothing else); writes <sweep>-shard-i-of-n.csv/.json into --out; combine the shards with 'ship merge'. For Slurm job arrays: --shard ${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT} (docs/sweeps.md).", HelpName = "i/n" };
    public Option<int?> Chips { get; } = new("--chips") { Description = "Also evaluate each trained network on N chip instances (chip k = seed k: one draw of every device-to-device variation on --hw-levels-level devices and of the neuron parameter mismatch): histogram, mean ± σ (chips.csv, chips-summary.csv, chips-histogram). Off when not given.", HelpName = "N" };
    public Option<double?> ChipMismatchOption { get; } = new("--chip-mismatch") { Description = "Relative σ of a chip's neuron parameter mismatch (hidden τ and threshold, output τ; log-normal, fixed per chip); default 0.1 (Rockpool's 30 % at 3σ); 0 = devices only.", HelpName = "SIGMA" };

    public Ship.Training.Sweeps.ShardSpec? ShardOf(ParseResult p)
    {
        if (p.GetValue(Shard) is not { } text) return null;
        try { return Ship.Training.Sweeps.ShardSpec.Parse(text); }
        catch (Ship.Training.Sweeps.ShardException e) { throw new UsageException($"--shard: {e.Message}"); }
    }

    public void AddStudyOptions(Command c)
    {
        foreach (var opt in new Option[] { Dataset, Hidden, Steps, Epochs, Presets, Levels, Times, Seeds, Device, Out, Quick, Encoding, HwLevels, MaxRate, LearningRate, BatchSize, Threads, Seed, Nir, Crossbar })
            c.Options.Add(opt);
    }

    public int CompareLevels(ParseResult p) => p.GetValue(HwLevels) is { } n && n >= 2 ? n : 4;

    public StudySettings Settings(ParseResult p, bool compare)
    {
        var s = p.GetValue(Quick) ? StudySettings.QuickDefaults : new StudySettings();
        if (compare) s = s with { Out = "ship-compare" };
        if (p.GetValue(Dataset) is { } d) s = s with { Dataset = ParseDataset(d) };
        if (p.GetValue(Hidden) is { } h) s = s with { Hidden = Positive("--hidden", h, 100000) };
        if (p.GetValue(Steps) is { } st) s = s with { Steps = Positive("--steps", st, 100000) };
        if (p.GetValue(Epochs) is { } e) s = s with { Epochs = Positive("--epochs", e, 100000) };
        if (p.GetValue(Presets) is { } pr) s = s with { Presets = ParsePresets(pr) };
        if (p.GetValue(Levels) is { } lv) s = s with { Levels = ParseLevels(lv) };
        if (p.GetValue(Times) is { } tm) s = s with { Times = ParseTimes(tm) };
        if (p.GetValue(Seeds) is { } sd) s = s with { Seeds = Positive("--seeds", sd, 1000) };
        if (p.GetValue(Device) is { } dv) s = s with { Device = ParseDevice(dv) };
        if (p.GetValue(Out) is { } o) s = s with { Out = o };
        ShipCli.OutFolder("--out", s.Out);
        if (p.GetValue(Encoding) is { } enc)
            s = s with { Encoding = enc is "rate" or "latency" ? enc : throw new UsageException($"--encoding must be rate or latency, got '{enc}'.") };
        if (p.GetValue(HwLevels) is { } hl)
        {
            if (hl != 0 && hl < 2) throw new UsageException($"--hw-levels must be 0 (off) or at least 2, got {hl}.");
            if (compare && hl == 0) throw new UsageException("compare needs --hw-levels >= 2.");
            s = s with { HwLevels = hl };
        }
        if (p.GetValue(MaxRate) is { } mr)
            s = s with { MaxRate = mr > 0 && double.IsFinite(mr) ? mr : throw new UsageException($"--max-rate must be a positive rate in Hz, got {mr.ToString(Inv)}.") };
        if (p.GetValue(LearningRate) is { } lr)
            s = s with { LearningRate = lr > 0 && double.IsFinite(lr) ? lr : throw new UsageException($"--lr must be a positive number, got {lr.ToString(Inv)}.") };
        if (p.GetValue(BatchSize) is { } bs) s = s with { BatchSize = Positive("--batch-size", bs, 100000) };
        if (p.GetValue(Threads) is { } th) s = s with { Threads = Positive("--threads", th, 1024) };
        if (p.GetValue(Nir)) s = s with { Nir = true };
        if (p.GetValue(Crossbar)) s = s with { Crossbar = true };
        // An option the command would ignore is refused: a sweep that silently drops it looks like it ran.
        if (compare && p.GetValue(Chips) is not null) throw new UsageException("--chips belongs to the hardware study, not to compare (compare sweeps devices, not chips).");
        if (compare && p.GetValue(ChipMismatchOption) is not null) throw new UsageException("--chip-mismatch belongs to the hardware study's --chips, not to compare.");
        if (!compare && p.GetValue(ChipMismatchOption) is not null && p.GetValue(Chips) is null)
            throw new UsageException("--chip-mismatch needs --chips N (the mismatch is drawn per chip).");
        if (!compare && p.GetValue(Chips) is { } chips)
        {
            s = s with { Chips = chips >= 1 && chips <= 100000 ? chips : throw new UsageException($"--chips must be between 1 and 100000, got {chips}.") };
        }
        if (!compare && p.GetValue(ChipMismatchOption) is { } cm)
        {
            s = s with { ChipMismatch = cm >= 0 && cm <= 1 && double.IsFinite(cm) ? cm : throw new UsageException($"--chip-mismatch must be a relative σ from 0 to 1, got {cm.ToString(Inv)}.") };
        }
        if (p.GetValue(Seed) is { } seed) s = s with { Seed = seed >= 0 ? seed : throw new UsageException($"--seed must be >= 0, got {seed}.") };
        if (s.Encoding == "rate" && s.MaxRate * s.Dt > 1) throw new UsageException($"--max-rate: the rate coding needs max-rate × dt <= 1 (at most {1 / s.Dt:g4} Hz), got {s.MaxRate.ToString(Inv)} Hz.");
        return s;
    }

    private static int Positive(string name, int v, int max) =>
        v >= 1 && v <= max ? v : throw new UsageException($"{name} must be between 1 and {max}, got {v}.");

    private static DatasetSpec ParseDataset(string d)
    {
        if (d == "digits") return DatasetSpec.Digits;
        int colon = d.IndexOf(':');
        string kind = colon > 0 ? d[..colon] : d, path = colon > 0 ? d[(colon + 1)..] : "";
        switch (kind)
        {
            case "idx":
                if (path.Length == 0 || !Directory.Exists(path)) throw new UsageException($"--dataset idx:FOLDER needs an existing folder, got '{path}'.");
                return new DatasetSpec("idx", path);
            case "csv":
                if (path.Length == 0 || !File.Exists(path)) throw new UsageException($"--dataset csv:FILE needs an existing file, got '{path}'.");
                return new DatasetSpec("csv", path);
            default:
                throw new UsageException($"--dataset must be digits, idx:FOLDER or csv:FILE, got '{d}'.");
        }
    }

    private static IReadOnlyList<string> ParsePresets(string text)
    {
        var list = Split(text, "--device-preset");
        foreach (var x in list)
        {
            // A fitted device file (ship fit's device.json) is a preset too.
            if (Study.FittedPresetFile(x))
            {
                if (!File.Exists(x)) throw new UsageException($"--device-preset: fitted device file '{x}' does not exist (ship fit writes device.json).");
                continue;
            }
            if (!Study.KnownPresets.Contains(x)) throw new UsageException($"--device-preset: unknown preset '{x}'; choose from {string.Join(", ", Study.KnownPresets)} or give a fitted device.json.");
        }
        return list.Distinct().ToArray();
    }

    private static IReadOnlyList<int> ParseLevels(string text) => Split(text, "--levels").Select(x =>
        int.TryParse(x, NumberStyles.Integer, Inv, out var n) && n >= 2 && n <= 65536 ? n
            : throw new UsageException($"--levels: '{x}' is not a level count (an integer from 2 to 65536).")).Distinct().OrderBy(n => n).ToArray();

    private static IReadOnlyList<double> ParseTimes(string text) => Split(text, "--times").Select(x =>
        double.TryParse(x, NumberStyles.Float, Inv, out var t) && t > 0 && double.IsFinite(t) ? t
            : throw new UsageException($"--times: '{x}' is not a time in seconds > 0 (e.g. 1, 10, 1e4).")).Distinct().OrderBy(t => t).ToArray();

    private static string ParseDevice(string d)
    {
        if (d == "cpu") return d;
        if (d != "cuda") throw new UsageException($"--device must be cpu or cuda, got '{d}'.");
        // TorchSharp loads its CUDA backend only on request; with a CPU-only libtorch the request throws or finds no device.
        try { torch.InitializeDeviceType(DeviceType.CUDA); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new UsageException($"--device cuda: CUDA could not be initialized ({e.Message.Split('\n')[0]}); this build uses TorchSharp-cpu unless run against a CUDA libtorch (docs/gpu.md).");
        }
        if (!torch.cuda.is_available()) throw new UsageException("--device cuda: CUDA is not available (this build uses TorchSharp-cpu unless run against a CUDA libtorch, see docs/gpu.md; or no GPU was found).");
        return d;
    }

    private static List<string> Split(string text, string name)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
        if (parts.Count == 0) throw new UsageException($"{name} needs at least one value.");
        return parts;
    }
}
