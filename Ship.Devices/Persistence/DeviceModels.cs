using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Persistence;
using Ship.Devices.Dendrites;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Plasticity;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;

namespace Ship.Devices.Persistence;

/// <summary>
/// Registers every model of Ship.Devices with a checkpoint registry under its class name: neurons, synapses, inputs,
/// wrappers, dendrites, plasticity, and the memristive device arrays with their mappings, non-idealities, noise laws
/// and pulse responses. A codec writes only what the constructor needs (sizes, settings that are not parameters,
/// nested objects); parameters, states and run state are restored by the serializer, so constructor defaults stand in
/// for them while building.
/// </summary>
public static class DeviceModels
{
    /// <summary>A new registry with Ship.Core's and Ship.Devices' models; add your own models to it.</summary>
    public static ModelRegistry CreateRegistry() => Register(new ModelRegistry());

    /// <summary>Adds Ship.Devices' models to <paramref name="registry"/> and returns it.</summary>
    public static ModelRegistry Register(ModelRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        RegisterGroups(registry);
        RegisterMemristive(registry);
        return registry;
    }

    private static void RegisterGroups(ModelRegistry r)
    {
        // Inputs and neurons: the size, plus settings that are not parameters.
        r.Register<TensorInput>("TensorInput", (g, w) => w.Set("n", g.ComponentCount), x => new TensorInput(x.GetInt("n")));
        r.Register<SpikeTrainInput>("SpikeTrainInput", (g, w) => { w.Set("n", g.ComponentCount); w.Set("adapt_steps", g.AdaptSteps); },
            x => new SpikeTrainInput(x.GetInt("n"), x.GetBool("adapt_steps")));
        r.Register<PoissonSource>("PoissonSource", (g, w) => w.Set("n", g.ComponentCount), x => new PoissonSource(x.GetInt("n")));
        r.Register<Lif>("Lif", (g, w) => w.Set("n", g.ComponentCount), x => new Lif(x.GetInt("n")));
        r.Register<LifRest>("LifRest", (g, w) => w.Set("n", g.ComponentCount), x => new LifRest(x.GetInt("n")));
        r.Register<LifRestReset>("LifRestReset", (g, w) => w.Set("n", g.ComponentCount), x => new LifRestReset(x.GetInt("n")));
        r.Register<LeakyIntegrator>("LeakyIntegrator", (g, w) => w.Set("n", g.ComponentCount), x => new LeakyIntegrator(x.GetInt("n")));
        r.Register<AdaptiveLif>("AdaptiveLif", (g, w) => w.Set("n", g.ComponentCount), x => new AdaptiveLif(x.GetInt("n")));
        r.Register<Izhikevich>("Izhikevich", (g, w) => { w.Set("n", g.ComponentCount); w.Set("substeps", g.Substeps); },
            x => new Izhikevich(x.GetInt("n"), substeps: x.GetInt("substeps")));
        r.Register<DendriticIntegrator>("DendriticIntegrator",
            (g, w) => { w.Set("neurons", g.Neurons); w.Set("branches", g.Branches); w.SetEnum("nonlinearity", g.Nonlinearity); },
            x => new DendriticIntegrator(x.GetInt("neurons"), x.GetInt("branches"), x.GetEnum<DendriteNonlinearity>("nonlinearity")));

        // Synapses: sizes come from the wiring; weighted ones carry their device and plasticity flag.
        r.Register<Identity>("Identity", (_, _) => { }, _ => new Identity());
        r.Register<Dense>("Dense", WriteWeighted, x => ReadWeighted(new Dense(), x));
        r.Register<FirstOrder>("FirstOrder", WriteWeighted, x => ReadWeighted(new FirstOrder(), x));
        r.Register<FirstOrderPerTarget>("FirstOrderPerTarget", WriteWeighted, x => ReadWeighted(new FirstOrderPerTarget(), x));
        r.Register<SecondOrder>("SecondOrder", WriteWeighted, x => ReadWeighted(new SecondOrder(), x));
        r.Register<HeterogeneousDelay>("HeterogeneousDelay", (g, w) => { WriteWeighted(g, w); w.SetEnum("unit", g.Unit); },
            x => ReadWeighted(new HeterogeneousDelay(0.0, unit: x.GetEnum<DelayUnit>("unit")), x));

        // Wrappers: the wrapped group is a nested object; periods are parameters (restored afterwards).
        r.Register<Refractory>("Refractory", (g, w) => w.SetObject("inner", g.Inner), x => new Refractory(x.GetObject<Group>("inner"), 0.0));
        r.Register<SharedRefractory>("SharedRefractory", (g, w) => w.SetObject("inner", g.Inner), x => new SharedRefractory(x.GetObject<Group>("inner"), 0.0));
        r.Register<WinnerTakeAll>("WinnerTakeAll", (g, w) => w.SetObject("inner", g.Inner), x => new WinnerTakeAll(x.GetObject<Group>("inner")));
        r.Register<Delay>("Delay", (g, w) => { w.SetObject("inner", g.Inner); w.Set("seconds", g.Seconds); },
            x => new Delay(x.GetObject<Group>("inner"), x.GetDouble("seconds")));

        // Plasticity: the block builds its synapse's tap, so a tap that belongs to a block is written as a reference to it.
        r.Register<StdpBlock>("StdpBlock",
            (g, w) =>
            {
                w.SetObject("synapse", g.Synapse);
                w.Set("post_count", g.ComponentCount);
                w.SetEnum("bounds", g.Bounds);
                w.Set("w_min", g.WMin);
                w.Set("w_max", g.WMax);
            },
            x => new StdpBlock(x.GetObject<WeightedSynapse>("synapse"), x.GetInt("post_count"), bounds: x.GetEnum<StdpBounds>("bounds"),
                wMin: x.GetDouble("w_min"), wMax: x.GetDouble("w_max")));
        r.Register<InputTap>("InputTap",
            (g, w) =>
            {
                if (BlockOf(g, w.Network) is { } block) w.Set("block", w.TagOf(block));
                else w.SetObject("inner", g.Inner);
            },
            x =>
            {
                if (!x.Has("block")) return new InputTap(x.GetObject<Group>("inner"));
                var holder = x.GroupByTag(x.GetString("block"));
                var block = holder as StdpBlock ?? (holder as GroupWrapper)?.Find<StdpBlock>()
                    ?? throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"group '{x.GetString("block")}' holds no STDP block, yet a tap refers to it.");
                return block.Tap;
            });
    }

    private static StdpBlock? BlockOf(InputTap tap, Network network)
    {
        foreach (var g in network.Groups)
            for (Group? x = g; x is not null; x = (x as GroupWrapper)?.Inner)
                if (x is StdpBlock b && ReferenceEquals(b.Tap, tap)) return b;
        return null;
    }

    private static void WriteWeighted(WeightedSynapse s, CheckpointWriter w)
    {
        w.SetObject("device", s.WeightDevice);
        w.Set("plastic", s.Plastic);
    }

    private static T ReadWeighted<T>(T s, CheckpointReader x) where T : WeightedSynapse
    {
        if (x.GetNullableObject<IWeightDevice>("device") is { } device) s.WithDevice(device);
        s.Plastic = x.GetBool("plastic");
        return s;
    }

    private static void RegisterMemristive(ModelRegistry r)
    {
        r.Register<DeviceArray>("DeviceArray",
            (a, w) =>
            {
                w.Set("name", a.Name);
                w.SetObject("mapping", a.Mapping);
                w.SetObjects("non_idealities", a.NonIdealities);
                w.SetObject("pulses", a.Pulses);
                w.Set("elapsed_time", a.ElapsedTime);
            },
            x => new DeviceArray(x.GetString("name"), x.GetObject<ConductanceMapping>("mapping"), x.GetObjects<INonIdeality>("non_idealities").ToArray())
            {
                Pulses = x.GetNullableObject<PulseResponse>("pulses"),
                ElapsedTime = x.GetDouble("elapsed_time"),
            });

        r.Register<DirectMapping>("DirectMapping", (m, w) => w.Set("scale", m.FixedScale), x => new DirectMapping(x.GetNullableDouble("scale")));
        r.Register<DifferentialReferenceMapping>("DifferentialReferenceMapping",
            (m, w) => { w.Set("gmin", m.Range.Gmin); w.Set("gmax", m.Range.Gmax); w.Set("scale", m.FixedScale); },
            x => new DifferentialReferenceMapping(x.GetDouble("gmin"), x.GetDouble("gmax"), x.GetNullableDouble("scale")));
        r.Register<SymmetricDifferentialMapping>("SymmetricDifferentialMapping",
            (m, w) => { w.Set("gmin", m.Range.Gmin); w.Set("gmax", m.Range.Gmax); w.Set("scale", m.FixedScale); },
            x => new SymmetricDifferentialMapping(x.GetDouble("gmin"), x.GetDouble("gmax"), x.GetNullableDouble("scale")));

        r.Register<ConductanceClip>("ConductanceClip", (e, w) => { w.Set("min", e.Min); w.Set("max", e.Max); },
            x => new ConductanceClip(x.GetNullableDouble("min"), x.GetNullableDouble("max")));
        r.Register<PowerLawDrift>("PowerLawDrift", (e, w) => { w.Set("t0", e.T0); w.SetEnum("clock", e.Clock); w.Set("nu", e.Nu); },
            x => new PowerLawDrift(x.GetDouble("t0"), x.GetEnum<PowerLawClock>("clock"), x.GetNullableDouble("nu")));
        r.Register<ProgrammingNoise>("ProgrammingNoise", (e, w) => w.SetObject("sigma", e.SigmaLaw), x => new ProgrammingNoise(x.GetObject<INoiseSigma>("sigma")));
        r.Register<ReadNoise>("ReadNoise", (e, w) => w.SetObject("sigma", e.SigmaLaw), x => new ReadNoise(x.GetObject<INoiseSigma>("sigma")));
        r.Register<PulseProgramming>("PulseProgramming", (e, w) => { w.SetObject("response", e.Response); w.Set("max_pulses", e.MaxPulses); },
            x => new PulseProgramming(x.GetObject<PulseResponse>("response"), x.GetInt("max_pulses")));
        r.Register<QuantizedLevels>("QuantizedLevels",
            (e, w) => { w.Set("levels", e.Levels); w.Set("level_sigma", e.LevelSigma); w.Set("step_spread", e.StepSpread); },
            x => new QuantizedLevels(x.GetInt("levels"), x.GetNullableDouble("level_sigma"), x.GetDouble("step_spread")));
        r.Register<RangeVariability>("RangeVariability", (e, w) => { w.Set("gmin_spread", e.GminSpread); w.Set("gmax_spread", e.GmaxSpread); },
            x => new RangeVariability(x.GetDouble("gmin_spread"), x.GetDouble("gmax_spread")));
        r.Register<RramDrift>("RramDrift", (e, w) => w.Set("valid_from", e.ValidFrom), x => new RramDrift(x.GetDouble("valid_from")));
        r.Register<StuckAtFaults>("StuckAtFaults",
            (e, w) =>
            {
                w.Set("low_probability", e.LowProbability);
                w.Set("high_probability", e.HighProbability);
                w.Set("low_conductance", e.LowConductance);
                w.Set("high_conductance", e.HighConductance);
            },
            x => new StuckAtFaults(x.GetDouble("low_probability"), x.GetDouble("high_probability"),
                x.GetNullableDouble("low_conductance"), x.GetNullableDouble("high_conductance")));

        r.Register<AbsoluteSigma>("AbsoluteSigma", (s, w) => w.Set("sigma", s.Value), x => new AbsoluteSigma(x.GetDouble("sigma")));
        r.Register<RelativeSigma>("RelativeSigma", (s, w) => w.Set("fraction", s.Fraction), x => new RelativeSigma(x.GetDouble("fraction")));
        r.Register<PcmProgrammingSigma>("PcmProgrammingSigma",
            (s, w) => { w.Set("c0", s.C0); w.Set("c1", s.C1); w.Set("c2", s.C2); w.Set("reference_gmax", s.ReferenceGmax); },
            x => new PcmProgrammingSigma(x.GetDouble("c0"), x.GetDouble("c1"), x.GetDouble("c2"), x.GetDouble("reference_gmax")));
        r.Register<OneOverFReadSigma>("OneOverFReadSigma",
            (s, w) =>
            {
                w.Set("read_time", s.ReadTime);
                w.Set("time_offset", s.TimeOffset);
                w.Set("qs_scale", s.QsScale);
                w.Set("qs_exponent", s.QsExponent);
                w.Set("qs_max", s.QsMax);
            },
            x => new OneOverFReadSigma(x.GetDouble("read_time"), x.GetDouble("time_offset"), x.GetDouble("qs_scale"), x.GetDouble("qs_exponent"), x.GetDouble("qs_max")));

        r.Register<SoftBoundsPulses>("SoftBoundsPulses", (p, w) => WritePulses(p, w),
            x => new SoftBoundsPulses(x.GetDouble("dw_min"), x.GetDouble("w_min"), x.GetDouble("w_max"), x.GetDouble("reference"),
                x.GetDouble("dw_min_spread"), x.GetDouble("w_min_spread"), x.GetDouble("w_max_spread"), x.GetDouble("cycle_noise")));
        r.Register<LinearStepPulses>("LinearStepPulses",
            (p, w) => { WritePulses(p, w); w.Set("gamma_up", p.GammaUp); w.Set("gamma_down", p.GammaDown); },
            x => new LinearStepPulses(x.GetDouble("dw_min"), x.GetDouble("w_min"), x.GetDouble("w_max"), x.GetDouble("gamma_up"), x.GetDouble("gamma_down"),
                x.GetDouble("reference"), x.GetDouble("dw_min_spread"), x.GetDouble("w_min_spread"), x.GetDouble("w_max_spread"), x.GetDouble("cycle_noise")));
        r.Register<ExponentialStepPulses>("ExponentialStepPulses",
            (p, w) =>
            {
                WritePulses(p, w);
                w.Set("a_up", p.AUp);
                w.Set("a_down", p.ADown);
                w.Set("gamma_up", p.GammaUp);
                w.Set("gamma_down", p.GammaDown);
                w.Set("slope", p.Slope);
                w.Set("offset", p.Offset);
            },
            x => new ExponentialStepPulses(x.GetDouble("dw_min"), x.GetDouble("w_min"), x.GetDouble("w_max"), x.GetDouble("a_up"), x.GetDouble("a_down"),
                x.GetDouble("gamma_up"), x.GetDouble("gamma_down"), x.GetDouble("slope"), x.GetDouble("offset"), x.GetDouble("reference"),
                x.GetDouble("dw_min_spread"), x.GetDouble("w_min_spread"), x.GetDouble("w_max_spread"), x.GetDouble("cycle_noise")));

        // Fitted devices (issue #16, fitting branch): NeuroSim's update and the power-law drift with a fitted ν distribution.
        r.Register<NeuroSimPulses>("NeuroSimPulses",
            (p, w) =>
            {
                w.Set("g_min", p.WMin); w.Set("g_max", p.WMax); w.Set("a_up", p.AUp); w.Set("a_down", p.ADown);
                w.Set("pulses_up", p.PulsesUp); w.Set("pulses_down", p.PulsesDown); w.Set("dw_min_spread", p.DwMinSpread);
                w.Set("w_min_spread", p.WMinSpread); w.Set("w_max_spread", p.WMaxSpread); w.Set("cycle_noise", p.CycleNoise);
            },
            x => new NeuroSimPulses(x.GetDouble("g_min"), x.GetDouble("g_max"), x.GetDouble("a_up"), x.GetDouble("a_down"), x.GetDouble("pulses_up"),
                x.GetDouble("pulses_down"), x.GetDouble("dw_min_spread"), x.GetDouble("w_min_spread"), x.GetDouble("w_max_spread"), x.GetDouble("cycle_noise")));
        r.Register<FittedPowerLawDrift>("FittedPowerLawDrift",
            (e, w) => { w.Set("t0", e.T0); w.SetEnum("clock", e.Clock); w.Set("nu_mean", e.NuMean); w.Set("nu_sigma", e.NuSigma); },
            x => new FittedPowerLawDrift(x.GetDouble("t0"), x.GetEnum<PowerLawClock>("clock"), x.GetDouble("nu_mean"), x.GetDouble("nu_sigma")));
    }

    private static void WritePulses(PulseResponse p, CheckpointWriter w)
    {
        w.Set("dw_min", p.DwMin);
        w.Set("w_min", p.WMin);
        w.Set("w_max", p.WMax);
        w.Set("reference", p.Reference);
        w.Set("dw_min_spread", p.DwMinSpread);
        w.Set("w_min_spread", p.WMinSpread);
        w.Set("w_max_spread", p.WMaxSpread);
        w.Set("cycle_noise", p.CycleNoise);
    }
}

/// <summary>Saving and loading networks of Ship.Devices models in one call (see <see cref="NetworkCheckpoint"/> and docs/persistence.md).</summary>
public static class Checkpoint
{
    /// <summary>Saves <paramref name="network"/> to <paramref name="folder"/>; custom models need a <paramref name="registry"/> that knows them.</summary>
    public static void Save(Network network, string folder, ModelRegistry? registry = null) =>
        new NetworkCheckpoint(registry ?? DeviceModels.CreateRegistry()).Save(network, folder);

    /// <summary>Loads a network saved by <see cref="Save"/>, ready to Continue or Run.</summary>
    public static Network Load(string folder, ModelRegistry? registry = null) =>
        new NetworkCheckpoint(registry ?? DeviceModels.CreateRegistry()).Load(folder);
}
