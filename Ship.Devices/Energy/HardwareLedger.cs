using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Networks.Observers;
using Ship.Devices.Kernels;
using Ship.Devices.Memristive;
using Ship.Devices.Memristive.Crossbar;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Energy;

/// <summary>
/// The hardware ledger: an opt-in run observer (<c>network.AddObserver(ledger)</c>) that counts what the emulated
/// hardware does — events and neuron updates per neuron group (and, opt-in, NeuroBench's effective membrane updates);
/// NeuroBench's effective accumulates, effective multiply-accumulates and dense operations per weighted synapse; the
/// conductance read by input events on device-array synapses (S, for the read energy Σ V_read²·G·t_read, from the
/// conductances the synapse actually read: <see cref="DeviceArray.LastReadConductances"/>); row drives and column
/// conversions — and the programming pulses the network's device arrays received (pulse programming,
/// <c>ApplyPulses</c>; others through <see cref="RecordPulseTrain"/>). A <see cref="CrossbarSynapse"/> reports its own
/// DAC and ADC conversions and clipped conversions (taken as the difference of its counters over the run), its read
/// pulse and its array type, which replace the estimates and the energy model's values for that synapse
/// (docs/energy.md). Counts stay tensors on the network's device and are read to the host once per run; the ledger
/// never writes a network tensor nor draws from any generator, so results are identical with and without it.
/// Energies come from the counts and an energy model in <see cref="Report"/>.
/// </summary>
public sealed class HardwareLedger : IRunObserver, IDisposable
{
    private const int StepBufferMax = 256; // per-step outputs of a stepped group gathered before one counting pass

    private readonly List<NeuronTrack> _neurons = new();
    private readonly List<SynapseTrack> _synapses = new();
    private readonly Dictionary<string, NeuronTotals> _neuronTotals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SynapseTotals> _synapseTotals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<double>> _eventSeries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (List<double> Acs, List<double> Macs, List<double> Read)> _synapseSeries = new(StringComparer.Ordinal);
    private Network? _net;
    private long _samples, _steps, _runs;
    private double _time;
    private WriteCounts _writes = WriteCounts.Zero;
    private readonly Dictionary<ArrayType, WriteCounts> _typedWrites = new();
    private StaticMetrics? _static;
    private readonly Dictionary<string, Tensor> _membranes = new(StringComparer.Ordinal); // last membrane per group, for a Continue

    /// <summary>Creates an empty ledger; attach it with <c>network.AddObserver(ledger)</c>.</summary>
    public HardwareLedger(string name = "ledger") => Name = name;

    /// <summary>Name used in messages.</summary>
    public string Name { get; }

    /// <summary>
    /// Keeps per-step counts (events per neuron group, effective operations and conductance read per synapse, summed
    /// over the batch) besides the aggregates: <see cref="LedgerReport.EventsPerStep"/> and friends. Off by default;
    /// on, it adds one small device tensor per block and group, read with the run's one host read.
    /// </summary>
    public bool RecordSteps { get; init; }

    /// <summary>
    /// Counts where the data already is (the default): the fused LIF recurrence adds the spikes it writes
    /// (<see cref="IEventCountingGroup"/>), other float32/float64 host outputs are counted in one managed read pass
    /// (<see cref="EventCounts"/>), and the effective operations are per-neuron event counts times each row's non-zero
    /// weights, one small product per run. False: tensor passes over every block (the reference the counts are tested
    /// against; also what runs for outputs on a GPU, other dtypes and <see cref="RecordSteps"/>). Same counts either way.
    /// </summary>
    public bool CountInKernels { get; init; } = true;

    /// <summary>
    /// Counts NeuroBench's effective membrane updates (a neuron counts in a step when its membrane differs from the
    /// previous step's; every neuron in the first step after a reset) by reading the membrane state
    /// (<see cref="MembraneState"/>) after every step. Off by default: on, the groups it watches are stepped one step at a
    /// time (a whole-block group has its state only at the block's end), which is slower but computes the same results.
    /// </summary>
    public bool CountMembraneUpdates { get; init; }

    /// <summary>NeuroBench's operations per membrane update of a neuron group (null: no NeuroBench figure, not counted); default <see cref="NeuronOperations.NeuroBench"/>.</summary>
    public Func<Group, int?> OperationsPerUpdate { get; init; } = NeuronOperations.NeuroBench;

    /// <summary>The membrane state of a neuron group for <see cref="CountMembraneUpdates"/> (null: none); default <see cref="NeuronOperations.MembraneOf"/>.</summary>
    public Func<Group, string?> MembraneState { get; init; } = NeuronOperations.MembraneOf;

    /// <summary>Samples counted so far (the batch size of every Run; a Continue adds steps, not samples).</summary>
    public long Samples => _samples;

    /// <summary>Forgets every count.</summary>
    public void Clear()
    {
        _neuronTotals.Clear();
        _synapseTotals.Clear();
        _eventSeries.Clear();
        _synapseSeries.Clear();
        _samples = 0;
        _steps = 0;
        _runs = 0;
        _time = 0;
        _writes = WriteCounts.Zero;
        _typedWrites.Clear();
        _static = null;
        ForgetMembranes();
    }

    /// <inheritdoc />
    public bool NeedsStepOutput(Group group) => false;

    /// <inheritdoc />
    public bool NeedsStepState(Group group) => CountMembraneUpdates && Membrane(group) is not null;

    private string? Membrane(Group g)
    {
        if (g.Kind != GroupKind.Neuron) return null;
        var core = g is GroupWrapper w ? w.Core : g;
        if (g is IInputGroup || core is IInputGroup) return null;
        var name = MembraneState(core);
        return name is not null && g.AllVariables.Any(v => v.Name == name) ? name : null;
    }

    /// <inheritdoc />
    public void OnRunStart(RunStartView run)
    {
        // The user's operations-per-update function is asked (and checked) before any count or track changes, so a bad
        // figure leaves the ledger as it was.
        var operations = new Dictionary<string, int?>(StringComparer.Ordinal);
        foreach (var g in run.Network.Groups)
        {
            if (g.Kind != GroupKind.Neuron) continue;
            var core = g is GroupWrapper w ? w.Core : g;
            if (g is IInputGroup || core is IInputGroup) { operations[g.Tag] = null; continue; }
            int? ops = OperationsPerUpdate(core);
            if (ops is < 0)
                throw new Ship.Core.Errors.ParameterException(g.Tag, nameof(OperationsPerUpdate),
                    $"expected null or an operation count >= 0 per membrane update, got {ops} (ledger '{Name}').");
            operations[g.Tag] = ops;
        }
        DisposeTracks();
        _pulsed.Clear();
        var net = _net = run.Network;
        var ctx = net.Context;
        int batch = ctx.BatchSize;
        if (run.Reset) { _samples += batch; _runs++; }
        var sequence = new HashSet<string>(net.SequenceGroups, StringComparer.Ordinal);
        using var noGrad = torch.no_grad();
        var byTag = new Dictionary<string, NeuronTrack>(StringComparer.Ordinal);
        var scratch = Scratch(ctx, net.Groups.Where(g => g.Kind == GroupKind.Neuron).Select(g => g.OutputSize).DefaultIfEmpty(1).Max());
        int buffer = Math.Clamp(run.TotalSteps, 1, StepBufferMax);
        if (run.Reset) ForgetMembranes();
        foreach (var g in net.Groups)
        {
            if (g.Kind != GroupKind.Neuron) continue;
            var core = g is GroupWrapper w ? w.Core : g;
            bool input = g is IInputGroup || core is IInputGroup;
            var t = new NeuronTrack(g, input, batch, sequence.Contains(g.Tag), buffer, ctx, scratch, RecordSteps)
            {
                Host = CountInKernels && !RecordSteps ? new EventCounts(batch, g.OutputSize, perSample: PerSampleReads(net, g.Tag)) : null,
                OperationsPerUpdate = operations[g.Tag],
                Membrane = CountMembraneUpdates ? Membrane(g) : null,
                FirstStep = run.Reset,
            };
            if (t.Membrane is not null && _membranes.Remove(g.Tag, out var previous)) t.GiveMembrane(previous);
            _neurons.Add(t);
            byTag[g.Tag] = t;
        }
        foreach (var g in net.Groups)
        {
            if ((g is GroupWrapper w ? w.Core : g) is not WeightedSynapse ws) continue;
            var source = net.Connections.FirstOrDefault(c => c.Target == g.Tag).Source;
            var target = net.Connections.FirstOrDefault(c => c.Source == g.Tag).Target ?? "";
            if (source is null || !byTag.TryGetValue(source, out var src)) continue; // fed by a synapse: no event count
            // Pulses the network's arrays received since the last look (pulse programming at initialization, ApplyPulses).
            if (ws.WeightDevice is DeviceArray pulsed)
            {
                TakeWrites(pulsed, ws);
                _pulsed.Add((pulsed, ws)); // taken again at the run's end: plasticity pulses during the run
            }
            var s = new SynapseTrack(g.Tag, source, src.Group, target, ws, ctx, src.Readers.Count);
            src.Readers.Add(s);
            _synapses.Add(s);
        }
        foreach (var n in _neurons) n.Prepare();
        _static ??= StaticMetrics.Of(net);
        // Last, once nothing can fail: the fused recurrence of a group (not of a wrapper, whose output may differ from its
        // core's) counts its own spikes; the sink is taken back when the run ends (DisposeTracks).
        foreach (var n in _neurons)
            if (n.Sequence && n.Host is { } host && n.Group is IEventCountingGroup counting) counting.EventSink = host;
    }

    /// <summary>Whether a synapse fed by <paramref name="source"/> is on a device array (whose read may be per sample: its events are then needed per sample).</summary>
    private static bool PerSampleReads(Network net, string source) =>
        net.Connections.Any(c => c.Source == source && net.Groups.FirstOrDefault(g => g.Tag == c.Target) is { } t
            && (t is GroupWrapper w ? w.Core : t) is WeightedSynapse { WeightDevice: DeviceArray });

    /// <inheritdoc />
    public void OnStep(StepView step)
    {
        foreach (var n in _neurons)
        {
            if (n.Membrane is not null) n.CountMembrane();
            if (n.Sequence) continue;
            if (step.Output(n.Group) is not { } y) continue;
            n.Push(y);
        }
        // Arrays whose reads vary draw new conductances every step: each step's events are charged with that step's read.
        foreach (var s in _synapses)
            if (s.ReadsEveryStep && step.Output(s.SourceGroup) is { } x) s.CountStepRead(x);
    }

    /// <inheritdoc />
    public void OnBlockEnd(BlockView block)
    {
        _steps += block.Steps;
        _time += block.Steps * block.Dt;
        foreach (var n in _neurons)
        {
            if (n.Sequence && block.SequenceOutput(n.Group) is { } y)
            {
                if (n.CountBlockOnHost(y, block.Steps)) continue;
                using var scope = torch.NewDisposeScope();
                using var noGrad = torch.no_grad();
                n.Count(y.detach());
            }
            else n.Flush();
        }
    }

    // Arrays of the current run's synapses whose pulses (write accounting) the ledger takes at run start and end.
    private readonly List<(DeviceArray Array, WeightedSynapse Synapse)> _pulsed = new();

    private void TakeWrites(DeviceArray array, WeightedSynapse ws)
    {
        var taken = array.TakeWrites();
        _writes += taken;
        // A crossbar says how its cells are selected: its half-select terms follow its array type, not the model's.
        if (ws is CrossbarSynapse typed)
            _typedWrites[typed.Settings.ArrayType] = (_typedWrites.TryGetValue(typed.Settings.ArrayType, out var w0) ? w0 : WriteCounts.Zero) + taken;
    }

    /// <inheritdoc />
    public void OnRunEnd(bool completed)
    {
        if (_net is null) return;
        // Pulses issued during the run (plasticity blocks on device arrays) belong to this run.
        foreach (var (array, ws) in _pulsed) TakeWrites(array, ws);
        _pulsed.Clear();
        foreach (var n in _neurons) n.Flush();
        foreach (var n in _neurons) n.FoldHost();
        // The one host read of the run: every accumulator (and the per-step series) at once.
        double[] values;
        using (var scope = torch.NewDisposeScope())
        {
            var all = _neurons.Select(n => n.Acc)
                .Concat(_synapses.Select(s => s.Acc))
                .Concat(_synapses.Select(s => s.ClippedDelta()))
                .Concat(_neurons.SelectMany(n => n.Series.Select(t => t.flatten())))
                .ToArray();
            values = all.Length == 0 ? Array.Empty<double>() : torch.cat(all).cpu().data<double>().ToArray();
        }
        for (int i = 0, at = 0; i < _neurons.Count; at += _neurons[i].Width, i++)
            for (int j = 0; j < _neurons[i].Width; j++) values[at + j] += _neurons[i].HostExtra[j];
        int k = 0;
        var acc = new Dictionary<NeuronTrack, int>();
        foreach (var n in _neurons)
        {
            acc[n] = k;
            var tot = _neuronTotals.TryGetValue(n.Group.Tag, out var t0) ? t0 : new NeuronTotals(n.Group.Tag, n.Group.OutputSize, n.IsInput, 0, 0)
            {
                OperationsPerUpdate = n.OperationsPerUpdate,
                MembraneUpdates = n.Membrane is null ? null : 0,
            };
            _neuronTotals[n.Group.Tag] = tot with
            {
                Events = tot.Events + values[k],
                Updates = tot.Updates + n.Updates,
                MembraneUpdates = n.Membrane is null || tot.MembraneUpdates is null ? null : tot.MembraneUpdates + values[k + NeuronTrack.MembraneSlot],
            };
            k += n.Width;
        }
        foreach (var s in _synapses)
        {
            // The source's accumulator holds this reader's sums: binary-step (AC) and all-step sums of its two columns.
            int a = acc[s.Source2Track!], r = s.Reader, cols = 2 * s.Source2Track!.Readers.Count;
            double ac = values[a + NeuronTrack.Fixed + 2 * r];
            double all = values[a + NeuronTrack.Fixed + cols + 2 * r], allG = values[a + NeuronTrack.Fixed + cols + 2 * r + 1];
            double rowEvents = values[a], active = values[a + 1];
            var tot = _synapseTotals.TryGetValue(s.Tag, out var t0) ? t0 : new SynapseTotals(s.Tag, s.Source, s.Target, s.Ns, s.Nt, s.NonZero, s.OnDevices, s.DevicesPerWeight, 0, 0, 0, 0, 0, 0, 0, 0);
            _synapseTotals[s.Tag] = tot with
            {
                EffectiveAcs = tot.EffectiveAcs + ac,
                EffectiveMacs = tot.EffectiveMacs + (all - ac),
                ReadConductance = tot.ReadConductance + allG + values[k],
                RowEvents = tot.RowEvents + rowEvents,
                // A crossbar counts its own conversions; other arrays are estimated at Nt per read.
                AdcConversions = tot.AdcConversions + (s.Crossbar is { } x ? x.AdcConversions - s.AdcAtStart : active * s.Nt),
                Dense = tot.Dense + (double)s.Source2Track.Updates * s.Nt,
                Steps = tot.Steps + s.Steps,
                ActiveReads = tot.ActiveReads + active,
                DacConversions = tot.DacConversions + (s.Crossbar is { } y ? y.DacConversions - s.DacAtStart : 0),
                Crossbar = s.Circuit,
            };
            k += SynapseTrack.Width;
        }
        foreach (var s in _synapses)
        {
            var tot = _synapseTotals[s.Tag];
            _synapseTotals[s.Tag] = tot with { AdcClipped = tot.AdcClipped + values[k], DacClipped = tot.DacClipped + values[k + 1] };
            k += 2;
        }
        if (RecordSteps)
            foreach (var n in _neurons)
            {
                // Rows of the series: events, then (with readers) the binary flag and per reader operations and conductance.
                int width = n.Readers.Count == 0 ? 1 : 2 + 2 * n.Readers.Count;
                long steps = n.Series.Sum(t => t.Sizes()[0]);
                var ev = _eventSeries.TryGetValue(n.Group.Tag, out var e0) ? e0 : _eventSeries[n.Group.Tag] = new List<double>();
                for (long t = 0; t < steps; t++) ev.Add(values[k + t * width]);
                foreach (var s in n.Readers)
                {
                    var (acs, macs, read) = _synapseSeries.TryGetValue(s.Tag, out var s0) ? s0 : _synapseSeries[s.Tag] = (new List<double>(), new List<double>(), new List<double>());
                    for (long t = 0; t < steps; t++)
                    {
                        long row = k + t * width;
                        double binary = values[row + 1], ops = values[row + 2 + 2 * s.Reader];
                        acs.Add(binary * ops);
                        macs.Add((1 - binary) * ops);
                        read.Add(values[row + 3 + 2 * s.Reader]);
                    }
                }
                k += (int)(steps * width);
            }
        DisposeTracks();
    }

    /// <summary>
    /// Counts a train of programming pulses: <paramref name="trace"/> [count + 1, …] holds the conductances (S) before
    /// the first pulse and after each (as <see cref="DeviceArray.ApplyPulses(int, PulseDirection, TorchSharp.torch.Generator, TorchSharp.torch.Tensor?)"/> returns them); devices where
    /// <paramref name="mask"/> is false received no pulse. See <see cref="WriteEnergy.OfPulseTrain"/>.
    /// </summary>
    public void RecordPulseTrain(Tensor trace, Tensor? mask = null) => _writes += WriteEnergy.OfPulseTrain(trace, mask);

    /// <summary>Adds write counts computed elsewhere (program-and-verify loops, plasticity on devices).</summary>
    public void RecordWrites(WriteCounts counts) => _writes += counts;

    /// <summary>What the ledger counted so far, on the host.</summary>
    public LedgerReport Report() => new(
        Name, _samples, _runs, _steps, _time,
        _neuronTotals.Values.ToArray(), _synapseTotals.Values.ToArray(), _writes, _static ?? StaticMetrics.Empty)
    {
        WritesByArrayType = new Dictionary<ArrayType, WriteCounts>(_typedWrites),
        EventsPerStep = _eventSeries.ToDictionary(p => p.Key, p => (IReadOnlyList<double>)p.Value.ToArray(), StringComparer.Ordinal),
        EffectiveAcsPerStep = _synapseSeries.ToDictionary(p => p.Key, p => (IReadOnlyList<double>)p.Value.Acs.ToArray(), StringComparer.Ordinal),
        EffectiveMacsPerStep = _synapseSeries.ToDictionary(p => p.Key, p => (IReadOnlyList<double>)p.Value.Macs.ToArray(), StringComparer.Ordinal),
        ReadConductancePerStep = _synapseSeries.ToDictionary(p => p.Key, p => (IReadOnlyList<double>)p.Value.Read.ToArray(), StringComparer.Ordinal),
    };

    /// <inheritdoc />
    public void Dispose()
    {
        DisposeTracks();
        ForgetMembranes();
        _scratch?.Dispose();
        _scratch = null;
    }

    private ScratchBuffers? _scratch;

    /// <summary>
    /// A flat buffer the counting passes write into, kept across runs: fresh blocks of megabytes cost a page fault per
    /// 4 KiB at every run (more than the counting itself), reused ones do not. Blocks are counted in chunks that fit.
    /// </summary>
    private ScratchBuffers Scratch(SimulationContext ctx, int n)
    {
        long need = Math.Max(ScratchBuffers.Elements, (long)ctx.BatchSize * n);
        if (_scratch is { } s && s.A.dtype == ctx.DType && s.A.device == ctx.Device && s.A.Sizes()[0] >= need) return s;
        _scratch?.Dispose();
        return _scratch = new ScratchBuffers(need, ctx.DType, ctx.Device);
    }

    /// <summary>The ledger's reusable work space.</summary>
    private sealed class ScratchBuffers : IDisposable
    {
        public const long Elements = 1L << 20; // 4 MiB of float32: a chunk stays in the last-level cache between its passes (a 16 MiB one measured twice as slow)

        public ScratchBuffers(long elements, ScalarType dtype, Device device)
        {
            A = torch.empty(elements, dtype: dtype, device: device).DetachFromDisposeScope();
        }

        public Tensor A { get; }

        private readonly Dictionary<string, Tensor> _stepBuffers = new(StringComparer.Ordinal);

        /// <summary>A stepped group's per-step buffer [batch, steps, N], kept across runs (same reason as <see cref="A"/>).</summary>
        public Tensor StepBuffer(string tag, long[] shape)
        {
            if (_stepBuffers.TryGetValue(tag, out var b) && b.Sizes().SequenceEqual(shape)) return b;
            b?.Dispose();
            return _stepBuffers[tag] = torch.empty(shape, dtype: A.dtype, device: A.device).DetachFromDisposeScope();
        }

        public void Dispose()
        {
            A.Dispose();
            foreach (var b in _stepBuffers.Values) b.Dispose();
            _stepBuffers.Clear();
        }
    }

    private void ForgetMembranes()
    {
        foreach (var m in _membranes.Values) m.Dispose();
        _membranes.Clear();
    }

    private void DisposeTracks()
    {
        foreach (var n in _neurons)
            if (n.TakeMembrane() is { } m)
            {
                if (_membranes.Remove(n.Group.Tag, out var old)) old.Dispose();
                _membranes[n.Group.Tag] = m;
            }
        foreach (var n in _neurons)
            if (n.Group is IEventCountingGroup counting && n.Host is { } host && ReferenceEquals(counting.EventSink, host)) counting.EventSink = null;
        foreach (var n in _neurons) n.Dispose();
        foreach (var s in _synapses) s.Dispose();
        _neurons.Clear();
        _synapses.Clear();
    }

    /// <summary>
    /// A neuron group: counts its non-zero outputs and, for the synapses it drives, their operations and conductance
    /// read, all in one pass per block: one mask, one per-step reduction and one matrix product for every reader.
    /// </summary>
    private sealed class NeuronTrack : IDisposable
    {
        // Accumulator layout (float64 on the device): events, (sample, step) pairs with an event, membrane updates, then
        // per reader r: [Fixed + 2r, +1] = the reader's (operations, conductance) over binary steps and
        // [Fixed + 2R + 2r, +1] = the same over all steps.
        public const int Fixed = 3;
        public const int MembraneSlot = 2;
        private readonly ScratchBuffers _scratch;
        private readonly SimulationContext _ctx;
        private readonly int _batch;
        private readonly int _bufferSteps;
        private readonly bool _series;
        private Tensor? _buffer; // [batch, steps, N] per-step outputs of a stepped group
        private Tensor?[] _slots = Array.Empty<Tensor?>();
        private int _fill;
        private Tensor? _m; // [N, 2R]: per reader, fan-out and conductance (S) of each row's devices
        private Tensor? _m32; // the same in float32 when it holds only fan-outs
        private Tensor? _uniform; // [2R] float64: per reader (fan-out, 0) when every row of every reader has the same fan-out and no row conductance is charged
        private Tensor? _prevMembrane;

        public NeuronTrack(Group g, bool input, int batch, bool sequence, int bufferSteps, SimulationContext ctx, ScratchBuffers scratch, bool series)
        {
            _scratch = scratch;
            _ctx = ctx;
            Group = g;
            IsInput = input;
            Sequence = sequence;
            _batch = batch;
            _bufferSteps = bufferSteps;
            _series = series;
        }

        public Group Group { get; }
        /// <summary>Host counts of this run (kernel-counted or one managed pass), folded into <see cref="Acc"/> at the run's end; null: tensor passes only.</summary>
        public EventCounts? Host { get; init; }
        private long _kernelSeen; // the host counts' kernel-counted steps already matched to blocks
        private bool? _hostSteps; // whether step outputs are counted on the host (decided at the first step)
        private Tensor? _stepCopy; // a contiguous copy of a strided step output, reused
        public bool IsInput { get; }
        public bool Sequence { get; }
        public int? OperationsPerUpdate { get; init; }
        public string? Membrane { get; init; }
        public bool FirstStep { get; set; }
        public Tensor Acc { get; private set; } = null!;
        /// <summary>Counts summed on the host in <see cref="Acc"/>'s layout, added to it after the run's one host read.</summary>
        public double[] HostExtra { get; private set; } = Array.Empty<double>();
        public int Width => Fixed + 4 * Readers.Count;
        public List<SynapseTrack> Readers { get; } = new();
        public double Updates { get; private set; }
        public long Steps { get; private set; }
        /// <summary>Per block: [T, 1] (events per step) or, with readers, [T, 2 + 2R] (events, binary flag, then per reader operations and conductance (S)), float64.</summary>
        public List<Tensor> Series { get; } = new();

        /// <summary>The membrane after the last counted step (kept by the ledger across a Continue), or null.</summary>
        public Tensor? TakeMembrane()
        {
            var m = _prevMembrane;
            _prevMembrane = null;
            return m;
        }

        /// <summary>Starts from the membrane a previous call of the same sample ended with.</summary>
        public void GiveMembrane(Tensor? previous) => _prevMembrane = previous;

        /// <summary>Allocates the accumulator and the readers' matrix once the readers are known.</summary>
        public void Prepare()
        {
            Acc = torch.zeros(Width, dtype: ScalarType.Float64, device: _ctx.Device).DetachFromDisposeScope();
            HostExtra = new double[Width];
            foreach (var s in Readers) s.Source2Track = this;
            if (Readers.Count > 0)
            {
                using var scope = torch.NewDisposeScope();
                _m = torch.stack(Readers.SelectMany(s => new[] { s.Fanout, torch.zeros_like(s.Fanout) }).ToArray(), 1).DetachFromDisposeScope();
                var fanouts = Readers.Select(r => r.HostFanout is { } h ? (Min: h.Min(), Max: h.Max()) : (Min: r.Fanout.min().item<double>(), Max: r.Fanout.max().item<double>())).ToArray();
                if (Readers.All(r => !r.OnDevices || r.ReadsEveryStep) && fanouts.All(f => f.Min == f.Max))
                    _uniform = torch.tensor(fanouts.SelectMany(f => new[] { f.Min, 0.0 }).ToArray(), dtype: ScalarType.Float64, device: _ctx.Device).DetachFromDisposeScope();
                // Without devices the columns are fan-outs: every partial sum is an integer ≤ batch · Ns · Nt.
                if (_ctx.DType == ScalarType.Float32 && Readers.All(s => !s.OnDevices) && (double)_batch * Group.OutputSize * Readers.Max(s => s.Nt) < (1 << 24))
                    _m32 = _m.to(ScalarType.Float32).DetachFromDisposeScope();
            }
        }

        /// <summary>Steps counted: updates of every neuron of every sample, and steps seen by every reader.</summary>
        private void AddSteps(long steps)
        {
            Steps += steps;
            Updates += (double)steps * _batch * Group.OutputSize;
            foreach (var s in Readers) s.Steps += steps;
        }

        /// <summary>
        /// Counts a block on the host when it can: from what the group's kernel counted while it computed the block, or
        /// in one managed pass over a float host block. False: the caller counts it with tensor passes.
        /// </summary>
        public bool CountBlockOnHost(Tensor y, int steps)
        {
            if (Host is not { } host) return false;
            long counted = host.KernelSteps - _kernelSeen;
            if (counted != 0)
            {
                if (counted != steps)
                    throw new InvalidOperationException($"group '{Group.Tag}': its kernel counted {counted} steps for a block of {steps} (ledger counts would be wrong).");
                _kernelSeen = host.KernelSteps;
                AddSteps(steps);
                return true;
            }
            if (!EventCounts.CanCount(y)) return false;
            host.Count(y);
            AddSteps(steps);
            return true;
        }

        public void Push(Tensor y)
        {
            if (Host is { } host)
            {
                _hostSteps ??= EventCounts.CanCount(y) && y.dim() == 2 && y.Sizes()[0] == _batch && y.Sizes()[1] == Group.OutputSize;
                if (_hostSteps == true)
                {
                    if (y.is_contiguous()) host.CountContiguous(y, 1);
                    else
                    {
                        _stepCopy ??= torch.empty(y.Sizes(), dtype: y.dtype).DetachFromDisposeScope();
                        using (torch.no_grad()) _stepCopy.copy_(y);
                        host.CountContiguous(_stepCopy, 1);
                    }
                    AddSteps(1);
                    return;
                }
            }
            if (_buffer is null)
            {
                _buffer = _scratch.StepBuffer(Group.Tag, new long[] { _batch, _bufferSteps, Group.OutputSize });
                _slots = new Tensor?[_bufferSteps];
            }
            var slot = _slots[_fill] ??= _buffer.select(1, _fill).DetachFromDisposeScope();
            if (y.requires_grad)
            {
                // Copied outside autograd: the buffer must not join the run's graph.
                using var noGrad = torch.no_grad();
                slot.copy_(y);
            }
            else slot.copy_(y);
            if (++_fill == _bufferSteps) Flush();
        }

        public void Flush()
        {
            if (_fill == 0) return;
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            Count(_buffer!.narrow(1, 0, _fill));
            _fill = 0;
        }

        /// <summary>NeuroBench's membrane updates of this step: neurons whose membrane changed (all of them in the first step after a reset).</summary>
        public void CountMembrane()
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var v = Group.Variable(Membrane!).Value.detach();
            var slot = Acc.narrow(0, MembraneSlot, 1);
            if (FirstStep || _prevMembrane is null || !_prevMembrane.Sizes().SequenceEqual(v.Sizes()))
            {
                // Every neuron of every sample counts in the first step (a per-component state broadcasts to the batch).
                slot.add_((double)_batch * Group.OutputSize);
                _prevMembrane?.Dispose();
                _prevMembrane = v.clone().DetachFromDisposeScope();
                FirstStep = false;
                return;
            }
            slot.add_(v.ne(_prevMembrane).sum(type: ScalarType.Float64).mul_((double)_batch * Group.OutputSize / v.NumberOfElements));
            _prevMembrane.copy_(v);
        }

        /// <summary>Counts a block of outputs [batch, T, N] (a view; not kept), in chunks of steps that fit the scratch buffers.</summary>
        public void Count(Tensor y)
        {
            long perStep = (long)y.Sizes()[0] * y.Sizes()[2];
            int chunk = (int)Math.Max(1, _scratch.A.Sizes()[0] / Math.Max(1, perStep));
            for (long t0 = 0; t0 < y.Sizes()[1]; t0 += chunk)
            {
                long len = Math.Min(chunk, y.Sizes()[1] - t0);
                using var scope = torch.NewDisposeScope();
                CountChunk(y.narrow(1, t0, len));
            }
        }

        /// <summary>
        /// Adds the host counts of the run to <see cref="Acc"/>, in its layout: events, and per reader the operations
        /// (events per neuron times the row's non-zero weights: one small product per run) and conductance read, over
        /// binary steps and over all steps.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)] // once per run: optimized from the first
        public void FoldHost()
        {
            if (Host is not { Steps: > 0 } host) return;
            int n = Group.OutputSize;
            var perSample = host.PerSample;
            var rows = new double[2 * n]; // [binary steps; all steps] events per neuron, summed over samples
            host.Unattributed.CopyTo(rows.AsSpan(n));
            for (int b = 0; b < _batch; b++)
                for (int j = 0; j < n; j++) rows[n + j] += perSample[b * n + j];
            var nonBinary = host.NonBinary;
            double events = 0;
            for (int j = 0; j < n; j++)
            {
                events += rows[n + j];
                rows[j] = rows[n + j] - nonBinary[j];
            }
            // Sums that need no conductance are added on the host, to the values of the run's one read (HostExtra).
            HostExtra[0] += events;
            if (Readers.Count > 0)
            {
                int r2 = 2 * Readers.Count;
                HostExtra[1] += host.ActivePairs;
                if (Readers.All(s => s.HostFanout is not null && !s.OnDevices))
                    for (int r = 0; r < Readers.Count; r++)
                    {
                        var fanout = Readers[r].HostFanout!;
                        double binary = 0, all = 0;
                        for (int j = 0; j < n; j++)
                        {
                            binary += rows[j] * fanout[j];
                            all += rows[n + j] * fanout[j];
                        }
                        HostExtra[Fixed + 2 * r] += binary;
                        HostExtra[Fixed + r2 + 2 * r] += all;
                    }
                else
                {
                    using var scope = torch.NewDisposeScope();
                    using var noGrad = torch.no_grad();
                    foreach (var s in Readers) s.FillConductance(_m!);
                    // [2, N] × [N, 2R]: per reader, operations (events times the row's non-zero weights) and conductance read.
                    var r = torch.tensor(rows, new long[] { 2, n }, dtype: ScalarType.Float64, device: _ctx.Device).matmul(_m!);
                    Acc.narrow(0, Fixed, 2 * r2).add_(r.view(-1));
                    if (Readers.Any(s => s.PerSampleRows is not null))
                    {
                        var ps = torch.tensor(perSample.ToArray(), new long[] { _batch, n }, dtype: ScalarType.Float64, device: _ctx.Device);
                        foreach (var s in Readers) s.CountPerSample(ps);
                    }
                }
            }
            host.Clear();
            _kernelSeen = 0;
        }

        private void CountChunk(Tensor y)
        {
            AddSteps(y.Sizes()[1]);
            // Few passes over the block, all in its own float dtype and into one reused buffer (comparisons to bool,
            // count_nonzero, casts and fresh blocks are several times slower on the CPU). In-place comparisons write
            // 0/1 in y's dtype.
            long elements = y.NumberOfElements;
            var a = _scratch.A.narrow(0, 0, elements).view(y.Sizes()).copy_(y).ne_(0); // 1 where y ≠ 0
            if (Readers.Count == 0 && !_series)
            {
                // A float32 sum of ones is exact below 2^24 elements.
                Acc.narrow(0, 0, 1).add_((elements < (1L << 24) ? a.sum() : a.sum(type: ScalarType.Float64)).to(ScalarType.Float64).view(1));
                return;
            }
            if (_uniform is { } fanouts)
            {
                CountUniform(y, a, fanouts);
                return;
            }
            var perStep = a.sum(new long[] { 0 }); // [T, N] events per neuron and step (exact in float32 below 2^24 samples)
            var events = perStep.to(ScalarType.Float64).sum(new long[] { 1 }); // [T]
            if (Readers.Count == 0)
            {
                Acc.narrow(0, 0, 1).add_(events.sum().view(1));
                Series.Add(events.unsqueeze(1).DetachFromDisposeScope());
                return;
            }
            foreach (var s in Readers) s.FillConductance(_m!);
            var active = a.amax(new long[] { 2 }).sum(type: ScalarType.Float64).view(1); // (sample, step) pairs with an event
            var perSample = Readers.Any(s => s.PerSampleRows is not null) ? a.sum(new long[] { 1 }).to(ScalarType.Float64) : null; // [B, N]
            // NeuroBench decides per step tensor: all inputs in {0, 1} → accumulates, else multiply-accumulates. y equals
            // its own non-zero mask exactly where it is 0 or 1 (NaN never does): a step is binary when no element differs.
            var binary = a.ne_(y).sum(new long[] { 0, 2 }).eq(0).to(ScalarType.Float64); // [T]
            // [T, 2R]: per reader, operations and conductance read (S). Counts alone are integers below 2^24, exact in
            // float32 (no cast of the [T, N] block); conductances need float64.
            var r = _m32 is { } m32 ? perStep.mm(m32).to(ScalarType.Float64) : perStep.to(ScalarType.Float64).mm(_m!);
            Acc.add_(torch.cat(new[] { events.sum().view(1), active, torch.zeros(1, dtype: ScalarType.Float64, device: Acc.device), binary.matmul(r), r.sum(new long[] { 0 }) }));
            if (perSample is not null)
                foreach (var s in Readers) s.CountPerSample(perSample);
            if (_series) Series.Add(torch.cat(new[] { events.unsqueeze(1), binary.unsqueeze(1), r }, 1).DetachFromDisposeScope());
        }

        /// <summary>
        /// The same counts when every reader's rows reach the same number of targets and no conductance is charged per row
        /// (a dense layer without devices, or arrays read every step): operations = events × fan-out, so one reduction
        /// over neurons [B, T] replaces the per-neuron one and the product (two passes fewer over the block).
        /// </summary>
        private void CountUniform(Tensor y, Tensor a, Tensor fanouts)
        {
            // A reduction with another output dtype casts its whole input first: reduce in y's dtype (exact: ≤ N ones), then cast.
            var perPair = a.sum(new long[] { 2 }).to(ScalarType.Float64); // [B, T] events per (sample, step)
            var events = perPair.sum(new long[] { 0 }); // [T]
            var active = perPair.gt(0).sum(type: ScalarType.Float64).view(1);
            var binary = a.ne_(y).sum(new long[] { 0, 2 }).eq(0).to(ScalarType.Float64); // as in CountChunk
            var r = events.unsqueeze(1).mul(fanouts); // [T, 2R]: operations; no conductance column
            Acc.add_(torch.cat(new[] { events.sum().view(1), active, torch.zeros(1, dtype: ScalarType.Float64, device: Acc.device), binary.matmul(r), r.sum(new long[] { 0 }) }));
            if (_series) Series.Add(torch.cat(new[] { events.unsqueeze(1), binary.unsqueeze(1), r }, 1).DetachFromDisposeScope());
        }

        public void Dispose()
        {
            Acc?.Dispose();
            _uniform?.Dispose();
            _m?.Dispose();
            _m32?.Dispose();
            foreach (var slot in _slots) slot?.Dispose(); // the buffer itself belongs to the scratch pool, reused next run
            _prevMembrane?.Dispose();
            _stepCopy?.Dispose();
            foreach (var t in Series) t.Dispose();
        }
    }

    /// <summary>A weighted synapse fed by a neuron group: NeuroBench operations and device reads per input event.</summary>
    private sealed class SynapseTrack : IDisposable
    {
        public const int Width = 1; // conductance (S) read on arrays whose reads are per sample or per step
        private readonly DeviceArray? _array;
        private bool _filled;

        public SynapseTrack(string tag, string source, Group sourceGroup, string target, WeightedSynapse ws, SimulationContext ctx, int reader)
        {
            Tag = tag;
            Source = source;
            SourceGroup = sourceGroup;
            Target = target;
            Reader = reader;
            Ns = ws.SourceCount;
            Nt = ws.TargetCount;
            using var scope = torch.NewDisposeScope();
            var w = ws.W.Value.detach();
            if (EventCounts.NonZerosPerRow(w) is { } rows)
            {
                // One managed read of host weights instead of a mask, a cast and two reductions (every run: weights may change).
                HostFanout = rows;
                NonZero = (long)rows.Sum();
                Fanout = torch.tensor(rows, dtype: ScalarType.Float64, device: ctx.Device).DetachFromDisposeScope();
            }
            else
            {
                var nzw = w.ne(0).to(ScalarType.Float64);
                if (nzw.dim() == 3) nzw = nzw.amax(0); // per-sample weights: a connection exists if any sample uses it
                NonZero = (long)nzw.sum().item<double>();
                Fanout = nzw.sum(1).DetachFromDisposeScope();
            }
            if (ws.WeightDevice is DeviceArray { IsProgrammed: true } array)
            {
                OnDevices = true;
                DevicesPerWeight = array.Mapping.DevicesPerWeight;
                _array = array;
                ReadsEveryStep = array.ReadsVary || ws.Plastic; // a plasticity block pulses the devices every step
            }
            Acc = torch.zeros(Width, dtype: ScalarType.Float64, device: ctx.Device).DetachFromDisposeScope();
            if (ws is CrossbarSynapse x)
            {
                // The crossbar's counters run from its last reset (a Continue keeps them): count their change over this run.
                Crossbar = x;
                Circuit = CrossbarCircuit.Of(x);
                AdcAtStart = x.AdcConversions;
                DacAtStart = x.DacConversions;
                _clippedAtStart = Clipped(x, ctx.Device).DetachFromDisposeScope();
            }
        }

        private readonly Tensor? _clippedAtStart; // [2] float64: the crossbar's clipped ADC and DAC counts when the run started

        /// <summary>The crossbar this synapse is, or null.</summary>
        public CrossbarSynapse? Crossbar { get; }
        /// <summary>The crossbar's circuit facts for the report, or null.</summary>
        public CrossbarCircuit? Circuit { get; }
        /// <summary>The crossbar's ADC conversions when the run started.</summary>
        public long AdcAtStart { get; }
        /// <summary>The crossbar's DAC conversions when the run started.</summary>
        public long DacAtStart { get; }
        /// <summary>Whether its array draws new conductances every step (read noise): charged step by step in OnStep.</summary>
        public bool ReadsEveryStep { get; }
        /// <summary>Row conductances per sample [B, Ns] (S) of an array read per sample, once known; null otherwise.</summary>
        public Tensor? PerSampleRows { get; private set; }

        private static Tensor Clipped(CrossbarSynapse x, Device device)
        {
            var (adc, dac) = x.ClippedCounters;
            var zero = torch.zeros(1, dtype: ScalarType.Float64, device: device);
            return torch.cat(new[] { adc?.to(ScalarType.Float64).view(1) ?? zero, dac?.to(ScalarType.Float64).view(1) ?? zero });
        }

        /// <summary>Clipped ADC and DAC conversions of this run [2] (float64, on the device; zeros unless a crossbar), read with the ledger's one host read.</summary>
        public Tensor ClippedDelta() => Crossbar is { } x && _clippedAtStart is { } c0
            ? Clipped(x, c0.device).sub_(c0)
            : torch.zeros(2, dtype: ScalarType.Float64, device: Acc.device);

        public string Tag { get; }
        public string Source { get; }
        public Group SourceGroup { get; }
        public string Target { get; }
        public int Reader { get; }
        public int Ns { get; }
        public int Nt { get; }
        public long NonZero { get; }
        public bool OnDevices { get; }
        public int DevicesPerWeight { get; }
        public long Steps { get; set; }
        public Tensor Acc { get; }
        public Tensor Fanout { get; }
        /// <summary><see cref="Fanout"/> on the host when the weights were read there, else null.</summary>
        public double[]? HostFanout { get; }
        public NeuronTrack? Source2Track { get; set; }

        /// <summary>Σ over devices and columns of each row of the conductances read (S): [Ns], or [B, Ns] for a read per sample.</summary>
        private static Tensor RowSums(Tensor g) => g.dim() == 4 ? g.sum(new long[] { 0, 3 }, type: ScalarType.Float64) : g.sum(new long[] { 0, 2 }, type: ScalarType.Float64);

        /// <summary>
        /// Puts the row conductances of the run's read into the readers' matrix, once per run, at the first count (the
        /// read has happened by then: at the reset, or lazily in the first step). Arrays read every step are charged in
        /// <see cref="CountStepRead"/> instead.
        /// </summary>
        public void FillConductance(Tensor m)
        {
            if (_filled || _array is null || ReadsEveryStep) return;
            _filled = true;
            if (_array.LastReadConductances is not { } g) return;
            using var scope = torch.NewDisposeScope();
            var rows = RowSums(g);
            if (rows.dim() == 2) PerSampleRows = rows.DetachFromDisposeScope();
            else m.select(1, 2 * Reader + 1).copy_(rows);
        }

        /// <summary>Charges the events of a block per sample [B, Ns] with a per-sample read.</summary>
        public void CountPerSample(Tensor perSample)
        {
            if (PerSampleRows is { } rows) Acc.add_(perSample.mul(rows).sum().view(1));
        }

        /// <summary>Charges this step's input events <paramref name="x"/> [B, Ns] with the conductances the synapse read in this step.</summary>
        public void CountStepRead(Tensor x)
        {
            if (_array?.LastReadConductances is not { } g) return;
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var rows = RowSums(g);
            var events = x.detach().ne(0).to(ScalarType.Float64);
            Acc.add_((rows.dim() == 2 ? events.mul(rows).sum() : events.sum(new long[] { 0 }).dot(rows)).view(1));
        }

        public void Dispose()
        {
            Fanout.Dispose();
            Acc.Dispose();
            PerSampleRows?.Dispose();
            _clippedAtStart?.Dispose();
        }
    }
}
