using Ship.Core.Groups;
using Ship.Core.Networks.Observers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// Collects the outputs a call returns, in time order, from per-step outputs and whole-block outputs alike (a group may
/// be stepped in one segment and whole-block in another), and hands each output back as one [batch, steps, N] tensor
/// of its own. It owns what it records: the engine never frees a recorded tensor, and the recorder frees each per-step
/// tensor once (after stacking), unless the network still holds it.
/// </summary>
internal sealed class OutputRecorder : IRunObserver
{
    private readonly CompiledGraph _graph;
    private readonly List<(Tensor T, bool Block)>[] _chunks;
    private readonly HashSet<Tensor> _held = new(ReferenceEqualityComparer.Instance);

    public OutputRecorder(CompiledGraph graph)
    {
        _graph = graph;
        _chunks = graph.Outputs.Select(_ => new List<(Tensor, bool)>()).ToArray();
    }

    /// <summary>Whether the recorder holds <paramref name="t"/>.</summary>
    public bool Holds(Tensor t) => _held.Contains(t);
    /// <summary>Every tensor held.</summary>
    public IEnumerable<Tensor> Held => _held;

    public bool NeedsStepOutput(Group group) => false;
    public void OnRunStart(RunStartView run) { }

    public void OnStep(StepView step)
    {
        for (int k = 0; k < _graph.Outputs.Length; k++)
        {
            int i = _graph.Outputs[k];
            if (step.Plan!.Sequence[i]) continue;
            var y = step.Output(_graph.Groups[i])!;
            _chunks[k].Add((y, false));
            _held.Add(y);
        }
    }

    public void OnBlockEnd(BlockView block)
    {
        for (int k = 0; k < _graph.Outputs.Length; k++)
            if (block.SequenceOutput(_graph.Groups[_graph.Outputs[k]]) is { } y)
            {
                _chunks[k].Add((y, true));
                _held.Add(y);
            }
    }

    public void OnRunEnd(bool completed) { }

    /// <summary>
    /// The outputs by tag. A single whole-block tensor is handed out as it is (no copy) unless it views an input
    /// group's data or is already handed out under another tag; everything else is stacked or concatenated. Outputs are
    /// always contiguous [batch, steps, N] (a narrow product's block is a transposed view: copied once here).
    /// </summary>
    public Dictionary<string, Tensor> Finish(HashSet<Tensor> live)
    {
        var outputs = new Dictionary<string, Tensor>();
        var handed = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        for (int k = 0; k < _chunks.Length; k++)
        {
            var g = _graph.Groups[_graph.Outputs[k]];
            var chunks = _chunks[k];
            Tensor result;
            if (chunks.Count == 1 && chunks[0].Block && g is not IInputGroup && !handed.Contains(chunks[0].T))
            {
                result = chunks[0].T;
                if (!result.is_contiguous())
                {
                    using var scope = torch.NewDisposeScope();
                    result = result.contiguous().MoveToOuterDisposeScope();
                }
            }
            else
            {
                var parts = new List<Tensor>();
                using var scope = torch.NewDisposeScope();
                for (int c = 0; c < chunks.Count;)
                {
                    if (chunks[c].Block) { parts.Add(chunks[c++].T); continue; }
                    int e = c;
                    while (e < chunks.Count && !chunks[e].Block) e++;
                    parts.Add(torch.stack(chunks.Skip(c).Take(e - c).Select(x => x.T), 1));
                    c = e;
                }
                result = (parts.Count == 1 && !chunks[0].Block ? parts[0] : parts.Count == 1 ? parts[0].clone() : torch.cat(parts, 1)).MoveToOuterDisposeScope();
            }
            result.DetachFromDisposeScope();
            handed.Add(result);
            outputs[g.Tag] = result;
        }
        Release(live, handed);
        return outputs;
    }

    /// <summary>Frees every held tensor that is neither live in the network nor handed out (each once).</summary>
    public void Release(HashSet<Tensor> live, HashSet<Tensor>? handed = null)
    {
        foreach (var t in _held)
            if (!live.Contains(t) && handed?.Contains(t) != true) t.Dispose();
        _held.Clear();
        foreach (var c in _chunks) c.Clear();
    }
}
