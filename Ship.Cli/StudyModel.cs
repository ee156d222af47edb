using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using Ship.Datasets.Batching;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Training;
using Ship.Training.Optimizers;
using Ship.Training.Hardware;
using Ship.Training.Losses;
using Ship.Training.Readouts;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Cli;

/// <summary>What one training produced.</summary>
/// <param name="Label">"plain" or "hardware-aware (n levels)".</param>
/// <param name="Weights">Trained weights by synapse tag (detached copies).</param>
/// <param name="BatchLoss">Loss of every batch.</param>
/// <param name="EpochAccuracy">Test accuracy after every epoch (with the training network's own forward: hardware-aware
/// networks see their quantized, noisy weights).</param>
/// <param name="TestAccuracy">Final test accuracy with ideal (unquantized) weights.</param>
/// <param name="Seconds">Training wall time.</param>
public sealed record TrainedModel(string Label, IReadOnlyDictionary<string, Tensor> Weights, IReadOnlyList<double> BatchLoss,
    IReadOnlyList<double> EpochAccuracy, double TestAccuracy, double Seconds);

/// <summary>
/// The study's two-layer spiking network: input spikes → dense → hidden LIF → dense → non-spiking leaky integrators,
/// read out as the maximum of each output membrane over time, trained with surrogate gradients (fast sigmoid) through
/// time, Adam and NLL on log-softmax.
/// </summary>
public sealed class StudyModel
{
    /// <summary>Input group tag.</summary>
    public const string Input = "input";
    /// <summary>Input → hidden synapse tag.</summary>
    public const string InHidden = "in_hidden";
    /// <summary>Hidden LIF tag.</summary>
    public const string Hidden = "hidden";
    /// <summary>Hidden → output synapse tag.</summary>
    public const string HiddenOut = "hidden_out";
    /// <summary>Output leaky-integrator tag.</summary>
    public const string Output = "out";

    /// <summary>Creates the model for <paramref name="inputs"/> channels and <paramref name="classes"/> classes.</summary>
    public StudyModel(StudySettings settings, int inputs, int classes)
    {
        Settings = settings;
        Inputs = inputs;
        Classes = classes;
    }

    /// <summary>The settings.</summary>
    public StudySettings Settings { get; }
    /// <summary>Input channels.</summary>
    public int Inputs { get; }
    /// <summary>Output classes.</summary>
    public int Classes { get; }

    /// <summary>Readout of the output membranes.</summary>
    public IReadout Readout { get; } = new MaxOverTime(Output);

    /// <summary>The torch device of the settings.</summary>
    public Device TorchDevice => Settings.Device == "cuda" ? torch.CUDA : torch.CPU;

    /// <summary>
    /// Builds an uninitialized network for <paramref name="batch"/> samples; with <paramref name="weights"/> its synapses start
    /// from them (trained weights), else from a seeded draw (Gaussian, scaled by fan-in). <paramref name="synapse"/> makes
    /// each weighted synapse from (weights, fan-in) instead of a <see cref="Dense"/> (e.g. a crossbar).
    /// </summary>
    public Network Build(int batch, IReadOnlyDictionary<string, Tensor>? weights = null, long? seed = null, Func<Value, long, WeightedSynapse>? synapse = null)
    {
        var s = Settings;
        var net = new Network("study") { Dt = s.Dt, Steps = s.Steps, BatchSize = batch, Seed = seed ?? s.Seed, Device = TorchDevice };
        net.Add(Input, new TensorInput(Inputs));
        synapse ??= (w, _) => new Dense(w);
        net.Add(InHidden, synapse(W(InHidden, 0.0, 3.0 / Math.Sqrt(Inputs)), Inputs), Input, Hidden);
        net.Add(Hidden, new Lif(s.Hidden, tau: s.TauHidden, threshold: s.Threshold));
        net.Add(HiddenOut, synapse(W(HiddenOut, 0.0, 1.0 / Math.Sqrt(s.Hidden)), s.Hidden), Hidden, Output);
        net.Add(Output, new LeakyIntegrator(Classes, tau: s.TauOut));
        net.MarkOutput(Output);
        return net;

        Value W(string tag, double mean, double std) =>
            weights is not null && weights.TryGetValue(tag, out var w) ? (Value)w.to(TorchDevice) : Init.Normal(mean, std);
    }

    /// <summary>
    /// Trains a network from the seeded initial weights: plain when <paramref name="hardware"/> is null, else with the given
    /// device non-idealities in the forward pass. <paramref name="epochDone"/> reports (epoch, mean loss, test accuracy);
    /// <paramref name="batchDone"/> reports each batch.
    /// </summary>
    public TrainedModel Train(StudyData data, Tensor testSpikes, string label, HardwareAwareOptions? hardware, long seed,
        Action<int, double, double>? epochDone = null, Action<int, int, double>? batchDone = null)
    {
        var s = Settings;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var net = Build(s.BatchSize, seed: seed);
        var hw = hardware is null ? Array.Empty<HardwareAwareWeights>() : HardwareAware.Attach(net, hardware);
        var trainer = new Trainer(net, Readout, new NllLoss(), ps => new HeldAdam(ps, s.LearningRate),
            surrogate: new FastSigmoid(s.SurrogateSlope));
        var loader = new DenseLoader(data.Train, s.BatchSize, shuffle: true, dropLast: true, seed: seed);
        var rng = new torch.Generator((ulong)(seed * 7919 + 17), TorchDevice);
        var epochAcc = new List<double>();
        var scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(trainer.Optimizer, s.Epochs);
        for (int epoch = 0; epoch < s.Epochs; epoch++)
        {
            double sum = 0;
            int count = 0;
            foreach (var batch in loader)
            {
                using var scope = torch.NewDisposeScope();
                var x = StudyData.Encode(batch.X.to(TorchDevice), s, rng);
                double loss = trainer.TrainBatch(x, batch.Y.to(TorchDevice));
                HardwareAware.ProjectAll(hw);
                sum += loss;
                count++;
                batchDone?.Invoke(epoch, count, loss);
                batch.Dispose();
            }
            scheduler.step();
            double acc = HardwareEvaluator.Accuracy(net, Readout, testSpikes, data.Test.Labels);
            epochAcc.Add(acc);
            epochDone?.Invoke(epoch + 1, sum / Math.Max(1, count), acc);
        }
        var weights = new Dictionary<string, Tensor>
        {
            [InHidden] = net[InHidden].Get("w").detach().clone().cpu().DetachFromDisposeScope(),
            [HiddenOut] = net[HiddenOut].Get("w").detach().clone().cpu().DetachFromDisposeScope(),
        };
        clock.Stop();
        var ideal = Build(s.BatchSize, weights, seed);
        ideal.Initialize();
        double test = HardwareEvaluator.Accuracy(ideal, Readout, testSpikes, data.Test.Labels);
        return new TrainedModel(label, weights, trainer.LossHistory.ToArray(), epochAcc, test, clock.Elapsed.TotalSeconds);
    }
}
