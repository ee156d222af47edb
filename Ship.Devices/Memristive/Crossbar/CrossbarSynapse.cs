using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using Ship.Devices.Energy;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive.Crossbar;

/// <summary>The read pulse a spike (input 1) puts on its row (data only).</summary>
/// <param name="Voltage">Read voltage V_read (V, &gt; 0).</param>
/// <param name="Width">Pulse width t_read (s, &gt; 0): the integration time of the current-mode front end and of every conversion's charge.</param>
public sealed record ReadPulse(double Voltage = 0.2, double Width = 10e-9);

/// <summary>ADC-free readout: each column's current integrates for the pulse width onto the target neuron's membrane capacitance (data only).</summary>
/// <param name="Capacitance">Membrane capacitance C_m (F, &gt; 0); the synapse outputs ΔV = I·t_read/C_m (V) per step.</param>
public sealed record CurrentModeSettings(double Capacitance = 1e-12);

/// <summary>
/// Everything about the circuit a crossbar synapse's devices sit in (data only); conductances are in siemens, voltages
/// in volts, currents in amperes, times in seconds. Exactly one readout: <see cref="Adc"/> (null = ideal digital readout
/// of infinite resolution) or <see cref="CurrentMode"/>.
/// </summary>
public sealed record CrossbarSettings
{
    /// <summary>Tile size (default 256 × 256).</summary>
    public TileSize Tile { get; init; } = new();
    /// <summary>Cell type, shared with the energy ledger (default 1T1R): with 1T1R the cells of an undriven row are disconnected by their access transistors; a cross-point array holds that row at 0 V (sneak currents flow through it under IR drop).</summary>
    public ArrayType ArrayType { get; init; } = ArrayType.OneTransistorOneResistor;
    /// <summary>Read pulse of a spike (default 0.2 V, 10 ns).</summary>
    public ReadPulse Read { get; init; } = new();
    /// <summary>Row DACs for analog inputs, or null: rows are driven at x·V_read unquantized (spikes: V_read per spike).</summary>
    public DacSettings? Dac { get; init; }
    /// <summary>Column ADCs, or null for an ideal readout.</summary>
    public AdcSettings? Adc { get; init; }
    /// <summary>ADC-free current-mode readout into the target membrane, or null.</summary>
    public CurrentModeSettings? CurrentMode { get; init; }
    /// <summary>Line, driver and sense resistances (default all 0 Ω: ideal).</summary>
    public LineResistances Lines { get; init; } = new();
    /// <summary>How column currents are computed when lines have resistance (default the fast approximation).</summary>
    public IrDropModel IrDrop { get; init; } = IrDropModel.Approximate;
    /// <summary>Relative residual of the exact solve (≤ 1e-10).</summary>
    public double Tolerance { get; init; } = IrDropFunctional.DefaultTolerance;

    /// <summary>Checks every field; throws a <see cref="ParameterException"/> naming <paramref name="owner"/> and the field.</summary>
    public void Validate(string owner, bool differential)
    {
        ArgumentNullException.ThrowIfNull(Tile);
        ArgumentNullException.ThrowIfNull(Read);
        ArgumentNullException.ThrowIfNull(Lines);
        Tile.Validate(owner);
        if (!double.IsFinite(Read.Voltage) || !(Read.Voltage > 0)) throw new ParameterException(owner, "read.voltage", $"must be a finite voltage > 0 V, got {Read.Voltage}.");
        if (!double.IsFinite(Read.Width) || !(Read.Width > 0)) throw new ParameterException(owner, "read.width", $"must be a finite time > 0 s, got {Read.Width}.");
        Dac?.Validate(owner);
        Adc?.Validate(owner, differential);
        if (CurrentMode is { } cm && (!double.IsFinite(cm.Capacitance) || !(cm.Capacitance > 0)))
            throw new ParameterException(owner, "current_mode.capacitance", $"must be a finite capacitance > 0 F, got {cm.Capacitance}.");
        if (Adc is not null && CurrentMode is not null)
            throw new ParameterException(owner, "readout", "has both an ADC and a current-mode front end; choose one (set the other to null).");
        Lines.Validate(owner);
        if (!Enum.IsDefined(IrDrop)) throw new ParameterException(owner, "ir_drop", $"is not a known model: {IrDrop}.");
        if (!Enum.IsDefined(ArrayType)) throw new ParameterException(owner, "array_type", $"is not a known array type: {ArrayType}.");
        if (!(Tolerance > 0 && Tolerance <= 1e-10)) throw new ParameterException(owner, "tolerance", $"the exact solve's relative residual must lie in (0, 1e-10], got {Tolerance}.");
    }
}

/// <summary>
/// A weight matrix placed on crossbar tiles, ready to read: physical conductances [Tr, Tc, R, Cp] (S) with the columns
/// of each tile ordered as the mapping places them (G+, G− interleaved for pairs; device columns then the reference
/// column for single devices), the word-line factor of the approximation, and the decode slope.
/// </summary>
public sealed class CrossbarLayout : IDisposable
{
    private double[][]? _host;

    internal CrossbarLayout(Tensor conductances, bool differential, int logicalPerTile, double slope, ConductanceRange range, long ns, long nt)
    {
        Conductances = conductances;
        Differential = differential;
        LogicalPerTile = logicalPerTile;
        Slope = slope;
        Gmax = range.Gmax;
        Width = range.Width;
        Sources = ns;
        Targets = nt;
    }

    /// <summary>Physical conductances [Tr, Tc, R, Cp] (S); unused cells are 0.</summary>
    public Tensor Conductances { get; }
    /// <summary>Whether columns are differential pairs (signed conversion) rather than single-ended with a reference.</summary>
    public bool Differential { get; }
    /// <summary>Logical (weight) columns per tile: Cp/2 for pairs, Cp − 1 with a reference column.</summary>
    public int LogicalPerTile { get; }
    /// <summary>Conductance difference per unit weight, k (S): (Gmax − Gmin)/M for pairs, (Gmax − Gmin)/(2M) for single devices.</summary>
    public double Slope { get; }
    /// <summary>Highest conductance of the mapping's window (S), for the default ADC full scale.</summary>
    public double Gmax { get; }
    /// <summary>Width of the mapping's window, Gmax − Gmin (S).</summary>
    public double Width { get; }
    /// <summary>Ns: inputs (rows in use).</summary>
    public long Sources { get; }
    /// <summary>Nt: logical outputs.</summary>
    public long Targets { get; }
    /// <summary>Row tiles Tr.</summary>
    public int RowTiles => (int)Conductances.Sizes()[0];
    /// <summary>Column tiles Tc.</summary>
    public int ColumnTiles => (int)Conductances.Sizes()[1];
    /// <summary>Word-corrected conductances G∘α of the approximation [Tr, Tc, R, Cp] (S), or null when not used.</summary>
    public Tensor? WordCorrected { get; internal set; }

    /// <summary>Row-major float64 host copies of every tile (index tr·Tc + tc), for the exact solve.</summary>
    internal double[][] HostTiles()
    {
        if (_host is not null) return _host;
        using var scope = torch.NewDisposeScope();
        var all = Conductances.detach().to(ScalarType.Float64, CPU).contiguous();
        int tr = RowTiles, tc = ColumnTiles;
        long per = all.Sizes()[2] * all.Sizes()[3];
        var flat = all.data<double>().ToArray();
        _host = new double[tr * tc][];
        for (int t = 0; t < tr * tc; t++) _host[t] = flat.AsSpan((int)(t * per), (int)per).ToArray();
        return _host;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Conductances.Dispose();
        WordCorrected?.Dispose();
    }
}

/// <summary>
/// A dense synapse computed the way a crossbar computes it (docs/models/crossbar.md). W [Ns, Nt] is programmed into the
/// device array with its mapping and non-idealities; the devices are placed on tiles of rows × physical columns (pairs
/// side by side, or single devices with one shared reference column per tile); every step, each input drives its row
/// (a spike: V_read for t_read; analog inputs through the DAC), the column currents follow from Σ G·V or from the
/// IR-drop model, each column (pair difference, or column and reference) is converted by the ADC, and the partial sums of
/// the row tiles are added digitally. The output is in weight units, y = Σ_tiles Î/(V_read·k) (equal to x·W with ideal
/// devices and periphery), or, in current mode, the membrane step ΔV = I·t_read/C_m (V).
/// With <see cref="TrainThroughPeriphery"/> the conductances follow the live W through the mapping (ideal devices) and the
/// forward pass is differentiable: the approximate IR drop exactly, the converters straight-through.
/// </summary>
[ShipModel("CrossbarSynapse")]
public sealed class CrossbarSynapse : WeightedSynapse, ISequenceGroup, IShipModel<CrossbarSynapse, CrossbarSynapse.ModelSettings>
{
    /// <summary>Construction settings (what a checkpoint writes): the device array (a nested model), the circuit, the flags. W and the devices' state are saved as run state.</summary>
    public sealed record ModelSettings(DeviceArray Array, CrossbarSettings Circuit, bool Plastic, bool TrainThroughPeriphery);

    /// <inheritdoc />
    public ModelSettings GetSettings() => new(Array, Settings, Plastic, TrainThroughPeriphery);

    /// <inheritdoc />
    public static CrossbarSynapse FromSettings(ModelSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new CrossbarSynapse(settings.Array, settings.Circuit) { Plastic = settings.Plastic, TrainThroughPeriphery = settings.TrainThroughPeriphery };
    }

    private CrossbarLayout? _layout;
    private Tensor? _adcClipped, _dacClipped;
    private long _adcConversions, _dacConversions;

    /// <summary>Creates a crossbar synapse whose weights live in <paramref name="array"/> (SymmetricDifferentialMapping, DifferentialReferenceMapping or SingleDeviceMapping).</summary>
    public CrossbarSynapse(DeviceArray array, CrossbarSettings? settings = null, Value? weights = null) : base(weights)
    {
        Array = array ?? throw new ArgumentNullException(nameof(array));
        Settings = settings ?? new CrossbarSettings();
        Differential = CrossbarFunctional.IsDifferential(array.Mapping, DisplayName);
        Settings.Validate(DisplayName, Differential);
        WithDevice(array);
    }

    /// <summary>The device array holding the weights.</summary>
    public DeviceArray Array { get; }
    /// <summary>The circuit around the devices.</summary>
    public CrossbarSettings Settings { get; }
    /// <summary>Whether the mapping places differential pairs (signed conversion) rather than single devices with a reference column.</summary>
    public bool Differential { get; }

    /// <summary>
    /// Training mode: conductances come from the live W through the mapping at every run (no device non-idealities, no
    /// programming), so gradients reach W through the approximate IR drop and the converters' straight-through estimators.
    /// The exact IR-drop solve is not differentiable and is refused in this mode.
    /// </summary>
    public bool TrainThroughPeriphery { get; set; }

    /// <summary>ADC conversions since the run started (one per converted column per sample per step; the reference column counts).</summary>
    public long AdcConversions => _adcConversions;
    /// <summary>DAC conversions since the run started (one per driven row per column tile per sample per step; 0 without DACs).</summary>
    public long DacConversions => _dacConversions;
    /// <summary>ADC conversions clipped at the end of the code range since the run started.</summary>
    public long AdcClipped => _adcClipped is null ? 0 : _adcClipped.item<long>();
    /// <summary>DAC inputs outside [Min, Max] since the run started.</summary>
    public long DacClipped => _dacClipped is null ? 0 : _dacClipped.item<long>();
    /// <summary>Clipped ADC and DAC counts as the int64 scalars the read adds to (null before the first reset): the energy ledger reads them with its one host read per run.</summary>
    internal (Tensor? Adc, Tensor? Dac) ClippedCounters => (_adcClipped, _dacClipped);
    /// <summary>The tile layout of the current run (built at the first step), for inspection.</summary>
    public CrossbarLayout? Layout => _layout;

    /// <inheritdoc />
    public string? SequenceRefusal =>
        ChangesDuringRun ? "the weights change within the run (plasticity or per-step device reads)"
        : Settings.Adc is { NoiseSigma: > 0 } ? "the ADC adds noise per conversion, drawn step by step" : null;

    /// <inheritdoc />
    protected override void OnReset()
    {
        base.OnReset();
        _layout?.Dispose();
        _layout = null;
        _adcClipped?.Dispose();
        _dacClipped?.Dispose();
        _adcClipped = Keep(torch.tensor(0L, device: Context.Device));
        _dacClipped = Keep(torch.tensor(0L, device: Context.Device));
        _adcConversions = 0;
        _dacConversions = 0;
    }

    /// <inheritdoc />
    protected override RollbackPoint CaptureRollback(bool reset)
    {
        // The converter counts of the run: added to in place by a Continue, replaced at a Run's reset. Copies of the two
        // int64 clip counters and the conversion counts put them back if the call fails.
        var (adcConversions, dacConversions) = (_adcConversions, _dacConversions);
        var adc = _adcClipped?.clone().DetachFromDisposeScope();
        var dac = _dacClipped?.clone().DetachFromDisposeScope();
        return RollbackPoint.Combine(base.CaptureRollback(reset), new(() =>
        {
            (_adcConversions, _dacConversions) = (adcConversions, dacConversions);
            _adcClipped?.Dispose();
            _dacClipped?.Dispose();
            (_adcClipped, _dacClipped) = (adc, dac);
        }, () =>
        {
            adc?.Dispose();
            dac?.Dispose();
        }));
    }

    /// <inheritdoc />
    protected override void ParameterChanged(Parameter parameter)
    {
        _layout?.Dispose();
        _layout = null;
        base.ParameterChanged(parameter);
    }

    /// <inheritdoc />
    public Tensor StepSequence(Tensor? input, int steps)
    {
        var x = input!;
        long b = x.Sizes()[0], t = x.Sizes()[1];
        return Forward(x.reshape(b * t, x.Sizes()[2])).reshape(b, t, TargetCount);
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input) => Forward(input!);

    private Tensor Forward(Tensor x)
    {
        if (TrainThroughPeriphery && Settings.IrDrop == IrDropModel.Exact && !Settings.Lines.IsIdeal)
            throw new ParameterException(DisplayName, "ir_drop", "the exact IR-drop solve is not differentiable: train with IrDropModel.Approximate (or Ideal) and evaluate with Exact.");
        var layout = CurrentLayout();
        var counts = new CrossbarFunctional.Counters();
        var y = CrossbarFunctional.Forward(x, layout, Settings, TrainThroughPeriphery, Context.Rng, counts);
        _adcConversions += counts.AdcConversions;
        _dacConversions += counts.DacConversions;
        using (torch.no_grad())
        {
            if (counts.AdcClipped is { } a) _adcClipped!.add_(a);
            if (counts.DacClipped is { } d) _dacClipped!.add_(d);
        }
        return y;
    }

    private CrossbarLayout CurrentLayout()
    {
        // A plasticity block pulses the devices during the run: place what they hold now.
        if (_layout is not null && !Array.ReadsVary && !Plastic) return _layout;
        _layout?.Dispose();
        using var scope = torch.NewDisposeScope();
        CrossbarLayout layout;
        if (TrainThroughPeriphery)
        {
            var g = Array.Mapping.Encode(W.Value.to(Context.DType), out var encoding);
            using (encoding) layout = CrossbarFunctional.Place(g, Array.Mapping, encoding, Settings.Tile, DisplayName);
        }
        else
        {
            var g = Array.ReadConductances(Context).to(Context.DType);
            layout = CrossbarFunctional.Place(g, Array.Mapping, Array.Encoding, Settings.Tile, DisplayName);
        }
        CrossbarFunctional.Prepare(layout, Settings);
        layout.Conductances.DetachFromDisposeScope();
        return _layout = layout;
    }
}

/// <summary>The crossbar's placement and read as pure functions (see <see cref="CrossbarSynapse"/>).</summary>
public static class CrossbarFunctional
{
    /// <summary>What one read counted: conversions (host arithmetic) and clipped conversions (tensors, summed without a host sync).</summary>
    public sealed class Counters
    {
        /// <summary>ADC conversions of this read.</summary>
        public long AdcConversions { get; set; }
        /// <summary>DAC conversions of this read.</summary>
        public long DacConversions { get; set; }
        /// <summary>Clipped ADC conversions (int64 scalar), or null without ADC.</summary>
        public Tensor? AdcClipped { get; set; }
        /// <summary>Clipped DAC inputs (int64 scalar), or null without DAC.</summary>
        public Tensor? DacClipped { get; set; }
    }

    /// <summary>Whether <paramref name="mapping"/> places differential pairs (true) or single devices with a reference column (false); throws for mappings a crossbar cannot place.</summary>
    public static bool IsDifferential(ConductanceMapping mapping, string owner) => mapping switch
    {
        SymmetricDifferentialMapping or DifferentialReferenceMapping => true,
        SingleDeviceMapping => false,
        _ => throw new ParameterException(owner, "mapping",
            $"a crossbar needs physical conductances placed on columns: SymmetricDifferentialMapping, DifferentialReferenceMapping or SingleDeviceMapping, got {mapping?.GetType().Name ?? "null"}."),
    };

    /// <summary>
    /// Places device conductances [D, Ns, Nt] (S) on tiles. Pairs: G+ and G− of logical column j on physical columns 2j and
    /// 2j + 1 (for DifferentialReferenceMapping the sign bit chooses which device goes on the G+ column, so
    /// I+ − I− = sign·(G+ − G−)·V); single devices: logical column j on physical column j and the reference column
    /// (G_ref on every used row) last. Conductances keep their dtype and autograd graph.
    /// </summary>
    public static CrossbarLayout Place(Tensor g, ConductanceMapping mapping, WeightEncoding encoding, TileSize tile, string owner)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(encoding);
        ArgumentNullException.ThrowIfNull(tile);
        using var scope = torch.NewDisposeScope();
        long ns = g.Sizes()[1], nt = g.Sizes()[2];
        double m = encoding.Scale, width = encoding.Range.Width;
        if (encoding.Range.Gmin < 0)
            throw new ParameterException(owner, "mapping", $"conductances must be >= 0 S on a crossbar, the window starts at {encoding.Range.Gmin} S.");
        Tensor physical;
        CrossbarLayout layout;
        if (IsDifferential(mapping, owner))
        {
            int per = tile.Columns / 2;
            Tensor plus = g[0], minus = g[1];
            if (mapping is DifferentialReferenceMapping)
            {
                var negative = encoding.Sign!.lt(0);
                (plus, minus) = (torch.where(negative, g[1], g[0]), torch.where(negative, g[0], g[1]));
            }
            var p = TilingFunctional.Split(plus, tile.Rows, per);
            var n = TilingFunctional.Split(minus, tile.Rows, per);
            physical = torch.stack(new[] { p, n }, -1).reshape(p.Sizes()[0], p.Sizes()[1], tile.Rows, 2 * per);
            layout = new CrossbarLayout(physical, true, per, width / m, encoding.Range, ns, nt);
        }
        else
        {
            int per = tile.Columns - 1;
            var d = TilingFunctional.Split(g[0], tile.Rows, per);
            double reference = ((SingleDeviceMapping)mapping).Reference;
            var used = torch.arange(d.Sizes()[0] * tile.Rows, dtype: g.dtype, device: g.device).lt(ns).to_type(g.dtype).mul_(reference);
            var refColumn = used.reshape(d.Sizes()[0], 1, tile.Rows, 1).expand(d.Sizes()[0], d.Sizes()[1], tile.Rows, 1);
            physical = torch.cat(new[] { d, refColumn }, -1);
            layout = new CrossbarLayout(physical, false, per, width / (2 * m), encoding.Range, ns, nt);
        }
        physical.MoveToOuterDisposeScope();
        return layout;
    }

    /// <summary>
    /// What depends on the conductances only, once per programming (per run): the word-corrected conductances G∘α of the
    /// approximation when <paramref name="s"/> uses it with line resistance. Kept outside any dispose scope (the layout owns it).
    /// </summary>
    public static void Prepare(CrossbarLayout layout, CrossbarSettings s)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(s);
        if (s.IrDrop != IrDropModel.Approximate || s.Lines.IsIdeal) return;
        layout.WordCorrected?.Dispose();
        using var scope = torch.NewDisposeScope();
        layout.WordCorrected = layout.Conductances.mul(IrDropFunctional.WordFactor(layout.Conductances, s.Lines)).DetachFromDisposeScope();
    }

    /// <summary>
    /// Physical column currents [B, Tr, Tc, Cp] (A) for row voltages <paramref name="v"/> [B, Tr, R] (V): ideal Σ G·V, the
    /// approximation (<see cref="IrDropFunctional.ApproximateTiles"/>), or the exact solve of every tile of every sample.
    /// </summary>
    public static Tensor Currents(Tensor v, CrossbarLayout layout, CrossbarSettings s)
    {
        var g = layout.Conductances;
        bool switched = s.ArrayType == ArrayType.OneTransistorOneResistor;
        if (s.Lines.IsIdeal || s.IrDrop == IrDropModel.Ideal) return IrDropFunctional.TileProduct(v, g);
        if (s.IrDrop == IrDropModel.Approximate)
        {
            using var scope = torch.NewDisposeScope();
            var gw = layout.WordCorrected ?? g.mul(IrDropFunctional.WordFactor(g, s.Lines));
            return IrDropFunctional.ApproximateTiles(v, gw, s.Lines, switched).MoveToOuterDisposeScope();
        }
        var tiles = layout.HostTiles();
        int tr = layout.RowTiles, tc = layout.ColumnTiles, rows = (int)g.Sizes()[2], cols = (int)g.Sizes()[3];
        long batch = v.Sizes()[0];
        var vh = v.detach().to(ScalarType.Float64, CPU).contiguous().data<double>().ToArray();
        var result = new double[batch * tr * tc * cols];
        var masked = new double[rows * cols];
        for (long b = 0; b < batch; b++)
            for (int r = 0; r < tr; r++)
            {
                var vs = new ReadOnlySpan<double>(vh, (int)((b * tr + r) * rows), rows);
                for (int c = 0; c < tc; c++)
                {
                    var gs = tiles[r * tc + c];
                    if (switched)
                    {
                        for (int i = 0; i < rows; i++)
                            for (int j = 0; j < cols; j++) masked[i * cols + j] = vs[i] != 0 ? gs[i * cols + j] : 0;
                        gs = masked;
                    }
                    IrDropFunctional.SolveExact(gs, vs, rows, cols, s.Lines, s.Tolerance, out _)
                        .CopyTo(result, ((b * tr + r) * tc + c) * cols);
                }
            }
        return torch.tensor(result, new[] { batch, (long)tr, tc, cols }, ScalarType.Float64).to(v.dtype).to(v.device);
    }

    /// <summary>
    /// Default ADC full scale (A): the largest value a converted column of a tile can take, FS = R·ΔG·V_read·x_max, with
    /// ΔG = Gmax − Gmin for a pair difference and Gmax for a single-ended column, x_max = 1 (spikes) or max(|Min|, |Max|) of the DAC.
    /// </summary>
    public static double DefaultFullScale(CrossbarLayout layout, CrossbarSettings s)
    {
        double xmax = s.Dac is { } d ? Math.Max(Math.Abs(d.Min), Math.Abs(d.Max)) : 1.0;
        double rows = layout.Conductances.Sizes()[2];
        double g = layout.Differential ? layout.Width : layout.Gmax;
        return rows * g * s.Read.Voltage * xmax;
    }

    /// <summary>
    /// One read of the crossbar for inputs <paramref name="x"/> [B, Ns]: DAC (if any), row voltages, column currents,
    /// conversion (pair difference with a signed ADC, or every column and the reference with an unsigned ADC, reference
    /// subtracted digitally), digital sum over row tiles, decode. Returns [B, Nt].
    /// </summary>
    public static Tensor Forward(Tensor x, CrossbarLayout layout, CrossbarSettings s, bool straightThrough, torch.Generator rng, Counters counts)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(counts);
        using var scope = torch.NewDisposeScope();
        long batch = x.Sizes()[0], nt = layout.Targets;
        int tr = layout.RowTiles, tc = layout.ColumnTiles, per = layout.LogicalPerTile;
        var input = x.to_type(layout.Conductances.dtype);
        if (s.Dac is { } dac)
        {
            Tensor clipped;
            input = straightThrough
                ? DacFunctional.QuantizeStraightThrough(input, dac, out clipped)
                : DacFunctional.Level(DacFunctional.Codes(input, dac, out clipped), dac);
            counts.DacClipped = clipped.sum().MoveToOuterDisposeScope(); // a bool sum is int64 already
            counts.DacConversions = batch * layout.Sources * tc;
        }
        var v = TilingFunctional.SplitRows(input.mul(s.Read.Voltage), (int)layout.Conductances.Sizes()[2]);
        var currents = Currents(v, layout, s);                       // [B, Tr, Tc, Cp]
        Tensor partial;                                              // [B, Tr, Nt] in amperes, after conversion
        if (layout.Differential)
        {
            var pairs = currents.reshape(batch, tr, tc, per, 2);
            var diff = pairs.select(-1, 0).sub(pairs.select(-1, 1)).reshape(batch, tr, tc * per).narrow(-1, 0, nt);
            partial = s.Adc is { } adc ? Convert(diff, adc, DefaultOr(adc, layout, s), true, straightThrough, rng, counts) : diff;
        }
        else
        {
            var columns = currents.narrow(-1, 0, per).reshape(batch, tr, tc * per).narrow(-1, 0, nt);
            var reference = currents.narrow(-1, per, 1).squeeze(-1);  // [B, Tr, Tc]
            if (s.Adc is { } adc)
            {
                double fs = DefaultOr(adc, layout, s);
                var both = torch.cat(new[] { columns, reference }, -1);
                var converted = Convert(both, adc, fs, false, straightThrough, rng, counts);
                columns = converted.narrow(-1, 0, nt);
                reference = converted.narrow(-1, nt, tc);
            }
            var refPerColumn = reference.repeat_interleave(per, -1).narrow(-1, 0, nt);
            partial = columns.sub(refPerColumn);
        }
        var total = partial.sum(1);                                   // digital (or, in current mode, analog) sum over row tiles
        var y = s.CurrentMode is { } cm
            ? total.mul(s.Read.Width / cm.Capacitance)
            : total.div(s.Read.Voltage * layout.Slope);
        return y.to_type(x.dtype).MoveToOuterDisposeScope();
    }

    private static double DefaultOr(AdcSettings adc, CrossbarLayout layout, CrossbarSettings s) => adc.FullScale ?? DefaultFullScale(layout, s);

    private static Tensor Convert(Tensor current, AdcSettings adc, double fullScale, bool signed, bool straightThrough, torch.Generator rng, Counters counts)
    {
        var noisy = adc.NoiseSigma > 0
            ? current.add(Draw.Randn(current.Sizes(), current.dtype, current.device, rng).mul_(adc.NoiseSigma))
            : current;
        Tensor clipped;
        var q = straightThrough
            ? AdcFunctional.QuantizeStraightThrough(noisy, adc.Bits, fullScale, signed, out clipped)
            : AdcFunctional.Value(AdcFunctional.Codes(noisy, adc.Bits, fullScale, signed, out clipped), adc.Bits, fullScale, signed);
        var c = clipped.sum(); // a bool sum is int64 already: no cast per read
        counts.AdcClipped = counts.AdcClipped is null ? c.MoveToOuterDisposeScope() : counts.AdcClipped.add(c).MoveToOuterDisposeScope();
        counts.AdcConversions += current.numel();
        return q;
    }
}
