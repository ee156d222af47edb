using System.Reflection;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Dendrites;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Energy;
using Ship.Devices.Memristive.Crossbar;
using Ship.Devices.Neurons;
using Ship.Devices.Plasticity;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Training.Hardware;
using Ship.Training.Local;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Conformance;

/// <summary>
/// A small wired network built around one catalogue model: what conformance tests run. Inputs come from a generator
/// seeded by the case's seed, so two builds with the same seed are the same experiment.
/// </summary>
public sealed class ModelCase
{
    private readonly Func<int, IReadOnlyDictionary<string, Tensor>> _inputs;

    internal ModelCase(Network network, string modelTag, Func<int, IReadOnlyDictionary<string, Tensor>> inputs)
    {
        Network = network;
        ModelTag = modelTag;
        _inputs = inputs;
    }

    /// <summary>The network (batch 2, float64, seeded; not yet initialized).</summary>
    public Network Network { get; }
    /// <summary>Tag of the catalogue model inside <see cref="Network"/>.</summary>
    public string ModelTag { get; }
    /// <summary>The catalogue model itself (as added: wrappers and taps included).</summary>
    public Group Model => Network[ModelTag];

    /// <summary>
    /// Inputs for a run of <paramref name="steps"/> steps, keyed by tag ([batch, steps, N] for every TensorInput; staged
    /// groups such as spike-train inputs are absent). The same seed and steps give the same tensors; slicing the data of
    /// T1 + T2 steps into [0, T1) and [T1, T1 + T2) gives the inputs of a Run and its Continue.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> Inputs(int steps) => _inputs(steps);
}

/// <summary>One catalogue entry: a model type with non-default settings, alone or inside a small network.</summary>
/// <param name="Name">Unique name, e.g. "Lif" or "Dense+ShipRram".</param>
/// <param name="ModelType">The concrete group type this entry covers.</param>
/// <param name="DeviceType">The weight device type this entry covers (null for ideal weights).</param>
/// <param name="Create">Makes a fresh, unwired instance of the model with the entry's settings.</param>
/// <param name="BuildCase">Makes a fresh network around the model for a seed.</param>
public sealed record ModelEntry(string Name, Type ModelType, Type? DeviceType, Func<Group> Create, Func<long, ModelCase> BuildCase)
{
    /// <summary>A fresh network around a fresh model, seeded with <paramref name="seed"/>.</summary>
    public ModelCase Build(long seed) => BuildCase(seed);

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// The catalogue of every concrete model of the libraries (Ship.Devices and Ship.Training: neurons, synapses, inputs,
/// wrappers, plasticity blocks, synapses backed by weight devices), each with settings that differ from its defaults
/// so a test cannot pass by reading defaults. <see cref="MissingModels"/> and <see cref="MissingDevices"/> list what a
/// new type would need here; the conformance tests run every entry.
/// </summary>
public static class ModelCatalog
{
    /// <summary>Batch size of every catalogue network.</summary>
    public const int Batch = 2;
    /// <summary>Time step of every catalogue network (s).</summary>
    public const double Dt = 0.5e-3;
    /// <summary>Channels of the TensorInput that feeds every catalogue network.</summary>
    public const int InputChannels = 5;

    /// <summary>Every entry, in a fixed order.</summary>
    public static IReadOnlyList<ModelEntry> All { get; } = CreateEntries();

    /// <summary>Entries as xUnit member data (one row per entry, by name).</summary>
    public static IEnumerable<object[]> Names => All.Select(e => new object[] { e.Name });

    /// <summary>The entry with this name.</summary>
    public static ModelEntry Get(string name) => All.FirstOrDefault(e => e.Name == name)
        ?? throw new ArgumentException($"no catalogue entry '{name}' (known: {string.Join(", ", All.Select(e => e.Name))})");

    /// <summary>The assemblies whose models the catalogue must cover.</summary>
    public static IReadOnlyList<Assembly> Libraries { get; } = new[] { typeof(Lif).Assembly, typeof(TrainableDelay).Assembly };

    /// <summary>Every concrete public group type of the libraries.</summary>
    public static IEnumerable<Type> ConcreteGroupTypes() => Concrete(typeof(Group));

    /// <summary>Every concrete public weight-device type of the libraries.</summary>
    public static IEnumerable<Type> ConcreteDeviceTypes() => Concrete(typeof(IWeightDevice));

    /// <summary>Concrete group types without an entry.</summary>
    public static IReadOnlyList<Type> MissingModels() => ConcreteGroupTypes().Where(t => All.All(e => e.ModelType != t)).ToList();

    /// <summary>Concrete weight-device types without an entry.</summary>
    public static IReadOnlyList<Type> MissingDevices() => ConcreteDeviceTypes().Where(t => All.All(e => e.DeviceType != t)).ToList();

    private static IEnumerable<Type> Concrete(Type root) =>
        Libraries.SelectMany(a => a.GetTypes())
            .Where(t => t.IsPublic && t.IsClass && !t.IsAbstract && root.IsAssignableFrom(t))
            .OrderBy(t => t.FullName, StringComparer.Ordinal);

    private static List<ModelEntry> CreateEntries()
    {
        var list = new List<ModelEntry>
        {
            // Neurons, each between a dense input layer and a leaky readout.
            Neuron("Lif", () => new Lif(4, tau: 7e-3, threshold: 0.6)),
            Neuron("LifRest", () => new LifRest(4, tau: 3e-3, threshold: 0.7, rest: 0.05)),
            Neuron("LifRestReset", () => new LifRestReset(4, tau: 4e-3, threshold: 0.8, rest: 0.05, reset: 0.1)),
            Neuron("AdaptiveLif", () => new AdaptiveLif(4, tau: 6e-3, threshold: 0.7, tauAdaptation: 50e-3, adaptation: 0.3)),
            Neuron("LeakyIntegrator", () => new LeakyIntegrator(4, tau: 2e-3)),
            Neuron("Izhikevich", () => new Izhikevich(4, a: 0.03, b: 0.25, c: -60, d: 6, substeps: 2, vPeak: 25), inputWeight: 40),
            Neuron("DendriticIntegrator", () => new DendriticIntegrator(3, 2, DendriteNonlinearity.Relu, tau: 2e-3, gain: 1.5, threshold: 0.2, power: 3)),
            // Wrappers around neurons (stacked once; the fuzz test stacks deeper).
            Neuron("Refractory", () => new Refractory(new Lif(4, tau: 5e-3, threshold: 0.5), 1.5e-3)),
            Neuron("SharedRefractory", () => new SharedRefractory(new LifRestReset(4, tau: 5e-3, threshold: 0.5, reset: 0.1), 2e-3)),
            Neuron("WinnerTakeAll", () => new WinnerTakeAll(new LifRest(4, tau: 4e-3, threshold: 0.5))),
            Neuron("Delay", () => new Delay(new Lif(4, tau: 6e-3, threshold: 0.6), 1.5e-3)),
            // Synapses, each from the input to a LIF group.
            Synapse("Dense", () => new Dense(Init.Uniform(-0.2, 0.9), bias: 0.05)),
            Synapse("Identity", () => new Identity(), targetSize: InputChannels),
            Synapse("FirstOrder", () => new FirstOrder(Init.Uniform(0, 1), tau: 3e-3, weightScale: 150.0)),
            Synapse("FirstOrderPerTarget", () => new FirstOrderPerTarget(Init.Uniform(0, 1), tau: 4e-3, weightScale: 0.7)),
            Synapse("SecondOrder", () => new SecondOrder(Init.Uniform(0, 1), tau1: 5e-3, tau2: 2e-3, weightScale: 400.0)),
            Synapse("HeterogeneousDelay", () => new HeterogeneousDelay(Value.Generated(c => Draw.Rand(c.Shape, ScalarType.Float64, CPU, c.Rng).mul_(4).floor_(), "0..3 steps"), Init.Uniform(0.2, 1))),
            Synapse("TrainableDelay", () => new TrainableDelay(Value.Generated(c => Draw.Rand(c.Shape, c.DType, CPU, c.Rng).mul_(3.5), "U[0, 3.5) steps"), Init.Uniform(0.2, 1))),
            Synapse("InputTap", () => new InputTap(new Dense(Init.Uniform(0, 0.8)))),
            // Crossbar synapses (docs/models/crossbar.md): single devices with a reference column, DAC, ADC and the
            // approximate IR drop on a passive array; pairs with a noisy ADC and the exact IR-drop solve on 1T1R tiles.
            Synapse("Crossbar+SingleDevice", () => new CrossbarSynapse(new DeviceArray("single", new SingleDeviceMapping(1e-6, 100e-6), ProgrammingNoise.Absolute(1e-6)),
                new CrossbarSettings { Tile = new TileSize(3, 3), ArrayType = ArrayType.CrossPoint, Dac = new DacSettings(4, 0, 1), Adc = new AdcSettings(6),
                    Lines = new LineResistances(2, 2, 10, 5) }, Init.Uniform(-1, 1)), typeof(DeviceArray)),
            Synapse("Crossbar+Pairs", () => new CrossbarSynapse(new DeviceArray("pairs", new SymmetricDifferentialMapping(1e-6, 100e-6)),
                new CrossbarSettings { Tile = new TileSize(4, 4), Adc = new AdcSettings(5, 20e-6, NoiseSigma: 0.2e-6), Lines = new LineResistances(1, 1),
                    IrDrop = IrDropModel.Exact }, Init.Uniform(-1, 1)), typeof(DeviceArray)),
            // Synapses backed by weight devices.
            Synapse("Dense+ShipRram", () => new Dense(Init.Uniform(-0.5, 1)).WithDevice(MemristivePresets.ShipRram(elapsedTime: 10)), typeof(DeviceArray)),
            Synapse("FirstOrder+PcmLike", () => new FirstOrder(Init.Uniform(0, 1), tau: 3e-3, weightScale: 150.0).WithDevice(MemristivePresets.PcmLike(elapsedTime: 100)), typeof(DeviceArray)),
            Synapse("SecondOrder+Quantized", () => new SecondOrder(Init.Uniform(0, 1), weightScale: 400.0).WithDevice(MemristivePresets.ShipQuantized(8).With(new StuckAtFaults(0.05, 0.05))), typeof(DeviceArray)),
            // Added by the models branch (#12): device arrays that reach the pulse responses, pulse programming, range
            // variability and the absolute/relative noise laws, so every model's settings round-trip in some entry.
            Synapse("Dense+PulsedSoftBounds", () => new Dense(Init.Uniform(0, 1)).WithDevice(new DeviceArray("pulsed", new DifferentialReferenceMapping(50e-6, 120e-6),
                new RangeVariability(0.02, 0.05), new PulseProgramming(new SoftBoundsPulses(0.5e-6, 50e-6, 120e-6, 85e-6, dwMinSpread: 0.2), maxPulses: 500),
                ProgrammingNoise.Absolute(0.3e-6), ReadNoise.Relative(0.01)) { Pulses = new ExponentialStepPulses(dwMin: 0.4e-6, wMin: 50e-6, wMax: 120e-6, reference: 85e-6) }), typeof(DeviceArray)),
            Synapse("FirstOrder+LinearPulses", () => new FirstOrder(Init.Uniform(0, 1), tau: 3e-3, weightScale: 150.0).WithDevice(new DeviceArray("linear",
                new DifferentialReferenceMapping(40e-6, 110e-6), new PulseProgramming(new LinearStepPulses(dwMin: 0.6e-6, wMin: 40e-6, wMax: 110e-6, gammaUp: 0.1, gammaDown: 0.2, reference: 75e-6), maxPulses: 300))),
                typeof(DeviceArray)),
            // Added by the fitting branch (#16): a fitted device (NeuroSim pulse programming, fitted power-law drift).
            Synapse("Dense+FittedNeuroSim", () => new Dense(Init.Uniform(0, 1)).WithDevice(new DeviceArray("fitted", new SymmetricDifferentialMapping(10e-6, 60e-6),
                new PulseProgramming(new NeuroSimPulses(10e-6, 60e-6, aUp: 9, aDown: 6, pulsesUp: 24, pulsesDown: 30, dwMinSpread: 0.05, cycleNoise: 0.02), maxPulses: 200),
                new FittedPowerLawDrift(1, PowerLawClock.FromZero, 0.04, 0.01)) { ElapsedTime = 3600 }), typeof(DeviceArray)),
            // Added by the chips branch (#16): endurance (window narrowing and Weibull failures) driven by pulse programming's write counts.
            Synapse("Dense+Endurance", () => new Dense(Init.Uniform(0, 1)).WithDevice(new DeviceArray("worn", new SymmetricDifferentialMapping(10e-6, 60e-6),
                new PulseProgramming(new LinearStepPulses(dwMin: 1e-6, wMin: 10e-6, wMax: 60e-6, reference: 35e-6), maxPulses: 100),
                new Endurance(halfWindowPulses: 40, sharpness: 1.5, collapsePoint: 0.4, lifetimePulses: 60, weibullShape: 2, stuckHighFraction: 0.3))), typeof(DeviceArray)),
            Synapse("Dense+HardwareAware", () => HardwareAwareDense(NoiseDraw.PerStep), typeof(HardwareAwareWeights)),
            Synapse("Dense+HardwareAwarePerRun", () => HardwareAwareDense(NoiseDraw.PerRun), typeof(HardwareAwareWeights)),
            Synapse("Dense+DriftCompensation", () => new Dense(Init.Uniform(0, 1)).WithDevice(new GlobalDriftCompensation(MemristivePresets.PcmLike(elapsedTime: 1000))), typeof(GlobalDriftCompensation)),
            // NIR family (#17): exact continuous-time neurons, relays, thresholds, convolution, pooling, flatten, gain.
            Neuron("CubaLif", () => new CubaLif(4, tauMem: 5e-3, tauSyn: 2e-3, r: 3, vLeak: 0.05, threshold: 0.6, reset: -0.1, weightIn: 1.5)),
            Neuron("Relay", () => new Relay(4)),
            Neuron("ThresholdUnit", () => new ThresholdUnit(4, threshold: 0.4)),
            Synapse("Conv", () => new Conv(new[] { 1, InputChannels }, 2, new[] { 2 }, weights: Init.Uniform(0, 1), bias: 0.05), targetSize: 2 * (InputChannels - 1)),
            Synapse("Conv+Quantized", () => new Conv(new[] { 1, InputChannels }, 2, new[] { 2 }, weights: Init.Uniform(0, 1))
                .WithDevice(MemristivePresets.ShipQuantized(8)), typeof(DeviceArray), targetSize: 2 * (InputChannels - 1)),
            Synapse("Pool2d", () => new Pool2d(new[] { 1, InputChannels, 1 }, new[] { 2, 1 }, PoolKind.Sum, stride: new[] { 1, 1 }), targetSize: InputChannels - 1),
            Synapse("Flatten", () => new Ship.Devices.Synapses.Flatten(new[] { InputChannels }), targetSize: InputChannels),
            Synapse("Scale", () => new Scale(0.7), targetSize: InputChannels),
            // Inputs and sources.
            new("TensorInput", typeof(TensorInput), null, () => new TensorInput(InputChannels), seed => Source(seed, new TensorInput(InputChannels), tensorInput: true)),
            new("SpikeTrainInput", typeof(SpikeTrainInput), null, () => Trains(0), seed => Source(seed, Trains(seed), tensorInput: false)),
            new("PoissonSource", typeof(PoissonSource), null, () => new PoissonSource(InputChannels, rate: 180), seed => Source(seed, new PoissonSource(InputChannels, rate: 180), tensorInput: false)),
            // Plasticity blocks, wired to the synapse they change.
            Block("StdpBlock", s => new StdpBlock(s, 4, aPlus: 0.02, aMinus: 0.021, tauPlus: 10e-3, tauMinus: 12e-3, bounds: StdpBounds.Clip, wMin: 0, wMax: 1)),
            // Added by the models branch (#12): the nearest-spike interaction must survive a checkpoint too.
            Block("StdpBlock+Nearest", s => new StdpBlock(s, 4, aPlus: 0.03, aMinus: 0.02, tauPlus: 8e-3, tauMinus: 9e-3, bounds: StdpBounds.Soft, wMin: 0, wMax: 1, interaction: TraceInteraction.Nearest)),
            // Added by the devwrites branch (#14): STDP on a device-backed synapse learns by programming pulses (cycle noise,
            // device spread, stochastic rounding: every draw must survive a checkpoint and a Continue).
            Block("StdpBlock+DeviceArray", s => new StdpBlock(s, 4, aPlus: 0.02, aMinus: 0.021, tauPlus: 10e-3, tauMinus: 12e-3, bounds: StdpBounds.Clip, wMin: 0, wMax: 1),
                () => new DeviceArray("plastic", new DifferentialReferenceMapping(50e-6, 120e-6))
                    .WithPulses(new LinearStepPulses(dwMin: 0.5e-6, wMin: 50e-6, wMax: 120e-6, reference: 85e-6, dwMinSpread: 0.1, cycleNoise: 0.2))),
            Block("TripletStdpBlock", s => new TripletStdpBlock(s, 4, a2Plus: 1e-3, a3Plus: 5e-3, a2Minus: 6e-3, a3Minus: 1e-3, bounds: StdpBounds.Soft, wMin: 0, wMax: 1)),
            Block("RewardStdpBlock", s =>
            {
                var b = new RewardStdpBlock(s, 4, aPlus: 0.02, aMinus: 0.01, tauEligibility: 20e-3, learningRate: 0.5, bounds: StdpBounds.Clip, wMin: 0, wMax: 1);
                b.SetReward(torch.tensor(new double[] { 1.0, -0.5 }));
                return b;
            }),
            // Added by the final seam review: the triplet and reward-modulated rules pulse device arrays too (devwrites, #14),
            // so their draws and device writes must also survive blocks, a Continue, monitors and a checkpoint.
            Block("TripletStdpBlock+DeviceArray", s => new TripletStdpBlock(s, 4, a2Plus: 1e-3, a3Plus: 5e-3, a2Minus: 6e-3, a3Minus: 1e-3, bounds: StdpBounds.Soft, wMin: 0, wMax: 1),
                () => new DeviceArray("plastic", new DifferentialReferenceMapping(50e-6, 120e-6))
                    .WithPulses(new LinearStepPulses(dwMin: 0.5e-6, wMin: 50e-6, wMax: 120e-6, reference: 85e-6, dwMinSpread: 0.1, cycleNoise: 0.2))),
            Block("RewardStdpBlock+DeviceArray", s =>
            {
                var b = new RewardStdpBlock(s, 4, aPlus: 0.02, aMinus: 0.01, tauEligibility: 20e-3, learningRate: 0.5, bounds: StdpBounds.Clip, wMin: 0, wMax: 1);
                b.SetReward(torch.tensor(new double[] { 1.0, -0.5 }));
                return b;
            },
                () => new DeviceArray("plastic", new DifferentialReferenceMapping(50e-6, 120e-6))
                    .WithPulses(new LinearStepPulses(dwMin: 0.5e-6, wMin: 50e-6, wMax: 120e-6, reference: 85e-6, dwMinSpread: 0.1, cycleNoise: 0.2))),
        };
        return list;
    }

    private static Dense HardwareAwareDense(NoiseDraw draw)
    {
        var d = new Dense(Init.Uniform(-0.3, 1));
        d.WithDevice(new HardwareAwareWeights(d, new HardwareAwareOptions { Levels = 8, ClipSigmas = 2.5, Noise = 0.05, Draw = draw }));
        return d;
    }

    private static SpikeTrainInput Trains(long seed)
    {
        var input = new SpikeTrainInput(InputChannels, adaptSteps: false);
        var g = new torch.Generator((ulong)(seed + 101));
        // Ragged trains, long enough for the longest conformance run (the rest is zero-padded).
        input.Feed(new[]
        {
            torch.rand(new long[] { 400, InputChannels }, generator: g).lt(0.3).to_type(ScalarType.Float64),
            torch.rand(new long[] { 350, InputChannels }, generator: g).lt(0.3).to_type(ScalarType.Float64),
        });
        return input;
    }

    private static Network NewNetwork(string name, long seed) =>
        new(name) { Dt = Dt, Steps = 40, BatchSize = Batch, DType = ScalarType.Float64, Seed = seed };

    /// <summary>Spike-like data with analog heights, from a generator seeded by the case seed (prefixes agree across lengths: drawn step-major).</summary>
    private static Func<int, IReadOnlyDictionary<string, Tensor>> Raster(long seed, string tag) => steps =>
    {
        var g = new torch.Generator((ulong)(seed * 7919 + 13));
        // Step-major, both draws of a step together: the data of a longer run starts with that of a shorter one.
        using var d = torch.rand(new long[] { steps, 2, Batch, InputChannels }, ScalarType.Float64, generator: g);
        using var u = d.select(1, 0);
        using var h = d.select(1, 1);
        var x = u.lt(0.35).to_type(ScalarType.Float64).mul(h.mul(0.5).add(0.75)).permute(1, 0, 2).contiguous();
        return new Dictionary<string, Tensor> { [tag] = x };
    };

    private static ModelEntry Neuron(string name, Func<Group> create, double inputWeight = 1.2) =>
        new(name, create().GetType(), null, create, seed =>
        {
            var net = NewNetwork(name, seed);
            net.Add("I", new TensorInput(InputChannels));
            net.Add("IM", new Dense(Init.Uniform(0, inputWeight)), "I", "M");
            net.Add("M", create());
            net.Add("MR", new Dense(Init.Uniform(-0.5, 1)), "M", "R");
            net.Add("R", new LeakyIntegrator(3, tau: 4e-3));
            net.MarkOutput("M", "R");
            return new ModelCase(net, "M", Raster(seed, "I"));
        });

    private static ModelEntry Synapse(string name, Func<Group> create, Type? device = null, int targetSize = 4)
    {
        return new(name, create().GetType(), device, create, seed =>
        {
            var net = NewNetwork(name, seed);
            net.Add("I", new TensorInput(InputChannels));
            net.Add("S", create(), "I", "P");
            net.Add("P", new Lif(targetSize, tau: 6e-3, threshold: 0.7));
            net.MarkOutput("S", "P");
            return new ModelCase(net, "S", Raster(seed, "I"));
        });
    }

    private static ModelCase Source(long seed, Group source, bool tensorInput)
    {
        var net = NewNetwork(source.GetType().Name, seed);
        net.Add("I", source);
        net.Add("IL", new Dense(Init.Uniform(0, 1.2)), "I", "L");
        net.Add("L", new Lif(4, tau: 6e-3, threshold: 0.7));
        net.MarkOutput("I", "L");
        return new ModelCase(net, "I", tensorInput ? Raster(seed, "I") : _ => new Dictionary<string, Tensor>());
    }

    private static ModelEntry Block(string name, Func<WeightedSynapse, PlasticityBlock> create, Func<DeviceArray>? device = null)
    {
        var type = create(new Dense()).GetType();
        Dense Synapse()
        {
            var d = new Dense(Init.Uniform(0, 0.8));
            if (device is not null) d.WithDevice(device());
            return d;
        }
        // The entry's model is the block (not a synapse), so it names no device type even when its synapse has one.
        return new(name, type, null, () => create(Synapse()), seed =>
        {
            var net = NewNetwork(name, seed);
            var block = create(Synapse());
            net.Add("I", new TensorInput(InputChannels));
            net.Add("S", block.Tap, "I", "P");
            net.Add("P", new Lif(4, tau: 6e-3, threshold: 0.6));
            net.Add("B", block);
            net.Connect("P", "B");
            net.MarkOutput("P", "B");
            return new ModelCase(net, "B", Raster(seed, "I"));
        });
    }
}
