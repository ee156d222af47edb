using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// The random streams of one network: one host generator per (group tag, purpose), seeded from (network seed, tag,
/// purpose) alone. A group's draws therefore do not depend on which other groups draw, in which order, or whether a
/// segment is drawn at once or step by step; streams continue across Continue and are saved in checkpoints.
/// </summary>
public sealed class RandomStreams
{
    private readonly Dictionary<(string Owner, string Purpose), torch.Generator> _streams = new();

    /// <summary>Creates the (lazily filled) streams of a network seeded with <paramref name="seed"/>.</summary>
    public RandomStreams(long seed) => Seed = seed;

    /// <summary>The network seed every stream derives from.</summary>
    public long Seed { get; }

    /// <summary>The stream of <paramref name="owner"/> (a group tag) for <paramref name="purpose"/> (e.g. "spikes", "read-noise"), created on first use.</summary>
    public torch.Generator Get(string owner, string purpose)
    {
        if (!_streams.TryGetValue((owner, purpose), out var g))
            _streams[(owner, purpose)] = g = new torch.Generator(SeedFor(Seed, owner, purpose), CPU);
        return g;
    }

    /// <summary>The streams created so far, ordered by owner then purpose (ordinal).</summary>
    public IReadOnlyList<(string Owner, string Purpose, torch.Generator Generator)> All =>
        _streams.OrderBy(p => p.Key.Owner, StringComparer.Ordinal).ThenBy(p => p.Key.Purpose, StringComparer.Ordinal)
            .Select(p => (p.Key.Owner, p.Key.Purpose, p.Value)).ToList();

    /// <summary>The seed of one stream: a 64-bit mix of the network seed and an FNV-1a hash of owner and purpose.</summary>
    public static ulong SeedFor(long seed, string owner, string purpose)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in owner + "\0" + purpose) { h ^= c; h *= 1099511628211UL; }
        return Mix(Mix((ulong)seed) ^ h);
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The state of every stream, to put back with <see cref="Restore"/> when a call fails part-way.</summary>
    internal Dictionary<(string, string), Tensor> Snapshot() => _streams.ToDictionary(p => p.Key, p => p.Value.get_state());

    /// <summary>Puts every stream back as in <paramref name="snapshot"/>; streams created since are forgotten (they restart from their seed).</summary>
    internal void Restore(Dictionary<(string, string), Tensor> snapshot)
    {
        foreach (var key in _streams.Keys.Where(k => !snapshot.ContainsKey(k)).ToList()) _streams.Remove(key);
        foreach (var (key, state) in snapshot) Get(key.Item1, key.Item2).set_state(state);
    }

    /// <summary>Sets one stream's state (checkpoint loading).</summary>
    internal void SetState(string owner, string purpose, Tensor state) => Get(owner, purpose).set_state(state);
}
