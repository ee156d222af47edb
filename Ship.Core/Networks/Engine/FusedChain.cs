using Ship.Core.Groups;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// Runs a fused chain of whole-block groups (<see cref="ExecutionPlan.Chains"/>) for one block: without a graph, the
/// links' forwards one after the other; while recording gradients, inside one autograd node (<see cref="ChainFunction"/>)
/// whose inputs are the chain's input and every link's <see cref="ChainLink.Inputs"/>, and whose one packed output
/// holds the last link's block and the final states that carry gradients. The blocks between links are plain tensors:
/// nothing but the next link reads them (the plan's condition for a chain), so they need no gradient of their own.
/// </summary>
internal static class FusedChain
{
    /// <summary>
    /// Finds the chains of a plan: maximal runs of whole-block <see cref="IChainGroup"/>s that accept to be links, each
    /// after the first having the one before as its only source and being that one's only reader, where the groups
    /// before the last are not outputs, not read per step (no slices), not bound to an observer and on no ordering edge.
    /// Returns per group its chain (or −1) and the chains, each in data order.
    /// </summary>
    public static (int[] ChainOf, int[][] Chains) Find(CompiledGraph graph, bool[] sequence, bool[] slices, string[][] observers)
    {
        int n = graph.Count;
        var readers = new List<int>[n];
        for (int i = 0; i < n; i++) readers[i] = new List<int>();
        for (int t = 0; t < n; t++) foreach (var s in graph.Sources[t]) readers[s].Add(t);
        var ordered = new bool[n];
        foreach (var (s, t) in graph.OrderingEdges) ordered[s] = ordered[t] = true;
        bool Link(int i) => sequence[i] && !ordered[i] && graph.Groups[i] is IChainGroup c && c.LinkRefusal is null;
        // The link after i, where i can hand its block on inside a chain.
        int Next(int i)
        {
            if (!Link(i) || slices[i] || observers[i].Length > 0 || graph.OutputSlot[i] >= 0 || readers[i].Count != 1) return -1;
            int t = readers[i][0];
            return t != i && Link(t) && graph.Sources[t].Length == 1 ? t : -1;
        }
        var chainOf = Enumerable.Repeat(-1, n).ToArray();
        var chains = new List<int[]>();
        var hasPrev = new bool[n];
        for (int i = 0; i < n; i++) if (Next(i) is >= 0 and var t) hasPrev[t] = true;
        for (int i = 0; i < n; i++)
        {
            // A chain starts at a link with one source that no link hands on to, and has at least two groups.
            if (hasPrev[i] || graph.Sources[i].Length != 1 || Next(i) < 0) continue;
            var members = new List<int> { i };
            for (int t = Next(i); t >= 0 && !members.Contains(t); t = Next(t)) members.Add(t);
            foreach (var m in members) chainOf[m] = chains.Count;
            chains.Add(members.ToArray());
        }
        return (chainOf, chains.ToArray());
    }

    /// <summary>
    /// Runs <paramref name="links"/> over <paramref name="x"/> and commits their final states; returns each link's block
    /// [B, T, N]. The last one is the autograd output (a view of the node's packed output) when gradients are recorded.
    /// </summary>
    public static Tensor[] Run(ChainLink[] links, Tensor x, ChainTape? tape = null)
    {
        bool record = torch.is_grad_enabled() && (x.requires_grad || links.Any(l => l.Inputs.Any(t => t.requires_grad)));
        var blocks = new Tensor[links.Length];
        if (!record)
        {
            var cur = x;
            for (int k = 0; k < links.Length; k++) cur = blocks[k] = links[k].Forward(cur, null, false);
            foreach (var l in links) l.Commit(l.FinalGradStates);
            return blocks;
        }
        // On a tape when what the chain hands gradients to is a leaf (a parameter, a fresh state): a chain fed by a graph
        // (its input records a gradient) is an autograd node, so that graph is walked once, by the loss's backward.
        if (tape is not null && !x.requires_grad && links.All(l => l.Inputs.All(t => !t.requires_grad || t.is_leaf))) return RunOnTape(links, x, tape);
        var call = new ChainCall(links);
        var vars = new List<object> { x };
        foreach (var l in links) vars.AddRange(l.Inputs);
        vars.Add(call);
        using var packed = ChainFunction.apply(vars.ToArray());
        for (int k = 0; k < links.Length - 1; k++) blocks[k] = call.Blocks[k]!;
        var shape = call.LastShape;
        long btn = shape[0] * shape[1] * shape[2], bn = shape[0];
        using (var last = packed.narrow(0, 0, btn)) blocks[^1] = last.view(shape);
        long offset = btn;
        for (int k = 0; k < links.Length; k++)
        {
            var l = links[k];
            // A link with nothing recording a gradient before it or in it (only later links are trained) hands on plain
            // states, as its own node would: else the next block would record its recurrence for a gradient that is zero.
            bool grads = call.InputNeedsGrad[k] || call.InputGrad[k].Contains(true);
            var states = new Tensor[l.GradStates];
            for (int s = 0; s < states.Length; s++)
            {
                long size = call.StateSizes[offset];
                // A state of its own (not a view): a later reset detaches replaced states in place, which a view cannot be.
                using var part = packed.narrow(0, offset, size);
                using var view = part.view(bn, size / bn);
                if (grads) states[s] = view.clone();
                else
                {
                    using var plain = view.detach();
                    states[s] = plain.clone();
                }
                offset += size;
            }
            l.Commit(states);
        }
        return blocks;
    }

    /// <summary>
    /// The recording path without an autograd node (<see cref="ChainTape"/>): the forward of <see cref="ChainFunction"/>
    /// run directly, the last block made a leaf that records a gradient (what follows the chain records its own graph
    /// from it), the final states committed plain (the tape is used for one block per chain), and the call, with what
    /// the links saved, written on the tape for <see cref="ChainTape.Backward"/>.
    /// </summary>
    private static Tensor[] RunOnTape(ChainLink[] links, Tensor x, ChainTape tape)
    {
        var call = new ChainCall(links);
        var saved = new List<Tensor>();
        Tensor y;
        // As inside an autograd node's forward: the links compute plain tensors.
        using (torch.no_grad()) y = Forward(call, x, saved);
        var blocks = new Tensor[links.Length];
        for (int k = 0; k < links.Length - 1; k++) blocks[k] = call.Blocks[k]!;
        call.Blocks[links.Length - 1] = null;
        y.requires_grad_(true);
        blocks[^1] = y;
        // The final states of a link with something trained at or before it are leaves that record a gradient too (as the
        // packed output's states would carry one): a loss that reads them reaches the chain through the tape.
        var states = new Tensor[links.Length][];
        for (int k = 0; k < links.Length; k++)
        {
            bool grads = call.InputNeedsGrad[k] || call.InputGrad[k].Contains(true);
            states[k] = links[k].FinalGradStates.ToArray();
            if (grads) foreach (var s in states[k]) s.requires_grad_(true);
            links[k].Commit(states[k]);
        }
        tape.Record(call, saved, y, states);
        return blocks;
    }

    /// <summary>
    /// The links' forwards one after the other over <paramref name="x"/>, appending what each saves for its backward to
    /// <paramref name="saved"/> and noting on <paramref name="call"/> which gradients the backward will be asked for;
    /// returns the last link's block (the blocks between links stay on the call).
    /// </summary>
    internal static Tensor Forward(ChainCall call, Tensor x, List<Tensor> saved)
    {
        var links = call.Links;
        int m = links.Length;
        call.InputNeedsGrad = new bool[m];
        call.InputGrad = new bool[m][];
        bool upstream = x.requires_grad;
        for (int k = 0; k < m; k++)
        {
            call.InputNeedsGrad[k] = upstream;
            var inputs = links[k].Inputs;
            call.InputGrad[k] = new bool[inputs.Count];
            for (int j = 0; j < inputs.Count; j++) upstream |= call.InputGrad[k][j] = inputs[j].requires_grad;
        }
        call.SavedCounts = new int[m];
        call.Blocks = new Tensor?[m];
        var cur = x;
        for (int k = 0; k < m; k++)
        {
            int before = saved.Count;
            cur = call.Blocks[k] = links[k].Forward(cur, saved, call.InputNeedsGrad[k]);
            call.SavedCounts[k] = saved.Count - before;
        }
        call.LastShape = cur.Sizes();
        return cur;
    }

    /// <summary>
    /// The links' backwards from the last to the first: ∂L/∂(last block) <paramref name="dy"/> and ∂L/∂(each link's
    /// gradient-carrying final states) <paramref name="stateGrads"/> in; ∂L/∂x (null when not asked) and per link
    /// ∂L/∂(each of its inputs) (null where the input records no gradient) out.
    /// </summary>
    internal static (Tensor? Dx, Tensor?[]?[] DInputs) Backward(ChainCall call, IReadOnlyList<Tensor> saved, Tensor dy, Tensor[][] stateGrads)
    {
        var links = call.Links;
        int m = links.Length;
        var savedStart = new int[m];
        for (int k = 1; k < m; k++) savedStart[k] = savedStart[k - 1] + call.SavedCounts[k - 1];
        var dInputs = new Tensor?[]?[m];
        Tensor? dx0 = null;
        for (int k = m - 1; k >= 0; k--)
        {
            // Nothing from here back records a gradient: the links before have nothing to compute.
            if (!call.InputNeedsGrad[k] && !call.InputGrad[k].Contains(true)) break;
            var mine = new Tensor?[links[k].Inputs.Count];
            dInputs[k] = mine;
            var own = new Tensor[call.SavedCounts[k]];
            for (int j = 0; j < own.Length; j++) own[j] = saved[savedStart[k] + j];
            var dx = links[k].Backward(dy, stateGrads[k], own, call.InputNeedsGrad[k], mine!);
            for (int j = 0; j < mine.Length; j++)
                if (!call.InputGrad[k][j]) mine[j] = null;
            // No ∂L/∂x asked: nothing before this link records a gradient.
            if (dx is null) break;
            if (k == 0) dx0 = dx;
            dy = dx;
        }
        return (dx0, dInputs);
    }

    /// <summary>What one recorded chain call hands between its forward, its unpacking and its backward (no tensor it owns).</summary>
    internal sealed class ChainCall
    {
        public ChainCall(ChainLink[] links) => Links = links;
        public ChainLink[] Links { get; }
        /// <summary>The blocks between links, made by the forward (plain tensors; taken by the engine).</summary>
        public Tensor?[] Blocks = [];
        /// <summary>Shape [B, T, N] of the last link's block.</summary>
        public long[] LastShape = [];
        /// <summary>Per offset into the packed output where a gradient-carrying state starts, its size (B·N).</summary>
        public Dictionary<long, long> StateSizes = new();
        /// <summary>Per link, how many saved tensors it appended.</summary>
        public int[] SavedCounts = [];
        /// <summary>Per link, whether ∂L/∂(its input) is needed: the chain's input records a gradient or an earlier link has an input that does.</summary>
        public bool[] InputNeedsGrad = [];
        /// <summary>Per link, which of its inputs record a gradient.</summary>
        public bool[][] InputGrad = [];
    }
}

/// <summary>The autograd node of a fused chain: inputs (x, each link's inputs, the call), one packed flat output (last block, then the gradient-carrying final states).</summary>
internal sealed class ChainFunction : torch.autograd.SingleTensorFunction<ChainFunction>
{
    /// <inheritdoc />
    public override string Name => "ShipFusedChain";

    /// <inheritdoc />
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var call = (FusedChain.ChainCall)vars[^1];
        var links = call.Links;
        var saved = new List<Tensor>();
        var y = FusedChain.Forward(call, x, saved);
        call.Blocks[links.Length - 1] = null;
        var shape = call.LastShape;
        long btn = shape[0] * shape[1] * shape[2];
        long total = btn;
        foreach (var l in links) foreach (var s in l.FinalGradStates) total += s.numel();
        var packed = torch.empty(new[] { total }, dtype: y.dtype, device: y.device);
        Pack(packed, 0, y, btn);
        y.Dispose();
        long offset = btn;
        foreach (var l in links)
            foreach (var s in l.FinalGradStates)
            {
                long size = s.numel();
                Pack(packed, offset, s, size);
                call.StateSizes[offset] = size;
                offset += size;
            }
        ctx.save_for_backward(saved);
        ctx.save_data("call", call);
        return packed;
    }

    /// <summary>Copies <paramref name="part"/> (<paramref name="size"/> values) into <paramref name="packed"/> at <paramref name="offset"/>: a byte copy for contiguous host tensors (no native call returning a tensor), else a view and copy_.</summary>
    private static void Pack(Tensor packed, long offset, Tensor part, long size)
    {
        long bytes = size * part.ElementSize;
        if (packed.device_type == DeviceType.CPU && part.device_type == DeviceType.CPU && part.dtype == packed.dtype && part.is_contiguous() && (offset + size) * part.ElementSize <= int.MaxValue)
        {
            part.bytes.CopyTo(packed.bytes.Slice((int)(offset * part.ElementSize), (int)bytes));
            return;
        }
        using var slot = packed.narrow(0, offset, size);
        using var view = slot.view(part.Sizes());
        view.copy_(part);
    }

    /// <inheritdoc />
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        // Backward runs on libtorch's autograd thread, outside every scope of the caller: free what is made here.
        using var b = Autograd.BackwardScope.Begin(gradOutput);
        var call = (FusedChain.ChainCall)ctx.get_data("call");
        var saved = ctx.get_saved_variables();
        var links = call.Links;
        int m = links.Length;
        var shape = call.LastShape;
        long btn = shape[0] * shape[1] * shape[2];
        var dy = gradOutput.narrow(0, 0, btn).view(shape);
        // Each link's slice of the state gradients.
        var stateGrads = new Tensor[m][];
        long offset = btn;
        for (int k = 0; k < m; k++)
        {
            stateGrads[k] = new Tensor[links[k].GradStates];
            for (int s = 0; s < stateGrads[k].Length; s++)
            {
                long size = call.StateSizes[offset];
                stateGrads[k][s] = gradOutput.narrow(0, offset, size).view(shape[0], size / shape[0]);
                offset += size;
            }
        }
        var (dx0, dInputs) = FusedChain.Backward(call, saved, dy, stateGrads);
        var grads = new List<Tensor> { dx0 is null ? null! : b.Return(dx0) };
        for (int k = 0; k < m; k++)
            foreach (var d in dInputs[k] ?? new Tensor?[links[k].Inputs.Count]) grads.Add(d is null ? null! : b.Return(d));
        grads.Add(null!);
        return grads;
    }
}
