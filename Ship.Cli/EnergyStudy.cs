using System.Globalization;
using System.Text;
using Ship.Devices.Energy;
using Ship.Devices.Memristive;
using Ship.Devices.Synapses;
using Ship.Plots;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Cli;

/// <summary>What the hardware ledger counted for one trained network: ideal weights, and programmed on each device preset.</summary>
/// <param name="Label">The network ("plain", "hardware-aware …").</param>
/// <param name="Ideal">Counts with ideal weights (the digital references use these).</param>
/// <param name="Presets">Counts with both weight matrices on device arrays of each preset.</param>
public sealed record NetworkEnergy(string Label, LedgerReport Ideal, IReadOnlyList<(string Preset, LedgerReport Report)> Presets)
{
    /// <summary>Writing the network onto fresh arrays of each physical preset with program-and-verify (empty if not measured).</summary>
    public IReadOnlyList<ProgrammingEnergy> Programming { get; init; } = System.Array.Empty<ProgrammingEnergy>();
}

/// <summary>What program-and-verify cost to write both weight matrices of a network onto fresh arrays of one preset.</summary>
/// <param name="Preset">The device preset.</param>
/// <param name="Devices">Devices written (both arrays, every device of each weight).</param>
/// <param name="Pulses">Programming pulses, all devices.</param>
/// <param name="Energy">Their write energy on <see cref="EnergyStudy.Crossbar"/> (J).</param>
/// <param name="ConvergedFraction">Fraction of devices whose verify read came within the tolerance.</param>
/// <param name="VerifyIterations">Verify iterations of the longer of the two arrays.</param>
/// <param name="Settings">The loop's settings (those of the first array; the tolerance scales with each array's window).</param>
public sealed record ProgrammingEnergy(string Preset, long Devices, double Pulses, double Energy, double ConvergedFraction, int VerifyIterations, ProgramVerifySettings Settings);

/// <summary>
/// The main job's "Energy and operations per inference" (docs/energy.md): runs test samples through a trained network
/// with a <see cref="HardwareLedger"/> attached, ideal and on every device preset, and writes the tables and the plots
/// of energy per inference against the number of levels and against hidden-layer activity.
/// </summary>
public static class EnergyStudy
{
    /// <summary>Most test samples one ledger run uses (one batch).</summary>
    public const int MaxSamples = 256;

    /// <summary>The crossbar model used for every device preset (NeuroSim's default circuit, 1T1R).</summary>
    public static CrossbarEnergyModel Crossbar => EnergyPresets.Crossbar1T1R();

    /// <summary>Counts one forward pass of up to <see cref="MaxSamples"/> samples of <paramref name="spikes"/>, ideal or on arrays of <paramref name="array"/>.</summary>
    public static LedgerReport Measure(StudyModel model, IReadOnlyDictionary<string, Tensor> weights, Tensor spikes, Func<DeviceArray>? array = null)
    {
        int n = (int)Math.Min(spikes.shape[0], MaxSamples);
        var net = model.Build(n, weights);
        if (array is not null)
            foreach (var tag in new[] { StudyModel.InHidden, StudyModel.HiddenOut }) ((WeightedSynapse)net[tag]).WithDevice(array());
        using var ledger = new HardwareLedger($"{model.Settings.Dataset.Kind}");
        net.AddObserver(ledger);
        using (torch.no_grad())
        using (var scope = torch.NewDisposeScope())
            net.Run(spikes.narrow(0, 0, n));
        return ledger.Report();
    }

    /// <summary>A network's counts, ideal and on each preset, and the cost of programming it onto each preset.</summary>
    public static NetworkEnergy Measure(StudyModel model, string label, IReadOnlyDictionary<string, Tensor> weights, Tensor spikes, IEnumerable<string> presets) =>
        new(label, Measure(model, weights, spikes), Physical(presets).Select(p => (p, Measure(model, weights, spikes, () => Study.Preset(p)))).ToArray())
        {
            Programming = Physical(presets).Select(p => Programming(weights, p, model.Settings.Seed)).ToArray(),
        };

    /// <summary>
    /// Writes both weight matrices onto fresh arrays of <paramref name="preset"/> with program-and-verify
    /// (<see cref="ProgramVerifySettings.ForWindow"/>: tolerance 1 % of the window, adaptive bursts, 3 reads averaged,
    /// starting from the erased state) through the study's pulse model of the preset (<see cref="Study.PulseModel"/>), and
    /// charges the pulses with the write formula of <see cref="Crossbar"/> (docs/energy.md). Draws from <paramref name="seed"/>
    /// (the first array) and <paramref name="seed"/> + 1 (the second): independent devices.
    /// </summary>
    public static ProgrammingEnergy Programming(IReadOnlyDictionary<string, Tensor> weights, string preset, long seed)
    {
        ArgumentNullException.ThrowIfNull(weights);
        long devices = 0;
        double pulses = 0, energy = 0, converged = 0;
        int iterations = 0;
        ProgramVerifySettings? first = null;
        var tags = new[] { StudyModel.InHidden, StudyModel.HiddenOut };
        for (int k = 0; k < tags.Length; k++)
        {
            using var probe = Study.Preset(preset);
            using var array = probe.WithPulses(Study.PulseModel(preset, probe));
            var w = weights[tags[k]];
            // Host draws (Draw), tensors on the weights' device; one stream per array: two arrays are two pieces of
            // silicon, whose device spread, cycle noise and verify reads must not repeat each other's.
            var rng = new torch.Generator((ulong)seed + (ulong)k);
            array.Program(w, rng, w.device);
            var settings = ProgramVerifySettings.ForWindow(array.State.Range) with { FromErased = true };
            first ??= settings;
            using var r = array.ProgramAndVerify(settings, rng);
            long n = r.Pulses.numel();
            devices += n;
            pulses += r.Writes.Pulses;
            energy += WriteEnergy.Energy(r.Writes, Crossbar);
            converged += r.ConvergedFraction * n;
            iterations = Math.Max(iterations, r.VerifyReads);
        }
        return new(preset, devices, pulses, energy, devices == 0 ? 0 : converged / devices, iterations, first!);
    }

    /// <summary>The presets whose devices are conductances: "ideal" holds the weights themselves (signed), which no read energy describes.</summary>
    public static IReadOnlyList<string> Physical(IEnumerable<string> presets) => presets.Where(p => p != "ideal").ToArray();

    /// <summary>The markdown tables of one network: NeuroBench metrics, then energy per inference per layer on every platform.</summary>
    public static string Tables(NetworkEnergy e)
    {
        var sb = new StringBuilder();
        var r = e.Ideal;
        sb.AppendLine($"### {e.Label}").AppendLine();
        sb.AppendLine($"{r.Samples} test samples, {r.StepsPerInference:0} steps of emulated time each ({r.EmulatedTimePerInference * 1e3:0.###} ms per inference); hidden activity {Activity(r):0.####} spikes per neuron per step.").AppendLine();
        sb.Append(r.NeuroBenchTable()).AppendLine();
        var crossbars = e.Presets.Select(p => ($"{p.Preset} on {Crossbar.Name}", p.Report, Crossbar)).ToArray();
        sb.Append(r.EnergyTable(EnergyPresets.Digital(), crossbars)).AppendLine();
        if (e.Programming.Count > 0)
        {
            sb.AppendLine($"Writing this network onto fresh arrays with program-and-verify (from the erased state; tolerance 1 % of the window, adaptive bursts of up to {e.Programming[0].Settings.MaxPulsesPerVerify} pulses, {e.Programming[0].Settings.ReadsPerVerify} reads averaged per verify, at most {e.Programming[0].Settings.MaxPulses} pulses per device; the study's pulse model of each preset; write energy V_w²·(G_before + G_after)/2·t_pulse + V_w²·C_line per pulse on {Crossbar.Name}; verify reads not charged). Once per chip, not per inference:").AppendLine();
            sb.AppendLine("| preset | devices | pulses | pulses per device | converged | verify iterations | write energy (J) | per device (J) |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var p in e.Programming)
                sb.AppendLine($"| {p.Preset} | {p.Devices} | {p.Pulses:0} | {G(p.Pulses / Math.Max(1, p.Devices))} | {p.ConvergedFraction * 100:0.##} % | {p.VerifyIterations} | {G(p.Energy)} | {G(p.Energy / Math.Max(1, p.Devices))} |");
            sb.AppendLine();
        }
        foreach (var (preset, rep) in e.Presets)
            if (MeanConductance(rep) is > 0.1 and var g)
                sb.AppendLine($"**Warning:** the {preset} preset reads {g:G3} S per device on average: its conductances look like µS numbers rather than siemens (every conductance API takes S), so its crossbar energies are wrong by that unit's factor.").AppendLine();
        return sb.ToString();
    }

    /// <summary>Hidden-layer spikes per neuron per step (0 when the study network has no hidden group).</summary>
    public static double Activity(LedgerReport r) => r.Neurons.Any(n => n.Tag == StudyModel.Hidden) ? r.Activity(StudyModel.Hidden) : 0;

    /// <summary>Mean conductance of one read device (S): Σ G read over rows read / devices per row read.</summary>
    public static double MeanConductance(LedgerReport r)
    {
        double g = r.Synapses.Sum(s => s.ReadConductance), devices = r.Synapses.Sum(s => s.RowEvents * s.Nt * Math.Max(1, s.DevicesPerWeight));
        return devices == 0 ? 0 : g / devices;
    }

    /// <summary>
    /// Energy per inference (log axis) of the plain network against the number of conductance levels (each preset with
    /// n quantized levels, the digital references flat for comparison).
    /// </summary>
    public static FigureFiles VsLevels(string folder, StudyModel model, IReadOnlyDictionary<string, Tensor> weights, Tensor spikes, NetworkEnergy plain)
    {
        var s = model.Settings;
        var x = s.Levels.Select(n => (double)n).ToArray();
        var series = new List<LineData>();
        foreach (var d in new[] { EnergyPresets.Fp32Cmos45nm(), EnergyPresets.Int8Cmos45nm(), EnergyPresets.KerasLoihi() })
            series.Add(new LineData(d.Name, x, x.Select(_ => plain.Ideal.TotalEnergy(d)).ToArray()));
        foreach (var p in Physical(s.Presets))
            series.Add(new LineData($"{p} crossbar", x, s.Levels.Select(n =>
                Measure(model, weights, spikes, () => Study.Preset(p).With(new QuantizedLevels(n))).TotalEnergy(Crossbar)).ToArray()));
        return EnergyPlots.PerInference(folder, "energy-vs-levels", series, "Conductance levels", logX: true,
            new PlotOptions(Title: "Energy per inference vs levels (plain network)"));
    }

    /// <summary>
    /// Energy per inference (log axis) of the plain network against hidden-layer activity, varied through the input rate
    /// (rate coding: 1/8× to 4× the study's maximum rate, as far as rate × dt ≤ 1; other codings give the study's one point).
    /// </summary>
    public static FigureFiles VsActivity(string folder, StudyModel model, IReadOnlyDictionary<string, Tensor> weights, Tensor intensities)
    {
        var s = model.Settings;
        // Rate coding needs rate × dt ≤ 1: factors above that are left out.
        var factors = s.Encoding == "rate" ? new[] { 0.125, 0.25, 0.5, 1, 2, 4 }.Where(f => s.MaxRate * f * s.Dt <= 1).ToArray() : new[] { 1.0 };
        var x = intensities.narrow(0, 0, Math.Min(intensities.shape[0], MaxSamples)).to(model.TorchDevice);
        var points = factors.Select(f =>
        {
            var spikes = StudyData.Encode(x, s with { MaxRate = s.MaxRate * f }, new torch.Generator((ulong)(s.Seed + 2000), model.TorchDevice));
            var ideal = Measure(model, weights, spikes);
            var dev = Physical(s.Presets).Select(p => Measure(model, weights, spikes, () => Study.Preset(p))).ToArray();
            return (Activity: Activity(ideal), Ideal: ideal, Devices: dev);
        }).OrderBy(p => p.Activity).ToArray();
        var ax = points.Select(p => p.Activity).ToArray();
        var series = new List<LineData>();
        foreach (var d in new[] { EnergyPresets.Fp32Cmos45nm(), EnergyPresets.Int8Cmos45nm(), EnergyPresets.KerasLoihi() })
            series.Add(new LineData(d.Name, ax, points.Select(p => p.Ideal.TotalEnergy(d)).ToArray()));
        var physical = Physical(s.Presets);
        for (int k = 0; k < physical.Count; k++)
            series.Add(new LineData($"{physical[k]} crossbar", ax, points.Select(p => p.Devices[k].TotalEnergy(Crossbar)).ToArray()));
        return EnergyPlots.PerInference(folder, "energy-vs-activity", series, "Hidden-layer activity (spikes per neuron per step)",
            options: new PlotOptions(Title: "Energy per inference vs hidden activity (plain network)"));
    }

    /// <summary>
    /// The tables for the networks a study saved in <paramref name="folder"/> (settings.json, model.safetensors and
    /// model-hw.safetensors if present), counted on the study's test set encoded as the study does.
    /// </summary>
    public static string Print(string folder)
    {
        var settingsPath = Path.Combine(folder, "settings.json");
        var text = Ship.Core.Errors.UserFiles.Open(settingsPath, "the settings.json of a study's output folder (FOLDER must be one: run 'ship' first)", File.ReadAllText);
        var s = System.Text.Json.JsonSerializer.Deserialize<StudySettings>(text)
                ?? throw new InvalidDataException($"'{settingsPath}' holds no settings.");
        using var data = StudyData.Load(s.Dataset, s.TestFraction, s.Seed);
        var model = new StudyModel(s, data.Inputs, data.Classes);
        var spikes = StudyData.Encode(data.Test.Inputs, s, new torch.Generator((ulong)(s.Seed + 1000))).to(model.TorchDevice);
        var sb = new StringBuilder();
        sb.AppendLine("# Energy and operations per inference").AppendLine().AppendLine(Explanation(Physical(s.Presets).Count)).AppendLine();
        foreach (var (file, label) in new[] { ("model.safetensors", "plain"), ("model-hw.safetensors", "hardware-aware") })
        {
            var path = Path.Combine(folder, file);
            if (!File.Exists(path))
            {
                if (label == "plain") throw new FileNotFoundException($"'{path}' not found: FOLDER must hold the study's trained network.", path);
                continue;
            }
            var weights = SafeTensors.Read(path).ToDictionary(p => p.Key.EndsWith(".w", StringComparison.Ordinal) ? p.Key[..^2] : p.Key, p => p.Value.to(model.TorchDevice));
            foreach (var tag in new[] { StudyModel.InHidden, StudyModel.HiddenOut })
                if (!weights.ContainsKey(tag)) throw new InvalidDataException($"'{path}' has no tensor '{tag}.w' (has: {string.Join(", ", weights.Keys)}).");
            sb.Append(Tables(Measure(model, label, weights, spikes, s.Presets)));
        }
        return sb.ToString();
    }

    /// <summary>How the numbers are made, for summary.md.</summary>
    public static string Explanation(int presets) =>
        "Counted by the hardware ledger (docs/energy.md) on one forward pass of the first test samples: NeuroBench's workload " +
        "and static metrics per inference, and energy per inference per layer (synapse + the neuron group it feeds) on the digital " +
        "references (Horowitz 45 nm FP32/INT8, event-driven; keras-spiking's device table, \"dense\" = every synapse every step) " +
        $"and on memristive crossbars ({presets} device preset(s) with NeuroSim's default read pulse, 1T1R; array reads only: converters " +
        "and neuron circuits are parameters left at 0). Crossbar latency is an estimate (one read pulse per layer per step). " +
        "These are estimates from cited per-event energies, not measurements.";

    /// <summary>Formats a number for the command line.</summary>
    internal static string G(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
}
