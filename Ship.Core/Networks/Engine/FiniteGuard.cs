using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks.Observers;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

/// <summary>
/// The numerical guard (<see cref="Network.CheckFinite"/>) as an observer: after every step it checks each group's
/// output (whole-block groups through their per-step slices) and the states of stepped groups with one host read, and
/// the states of whole-block groups when their block ends; the first culprit in call order (output before states) is
/// named in a <see cref="NonFiniteValueException"/>. States declared without a range (a −∞ "never" time stamp) are
/// checked for NaN only.
/// </summary>
internal sealed class FiniteGuard : IRunObserver
{
    private readonly List<Tensor> _sums = new(), _nans = new();
    private readonly List<(Group Group, string Variable, Tensor Value, bool NanOnly)> _checked = new();

    public bool NeedsStepOutput(Group group) => true;
    public bool Watches(Group group) => true;
    public void OnRunStart(RunStartView run) { }
    public void OnRunEnd(bool completed) => Clear();
    public override string ToString() => "finite guard";

    public void OnStep(StepView step)
    {
        var plan = step.Plan!;
        foreach (var i in plan.Stepped)
        {
            var g = plan.Graph.Groups[i];
            if (step.Output(g) is { } y) Flag(g, Monitors.StateMonitor.Output, y, nanOnly: false);
            if (!plan.Sequence[i]) FlagStates(g); // a whole-block group's states are those at the block's end
        }
        Check(step.StepIndex, step.EndTime);
    }

    public void OnBlockEnd(BlockView block)
    {
        foreach (var g in block.Plan!.SequenceGroups) FlagStates(g);
        Check(block.FirstStep + block.Steps - 1, block.EndTimes.Count > 0 ? block.EndTimes[^1] : 0);
    }

    private void FlagStates(Group g)
    {
        foreach (var v in g.AllVariables.OfType<StateVariable>())
            if (v.Tensor is { } t) Flag(g, v.Name, t, v.Constraint is null);
    }

    // One pass per tensor and no tensor-sized temporary: a float64 sum is NaN or infinite as soon as one element is
    // (finite float32 values cannot overflow it); exact checks run only when a sum is not finite.
    private void Flag(Group g, string name, Tensor t, bool nanOnly)
    {
        if (!t.is_floating_point()) return;
        if (nanOnly) _nans.Add(t.isnan().any());
        else _sums.Add(t.sum(ScalarType.Float64));
        _checked.Add((g, name, t, nanOnly));
    }

    private void Check(long step, double time)
    {
        if (_checked.Count == 0) return;
        try
        {
            bool ok;
            using (var scope = torch.NewDisposeScope())
            {
                var good = _sums.Count > 0 ? torch.stack(_sums).isfinite().all() : torch.tensor(true);
                if (_nans.Count > 0) good = good.logical_and(torch.stack(_nans).any().logical_not());
                ok = good.item<bool>();
            }
            if (ok) return;
            foreach (var (g, name, value, nanOnly) in _checked)
            {
                using var scope = torch.NewDisposeScope();
                bool bad = nanOnly ? value.isnan().any().item<bool>() : !value.isfinite().all().item<bool>();
                if (bad) throw new NonFiniteValueException(g.Tag, name, step, time, Describe(value, nanOnly));
            }
        }
        finally { Clear(); }
    }

    private void Clear()
    {
        foreach (var f in _sums) f.Dispose();
        foreach (var f in _nans) f.Dispose();
        _sums.Clear();
        _nans.Clear();
        _checked.Clear();
    }

    private static string Describe(Tensor t, bool nanOnly)
    {
        using var scope = torch.NewDisposeScope();
        long nan = t.isnan().sum().item<long>();
        long inf = nanOnly ? 0 : t.isinf().sum().item<long>();
        var parts = new List<string>();
        if (nan > 0) parts.Add($"{nan} NaN");
        if (inf > 0) parts.Add($"{inf} infinite");
        return $"{string.Join(" and ", parts)} value(s) among {t.numel()} (shape {Shapes.Format(t.Sizes())})";
    }
}
