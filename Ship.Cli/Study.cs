using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Ship.Core.Networks;
using Ship.Devices.Memristive;
using Ship.Plots;
using Ship.Devices.Energy;
using Ship.Training.Hardware;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Cli;

/// <summary>Everything one study run measured, for summary.md and results.json.</summary>
public sealed record StudyResult
{
    /// <summary>The plain (hardware-unaware) network.</summary>
    public required TrainedModel Plain { get; init; }
    /// <summary>The hardware-aware network, when trained.</summary>
    public TrainedModel? HardwareAware { get; init; }
    /// <summary>Accuracy against levels, one sweep per trained network.</summary>
    public required IReadOnlyList<AccuracySweep> Levels { get; init; }
    /// <summary>Accuracy against elapsed time, per preset, without and with compensation.</summary>
    public required IReadOnlyList<AccuracySweep> Drift { get; init; }
    /// <summary>Accuracy on crossbar tiles vs ADC bits and line resistance (with <c>--crossbar</c>), else null.</summary>
    public CrossbarResult? Crossbar { get; init; }
    /// <summary>Files written (relative to the output folder).</summary>
    public required IReadOnlyList<string> Files { get; init; }
    /// <summary>Accuracy of each trained network on every chip instance (with <c>--chips N</c>), else empty.</summary>
    public IReadOnlyList<ChipRow> Chips { get; init; } = Array.Empty<ChipRow>();
    /// <summary>Energy and operations per inference of each trained network (hardware ledger).</summary>
    public IReadOnlyList<NetworkEnergy> Energy { get; init; } = Array.Empty<NetworkEnergy>();
    /// <summary>Wall time of the whole study (s).</summary>
    public double Seconds { get; init; }
}

/// <summary>
/// The hardware-aware study: load and encode the data, train a plain and a hardware-aware spiking network, evaluate
/// both as hardware under quantization (accuracy vs levels, device variability over seeds) and the plain one under drift
/// (accuracy vs elapsed time per device preset, with and without global drift compensation), draw every figure
/// (PNG + SVG + CSV), save the trained networks (safetensors + settings.json) and write summary.md.
/// </summary>
public sealed class Study
{
    private readonly StudySettings _s;
    private readonly Reporter _report;
    private readonly List<string> _files = new();
    private readonly IReadOnlyList<string>? _commandLine;

    /// <summary>Creates a study with its settings and reporter; <paramref name="commandLine"/> goes into provenance.json (default: the process's).</summary>
    public Study(StudySettings settings, Reporter reporter, IReadOnlyList<string>? commandLine = null)
    {
        _s = settings;
        _report = reporter;
        _commandLine = commandLine;
    }

    /// <summary>The device presets known to the study (the library's names, shared with the examples).</summary>
    public static IReadOnlyList<string> KnownPresets => MemristivePresets.Names;

    /// <summary>A new, unprogrammed device array of a preset; an unknown name throws <see cref="UnknownPresetException"/>.</summary>
    public static DeviceArray Preset(string name) =>
        FittedPresetFile(name) ? Ship.Characterization.Fitting.FittedDevice.Load(name).ToArray() : MemristivePresets.ByName(name);

    /// <summary>Whether a preset name is a fitted device file (the device.json that <c>ship fit</c> writes).</summary>
    public static bool FittedPresetFile(string name) => name.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    /// <summary>How a preset is named in labels and file names: a fitted device file by its file name without extension.</summary>
    public static string PresetLabel(string name) => FittedPresetFile(name) ? Path.GetFileNameWithoutExtension(name) : name;

    /// <summary>Runs the study and writes the output folder.</summary>
    public StudyResult Run()
    {
        var clock = Stopwatch.StartNew();
        var s = _s;
        Directory.CreateDirectory(s.Out);
        torch.set_num_threads(s.Threads);
        Ship.Core.IO.Provenance.Write(s.Out, new Dictionary<string, long>
        {
            ["split_weights_order_encoding"] = s.Seed, ["test_encoding"] = s.Seed + 1000,
            ["device_seed_first"] = 1, ["device_seed_last"] = s.Seeds,
        }, s, s.Device, _commandLine);

        _report.Heading("Data");
        using var data = StudyData.Load(s.Dataset, s.TestFraction, s.Seed);
        _report.Info(data.Description);
        var model = new StudyModel(s, data.Inputs, data.Classes);
        var testSpikes = StudyData.Encode(data.Test.Inputs, s, new torch.Generator((ulong)(s.Seed + 1000))).to(model.TorchDevice);
        var testLabels = data.Test.Labels.to(model.TorchDevice);
        _report.Info($"network: {data.Inputs} inputs ({s.Encoding} coding, {s.Steps} steps of {s.Dt * 1e3:g3} ms) → {s.Hidden} LIF → {data.Classes} leaky integrators, max-over-time readout");

        _report.Heading("Training");
        var plain = Train(model, data, testSpikes, "plain", null);
        TrainedModel? hw = null;
        if (s.HwLevels > 0)
            hw = Train(model, data, testSpikes, $"hardware-aware ({s.HwLevels} levels)", HardwareAwareOptions.ForQuantizedLevels(s.HwLevels));

        _report.Heading("Hardware evaluation");
        var seeds = Enumerable.Range(1, s.Seeds).Select(i => (long)i).ToArray();
        var trained = hw is null ? new[] { plain } : new[] { plain, hw };
        var levels = _report.Stage("Accuracy vs levels", trained.Length * s.Levels.Count * seeds.Length, p =>
            trained.Select(m =>
            {
                var ev = Evaluator(model, m, testSpikes, testLabels, p);
                var sweep = ev.Levels(m.Label, s.Levels, seeds, n => MemristivePresets.ShipQuantized(n));
                p.Report($"{m.Label}: " + string.Join(", ", s.Levels.Select((n, i) => $"{n}: {Pct(sweep.Mean[i])}")));
                return sweep;
            }).ToList());
        var drift = _report.Stage("Accuracy vs elapsed time (drift)", s.Presets.Count * 2 * seeds.Length * s.Times.Count, p =>
        {
            var list = new List<AccuracySweep>();
            var ev = Evaluator(model, plain, testSpikes, testLabels, p);
            foreach (var preset in s.Presets)
                foreach (var comp in new CompensationReference?[] { null, CompensationReference.MeanAbsoluteWeight })
                {
                    string label = $"{PresetLabel(preset)}{(comp is null ? "" : ", compensated")}";
                    var sweep = ev.Drift(label, s.Times, seeds, () => Preset(preset), comp);
                    list.Add(sweep);
                    p.Report($"{label}: {Pct(sweep.Mean[0])} at {Seconds(s.Times[0])} s → {Pct(sweep.Mean[^1])} at {Seconds(s.Times[^1])} s");
                }
            return list;
        });

        var chips = s.Chips == 0 ? new List<ChipRow>() : _report.Stage($"Accuracy over {s.Chips} chip instances", s.Chips * trained.Length, p =>
            ChipStudy.Evaluate(model, trained, testSpikes, testLabels, Enumerable.Range(0, s.Chips).ToArray(), p)
                .Select(r => new ChipRow((long)r.Values[0], (string)r.Values[1], (long)r.Values[2], (long)r.Values[3])).ToList());

        var energy = _report.Stage("Energy and operations per inference", trained.Length * (1 + s.Presets.Count), p =>
            trained.Select(m =>
            {
                var e = EnergyStudy.Measure(model, m.Label, m.Weights, testSpikes, s.Presets);
                p.Advance(1 + s.Presets.Count, m.Label);
                p.Report($"{m.Label}: {EnergyStudy.G(e.Ideal.TotalEnergy(EnergyPresets.Fp32Cmos45nm()))} J (FP32 45 nm), " +
                    string.Join(", ", e.Presets.Select(q => $"{EnergyStudy.G(q.Report.TotalEnergy(EnergyStudy.Crossbar))} J ({q.Preset} crossbar)")) + " per inference");
                return e;
            }).ToList());
        CrossbarResult? crossbar = null;
        if (s.Crossbar)
            crossbar = _report.Stage("Crossbar: accuracy vs ADC bits and line resistance", 1 + s.AdcBits.Count + s.LineResistances.Count, p =>
                new CrossbarStudy(model, plain, testSpikes, testLabels).Run(s.AdcBits, s.LineResistances, d => p.Advance(1, d)));

        _report.Heading("Figures and files");
        var plots = _report.Stage("Writing plots", 8 + 2 * s.Presets.Count + (hw is null ? 0 : 1), p =>
        {
            WritePlots(model, data, testSpikes, plain, hw, levels, drift, p);
            Add(EnergyStudy.VsLevels(_s.Out, model, plain.Weights, testSpikes, energy[0]));
            Add(EnergyStudy.VsActivity(_s.Out, model, plain.Weights, data.Test.Inputs));
            p.Advance(2, "energy plots");
            return 0;
        });
        if (crossbar is not null) foreach (var f in CrossbarStudy.Plot(s.Out, crossbar)) Add(f);
        if (chips.Count > 0)
            foreach (var f in ChipStudy.WriteResults(s.Out, chips, ChipStudy.DeviceLevels(s), s.ChipMismatch, _report)) _files.Add(Path.GetFileName(f));
        SaveModel("model", plain, data);
        if (hw is not null) SaveModel("model-hw", hw, data);
        if (s.Nir)
        {
            ExportNir("model", model, plain);
            if (hw is not null) ExportNir("model-hw", model, hw);
        }
        WriteJson("settings.json", s);
        clock.Stop();
        var result = new StudyResult { Plain = plain, HardwareAware = hw, Levels = levels, Drift = drift, Energy = energy, Crossbar = crossbar, Chips = chips, Files = _files, Seconds = clock.Elapsed.TotalSeconds };
        WriteJson("results.json", Summary(result));
        WriteSummary(result, data);
        return result with { Seconds = clock.Elapsed.TotalSeconds };
    }

    private TrainedModel Train(StudyModel model, StudyData data, Tensor testSpikes, string label, HardwareAwareOptions? hw)
    {
        int batches = (int)(data.Train.Count / _s.BatchSize);
        return _report.Stage($"Training {label}", _s.Epochs * batches, p =>
        {
            var m = model.Train(data, testSpikes, label, hw, _s.Seed,
                epochDone: (e, loss, acc) => p.Report($"epoch {e,3}/{_s.Epochs}  loss {loss:F4}  test accuracy {Pct(acc)}"),
                batchDone: (e, b, loss) => p.Advance(1, $"epoch {e + 1}/{_s.Epochs}, loss {loss:F3}"));
            p.Report($"{label}: test accuracy {Pct(m.TestAccuracy)} (ideal weights) after {m.Seconds:F1} s of training");
            return m;
        });
    }

    private HardwareEvaluator Evaluator(StudyModel model, TrainedModel m, Tensor x, Tensor y, IStageProgress p)
    {
        int batch = (int)Math.Min(x.shape[0], 512);
        return new HardwareEvaluator(() => model.Build(batch, m.Weights), model.Readout, x, y) { Progress = d => p.Advance(1, d) };
    }

    private void WritePlots(StudyModel model, StudyData data, Tensor testSpikes, TrainedModel plain, TrainedModel? hw,
        IReadOnlyList<AccuracySweep> levels, IReadOnlyList<AccuracySweep> drift, IStageProgress p)
    {
        var dir = _s.Out;
        Curve("training-curve", plain);
        p.Advance(1, "training curve");
        if (hw is not null)
        {
            Curve("training-curve-hw", hw);
            p.Advance(1, "training curve (hardware-aware)");
        }

        // One test sample through the plain network, with its hidden and output membranes recorded.
        var net = model.Build(1, plain.Weights);
        net.MarkOutput(StudyModel.Hidden);
        var uh = net.Monitor(StudyModel.Hidden, "u");
        var uo = net.Monitor(StudyModel.Output, "u");
        net.Initialize();
        var x = testSpikes.narrow(0, 0, 1);
        var r = net.Run(x);
        Add(SpikePlots.Raster(dir, "spike-raster-input", x.cpu(), r.Times, group: "input"));
        Add(SpikePlots.Raster(dir, "spike-raster-hidden", r, StudyModel.Hidden));
        p.Advance(2, "spike rasters");
        var counts = r[StudyModel.Hidden][0].sum(dim: 0);
        int neuron = (int)counts.argmax().item<long>();
        Add(SpikePlots.MembraneTrace(dir, "membrane-hidden", uh, r[StudyModel.Hidden], neuron: neuron, threshold: _s.Threshold));
        var ou = uo.Values[0].cpu();
        var times = r.Times.Select(t => t * 1e3).ToArray();
        var label = data.Test.Labels[0].item<long>();
        var series = Enumerable.Range(0, model.Classes)
            .Select(c => new LineData(c == label ? $"class {c} (label)" : $"class {c}", times, PlotData.ToDoubles(ou.select(1, c)))).ToList();
        Add(LinePlots.Lines(dir, "membrane-output", series, "Time (ms)", "Output membrane u (a.u.)"));
        p.Advance(2, "membrane traces");

        Add(TrainingPlots.AccuracyVsLevels(dir, "accuracy-vs-levels", levels.Select(Band).ToList()));
        Add(TrainingPlots.AccuracyVsTime(dir, "accuracy-vs-time", drift.Select(Band).ToList()));
        p.Advance(2, "accuracy plots");

        foreach (var preset in _s.Presets)
        {
            DevicePulses(preset);
            p.Advance(1, $"{preset} pulses");
            DeviceDrift(preset);
            p.Advance(1, $"{preset} drift");
        }

        void Curve(string name, TrainedModel m)
        {
            int perEpoch = Math.Max(1, m.BatchLoss.Count / Math.Max(1, _s.Epochs));
            var lx = Enumerable.Range(1, m.BatchLoss.Count).Select(i => (double)i / perEpoch).ToArray();
            var ax = Enumerable.Range(1, m.EpochAccuracy.Count).Select(i => (double)i).ToArray();
            Add(TrainingPlots.Curve(dir, name, m.BatchLoss, m.EpochAccuracy, lx, ax, accuracyTitle: "Test accuracy",
                options: new PlotOptions(Title: $"Training: {m.Label}")));
        }
    }

    private static BandData Band(AccuracySweep s) => new(s.Label, s.X, s.Accuracies);

    /// <summary>
    /// Conductance against pulse number for 100 devices on the preset's window (S; 10 % device-to-device spread, 2 % cycle
    /// noise), plotted in µS (the ideal preset works in weight space: a.u. on [−1, 1]).
    /// </summary>
    private void DevicePulses(string preset)
    {
        using var probe = Preset(preset);
        var (lo, _) = Window(probe);
        var response = PulseModel(preset, probe);
        using var scope = torch.NewDisposeScope();
        var rng = new torch.Generator((ulong)_s.Seed);
        using var devices = new PulsedDevices(response, new long[] { 100 }, rng, initial: lo);
        var up = devices.Apply(120, PulseDirection.Potentiation);
        var down = devices.Apply(120, PulseDirection.Depression);
        // [pulses + 1, devices] → [devices, pulses] without the starting row.
        var pot = up.narrow(0, 1, 120).t();
        var dep = down.narrow(0, 1, 120).t();
        var (scale, unit) = DisplayUnit(preset);
        Add(DevicePlots.PulseResponse(_s.Out, $"device-{PresetLabel(preset)}-pulses", pot, dep, scale: scale, unit: unit,
            options: new PlotOptions(Title: $"{PresetLabel(preset)}: conductance vs pulse number (100 devices, mean ± σ)")));
    }

    /// <summary>
    /// The pulse response the study gives a preset: a fitted device its own measured one; the library presets, which
    /// model drift only, a generic one on their window (S): soft bounds with 60 steps across the window for pcm, a
    /// linear step (γ = 0.6) with 100 steps for the others; 10 % device-to-device spread of the step, 2 % cycle noise
    /// (none for the weight-space ideal preset). An assumption of the study, not a measured device.
    /// </summary>
    public static PulseResponse PulseModel(string preset, DeviceArray probe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        var (lo, hi) = Window(probe);
        bool physical = preset != "ideal";
        return probe.Pulses ?? (preset == "pcm"
            ? new SoftBoundsPulses(dwMin: (hi - lo) / 60, wMin: lo, wMax: hi, reference: (lo + hi) / 2, dwMinSpread: 0.1, wMaxSpread: 0.05, cycleNoise: 0.02)
            : new LinearStepPulses(dwMin: (hi - lo) / 100, wMin: lo, wMax: hi, gammaUp: physical ? 0.6 : 0, gammaDown: physical ? 0.6 : 0,
                reference: (lo + hi) / 2, dwMinSpread: physical ? 0.1 : 0, cycleNoise: physical ? 0.02 : 0));
    }

    /// <summary>The nominal window of a preset's mapping (S for physical presets), [−1, 1] for the weight-space ideal one.</summary>
    internal static (double Lo, double Hi) Window(DeviceArray array) => array.Mapping switch
    {
        DifferentialReferenceMapping d => (d.Range.Gmin, d.Range.Gmax),
        SymmetricDifferentialMapping s => (s.Range.Gmin, s.Range.Gmax),
        _ => (-1.0, 1.0),
    };

    /// <summary>How a preset's conductances are shown: siemens drawn in µS, the ideal preset's weights as they are.</summary>
    private static (double Scale, string Unit) DisplayUnit(string preset) => preset == "ideal" ? (1.0, "a.u.") : (1e6, "µS");

    /// <summary>Distribution of programmed levels as they drift: 6 weight levels × 200 devices of the preset read at the study's times.</summary>
    private void DeviceDrift(string preset)
    {
        using var scope = torch.NewDisposeScope();
        var array = Preset(preset);
        var ctx = new SimulationContext(1, seed: _s.Seed);
        var fractions = new[] { 0.0, 0.2, 0.4, 0.6, 0.8, 1.0 };
        var w = torch.tensor(fractions, ScalarType.Float64).unsqueeze(1).expand(fractions.Length, 200).contiguous();
        array.Program(w, ctx);
        var g = new List<Tensor>();
        foreach (var t in _s.Times)
        {
            array.ElapsedTime = t;
            g.Add(array.ReadConductances(ctx)[0]);
        }
        var all = torch.stack(g, 1); // [levels, times, devices], siemens
        var (scale, unit) = DisplayUnit(preset);
        var labels = fractions.Select((f, i) => preset == "ideal" ? $"w = {f:0.0}" : $"G0 = {all[i, 0].mean().item<double>() * scale:F0} {unit}").ToArray();
        Add(DevicePlots.DriftDistribution(_s.Out, $"device-{PresetLabel(preset)}-drift", all, _s.Times, labels, scale: scale, unit: unit,
            options: new PlotOptions(Title: $"{PresetLabel(preset)}: programmed levels drifting (200 devices each, mean ± σ)")));
        array.Dispose();
    }

    private void SaveModel(string name, TrainedModel m, StudyData data)
    {
        var path = Path.Combine(_s.Out, name + ".safetensors");
        SafeTensors.Write(path, m.Weights.ToDictionary(p => p.Key + ".w", p => p.Value), new Dictionary<string, string>
        {
            ["model"] = m.Label,
            ["inputs"] = data.Inputs.ToString(CultureInfo.InvariantCulture),
            ["hidden"] = _s.Hidden.ToString(CultureInfo.InvariantCulture),
            ["classes"] = data.Classes.ToString(CultureInfo.InvariantCulture),
            ["test_accuracy"] = m.TestAccuracy.ToString("R", CultureInfo.InvariantCulture),
            ["settings"] = "settings.json",
        });
        _files.Add(name + ".safetensors");
    }

    // The trained network as a NIR graph (with its checkpoint in the metadata), for other simulators and hardware.
    private void ExportNir(string name, StudyModel model, TrainedModel m)
    {
        var net = model.Build(1, m.Weights);
        Ship.Nir.NirGraph.Write(net, Path.Combine(_s.Out, name + ".nir"));
        _files.Add(name + ".nir");
    }

    private void WriteJson<T>(string name, T value)
    {
        File.WriteAllText(Path.Combine(_s.Out, name), JsonSerializer.Serialize(value, new JsonSerializerOptions { WriteIndented = true }));
        _files.Add(name);
    }

    private static object Summary(StudyResult r) => new
    {
        seconds = r.Seconds,
        plain = new { r.Plain.Label, r.Plain.TestAccuracy, r.Plain.Seconds, r.Plain.EpochAccuracy },
        hardware_aware = r.HardwareAware is { } h ? new { h.Label, h.TestAccuracy, h.Seconds, h.EpochAccuracy } : null,
        levels = r.Levels.Select(Sweep),
        drift = r.Drift.Select(Sweep),
        energy = r.Energy.Select(e => new
        {
            label = e.Label,
            effective_acs = e.Ideal.EffectiveAcs,
            effective_macs = e.Ideal.EffectiveMacs,
            dense = e.Ideal.DenseOps,
            neuron_updates = e.Ideal.NeuronUpdates,
            activation_sparsity = e.Ideal.ActivationSparsity,
            joules_per_inference = EnergyPresets.Digital().ToDictionary(d => d.Name, d => e.Ideal.TotalEnergy(d))
                .Concat(e.Presets.Select(q => KeyValuePair.Create($"{q.Preset} crossbar", q.Report.TotalEnergy(EnergyStudy.Crossbar))))
                .ToDictionary(k => k.Key, k => k.Value),
        }),
        crossbar = r.Crossbar,
        chips = r.Chips.Count == 0 ? null : new { summary = ChipStudy.Summarize(r.Chips), rows = r.Chips },
    };

    private static object Sweep(AccuracySweep s) => new { label = s.Label, x = s.X, seeds = s.Seeds, mean = s.Mean, std = s.Std, accuracies = s.Accuracies };

    private void Add(FigureFiles f)
    {
        foreach (var path in new[] { f.Png, f.Svg, f.Csv }) _files.Add(Path.GetFileName(path));
    }

    private void WriteSummary(StudyResult r, StudyData data)
    {
        var s = _s;
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("# Ship.NET hardware-aware study").AppendLine();
        sb.AppendLine($"Data: {data.Description}.").AppendLine();
        sb.AppendLine($"**Test accuracy: {Pct(r.Plain.TestAccuracy)}** (plain network, ideal weights, {r.Plain.Seconds:F1} s of training)" +
            (r.HardwareAware is { } hw0 ? $"; the hardware-aware network scores {Pct(hw0.TestAccuracy)} with its ideal (unquantized) weights ({hw0.Seconds:F1} s of training)." : "."));
        sb.AppendLine();
        if (FewLevelsLine(r, s) is { } few) sb.AppendLine(few).AppendLine();
        if (r.Crossbar is { } xb)
            sb.AppendLine($"On crossbar tiles (--crossbar): {Pct(xb.IdealAccuracy)} with ideal periphery; " +
                string.Join(", ", xb.Bits.Select((b, i) => $"{b}-bit ADC {Pct(xb.BitsAccuracy[i])}")) + "; " +
                string.Join(", ", xb.Resistances.Select((x, i) => $"{x.ToString(inv)} Ω {Pct(xb.ResistanceAccuracy[i])}")) +
                " (accuracy-vs-adc-bits, accuracy-vs-line-resistance).").AppendLine();
        sb.AppendLine($"Whole study: {r.Seconds:F0} s.").AppendLine();

        sb.AppendLine("## Settings").AppendLine().AppendLine("| setting | value |").AppendLine("|---|---|");
        // A '|' inside a cell would end it: escape it.
        void Row(string k, object v) => sb.AppendLine($"| {k} | {Convert.ToString(v, inv)!.Replace("|", "\\|")} |");
        Row("data set", s.Dataset);
        Row("test fraction / seed", $"{s.TestFraction} / {s.Seed}");
        Row("encoding", $"{s.Encoding}{(s.Encoding == "rate" ? $", {s.MaxRate} Hz at full intensity" : "")}");
        Row("steps × dt", $"{s.Steps} × {s.Dt * 1e3} ms");
        Row("network", $"{data.Inputs} → {s.Hidden} LIF (τ = {s.TauHidden * 1e3} ms, thr = {s.Threshold}) → {data.Classes} leaky integrators (τ = {s.TauOut * 1e3} ms), max over time");
        Row("training", $"{s.Epochs} epochs, batch {s.BatchSize}, Adam lr {s.LearningRate} (cosine), NLL, fast-sigmoid surrogate (slope {s.SurrogateSlope})");
        Row("hardware-aware training", s.HwLevels > 0 ? $"{s.HwLevels} levels on [−M, M], M = max|w| after clipping at 2.5 std (straight-through gradient), level noise σ = M/(3n) drawn per batch" : "off");
        Row("levels evaluated", string.Join(", ", s.Levels));
        Row("elapsed times (s)", string.Join(", ", s.Times.Select(Seconds)));
        Row("device presets", string.Join(", ", s.Presets));
        Row("device seeds", s.Seeds);
        Row("chips", s.Chips == 0 ? "off" : $"{s.Chips} chip instances, {ChipStudy.DeviceLevels(s)}-level devices, neuron mismatch σ = {s.ChipMismatch.ToString(inv)} (relative)");
        Row("torch device", s.Device);
        sb.AppendLine().AppendLine("All settings: [settings.json](settings.json); all numbers: [results.json](results.json).").AppendLine();

        sb.AppendLine("## Training").AppendLine();
        Fig("training-curve", "Training curve (plain): loss per batch, test accuracy per epoch");
        if (r.HardwareAware is not null) Fig("training-curve-hw", "Training curve (hardware-aware): the test accuracy is measured with the quantized, noisy forward pass");

        sb.AppendLine("## Activity of one test sample").AppendLine();
        Fig("spike-raster-input", "Input spikes");
        Fig("spike-raster-hidden", "Hidden-layer spikes");
        Fig("membrane-hidden", "Membrane of the most active hidden neuron (dashed: threshold)");
        Fig("membrane-output", "Output membranes (the readout is each one's maximum over time)");

        sb.AppendLine("## Quantization: accuracy vs number of levels").AppendLine();
        sb.AppendLine($"Each weight matrix is programmed on n levels spanning [−max|w|, max|w|] with Gaussian level variability σ = (range/n)/6 (`MemristivePresets.ShipQuantized`), mean ± std over {s.Seeds} device seeds.").AppendLine();
        Table(r.Levels, "levels", v => v.ToString("0", inv));
        Fig("accuracy-vs-levels", "Accuracy vs levels");

        sb.AppendLine("## Drift: accuracy vs elapsed time").AppendLine();
        sb.AppendLine($"The plain network programmed on each preset and read at each elapsed time, mean ± std over {s.Seeds} device seeds; \"compensated\" multiplies every read by a global α = mean|w(0)| / mean|w(t)| from a calibration read.").AppendLine();
        Table(r.Drift, "time (s)", Seconds);
        Fig("accuracy-vs-time", "Accuracy vs elapsed time");

        if (r.Chips.Count > 0)
        {
            sb.AppendLine("## Chips: accuracy over chip instances").AppendLine();
            sb.Append(File.ReadAllText(Path.Combine(s.Out, "chips.md")));
            Fig("chips-histogram", "Accuracy over chip instances (histogram; legend: mean ± σ)");
            sb.AppendLine("Per chip: [chips.csv](chips.csv); mean ± σ: [chips-summary.csv](chips-summary.csv).").AppendLine();
        }

        sb.AppendLine("## Energy and operations per inference").AppendLine();
        sb.AppendLine(EnergyStudy.Explanation(EnergyStudy.Physical(s.Presets).Count)).AppendLine();
        foreach (var e in r.Energy) sb.Append(EnergyStudy.Tables(e));
        Fig("energy-vs-levels", "Energy per inference vs number of conductance levels (plain network; log energy axis)");
        Fig("energy-vs-activity", "Energy per inference vs hidden-layer activity, varied through the input rate (plain network; log energy axis)");

        sb.AppendLine("## Device characteristics").AppendLine();
        foreach (var preset in s.Presets)
        {
            Fig($"device-{PresetLabel(preset)}-pulses", $"{PresetLabel(preset)}: conductance vs pulse number");
            Fig($"device-{PresetLabel(preset)}-drift", $"{PresetLabel(preset)}: drift of programmed levels");
        }
        sb.AppendLine("## Files").AppendLine();
        sb.AppendLine("Every figure is a PNG, an SVG and the CSV of exactly the plotted numbers. The trained weights are in " +
            "`model.safetensors`" + (r.HardwareAware is null ? "" : " and `model-hw.safetensors`") + " (float32, tensors `in_hidden.w` [inputs, hidden] and `hidden_out.w` [hidden, classes]).").AppendLine();
        foreach (var f in r.Files.Concat(new[] { "summary.md" }).Distinct().OrderBy(f => f, StringComparer.Ordinal)) sb.AppendLine($"- [{f}]({f})");
        sb.AppendLine().AppendLine($"Digits credit: {Ship.Datasets.Embedded.Digits.Credit}");
        File.WriteAllText(Path.Combine(s.Out, "summary.md"), sb.ToString());

        void Fig(string name, string caption) => sb.AppendLine($"![{caption}]({name}.png)").AppendLine().AppendLine($"*{caption}* ([SVG]({name}.svg), [CSV]({name}.csv))").AppendLine();

        void Table(IReadOnlyList<AccuracySweep> sweeps, string xName, Func<double, string> fmt)
        {
            sb.AppendLine($"| {xName} | " + string.Join(" | ", sweeps.Select(w => w.Label)) + " |");
            sb.AppendLine("|---|" + string.Concat(sweeps.Select(_ => "---|")));
            for (int i = 0; i < sweeps[0].X.Count; i++)
                sb.AppendLine($"| {fmt(sweeps[0].X[i])} | " + string.Join(" | ", sweeps.Select(w => $"{Pct(w.Mean[i])} ± {100 * w.Std[i]:F1}")) + " |");
            sb.AppendLine();
        }
    }

    /// <summary>
    /// The study's headline: plain vs hardware-aware accuracy on devices with the hardware-aware training's level count
    /// (what the ideal-weight accuracies do not show), or why there is none; null when no hardware-aware network was trained.
    /// </summary>
    public static string? FewLevelsLine(StudyResult r, StudySettings s)
    {
        if (r.HardwareAware is null || r.Levels.Count != 2) return null;
        int at = r.Levels[0].X.ToList().IndexOf(s.HwLevels);
        if (at < 0)
            return $"No comparison on {s.HwLevels}-level devices: --levels ({string.Join(",", s.Levels)}) does not include the hardware-aware training's {s.HwLevels} levels.";
        double plain = r.Levels[0].Mean[at], aware = r.Levels[1].Mean[at];
        double spread = Math.Max(r.Levels[0].Std[at], r.Levels[1].Std[at]);
        string verdict = aware - plain > spread ? "hardware-aware training wins by more than the device-seed spread"
            : aware > plain ? "hardware-aware training is ahead, but by less than the device-seed spread"
            : "hardware-aware training does NOT beat plain training here (too few epochs for it to converge? try more --epochs)";
        return $"On {s.HwLevels}-level devices with level variability: plain {Pct(plain)} ± {100 * r.Levels[0].Std[at]:F1}, " +
            $"hardware-aware {Pct(aware)} ± {100 * r.Levels[1].Std[at]:F1} (mean ± std over {s.Seeds} device seeds): {verdict}.";
    }

    /// <summary>A time in seconds as people write it (1, 3.16, 10000).</summary>
    public static string Seconds(double t) => t.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>A fraction as a percentage with one decimal.</summary>
    public static string Pct(double v) => (100 * v).ToString("F1", CultureInfo.InvariantCulture) + " %";
}
