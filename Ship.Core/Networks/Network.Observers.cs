using Ship.Core.Groups;
using Ship.Core.Networks.Observers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

// Interim observer hook (ledger branch, issue #14): the smallest way to call IRunObserver from the current stepper so the
// energy ledger runs end to end. The engine branch (#11) makes the stepper call observers itself; when it lands, this
// file and the lines marked "observer hook (interim)" in Network.cs are dropped in favour of the engine's version, which
// keeps the same AddObserver / RemoveObserver signatures.
public sealed partial class Network
{
    private readonly List<IRunObserver> _observers = new();
    private IRunObserver[] _active = Array.Empty<IRunObserver>(); // the observers of the current call
    private StepView? _stepView;
    private BlockView? _blockView;
    private Tensor?[] _blockOutputs = Array.Empty<Tensor?>();

    /// <summary>Attaches an observer; it is informed by every following Run/Continue (see <see cref="IRunObserver"/>).</summary>
    public void AddObserver(IRunObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        if (!_observers.Contains(observer)) _observers.Add(observer);
    }

    /// <summary>Detaches an observer; false when it was not attached.</summary>
    public bool RemoveObserver(IRunObserver observer) => observer is not null && _observers.Remove(observer);

    /// <summary>The attached observers, in the order they were added.</summary>
    public IReadOnlyList<IRunObserver> Observers => _observers;

    /// <summary>Starts the call's observers; marks the whole-segment groups some observer reads step by step.</summary>
    private void ObserversStart(bool reset, long firstStep, int total, bool[] seq, bool[] needSlices)
    {
        _active = _observers.ToArray();
        if (_active.Length == 0) return;
        for (int i = 0; i < _groups.Count; i++)
            if (seq[i] && _active.Any(o => o.NeedsStepOutput(_groups[i]))) needSlices[i] = true;
        _blockOutputs = new Tensor?[_groups.Count];
        var index = new Dictionary<Group, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < _groups.Count; i++) index[_groups[i]] = i;
        // A step's output is the latest output of a group computed or sliced step by step; whole-segment groups nobody
        // slices are seen per block only.
        _stepView = new StepView(g => index.TryGetValue(g, out var i) && (!seq[i] || needSlices[i]) ? _latest[i] : null);
        _blockView = new BlockView(g => index.TryGetValue(g, out var i) ? _blockOutputs[i] : null);
        var view = new RunStartView(this, reset, firstStep, total);
        foreach (var o in _active) o.OnRunStart(view);
    }

    private void ObserversStep(long stepIndex, double time, double dt)
    {
        if (_active.Length == 0) return;
        var v = _stepView!;
        v.StepIndex = stepIndex;
        v.Time = time;
        v.Dt = dt;
        foreach (var o in _active) o.OnStep(v);
    }

    private void ObserversBlock(long firstStep, int steps, double dt, bool[] seq, Tensor?[] seqOut)
    {
        if (_active.Length == 0) return;
        for (int i = 0; i < _groups.Count; i++) _blockOutputs[i] = seq[i] ? seqOut[i] : null;
        var v = _blockView!;
        v.FirstStep = firstStep;
        v.Steps = steps;
        v.Dt = dt;
        foreach (var o in _active) o.OnBlockEnd(v);
        Array.Clear(_blockOutputs);
    }

    private void ObserversEnd(bool completed)
    {
        var active = _active;
        _active = Array.Empty<IRunObserver>();
        foreach (var o in active) o.OnRunEnd(completed);
    }
}
