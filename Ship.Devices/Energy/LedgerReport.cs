using System.Globalization;
using System.Text;
using Ship.Core.Networks;
using Ship.Devices.Memristive.Crossbar;
using Ship.Devices.Synapses;

namespace Ship.Devices.Energy;

/// <summary>Counts of one neuron group over all counted samples and steps.</summary>
/// <param name="Tag">Group tag.</param>
/// <param name="Neurons">Neurons in the group.</param>
/// <param name="IsInput">Whether the group is an input (its events drive synapses; it has no neuron circuit).</param>
/// <param name="Events">Non-zero outputs (spikes of a spiking group).</param>
/// <param name="Updates">Neuron updates (neurons × steps × samples; NeuroBench's dense membrane updates).</param>
public sealed record NeuronTotals(string Tag, int Neurons, bool IsInput, double Events, double Updates)
{
    /// <summary>NeuroBench's operations per membrane update of the group's neuron type (<see cref="NeuronOperations"/>), or null when it has none (not counted).</summary>
    public int? OperationsPerUpdate { get; init; }
    /// <summary>NeuroBench's effective membrane updates (membrane changed in the step; every neuron in a run's first step), or null when not counted (<see cref="HardwareLedger.CountMembraneUpdates"/> off or no membrane).</summary>
    public double? MembraneUpdates { get; init; }
    /// <summary>NeuroBench's dense neuron operations: every update × operations per update (0 without a figure).</summary>
    public double DenseNeuronOperations => Updates * (OperationsPerUpdate ?? 0);
    /// <summary>NeuroBench's effective neuron operations: effective membrane updates × operations per update, or null when membrane updates were not counted.</summary>
    public double? EffectiveNeuronOperations => MembraneUpdates * (OperationsPerUpdate ?? 0);
}

/// <summary>Counts of one weighted synapse over all counted samples and steps.</summary>
/// <param name="Tag">Synapse tag.</param>
/// <param name="Source">Tag of the neuron group that feeds it.</param>
/// <param name="Target">Tag of the group it feeds.</param>
/// <param name="Ns">Source neurons (crossbar rows).</param>
/// <param name="Nt">Target neurons (crossbar columns per device of a weight).</param>
/// <param name="NonZeroWeights">Connections with a non-zero weight.</param>
/// <param name="OnDevices">Whether the weights live on a device array.</param>
/// <param name="DevicesPerWeight">Devices per weight (2 for a differential pair), 0 without devices.</param>
/// <param name="EffectiveAcs">NeuroBench Effective_ACs: binary input events × the non-zero weights they reach.</param>
/// <param name="EffectiveMacs">NeuroBench Effective_MACs: the same for steps whose inputs are not all 0 or 1.</param>
/// <param name="Dense">NeuroBench Dense: every connection every step (Ns × Nt × steps × samples).</param>
/// <param name="ReadConductance">Σ over input events of the conductance of the devices on the event's row (S).</param>
/// <param name="RowEvents">Input events (rows driven).</param>
/// <param name="AdcConversions">Column conversions: a <see cref="CrossbarSynapse"/>'s own count (every converted column of every row tile, every step and sample; 0 without ADC); other device arrays are estimated at Nt per (step, sample) with at least one input event.</param>
/// <param name="ActiveReads">(step, sample) pairs with at least one input event (array reads).</param>
/// <param name="Steps">Steps counted.</param>
public sealed record SynapseTotals(string Tag, string Source, string Target, int Ns, int Nt, long NonZeroWeights, bool OnDevices, int DevicesPerWeight,
    double EffectiveAcs, double EffectiveMacs, double Dense, double ReadConductance, double RowEvents, double AdcConversions, double ActiveReads, long Steps)
{
    /// <summary>DAC conversions a <see cref="CrossbarSynapse"/> counted (one per driven row per column tile per sample per step); 0 otherwise.</summary>
    public double DacConversions { get; init; }
    /// <summary>ADC conversions clipped at the end of the code range (crossbars only).</summary>
    public double AdcClipped { get; init; }
    /// <summary>DAC inputs outside the DAC's range (crossbars only).</summary>
    public double DacClipped { get; init; }
    /// <summary>The circuit of a <see cref="CrossbarSynapse"/> (its read pulse, array type, converters), or null for other synapses.</summary>
    public CrossbarCircuit? Crossbar { get; init; }
}

/// <summary>What the ledger needs of a crossbar's circuit: its read pulse replaces an energy model's, its array type decides the half-select terms of its writes.</summary>
/// <param name="ReadVoltage">V_read (V).</param>
/// <param name="ReadPulseWidth">t_read (s).</param>
/// <param name="ArrayType">How its cells are selected.</param>
/// <param name="HasDac">Whether rows are driven through DACs (row drives are then DAC conversions).</param>
/// <param name="ColumnsPerAdc">Columns each ADC converts in series (1 = one per column), 0 without ADC.</param>
public sealed record CrossbarCircuit(double ReadVoltage, double ReadPulseWidth, ArrayType ArrayType, bool HasDac, int ColumnsPerAdc)
{
    /// <summary>The circuit facts of <paramref name="crossbar"/>.</summary>
    public static CrossbarCircuit Of(CrossbarSynapse crossbar)
    {
        ArgumentNullException.ThrowIfNull(crossbar);
        var s = crossbar.Settings;
        return new(s.Read.Voltage, s.Read.Width, s.ArrayType, s.Dac is not null, s.Adc?.ColumnsPerAdc ?? 0);
    }
}

/// <summary>Converter counts: ADC and DAC conversions and the clipped ones.</summary>
/// <param name="AdcConversions">ADC conversions.</param>
/// <param name="DacConversions">DAC conversions.</param>
/// <param name="AdcClipped">ADC conversions clipped at the end of the code range.</param>
/// <param name="DacClipped">DAC inputs outside the DAC's range.</param>
public sealed record ConverterCounts(double AdcConversions, double DacConversions, double AdcClipped, double DacClipped);

/// <summary>NeuroBench's static metrics of a network (neurobench/metrics/static).</summary>
/// <param name="ConnectionSparsity">Zero weights over all weights of the weighted synapses.</param>
/// <param name="ParameterFootprint">Bytes of every parameter tensor (elements × element size).</param>
/// <param name="ParameterCount">Elements of every parameter tensor.</param>
public sealed record StaticMetrics(double ConnectionSparsity, long ParameterFootprint, long ParameterCount)
{
    /// <summary>No network seen.</summary>
    public static StaticMetrics Empty { get; } = new(0, 0, 0);

    /// <summary>The static metrics of an initialized network.</summary>
    public static StaticMetrics Of(Network net)
    {
        ArgumentNullException.ThrowIfNull(net);
        long zeros = 0, weights = 0, bytes = 0, count = 0;
        foreach (var g in net.Groups)
        {
            foreach (var p in g.Parameters)
                if (p.Tensor is { } t)
                {
                    count += t.NumberOfElements;
                    bytes += t.NumberOfElements * t.ElementSize;
                }
            if ((g is Ship.Core.Groups.GroupWrapper w ? w.Core : g) is WeightedSynapse ws && ws.W.Tensor is { } wt)
            {
                weights += wt.NumberOfElements;
                zeros += wt.NumberOfElements - wt.count_nonzero().item<long>();
            }
        }
        return new StaticMetrics(weights == 0 ? 0 : (double)zeros / weights, bytes, count);
    }
}

/// <summary>Energy per inference of one layer (a weighted synapse and the neuron group it feeds).</summary>
/// <param name="Synapse">Synapse tag.</param>
/// <param name="Neurons">Tag of the neuron group it feeds ("" when it feeds no counted group).</param>
/// <param name="SynapticEnergy">Synaptic operations or array reads (J per inference).</param>
/// <param name="PeripheryEnergy">Converters (J per inference).</param>
/// <param name="NeuronEnergy">Neuron updates and spikes of the fed group (J per inference).</param>
public sealed record LayerEnergy(string Synapse, string Neurons, double SynapticEnergy, double PeripheryEnergy, double NeuronEnergy)
{
    /// <summary>The layer's total (J per inference).</summary>
    public double Total => SynapticEnergy + PeripheryEnergy + NeuronEnergy;
}

/// <summary>
/// What a <see cref="HardwareLedger"/> counted, on the host: NeuroBench workload and static metrics per inference
/// (divided by the samples counted, as NeuroBench does), and energies and latency per inference for any energy model.
/// </summary>
/// <param name="Name">Ledger name.</param>
/// <param name="Samples">Samples counted.</param>
/// <param name="Runs">Runs counted (Run calls; a Continue extends the last one).</param>
/// <param name="Steps">Steps counted over all runs.</param>
/// <param name="EmulatedTime">Emulated time counted over all runs (s; steps × dt).</param>
/// <param name="Neurons">Per neuron group.</param>
/// <param name="Synapses">Per weighted synapse.</param>
/// <param name="Writes">Programming pulses recorded.</param>
/// <param name="Static">Static metrics of the network.</param>
public sealed record LedgerReport(string Name, long Samples, long Runs, long Steps, double EmulatedTime, IReadOnlyList<NeuronTotals> Neurons,
    IReadOnlyList<SynapseTotals> Synapses, WriteCounts Writes, StaticMetrics Static)
{
    private double PerSample(double v) => Samples == 0 ? 0 : v / Samples;

    /// <summary>The part of <see cref="Writes"/> that went to crossbars, by their array type (their half-select terms follow it, not the energy model's).</summary>
    public IReadOnlyDictionary<ArrayType, WriteCounts> WritesByArrayType { get; init; } = new Dictionary<ArrayType, WriteCounts>();

    /// <summary>Converter counts of one synapse (or of all, <paramref name="synapse"/> null) over everything counted.</summary>
    public ConverterCounts Converters(string? synapse = null)
    {
        var chosen = synapse is null ? Synapses : Synapses.Where(s => s.Tag == synapse).ToArray();
        if (synapse is not null && chosen.Count == 0)
            throw new Ship.Core.Errors.ParameterException(Name, nameof(synapse), $"expected one of the synapses the ledger counted ({string.Join(", ", Synapses.Select(x => x.Tag))}), got '{synapse}'.");
        return new(chosen.Sum(s => s.AdcConversions), chosen.Sum(s => s.DacConversions), chosen.Sum(s => s.AdcClipped), chosen.Sum(s => s.DacClipped));
    }

    /// <summary>Converter counts per inference (divided by the samples counted).</summary>
    public ConverterCounts ConvertersPerInference(string? synapse = null) => Scale(Converters(synapse), Samples);

    /// <summary>Converter counts per run (divided by the runs counted; a run holds a batch of samples).</summary>
    public ConverterCounts ConvertersPerRun(string? synapse = null) => Scale(Converters(synapse), Runs);

    private static ConverterCounts Scale(ConverterCounts c, long n) => n == 0
        ? new(0, 0, 0, 0)
        : new(c.AdcConversions / n, c.DacConversions / n, c.AdcClipped / n, c.DacClipped / n);

    /// <summary>NeuroBench Effective_ACs per inference.</summary>
    public double EffectiveAcs => PerSample(Synapses.Sum(s => s.EffectiveAcs));
    /// <summary>NeuroBench Effective_MACs per inference.</summary>
    public double EffectiveMacs => PerSample(Synapses.Sum(s => s.EffectiveMacs));
    /// <summary>NeuroBench Dense synaptic operations per inference.</summary>
    public double DenseOps => PerSample(Synapses.Sum(s => s.Dense));
    /// <summary>Neuron updates per inference (non-input groups; NeuroBench's dense membrane updates).</summary>
    public double NeuronUpdates => PerSample(Neurons.Where(n => !n.IsInput).Sum(n => n.Updates));
    /// <summary>NeuroBench "Neuron Dense Ops" per inference: dense updates × operations per update of each non-input group with a NeuroBench figure.</summary>
    public double NeuronDenseOperations => PerSample(Neurons.Where(n => !n.IsInput).Sum(n => n.DenseNeuronOperations));

    /// <summary>NeuroBench MembraneUpdates per inference (non-input groups), or null unless counted for every non-input group (<see cref="HardwareLedger.CountMembraneUpdates"/>).</summary>
    public double? MembraneUpdates => Neurons.Where(n => !n.IsInput).Any(n => n.MembraneUpdates is null) ? null : PerSample(Neurons.Where(n => !n.IsInput).Sum(n => n.MembraneUpdates!.Value));

    /// <summary>NeuroBench "Effective Neuron Ops" per inference, or null unless membrane updates were counted for every non-input group.</summary>
    public double? EffectiveNeuronOperations => Neurons.Where(n => !n.IsInput).Any(n => n.MembraneUpdates is null) ? null : PerSample(Neurons.Where(n => !n.IsInput).Sum(n => n.EffectiveNeuronOperations!.Value));

    /// <summary>Non-input groups without a NeuroBench operations figure (their neuron operations are not counted).</summary>
    public IReadOnlyList<string> GroupsWithoutNeuronOperations => Neurons.Where(n => !n.IsInput && n.OperationsPerUpdate is null).Select(n => n.Tag).ToArray();

    /// <summary>Per neuron group, non-zero outputs per step summed over the batch, over every counted step in order (only with <see cref="HardwareLedger.RecordSteps"/>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<double>> EventsPerStep { get; init; } = new Dictionary<string, IReadOnlyList<double>>();
    /// <summary>Per synapse, NeuroBench effective accumulates per step summed over the batch (only with <see cref="HardwareLedger.RecordSteps"/>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<double>> EffectiveAcsPerStep { get; init; } = new Dictionary<string, IReadOnlyList<double>>();
    /// <summary>Per synapse, NeuroBench effective multiply-accumulates per step summed over the batch (only with <see cref="HardwareLedger.RecordSteps"/>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<double>> EffectiveMacsPerStep { get; init; } = new Dictionary<string, IReadOnlyList<double>>();
    /// <summary>Per synapse, conductance read per step (S) by arrays read once per run, summed over the batch (only with <see cref="HardwareLedger.RecordSteps"/>; arrays read per step or per sample are in the totals only).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<double>> ReadConductancePerStep { get; init; } = new Dictionary<string, IReadOnlyList<double>>();

    /// <summary>Spikes (non-zero outputs) of non-input groups per inference.</summary>
    public double Spikes => PerSample(Neurons.Where(n => !n.IsInput).Sum(n => n.Events));

    /// <summary>NeuroBench ActivationSparsity: zero outputs over all outputs of the non-input neuron groups.</summary>
    public double ActivationSparsity
    {
        get
        {
            double all = Neurons.Where(n => !n.IsInput).Sum(n => n.Updates);
            return all == 0 ? 0 : (all - Neurons.Where(n => !n.IsInput).Sum(n => n.Events)) / all;
        }
    }

    /// <summary>Steps per inference (steps counted over runs).</summary>
    public double StepsPerInference => Runs == 0 ? 0 : (double)Steps / Runs;

    /// <summary>Emulated time per inference (s).</summary>
    public double EmulatedTimePerInference => Runs == 0 ? 0 : EmulatedTime / Runs;

    /// <summary>Events per neuron per step of a group (its activity).</summary>
    public double Activity(string tag)
    {
        var n = Neurons.FirstOrDefault(x => x.Tag == tag) ?? throw new Ship.Core.Errors.ParameterException(Name, nameof(tag),
            $"expected one of the neuron groups the ledger counted ({string.Join(", ", Neurons.Select(x => x.Tag))}), got '{tag}'.");
        return n.Updates == 0 ? 0 : n.Events / n.Updates;
    }

    /// <summary>
    /// Energy per inference on a digital platform, per layer: an event-driven platform pays E_AC per effective AC and
    /// E_MAC per effective MAC, a dense one E_MAC per dense operation; every neuron update of the fed group costs
    /// E_neuron.
    /// </summary>
    public IReadOnlyList<LayerEnergy> Energy(DigitalEnergyModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.Validate();
        return Synapses.Select(s =>
        {
            double syn = model.EventDriven ? s.EffectiveAcs * model.AccumulateEnergy + s.EffectiveMacs * model.MacEnergy : s.Dense * model.MacEnergy;
            var n = Fed(s);
            return new LayerEnergy(s.Tag, n?.Tag ?? "", PerSample(syn), 0, PerSample((n?.Updates ?? 0) * model.NeuronUpdateEnergy));
        }).ToArray();
    }

    /// <summary>
    /// Energy per inference on memristive crossbars, per layer: reads Σ V_read²·G·t_read over the devices on rows with
    /// an input event (synapses without devices are charged as if their conductances were zero: none here), row drives
    /// and column conversions, neuron updates and spikes of the fed group. Programming is in <see cref="WriteEnergyTotal"/>.
    /// A <see cref="CrossbarSynapse"/> is read with its own V_read and t_read; its ADC conversions are its own count and
    /// its row drives are its DAC conversions when it has DACs (else one pulse driver per input event, as elsewhere).
    /// </summary>
    public IReadOnlyList<LayerEnergy> Energy(CrossbarEnergyModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.Validate();
        return Synapses.Select(s =>
        {
            var n = Fed(s);
            double v = s.Crossbar?.ReadVoltage ?? model.ReadVoltage, t = s.Crossbar?.ReadPulseWidth ?? model.ReadPulseWidth;
            double drives = s.Crossbar is { HasDac: true } ? s.DacConversions : s.RowEvents;
            double neuron = (n?.Updates ?? 0) * model.NeuronUpdateEnergy + (n?.Events ?? 0) * model.SpikeEnergy;
            return new LayerEnergy(s.Tag, n?.Tag ?? "", PerSample(s.ReadConductance * (v * v * t)),
                PerSample(drives * model.DacEnergy + s.AdcConversions * model.AdcEnergy), PerSample(neuron));
        }).ToArray();
    }

    /// <summary>Total energy per inference on a digital platform (J).</summary>
    public double TotalEnergy(DigitalEnergyModel model) => Energy(model).Sum(l => l.Total);

    /// <summary>Total energy per inference on crossbars (J), programming excluded.</summary>
    public double TotalEnergy(CrossbarEnergyModel model) => Energy(model).Sum(l => l.Total);

    /// <summary>
    /// Energy of the recorded programming pulses (J, all of them, not per inference). Pulses to a crossbar take the
    /// half-select terms of its own array type (<see cref="WritesByArrayType"/>); the others the model's.
    /// </summary>
    public double WriteEnergyTotal(CrossbarEnergyModel model)
    {
        double e = WriteEnergy.Energy(Writes, model);
        foreach (var (type, counts) in WritesByArrayType)
            e += WriteEnergy.HalfSelectEnergy(counts, model, type) - WriteEnergy.HalfSelectEnergy(counts, model, model.ArrayType);
        return e;
    }

    /// <summary>
    /// Hardware latency estimate per inference (s): per step every array is read once with one read pulse (rows in
    /// parallel), arrays of one layer in parallel, layers in sequence, each followed by one conversion and one neuron
    /// update; steps in sequence. An estimate from the preset, not a measurement. A <see cref="CrossbarSynapse"/> layer
    /// takes its own read pulse width and m = ColumnsPerAdc conversions in series (none without ADC).
    /// </summary>
    public double Latency(CrossbarEnergyModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.Validate();
        return StepsPerInference * Synapses.Sum(s => s.Crossbar is { } x
            ? x.ReadPulseWidth + x.ColumnsPerAdc * model.AdcTime + model.NeuronUpdateTime
            : model.ReadPulseWidth + model.AdcTime + model.NeuronUpdateTime);
    }

    private NeuronTotals? Fed(SynapseTotals s) => Neurons.FirstOrDefault(n => n.Tag == s.Target && !n.IsInput);

    /// <summary>A markdown table of the NeuroBench metrics per inference.</summary>
    public string NeuroBenchTable()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("| NeuroBench metric | value per inference |").AppendLine("|---|---:|");
        void Row(string k, string v) => sb.AppendLine($"| {k} | {v} |");
        Row("Effective_ACs", EffectiveAcs.ToString("G4", inv));
        Row("Effective_MACs", EffectiveMacs.ToString("G4", inv));
        Row("Dense synaptic operations", DenseOps.ToString("G4", inv));
        Row("Neuron (membrane) updates, dense", NeuronUpdates.ToString("G4", inv));
        if (MembraneUpdates is { } mu) Row("MembraneUpdates (effective)", mu.ToString("G4", inv));
        Row("Neuron Dense Ops", NeuronDenseOperations.ToString("G4", inv));
        if (EffectiveNeuronOperations is { } eno) Row("Effective Neuron Ops", eno.ToString("G4", inv));
        Row("Non-zero outputs of neuron groups (spikes; an integrator's membrane output counts every step)", Spikes.ToString("G4", inv));
        Row("ActivationSparsity", ActivationSparsity.ToString("F4", inv));
        Row("Connection sparsity (static)", Static.ConnectionSparsity.ToString("F4", inv));
        Row("Parameter footprint (static, bytes)", Static.ParameterFootprint.ToString(inv));
        return sb.ToString();
    }

    /// <summary>A markdown table of energy per inference per layer and in total for each model, with the crossbar latency estimate.</summary>
    public string EnergyTable(IEnumerable<DigitalEnergyModel> digital, IEnumerable<(string Label, LedgerReport Report, CrossbarEnergyModel Model)>? crossbars = null)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var layers = Synapses.Select(s => s.Tag).ToArray();
        sb.AppendLine($"| platform | {string.Join(" | ", layers.Select(l => $"{l} (J)"))} | total (J/inference) | latency estimate (s) |");
        sb.AppendLine($"|---|{string.Concat(layers.Select(_ => "---:|"))}---:|---:|");
        foreach (var d in digital)
        {
            var e = Energy(d);
            sb.AppendLine($"| {d.Name}{(d.EventDriven ? "" : " (dense)")} | {string.Join(" | ", e.Select(x => x.Total.ToString("G3", inv)))} | {e.Sum(x => x.Total).ToString("G3", inv)} | — |");
        }
        foreach (var (label, report, model) in crossbars ?? Array.Empty<(string, LedgerReport, CrossbarEnergyModel)>())
        {
            var e = report.Energy(model);
            sb.AppendLine($"| {label} | {string.Join(" | ", e.Select(x => x.Total.ToString("G3", inv)))} | {e.Sum(x => x.Total).ToString("G3", inv)} | {report.Latency(model).ToString("G3", inv)} |");
        }
        return sb.ToString();
    }
}
