using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// Reduced precision for a network: where values are stored and how CUDA matrix products round. With a
/// <see cref="Storage"/> type (bfloat16 or float16) every floating parameter is rounded to it at initialization and
/// every group output (spikes, currents) is rounded to it each step, while states — membranes, traces, synaptic
/// currents — and all arithmetic stay in the network's dtype (fp32 accumulation). The rounding is emulated in the
/// network's dtype (values representable in the storage type, held in float32), so it measures the accuracy cost on
/// any device; it does not shrink memory. <see cref="Tf32"/> lets CUDA matrix products use TF32 tensor cores for the
/// duration of each Run/Continue (a process-wide libtorch flag, set and restored by the call; no effect on the CPU).
/// docs/precision.md has the measured spike mismatch rates.
/// </summary>
/// <param name="Storage">BFloat16 or Float16 to round stored values to; null keeps the network's dtype (the default).</param>
/// <param name="Tf32">Whether CUDA float32 matrix products may use TF32 during runs.</param>
public sealed record Precision(ScalarType? Storage = null, bool Tf32 = false)
{
    /// <summary>Everything in the network's dtype, no TF32 (the default).</summary>
    public static Precision Full { get; } = new();

    /// <summary>Weights and signals stored as bfloat16, states and arithmetic in the network's dtype.</summary>
    public static Precision BFloat16Storage { get; } = new(ScalarType.BFloat16);

    /// <summary>Weights and signals stored as float16, states and arithmetic in the network's dtype.</summary>
    public static Precision Float16Storage { get; } = new(ScalarType.Float16);

    /// <summary>Whether group outputs are rounded each step.</summary>
    internal bool RoundsOutputs => Storage is not null;

    /// <summary>Checks the setting against the network's dtype; throws naming the network.</summary>
    internal void Validate(string network, ScalarType dtype)
    {
        if (Storage is null) return;
        if (Storage is not (ScalarType.BFloat16 or ScalarType.Float16))
            throw new NetworkConfigurationException($"Network '{network}': precision storage must be BFloat16 or Float16 (or null for none), got {Storage}.");
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64))
            throw new NetworkConfigurationException($"Network '{network}': reduced storage ({Storage}) needs a float32 or float64 network to accumulate in, the network's dtype is {dtype}.");
    }

    /// <summary>The value rounded to the storage type and held in its own dtype again (differentiable: the cast's gradient is the identity).</summary>
    internal Tensor Round(Tensor t)
    {
        if (Storage is not { } s || !t.is_floating_point()) return t;
        using var narrow = t.to_type(s);
        return narrow.to_type(t.dtype);
    }

    /// <summary>Rounds every floating parameter of the groups in place (at initialization, before any run).</summary>
    internal void RoundParameters(IEnumerable<Group> groups)
    {
        if (Storage is null) return;
        using var noGrad = torch.no_grad();
        foreach (var g in groups)
            foreach (var p in g.AllVariables.OfType<Parameter>())
                if (p.Tensor is { } t && t.is_floating_point() && !p.Pinned)
                {
                    using var r = Round(t);
                    t.copy_(r);
                }
    }

    /// <summary>Allows TF32 CUDA matrix products until the returned scope is disposed, which restores the previous flag; null when <see cref="Tf32"/> is off.</summary>
    internal IDisposable? EnterTf32()
    {
        if (!Tf32) return null;
        bool before = torch.backends.cuda.matmul.allow_tf32;
        torch.backends.cuda.matmul.allow_tf32 = true;
        return new Restore(() => torch.backends.cuda.matmul.allow_tf32 = before);
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
