using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets.Events;

/// <summary>
/// An event data set read from files (Spiking Heidelberg Digits, Spiking Speech Commands, N-MNIST): one
/// <see cref="EventList"/> per sample, its label, and the number of input channels. Binning turns it into the
/// [n, steps, channels] spike rasters that a network's <c>TensorInput</c> takes.
/// </summary>
public sealed class EventSet
{
    /// <summary>Wraps samples and labels of equal count; every channel must lie in [0, <paramref name="channels"/>).</summary>
    public EventSet(IReadOnlyList<EventList> samples, long[] labels, int channels, string source = "")
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(labels);
        if (samples.Count != labels.Length)
            throw new ParameterException(nameof(EventSet), nameof(labels), $"expected one label per sample ({samples.Count}), got {labels.Length}.");
        if (channels < 1) throw new ParameterException(nameof(EventSet), nameof(channels), $"must be >= 1, got {channels}.");
        for (int s = 0; s < samples.Count; s++)
            foreach (var c in samples[s].Channels)
                if ((uint)c >= (uint)channels)
                    throw new ParameterException(nameof(EventSet), nameof(samples), $"sample {s}: expected channels in [0, {channels}), found an event on channel {c}.");
        Samples = samples;
        Labels = labels;
        Channels = channels;
        Source = source;
    }

    /// <summary>The samples, in the file's (or folder's) order.</summary>
    public IReadOnlyList<EventList> Samples { get; }

    /// <summary>Class label of each sample.</summary>
    public long[] Labels { get; }

    /// <summary>Number of input channels (700 for SHD/SSC, 2·34·34 for N-MNIST).</summary>
    public int Channels { get; }

    /// <summary>Where the samples were read from (file or folder), for messages.</summary>
    public string Source { get; }

    /// <summary>Number of samples.</summary>
    public int Count => Samples.Count;

    /// <summary>Samples at <paramref name="indices"/>, sharing their event arrays.</summary>
    public EventSet Subset(IEnumerable<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var idx = indices.ToArray();
        foreach (var i in idx)
            if ((uint)i >= (uint)Count)
                throw new ParameterException(nameof(EventSet), nameof(indices), $"expected sample indices in [0, {Count}) of '{Source}', got {i}.");
        return new EventSet(idx.Select(i => Samples[i]).ToArray(), idx.Select(i => Labels[i]).ToArray(), Channels, Source);
    }

    /// <summary>
    /// All samples binned onto one time grid: [n, steps, channels / pool] float32 (see <see cref="EventBinning.Bin"/>),
    /// with their labels as int64 — what the loaders and <c>Trainer</c> take.
    /// </summary>
    public LabeledSet ToLabeledSet(double dt, double duration, bool counts = false, int pool = 1) =>
        new(EventBinning.Bin(Samples, Channels, dt, duration, counts, pool), torch.tensor(Labels));

    /// <summary>Each sample binned on its own length (⌊t_last/dt⌋ + 1 steps): [steps_i, channels / pool] for <c>RaggedLoader</c>.</summary>
    public List<Tensor> BinEach(double dt, bool counts = false, int pool = 1) =>
        Samples.Select(s => EventBinning.Bin(new[] { s }, Channels, dt, (EventBinning.StepOf(s.LastTime, dt) + 1) * dt, counts, pool)[0]).ToList();
}
