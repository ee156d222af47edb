using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// Everything a group needs from its network at run time: batch size, device, dtype, the current dt and the
/// network's own random generator. One per network, so two networks never share mutable state.
/// </summary>
public sealed class SimulationContext
{
    /// <summary>Creates a context; groups can also be bound to one directly to test a model without a network.</summary>
    public SimulationContext(int batchSize, Device? device = null, ScalarType dtype = ScalarType.Float32, double dt = 1e-3, long seed = 0)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be >= 1");
        if (!(dt > 0) || double.IsInfinity(dt)) throw new ArgumentOutOfRangeException(nameof(dt), dt, "dt must be a finite value > 0");
        BatchSize = batchSize;
        Device = device ?? CPU;
        DType = dtype;
        Dt = dt;
        Seed = seed;
        Rng = new torch.Generator((ulong)seed, CPU); // host generator for every device: see Draw
    }

    /// <summary>Number of independent samples simulated side by side.</summary>
    public int BatchSize { get; }
    /// <summary>Device every tensor of the network lives on.</summary>
    public Device Device { get; }
    /// <summary>Floating dtype of states, parameters and outputs.</summary>
    public ScalarType DType { get; }
    /// <summary>Current time step in seconds; changes between the segments of a variable-dt run.</summary>
    public double Dt { get; internal set; }
    /// <summary>Seed the generator was created with.</summary>
    public long Seed { get; }
    /// <summary>The network's own random generator (on the host; draw through <see cref="Draw"/>): every draw (weights, Poisson spikes, noise) comes from here.</summary>
    public torch.Generator Rng { get; }
    /// <summary>How neurons turn membranes into spikes; a trainer swaps in a surrogate-gradient version (same forward).</summary>
    public Spikes.ISpikeFunction Spikes { get; set; } = Ship.Core.Spikes.HeavisideSpikes.Instance;
    /// <summary>Index of the step being computed, counted from the last reset.</summary>
    public long StepIndex { get; internal set; }
    /// <summary>Time at the start of the step being computed, in seconds from the last reset.</summary>
    public double Time { get; internal set; }
}
