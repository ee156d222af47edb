using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Autograd;

/// <summary>
/// Frees what a custom autograd node's backward makes. TorchSharp calls backward on libtorch's autograd thread, outside
/// every dispose scope of the caller, hands it a gradient wrapper it never frees, and copies the returned gradients
/// without freeing their wrappers: left alone, each backward leaves tensors of the node's full size to the garbage
/// collector, which on a GPU (whose memory the collector does not see) runs out of memory long before it runs.
/// Usage: <c>using var b = BackwardScope.Begin(gradOutput); ... return b.Return(dx);</c>
/// </summary>
public sealed class BackwardScope : IDisposable
{
    // Returned gradients can only be released once libtorch has copied them, i.e. at the next backward on the same
    // thread. One slot per autograd thread; it holds no results, only wrappers already handed over.
    [ThreadStatic] private static List<Tensor>? _handedOver;

    private readonly DisposeScope _scope;
    private readonly Tensor _gradOutput;

    private BackwardScope(Tensor gradOutput)
    {
        _gradOutput = gradOutput;
        _scope = torch.NewDisposeScope();
    }

    /// <summary>Opens the scope for one backward call, releasing the wrappers this thread returned last time.</summary>
    public static BackwardScope Begin(Tensor gradOutput)
    {
        if (_handedOver is { Count: > 0 } list)
        {
            foreach (var t in list) t.Dispose();
            list.Clear();
        }
        return new BackwardScope(gradOutput);
    }

    /// <summary>Keeps <paramref name="gradient"/> alive past the scope and marks its wrapper for release at the next backward.</summary>
    public Tensor Return(Tensor gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        gradient.MoveToOuterDisposeScope();
        (_handedOver ??= new List<Tensor>()).Add(gradient);
        return gradient;
    }

    /// <summary>Frees the backward's temporaries and the incoming gradient wrapper (libtorch keeps its own reference).</summary>
    public void Dispose()
    {
        _scope.Dispose();
        _gradOutput.Dispose();
    }
}
