using System.Collections;
using Ship.Core.Clocks;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Datasets.Batching;

/// <summary>A batch of samples that share one time schedule: run it with <c>network.Run(X, Schedule)</c>. The caller owns the tensors.</summary>
/// <param name="X">Inputs [B, T, N] with T = Schedule.TotalSteps.</param>
/// <param name="Schedule">The (dt, steps) segments every sample of the batch was recorded with.</param>
/// <param name="Y">Labels [B], when the loader has labels.</param>
/// <param name="Indices">int64 [B]: positions of the samples in the loader's list.</param>
public sealed record ScheduledBatch(Tensor X, Schedule Schedule, Tensor? Y, Tensor Indices) : IDisposable
{
    /// <summary>Number of samples in the batch.</summary>
    public long Size => Indices.Sizes()[0];

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        X.Dispose();
        Y?.Dispose();
        Indices.Dispose();
    }
}

/// <summary>
/// Mini-batches over (input, <see cref="Schedule"/>) pairs for variable-dt runs. A network run follows one schedule
/// for the whole batch, so samples are grouped by identical segments (<see cref="Schedules.SameSegments"/>) and each
/// batch holds one group only (SHIP's ListHaulerMS instead hands over the schedule of one sample for the whole batch).
/// With shuffling, each group is permuted and the batches of all groups are then visited in a permuted order, both
/// drawn from a generator seeded by (seed, epoch). Every sample appears once per epoch, except that drop-last skips
/// the partial batch of each group.
/// </summary>
public sealed class ScheduledLoader : IEnumerable<ScheduledBatch>
{
    private readonly IReadOnlyList<Tensor> _inputs;
    private readonly Tensor? _labels;
    private readonly List<(Schedule Schedule, long[] Members)> _groups = new();

    /// <summary>Creates a loader; inputs [steps_i, N] must have steps_i = schedules[i].TotalSteps. Tensors are borrowed.</summary>
    public ScheduledLoader(IReadOnlyList<Tensor> inputs, IReadOnlyList<Schedule> schedules, Tensor? labels, int batchSize,
        bool shuffle = true, bool dropLast = false, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(schedules);
        EpochSeeds.CheckBatchSize(batchSize);
        if (inputs.Count == 0) throw new ArgumentException("The list of inputs is empty.", nameof(inputs));
        if (schedules.Count != inputs.Count)
            throw new ArgumentException($"Give one schedule per input: {inputs.Count} inputs, {schedules.Count} schedules.", nameof(schedules));
        if (labels is not null && (labels.dim() < 1 || labels.Sizes()[0] != inputs.Count))
            throw new ArgumentException($"labels must be [{inputs.Count}, ...], got {Shapes.Format(labels.Sizes())}.", nameof(labels));
        var first = inputs[0] ?? throw new ArgumentException("Input 0 is null.", nameof(inputs));
        var members = new List<List<long>>();
        for (int i = 0; i < inputs.Count; i++)
        {
            var x = inputs[i] ?? throw new ArgumentException($"Input {i} is null.", nameof(inputs));
            var s = schedules[i] ?? throw new ArgumentException($"Schedule {i} is null.", nameof(schedules));
            if (x.dim() != 2 || x.Sizes()[1] != first.Sizes()[1] || x.Sizes()[0] != s.TotalSteps)
                throw new ArgumentException(
                    $"Input {i} must be [steps = {s.TotalSteps} (its schedule: {s}), N = {first.Sizes()[1]}], got {Shapes.Format(x.Sizes())}.", nameof(inputs));
            if (x.dtype != first.dtype || x.device.type != first.device.type)
                throw new ArgumentException($"Input {i} is {x.dtype} on {x.device}, input 0 is {first.dtype} on {first.device}.", nameof(inputs));
            int g = _groups.FindIndex(e => Schedules.SameSegments(e.Schedule, s));
            if (g < 0)
            {
                _groups.Add((s, Array.Empty<long>()));
                members.Add(new List<long>());
                g = _groups.Count - 1;
            }
            members[g].Add(i);
        }
        for (int g = 0; g < _groups.Count; g++) _groups[g] = (_groups[g].Schedule, members[g].ToArray());
        _inputs = inputs;
        _labels = labels;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        Seed = seed;
    }

    /// <summary>Number of samples.</summary>
    public int Count => _inputs.Count;
    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }
    /// <summary>Whether each epoch is permuted.</summary>
    public bool Shuffle { get; }
    /// <summary>Whether each group's partial batch is skipped.</summary>
    public bool DropLast { get; }
    /// <summary>Seed of the loader's own generators.</summary>
    public long Seed { get; }
    /// <summary>Epoch that the next enumeration gives; counts up from 0.</summary>
    public int NextEpoch { get; set; }
    /// <summary>The distinct schedules, in order of first appearance, with the positions of their samples.</summary>
    public IReadOnlyList<(Schedule Schedule, long[] Members)> Groups => _groups;
    /// <summary>Batches per epoch (summed over the groups).</summary>
    public int BatchesPerEpoch => _groups.Sum(g => EpochSeeds.BatchCount(g.Members.Length, BatchSize, DropLast));

    /// <summary>The batches of epoch <paramref name="epoch"/> as (group, sample positions), without loading any tensor.</summary>
    public IReadOnlyList<(int Group, long[] Indices)> BatchIndices(int epoch)
    {
        EpochSeeds.CheckEpoch(epoch);
        var gen = Shuffle ? EpochSeeds.Generator(Seed, epoch) : null;
        var batches = new List<(int, long[])>();
        for (int g = 0; g < _groups.Count; g++)
        {
            var m = _groups[g].Members;
            var order = gen is null ? m : EpochSeeds.Permutation(m.Length, gen).Select(p => m[p]).ToArray();
            for (int start = 0; start < order.Length; start += BatchSize)
            {
                int size = Math.Min(BatchSize, order.Length - start);
                if (size < BatchSize && DropLast) break;
                batches.Add((g, order.AsSpan(start, size).ToArray()));
            }
        }
        if (gen is not null)
        {
            var perm = EpochSeeds.Permutation(batches.Count, gen);
            batches = perm.Select(p => batches[(int)p]).ToList();
        }
        return batches;
    }

    /// <summary>The batches of epoch <paramref name="epoch"/>, without changing <see cref="NextEpoch"/>.</summary>
    public IEnumerable<ScheduledBatch> Epoch(int epoch) => BatchIndices(epoch).Select(b => Make(b.Group, b.Indices));

    private ScheduledBatch Make(int group, long[] indices)
    {
        var x = torch.stack(indices.Select(i => _inputs[(int)i]).ToArray(), 0);
        var idx = torch.tensor(indices, ScalarType.Int64);
        Tensor? y = null;
        if (_labels is not null)
        {
            using var iy = idx.to(_labels.device);
            y = _labels.index_select(0, iy);
        }
        return new ScheduledBatch(x, _groups[group].Schedule, y, idx);
    }

    /// <summary>Enumerates epoch <see cref="NextEpoch"/> and advances it.</summary>
    public IEnumerator<ScheduledBatch> GetEnumerator() => Epoch(NextEpoch++).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
