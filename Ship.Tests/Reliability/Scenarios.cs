using Ship.Core.Clocks;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using Ship.Devices.Dendrites;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Persistence;
using Ship.Devices.Plasticity;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Tests.CustomModels;
using Ship.Training;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

/// <summary>
/// Networks used by the checkpoint and determinism tests, in this process and in the helper process
/// (<see cref="HelperProgram"/>): each is built, run for a first part, then continued for a second part. Inputs come
/// from seeded generators, so both processes build the same data.
/// </summary>
internal static class Scenarios
{
    public static readonly string[] Names = { "mixed", "batched", "trains" };

    /// <summary>The registry of the tests: every built-in model plus the custom model of docs/custom-models.md.</summary>
    public static ModelRegistry Registry() =>
        new(typeof(ExponentialIntegrator).Assembly);

    public static Network Build(string name) => name switch
    {
        "mixed" => Mixed(),
        "batched" => Batched(),
        "trains" => Trains(),
        _ => throw new ArgumentException($"unknown scenario {name}"),
    };

    /// <summary>Resets and runs the first part.</summary>
    public static RunResult Part1(Network net, string name) => name switch
    {
        "mixed" => net.Run(new Dictionary<string, Tensor> { ["I"] = Raster(2, 30, 6, 0.5, seed: 1) }, new Schedule((1e-3, 20), (0.5e-3, 10))),
        "batched" => net.Run(new Dictionary<string, Tensor> { ["I"] = Raster(3, 90, 5, 0.3, seed: 2) }, Schedule.Fixed(1e-3, 40)),
        "trains" => net.Run(schedule: Schedule.Fixed(1e-3, 20)),
        _ => throw new ArgumentException(name),
    };

    /// <summary>Continues with the second part (no reset).</summary>
    public static RunResult Part2(Network net, string name) => name switch
    {
        "mixed" => net.Continue(new Dictionary<string, Tensor> { ["I"] = Raster(2, 25, 6, 0.5, seed: 3) }, new Schedule((0.5e-3, 10), (1e-3, 15))),
        "batched" => net.Continue(schedule: Schedule.Fixed(1e-3, 50)),          // the rest of the data fed in part 1
        "trains" => net.Continue(schedule: Schedule.Fixed(1e-3, 15)),           // the rest of the staged trains
        _ => throw new ArgumentException(name),
    };

    public static Tensor Raster(int batch, int steps, int n, double p, long seed)
    {
        var g = new torch.Generator((ulong)seed);
        return torch.rand(new long[] { batch, steps, n }, generator: g).lt(p).to_type(ScalarType.Float32);
    }

    /// <summary>Most models of Ship.Devices in one network, with devices, wrappers, a delayed back edge, STDP and variable dt.</summary>
    private static Network Mixed()
    {
        var net = new Network("mixed") { Dt = 1e-3, Steps = 30, BatchSize = 2, Seed = 11 };
        net.Add("I", new TensorInput(6));
        net.Add("P", new PoissonSource(6, rate: 300));
        net.Add("IL", new Dense(Init.Uniform(0, 0.8)), "I", "L1");
        net.Add("L1", new Refractory(new Lif(5, tau: 5e-3), 2e-3));
        var pa = new FirstOrder(Init.Uniform(0, 1), tau: 5e-3, weightScale: 150.0);
        pa.WithDevice(MemristivePresets.PcmLike(elapsedTime: 100)); // read noise: draws from the network's generator every step
        net.Add("PA", pa, "P", "A1");
        net.Add("A1", new AdaptiveLif(5, tau: 10e-3));
        var delays = torch.tensor(new double[] { 0, 1, 2, 3, 1, 2, 3, 0, 2, 3, 0, 1, 3, 0, 1, 2, 1, 1, 2, 2 }, new long[] { 5, 4 });
        net.Add("LH", new HeterogeneousDelay(delays, Init.Uniform(0.2, 1.0)), "L1", "Z");
        net.Add("Z", new Delay(new WinnerTakeAll(new LifRest(4, tau: 5e-3, threshold: 0.5)), 2e-3));
        net.Add("ZL", new Dense(0.3), "Z", "L1"); // a back edge through the delay
        var s2 = new SecondOrder(Init.Uniform(0, 1), weightScale: 400.0);
        s2.WithDevice(MemristivePresets.ShipRram(elapsedTime: 10).With(new StuckAtFaults(0.1, 0.1)));
        net.Add("AS", s2, "A1", "IZ");
        net.Add("IZ", new Izhikevich(3, substeps: 2));
        net.Add("AD", new Dense(Init.Uniform(0, 1)), "A1", "DI");
        net.Add("DI", new DendriticIntegrator(2, 2, DendriteNonlinearity.Relu));
        net.Add("DS", new Identity(), "DI", "SL");
        net.Add("SL", new SharedRefractory(new LifRestReset(2, tau: 5e-3, threshold: 0.3), 3e-3));
        net.Add("SE", new Dense(Init.Normal(0, 1)), "SL", "E");
        net.Add("E", new ExponentialIntegrator(2));
        var stdp = new StdpBlock(new Dense(Init.Uniform(0, 0.5)), 3, bounds: StdpBounds.Clip, wMin: 0, wMax: 1);
        net.Add("IT", stdp.Tap, "I", "LL");
        net.Add("LL", new Lif(3, tau: 5e-3, threshold: 0.5));
        net.Add("STDP", stdp);
        net.Connect("LL", "STDP");
        net.MarkOutput("L1", "A1", "Z", "IZ", "SL", "E", "LL", "STDP");
        net.Monitor("A1", "u");
        return net;
    }

    /// <summary>Groups computed a whole segment at once (time batching), continued from the data left in the input.</summary>
    private static Network Batched()
    {
        var net = new Network("batched") { Dt = 1e-3, Steps = 40, BatchSize = 3, Seed = 5 };
        net.Add("I", new TensorInput(5));
        net.Add("IF", new FirstOrder(Init.Uniform(0, 1), tau: 4e-3, weightScale: 120.0), "I", "L");
        net.Add("L", new Lif(4, tau: 8e-3));
        net.Add("P", new PoissonSource(4, rate: 150));
        net.Add("PD", new Dense(Init.Uniform(0, 1.2)), "P", "M");
        net.Add("M", new Lif(3, tau: 8e-3));
        net.MarkOutput("L", "M");
        return net;
    }

    /// <summary>Ragged spike trains staged in the input group, consumed across the save.</summary>
    private static Network Trains()
    {
        var net = new Network("trains") { Dt = 1e-3, Steps = 10, BatchSize = 2, Seed = 8 };
        var input = new SpikeTrainInput(4);
        input.Feed(new[] { Raster(1, 35, 4, 0.4, seed: 4)[0], Raster(1, 28, 4, 0.4, seed: 5)[0] });
        net.Add("T", input);
        net.Add("TS", new FirstOrderPerTarget(Init.Uniform(0, 1), weightScale: 200.0), "T", "L");
        net.Add("L", new LifRestReset(3, tau: 6e-3, threshold: 0.8));
        net.Add("LI", new Dense(Init.Uniform(0, 1)), "L", "U");
        net.Add("U", new LeakyIntegrator(2));
        net.MarkOutput("L", "U");
        return net;
    }

    /// <summary>
    /// What a run leaves behind, as named tensors: outputs of the call, every variable of every group, the generator
    /// state and the step times. Two equal records mean two identical runs.
    /// </summary>
    public static Dictionary<string, Tensor> Record(Network net, RunResult r)
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (tag, t) in r.Outputs) d[$"out/{tag}"] = t;
        foreach (var g in net.Groups)
            foreach (var v in g.AllVariables)
                if (v.Tensor is { } t) d[$"var/{g.Tag}/{v.Name}"] = t.detach();
        foreach (var m in net.Monitors) d[$"monitor/{m.Group.Tag}.{m.Variable}"] = m.Values;
        d["rng"] = net.Context.Rng.get_state();
        d["times"] = torch.tensor(r.Times, ScalarType.Float64);
        d["timeline"] = torch.tensor(net.Timeline.Times.ToArray(), ScalarType.Float64);
        return d;
    }

    /// <summary>A short training run (Adam, surrogate gradients): losses, trained weights and the spikes of a prediction.</summary>
    public static Dictionary<string, Tensor> Train()
    {
        var net = new Network("train") { Dt = 1e-3, Steps = 20, BatchSize = 6, Seed = 21 };
        net.Add("I", new TensorInput(6));
        net.Add("IH", new Dense(Init.Uniform(0, 0.6)), "I", "H");
        net.Add("H", new Lif(10, tau: 10e-3));
        net.Add("HO", new Dense(Init.Normal(0, 0.3)), "H", "O");
        net.Add("O", new ExponentialIntegrator(3));
        net.MarkOutput("O", "H");
        var trainer = new Trainer(net, new MaxOverTime("O"), new CrossEntropyLoss(), ps => torch.optim.Adam(ps, 1e-2));
        var y = torch.tensor(new long[] { 0, 1, 2, 0, 1, 2 });
        for (int b = 0; b < 4; b++) trainer.TrainBatch(Raster(6, 20, 6, 0.3, seed: 100 + b), y);
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["losses"] = torch.tensor(trainer.LossHistory.ToArray(), ScalarType.Float64),
            ["w/IH"] = net["IH"].Get("w").detach(),
            ["w/HO"] = net["HO"].Get("w").detach(),
        };
        var r = net.Run(Raster(6, 20, 6, 0.3, seed: 200));
        d["spikes/H"] = r["H"];
        d["out/O"] = r["O"];
        return d;
    }

    public static void Write(string path, Dictionary<string, Tensor> record) =>
        SafeTensors.Write(path, record.OrderBy(kv => kv.Key, StringComparer.Ordinal));
}
