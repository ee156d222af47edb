using Ship.Core.Groups;
using Ship.Core.Networks.Observers;
using Ship.Core.Scheduling;

namespace Ship.Core.Networks;

/// <summary>
/// Execution plans per dt, cached with what they were derived from (time batching, which groups can run a block at
/// once, what observers read), and call orders per delay vector: a plan is rebuilt only when one of those changed,
/// and order, delays and stages always come from one build.
/// </summary>
internal sealed class PlanCache
{
    private readonly Dictionary<string, CallOrderResult> _orders = new();
    private readonly Dictionary<(double, string), ExecutionPlan> _plans = new();

    // The plan the last call got and the key it was derived from: a run like the previous one (the same dt, delays,
    // stages and observer needs, asked again every call) takes it without building the fingerprint string.
    private ExecutionPlan? _last;
    private double _lastDt = double.NaN;
    private int[] _lastKey = [], _key = [];

    public void Clear()
    {
        _orders.Clear();
        _plans.Clear();
        _last = null;
    }

    public ExecutionPlan Get(CompiledGraph graph, double dt, bool timeBatching, IReadOnlyList<IRunObserver> observers)
    {
        int n = graph.Count;
        if (_key.Length != 2 * n + 1) _key = new int[2 * n + 1];
        var key = _key;
        key[0] = timeBatching ? 1 : 0;
        for (int i = 0; i < n; i++)
        {
            var g = graph.Groups[i];
            int delay = Math.Max(0, g.OutputDelayStepsAt(dt));
            key[1 + 2 * i] = delay;
            key[2 + 2 * i] = (timeBatching && g is ISequenceGroup s && delay == 0 && SequenceForm.Refusal(s) is null ? 8 | Link(g) : 0) | Needs(g, observers);
        }
        if (_last is not null && ReferenceEquals(_last.Graph, graph) && _lastDt.Equals(dt) && key.AsSpan().SequenceEqual(_lastKey)) return _last;
        var plan = Lookup(graph, dt, timeBatching, observers);
        _last = plan;
        _lastDt = dt;
        _lastKey = (int[])key.Clone();
        return plan;
    }

    // Whether the group may be a link of a fused chain (asked only of whole-block groups): part of the plan's key.
    private static int Link(Group g) => g is IChainGroup c && c.LinkRefusal is null ? 16 : 0;

    private static int Needs(Group g, IReadOnlyList<IRunObserver> observers)
    {
        int o = 0;
        foreach (var ob in observers) o |= (ob.NeedsStepOutput(g) ? 1 : 0) | (ob.NeedsStepState(g) ? 2 : 0) | (ob.Watches(g) ? 4 : 0);
        return o;
    }

    private ExecutionPlan Lookup(CompiledGraph graph, double dt, bool timeBatching, IReadOnlyList<IRunObserver> observers)
    {
        var delays = ExecutionPlan.DelaysAt(graph, dt);
        var key = (dt, Fingerprint(graph, delays, timeBatching, observers));
        if (_plans.TryGetValue(key, out var plan)) return plan;
        string dkey = string.Join(",", delays);
        if (!_orders.TryGetValue(dkey, out var order)) _orders[dkey] = order = ExecutionPlan.OrderFor(graph, delays);
        if (_plans.Count > 64) _plans.Clear(); // many distinct dts (e.g. a sweep): keep memory bounded
        return _plans[key] = ExecutionPlan.Build(graph, dt, delays, order, timeBatching, observers);
    }

    private static string Fingerprint(CompiledGraph graph, int[] delays, bool timeBatching, IReadOnlyList<IRunObserver> observers)
    {
        var chars = new char[graph.Count * 2 + 1];
        chars[0] = timeBatching ? 'T' : 'F';
        for (int i = 0; i < graph.Count; i++)
        {
            var g = graph.Groups[i];
            chars[1 + 2 * i] = timeBatching && g is ISequenceGroup s && delays[i] == 0 && SequenceForm.Refusal(s) is null ? (Link(g) != 0 ? 'c' : 's') : '-';
            int o = 0;
            foreach (var ob in observers) o |= (ob.NeedsStepOutput(g) ? 1 : 0) | (ob.NeedsStepState(g) ? 2 : 0) | (ob.Watches(g) ? 4 : 0);
            chars[2 + 2 * i] = (char)('0' + o);
        }
        return string.Join(",", delays) + "|" + new string(chars);
    }
}
