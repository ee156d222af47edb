using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Networks.Observers;
using Ship.Devices.Memristive;
using Ship.Devices.Memristive.Crossbar;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Energy;

/// <summary>
/// The hardware ledger: an opt-in run observer (<c>network.AddObserver(ledger)</c>) that counts what the emulated
/// hardware does — events and neuron updates per neuron group; NeuroBench's effective accumulates, effective
/// multiply-accumulates and dense operations per weighted synapse; the conductance read by input events on
/// device-array synapses (S, for the read energy Σ V_read²·G·t_read); row drives and column conversions — and, when
/// programming pulses the network's device arrays received (pulse programming, <c>ApplyPulses</c>; others through
/// <see cref="RecordPulseTrain"/>). A <see cref="CrossbarSynapse"/> reports its own DAC and ADC conversions and clipped
/// conversions (taken as the difference of its counters over the run), its read pulse and its array type, which replace
/// the estimates and the energy model's values for that synapse (docs/energy.md). Counts stay tensors on the network's device and are read
/// to the host once per run; the ledger never writes a network tensor nor draws from the network's generator, so
/// results are identical with and without it. Energies come from the counts and an energy model in <see cref="Report"/>.
/// </summary>
public sealed class HardwareLedger : IRunObserver, IDisposable
{
    private const int StepBuffer = 64; // per-step outputs gathered before one counting pass

    private readonly List<NeuronTrack> _neurons = new();
    private readonly List<SynapseTrack> _synapses = new();
    private readonly Dictionary<string, NeuronTotals> _neuronTotals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SynapseTotals> _synapseTotals = new(StringComparer.Ordinal);
    private Network? _net;
    private long _samples, _steps, _runs;
    private double _time;
    private WriteCounts _writes = WriteCounts.Zero;
    private readonly Dictionary<ArrayType, WriteCounts> _typedWrites = new();
    private StaticMetrics? _static;

    /// <summary>Creates an empty ledger; attach it with <c>network.AddObserver(ledger)</c>.</summary>
    public HardwareLedger(string name = "ledger") => Name = name;

    /// <summary>Name used in messages.</summary>
    public string Name { get; }

    /// <summary>Seed of the ledger's own generator, used only to read noisy device arrays (never the network's generator).</summary>
    public long ReadSeed { get; init; } = 0x5eed;

    /// <summary>Samples counted so far (the batch size of every Run; a Continue adds steps, not samples).</summary>
    public long Samples => _samples;

    /// <summary>Forgets every count.</summary>
    public void Clear()
    {
        _neuronTotals.Clear();
        _synapseTotals.Clear();
        _samples = 0;
        _steps = 0;
        _runs = 0;
        _time = 0;
        _writes = WriteCounts.Zero;
        _typedWrites.Clear();
        _static = null;
    }

    /// <inheritdoc />
    public bool NeedsStepOutput(Group group) => false;

    /// <inheritdoc />
    public void OnRunStart(RunStartView run)
    {
        DisposeTracks();
        var net = _net = run.Network;
        var ctx = net.Context;
        int batch = ctx.BatchSize;
        if (run.Reset) { _samples += batch; _runs++; }
        var sequence = new HashSet<string>(net.SequenceGroups, StringComparer.Ordinal);
        using var noGrad = torch.no_grad();
        var byTag = new Dictionary<string, NeuronTrack>(StringComparer.Ordinal);
        var scratch = Scratch(ctx, net.Groups.Where(g => g.Kind == GroupKind.Neuron).Select(g => g.OutputSize).DefaultIfEmpty(1).Max());
        foreach (var g in net.Groups)
        {
            if (g.Kind != GroupKind.Neuron) continue;
            var core = g is GroupWrapper w ? w.Core : g;
            bool input = g is IInputGroup || core is IInputGroup;
            var t = new NeuronTrack(g, input, batch, sequence.Contains(g.Tag), ctx.Device, ctx.DType, scratch);
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
                var taken = pulsed.TakeWrites();
                _writes += taken;
                // A crossbar says how its cells are selected: its half-select terms follow its array type, not the model's.
                if (ws is CrossbarSynapse typed)
                    _typedWrites[typed.Settings.ArrayType] = (_typedWrites.TryGetValue(typed.Settings.ArrayType, out var w0) ? w0 : WriteCounts.Zero) + taken;
            }
            var s = new SynapseTrack(g.Tag, source, target, ws, ctx, ReadSeed);
            src.Readers.Add(s);
            _synapses.Add(s);
        }
        _static ??= StaticMetrics.Of(net);
    }

    /// <inheritdoc />
    public void OnStep(StepView step)
    {
        foreach (var n in _neurons)
        {
            if (n.Sequence) continue;
            if (step.Output(n.Group) is not { } y) continue;
            n.Push(y);
        }
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
                using var scope = torch.NewDisposeScope();
                using var noGrad = torch.no_grad();
                n.Count(y.detach());
            }
            else n.Flush();
        }
    }

    /// <inheritdoc />
    public void OnRunEnd(bool completed)
    {
        if (_net is null) return;
        foreach (var n in _neurons) n.Flush();
        // The one host read of the run: every accumulator at once.
        double[] values;
        using (var scope = torch.NewDisposeScope())
        {
            var all = _neurons.Select(n => n.Acc).Concat(_synapses.Select(s => s.Acc)).Concat(_synapses.Select(s => s.ClippedDelta())).ToArray();
            values = all.Length == 0 ? Array.Empty<double>() : torch.cat(all).cpu().data<double>().ToArray();
        }
        int k = 0, c = values.Length - 2 * _synapses.Count;
        foreach (var n in _neurons)
        {
            var tot = _neuronTotals.TryGetValue(n.Group.Tag, out var t0) ? t0 : new NeuronTotals(n.Group.Tag, n.Group.OutputSize, n.IsInput, 0, 0);
            _neuronTotals[n.Group.Tag] = tot with { Events = tot.Events + values[k], Updates = tot.Updates + n.Updates };
            k += NeuronTrack.Width;
        }
        foreach (var s in _synapses)
        {
            var tot = _synapseTotals.TryGetValue(s.Tag, out var t0) ? t0 : new SynapseTotals(s.Tag, s.Source, s.Target, s.Ns, s.Nt, s.NonZero, s.OnDevices, s.DevicesPerWeight, 0, 0, 0, 0, 0, 0, 0, 0);
            _synapseTotals[s.Tag] = tot with
            {
                EffectiveAcs = tot.EffectiveAcs + values[k],
                EffectiveMacs = tot.EffectiveMacs + values[k + 1],
                ReadConductance = tot.ReadConductance + values[k + 2],
                RowEvents = tot.RowEvents + values[k + 3],
                // A crossbar counts its own conversions; other arrays are estimated at Nt per read.
                AdcConversions = tot.AdcConversions + (s.Crossbar is { } x ? x.AdcConversions - s.AdcAtStart : values[k + 4] * s.Nt),
                Dense = tot.Dense + (double)s.Steps * s.Batch * s.Ns * s.Nt,
                Steps = tot.Steps + s.Steps,
                ActiveReads = tot.ActiveReads + values[k + 4],
                DacConversions = tot.DacConversions + (s.Crossbar is { } y ? y.DacConversions - s.DacAtStart : 0),
                AdcClipped = tot.AdcClipped + values[c],
                DacClipped = tot.DacClipped + values[c + 1],
                Crossbar = s.Circuit,
            };
            k += SynapseTrack.Width;
            c += 2;
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
    };

    /// <inheritdoc />
    public void Dispose()
    {
        DisposeTracks();
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
        if (_scratch is { } s && s.A.dtype == ctx.DType && s.A.device == ctx.Device && s.A.shape[0] >= need) return s;
        _scratch?.Dispose();
        return _scratch = new ScratchBuffers(need, ctx.DType, ctx.Device);
    }

    /// <summary>The ledger's reusable work space.</summary>
    private sealed class ScratchBuffers : IDisposable
    {
        public const long Elements = 1L << 20;

        public ScratchBuffers(long elements, ScalarType dtype, Device device)
        {
            A = torch.empty(elements, dtype: dtype, device: device).DetachFromDisposeScope();
        }

        public Tensor A { get; }

        public void Dispose() => A.Dispose();
    }

    private void DisposeTracks()
    {
        foreach (var n in _neurons) n.Dispose();
        foreach (var s in _synapses) s.Dispose();
        _neurons.Clear();
        _synapses.Clear();
    }

    /// <summary>A neuron group: counts its non-zero outputs and feeds them to the synapses it drives.</summary>
    private sealed class NeuronTrack : IDisposable
    {
        public const int Width = 1;
        private readonly Tensor _buffer; // [batch, StepBuffer, N] per-step outputs of a stepped group
        private readonly Tensor?[] _slots = new Tensor?[StepBuffer]; // views of _buffer's steps, made once: a step costs one copy
        private int _fill;
        private readonly int _batch;

        private readonly ScratchBuffers _scratch;

        public NeuronTrack(Group g, bool input, int batch, bool sequence, Device device, ScalarType dtype, ScratchBuffers scratch)
        {
            _scratch = scratch;
            Group = g;
            IsInput = input;
            Sequence = sequence;
            _batch = batch;
            Acc = torch.zeros(Width, dtype: ScalarType.Float64, device: device).DetachFromDisposeScope();
            _buffer = sequence
                ? torch.empty(0, device: device).DetachFromDisposeScope()
                : torch.empty(new long[] { batch, StepBuffer, g.OutputSize }, dtype: dtype, device: device).DetachFromDisposeScope();
        }

        public Group Group { get; }
        public bool IsInput { get; }
        public bool Sequence { get; }
        public Tensor Acc { get; }
        public List<SynapseTrack> Readers { get; } = new();
        public double Updates { get; private set; }

        public void Push(Tensor y)
        {
            (_slots[_fill] ??= _buffer.select(1, _fill).DetachFromDisposeScope()).copy_(y);
            if (++_fill == StepBuffer) Flush();
        }

        public void Flush()
        {
            if (_fill == 0) return;
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            Count(_buffer.narrow(1, 0, _fill));
            _fill = 0;
        }

        /// <summary>Counts a block of outputs [batch, T, N] (a view; not kept), in chunks of steps that fit the scratch buffers.</summary>
        public void Count(Tensor y)
        {
            long perStep = (long)y.shape[0] * y.shape[2];
            int chunk = (int)Math.Max(1, _scratch.A.shape[0] / Math.Max(1, perStep));
            for (long t0 = 0; t0 < y.shape[1]; t0 += chunk)
            {
                long len = Math.Min(chunk, y.shape[1] - t0);
                using var scope = torch.NewDisposeScope();
                CountChunk(y.narrow(1, t0, len));
            }
        }

        private void CountChunk(Tensor y)
        {
            // Few passes over the block, all in its own float dtype and into one reused buffer (comparisons to bool,
            // casts and fresh blocks are several times slower on the CPU). In-place comparisons write 0/1 in y's dtype.
            Updates += (double)y.shape[1] * _batch * Group.OutputSize;
            long elements = y.NumberOfElements;
            var a = _scratch.A.narrow(0, 0, elements).view(y.shape);
            var nz = a.copy_(y).ne_(0); // 1 where y ≠ 0
            if (Readers.Count == 0)
            {
                // A float32 sum of ones is exact below 2^24 elements.
                Acc.add_((elements < (1L << 24) ? nz.sum() : nz.sum(type: ScalarType.Float64)).to(ScalarType.Float64).view(1));
                return;
            }
            var perStep = nz.sum(new long[] { 0 }).to(ScalarType.Float64); // [T, N] events per neuron (exact in float32 below 2^24 samples)
            var active = nz.amax(new long[] { 2 }).sum(type: ScalarType.Float64); // (sample, step) pairs with an event
            // NeuroBench decides per step tensor: all inputs in {0, 1} → accumulates, else multiply-accumulates. y equals
            // its own non-zero mask exactly where it is 0 or 1 (NaN never does): a step is binary when no element differs.
            var binary = nz.ne_(y).sum(new long[] { 2 }).sum(new long[] { 0 }).eq(0).to(ScalarType.Float64);
            Acc.add_(perStep.sum().view(1));
            foreach (var s in Readers) s.Count(y.shape[1], perStep, binary, active);
        }

        public void Dispose()
        {
            Acc.Dispose();
            foreach (var slot in _slots) slot?.Dispose();
            _buffer.Dispose();
        }
    }

    /// <summary>A weighted synapse fed by a neuron group: NeuroBench operations and device reads per input event.</summary>
    private sealed class SynapseTrack : IDisposable
    {
        public const int Width = 5; // effective ACs, effective MACs, read conductance (S), row events, (step, sample) pairs with events
        private readonly Tensor _m; // [Ns, 3]: fan-out (non-zero weights of the row), conductance of the row's devices (S), 1

        public SynapseTrack(string tag, string source, string target, WeightedSynapse ws, SimulationContext ctx, long readSeed)
        {
            Tag = tag;
            Source = source;
            Target = target;
            Ns = ws.SourceCount;
            Nt = ws.TargetCount;
            Batch = ctx.BatchSize;
            using var scope = torch.NewDisposeScope();
            var w = ws.W.Value.detach();
            var nzw = w.ne(0).to(ScalarType.Float64);
            if (nzw.dim() == 3) nzw = nzw.amax(0); // per-sample weights: a connection exists if any sample uses it
            NonZero = (long)nzw.sum().item<double>();
            var fanout = nzw.sum(1);
            Tensor rowG = torch.zeros(Ns, dtype: ScalarType.Float64, device: ctx.Device);
            if (ws.WeightDevice is DeviceArray { IsProgrammed: true } array)
            {
                OnDevices = true;
                DevicesPerWeight = array.Mapping.DevicesPerWeight;
                rowG = RowConductance(array, ctx, readSeed);
            }
            _m = torch.stack(new[] { fanout, rowG, torch.ones(Ns, dtype: ScalarType.Float64, device: ctx.Device) }, 1).DetachFromDisposeScope();
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
        public string Target { get; }
        public int Ns { get; }
        public int Nt { get; }
        public int Batch { get; }
        public long NonZero { get; }
        public bool OnDevices { get; }
        public int DevicesPerWeight { get; }
        public long Steps { get; private set; }
        public Tensor Acc { get; }

        /// <summary>
        /// Σ over devices of each row of G (S) as the array reads now. A noisy array is read with the ledger's own
        /// generator (a statistically equivalent draw; the network's stream is untouched), then given its generator back.
        /// </summary>
        private static Tensor RowConductance(DeviceArray array, SimulationContext ctx, long seed)
        {
            var state = array.State;
            var rng = state.Rng;
            try
            {
                var own = new SimulationContext(ctx.BatchSize, ctx.Device, ScalarType.Float64, ctx.Dt, seed);
                var g = array.ReadConductances(own); // [D, Ns, Nt] or [D, batch, Ns, Nt]
                if (g.dim() == 4) g = g.mean(new long[] { 1 });
                return g.sum(dim: 0).sum(dim: 1);
            }
            finally { state.Rng = rng; }
        }

        /// <summary>Counts a block of <paramref name="steps"/> steps from its events per step and row [T, Ns], the binary flag of each step [T] and the (sample, step) pairs with an event.</summary>
        public void Count(long steps, Tensor perStep, Tensor binary, Tensor active)
        {
            Steps += steps;
            var r = perStep.mm(_m); // [T, 3]: operations, conductance read (S), row events
            var ops = r.select(1, 0);
            var ac = ops.dot(binary);
            var mac = ops.sum().sub_(ac);
            Acc.add_(torch.stack(new[] { ac, mac, r.select(1, 1).sum(), r.select(1, 2).sum(), active }));
        }

        public void Dispose()
        {
            _m.Dispose();
            Acc.Dispose();
            _clippedAtStart?.Dispose();
        }
    }
}
