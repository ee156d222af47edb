using Ship.Core.Memory;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// The fused chains' calls of one training run, written down instead of being recorded as autograd nodes
/// (<see cref="Network.RunAndBackward"/>). A chain on the tape hands on its last block as a leaf that records a
/// gradient, so whatever follows it (a read-out, a loss, other groups) records its own graph from there; once the loss's
/// backward has filled the leaves' gradients, <see cref="Backward"/> runs each chain's backward — the same code, on the
/// same operands, as <see cref="ChainFunction"/>'s — from the last call to the first and hands the gradients on as
/// libtorch's AccumulateGrad would: into a leaf's <c>grad</c> (set when undefined, in the layout of the leaf; added in
/// place otherwise). Same gradients, bit
/// for bit, without TorchSharp's per-node machinery (a managed node, delegates, pinned arrays, a packed output and the
/// copies of its states): about a tenth of the main job's training step (docs/benchmarks.md, Training).
/// <para>Owns references (aliases) to everything it reads later; <see cref="Dispose"/> releases them.</para>
/// <para>A call is written only when its input records no gradient and every link input that records one is a leaf
/// (<see cref="FusedChain.Run"/>); otherwise it is an autograd node as usual, so the graph before it is walked once.</para>
/// </summary>
internal sealed class ChainTape : IDisposable
{
    private sealed record Entry(FusedChain.ChainCall Call, Tensor[] Saved, Tensor Last, Tensor[][] States, Tensor?[][] Inputs);

    private readonly List<Entry> _calls = new();
    private bool _disposed;

    /// <summary>Calls written so far.</summary>
    public int Count => _calls.Count;

    /// <summary>
    /// Writes one chain call (whose input records no gradient: <see cref="FusedChain.Run"/> puts only such calls on a
    /// tape): its links' saved tensors, the last block <paramref name="last"/> (a leaf that records a gradient), each link's final
    /// gradient-carrying <paramref name="states"/> and the link inputs that record a gradient. References of their own,
    /// out of every dispose scope: the block's scope frees its wrappers.
    /// </summary>
    public void Record(FusedChain.ChainCall call, List<Tensor> saved, Tensor last, Tensor[][] states)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var own = new Tensor[saved.Count];
        for (int i = 0; i < own.Length; i++) own[i] = Keep(saved[i]);
        var inputs = new Tensor?[call.Links.Length][];
        for (int k = 0; k < inputs.Length; k++)
        {
            var list = call.Links[k].Inputs;
            inputs[k] = new Tensor?[list.Count];
            for (int j = 0; j < list.Count; j++)
                if (call.InputGrad[k][j]) inputs[k][j] = Keep(list[j]);
        }
        var finals = new Tensor[states.Length][];
        for (int k = 0; k < states.Length; k++) finals[k] = states[k].Select(Keep).ToArray();
        _calls.Add(new Entry(call, own, Keep(last), finals, inputs));
    }

    private static Tensor Keep(Tensor t) => t.alias().DetachFromDisposeScope();

    private readonly List<(Tensor Leaf, Tensor Gradient)> _held = new();

    /// <summary>
    /// Takes the gradients the tape's trained inputs hold from earlier backwards out of them, until <see cref="Backward"/>
    /// (or <see cref="Dispose"/>) adds this backward's to them in one go: libtorch sums all of a leaf's gradients of one
    /// backward first and adds that sum to the held one (a weight read by the loss too, with gradients accumulated
    /// over calls, would otherwise round differently). Call it just before the loss's backward.
    /// </summary>
    public void HoldGradients()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        foreach (var e in _calls)
            foreach (var row in e.Inputs)
                foreach (var t in row)
                {
                    // The same leaf read twice is held once: its gradient is undefined from the first time on.
                    if (t is null || t.grad is not { } g) continue;
                    _held.Add((t, g.DetachFromDisposeScope()));
                    t.grad = null!;
                }
    }

    /// <summary>Adds each held gradient back under this backward's (as AccumulateGrad: held += new, in place).</summary>
    private void ReturnHeld()
    {
        using var noGrad = torch.no_grad();
        foreach (var (t, held) in _held)
        {
            using (var now = t.grad)
                if (now is not null) held.Plus_(now); // the held α = 1: a temporary Scalar could be finalized mid-call
            t.grad = held;
            held.Dispose();
        }
        _held.Clear();
    }

    /// <summary>
    /// Runs the written calls' backwards, last call first, from the gradients their last blocks received (a call whose
    /// last block received none adds nothing, as a node autograd never reaches), and hands on the gradients of their
    /// inputs. Call it once, after the loss's backward.
    /// </summary>
    public void Backward()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var scope = torch.NewDisposeScope();
        for (int c = _calls.Count - 1; c >= 0; c--)
        {
            var e = _calls[c];
            var links = e.Call.Links;
            var dy = e.Last.grad;
            // ∂L/∂(final states): what the loss's backward left on the state leaves, else zeros (as the packed output's
            // state part of an autograd node that received no gradient there).
            var stateGrads = new Tensor[links.Length][];
            bool any = dy is not null;
            for (int k = 0; k < links.Length; k++)
            {
                stateGrads[k] = new Tensor[e.States[k].Length];
                for (int s = 0; s < stateGrads[k].Length; s++)
                {
                    var g = e.States[k][s].grad;
                    any |= g is not null;
                    stateGrads[k][s] = g ?? torch.zeros_like(e.States[k][s]);
                }
            }
            // Nothing reached the call: autograd would never run its node.
            if (!any) continue;
            dy ??= torch.zeros_like(e.Last);
            Tensor?[]?[] dInputs;
            // As in a node's backward: nothing computed here records a graph (∂L/∂x is not asked: x records none).
            using (torch.no_grad()) (_, dInputs) = FusedChain.Backward(e.Call, e.Saved, dy, stateGrads);
            for (int k = 0; k < links.Length; k++)
                if (dInputs[k] is { } d)
                    for (int j = 0; j < d.Length; j++)
                        if (e.Inputs[k][j] is { } input) HandOn(input, d[j]);
        }
        ReturnHeld();
    }

    /// <summary>∂L/∂<paramref name="t"/> into the leaf's gradient (the tape holds only calls whose trained inputs are leaves).</summary>
    private static void HandOn(Tensor t, Tensor? gradient)
    {
        if (gradient is null) return;
        // libtorch's AccumulateGrad outside grad mode: an undefined gradient takes the new one in the leaf's layout
        // (the leaf's strides), a defined one adds it in place.
        using var noGrad = torch.no_grad();
        using var current = t.grad;
        if (current is null)
        {
            if (gradient.is_contiguous() && t.is_contiguous()) t.grad = gradient;
            else
            {
                using var laid = torch.empty_like(t);
                laid.copy_(gradient);
                t.grad = laid;
            }
        }
        else current.Plus_(gradient);
    }

    /// <summary>
    /// Releases the tape's references (the saved tensors, the last blocks, the inputs), gives back gradients still held
    /// (a backward that failed), and leaves the final states plain and the last blocks without gradient: as the
    /// autograd nodes' states once <see cref="Network.RunAndBackward"/> drops their graph, a later call reads them as
    /// constants, and nothing keeps a gradient of theirs alive.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        ReturnHeld();
        foreach (var e in _calls)
        {
            foreach (var t in e.Saved) t.Dispose();
            e.Last.grad = null!;
            e.Last.Dispose();
            foreach (var row in e.States)
                foreach (var t in row)
                {
                    t.grad = null!;
                    t.requires_grad_(false);
                    t.Dispose();
                }
            foreach (var row in e.Inputs) foreach (var t in row) t?.Dispose();
        }
        _calls.Clear();
    }
}
