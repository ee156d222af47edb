using Ship.Core.Errors;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks;

public sealed partial class Network
{
    /// <summary>
    /// The numerical guard of one run (<see cref="CheckFinite"/>): collects one flag per checked tensor during a step,
    /// reads them back with a single host read at the end of the step, and on failure names the first culprit in call
    /// order (output before states).
    /// </summary>
    private sealed class FiniteGuard
    {
        private readonly Network _net;
        private readonly bool[] _seq;
        private readonly (StateVariable Variable, bool NanOnly)[][] _states;
        private readonly List<Tensor> _sums = new(), _nans = new();
        private readonly List<(int Group, string Variable, Tensor Value, bool NanOnly)> _checked = new();

        public FiniteGuard(Network net, bool[] seq)
        {
            _net = net;
            _seq = seq;
            // A state declared with a range must be finite; one without (a −∞ "never" time stamp) only must not be NaN.
            _states = net._groups.Select(g => g.AllVariables.OfType<StateVariable>().Select(v => (v, v.Constraint is null)).ToArray()).ToArray();
        }

        public void Add(int group, Tensor output)
        {
            Flag(group, Ship.Core.Monitors.StateMonitor.Output, output, nanOnly: false);
            if (_seq[group]) return; // its states are those at the end of the block: checked by CheckSequenceStates
            foreach (var (v, nanOnly) in _states[group])
                if (v.Tensor is { } t) Flag(group, v.Name, t, nanOnly);
        }

        // One pass per tensor and no tensor-sized temporary: a float64 sum is NaN or infinite as soon as one element is
        // (finite float32 values cannot overflow it); exact checks run only when a sum is not finite.
        private void Flag(int group, string name, Tensor t, bool nanOnly)
        {
            if (!t.is_floating_point()) return;
            if (nanOnly) _nans.Add(t.isnan().any());
            else _sums.Add(t.sum(ScalarType.Float64));
            _checked.Add((group, name, t, nanOnly));
        }

        public void Check(long step, double time)
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
                    if (bad) throw new NonFiniteValueException(_net._groups[g].Tag, name, step, time, Describe(value, nanOnly));
                }
            }
            finally
            {
                foreach (var f in _sums) f.Dispose();
                foreach (var f in _nans) f.Dispose();
                _sums.Clear();
                _nans.Clear();
                _checked.Clear();
            }
        }

        /// <summary>States of groups computed a whole block at once, checked once the block is done.</summary>
        public void CheckSequenceStates(long lastStep)
        {
            using var scope = torch.NewDisposeScope();
            for (int i = 0; i < _seq.Length; i++)
                if (_seq[i])
                    foreach (var (v, nanOnly) in _states[i])
                        if (v.Tensor is { } t) Flag(i, v.Name, t, nanOnly);
            Check(lastStep, _net._timeline.Now);
        }

        private static string Describe(Tensor t, bool nanOnly)
        {
            using var scope = torch.NewDisposeScope();
            long nan = t.isnan().sum().item<long>();
            long inf = nanOnly ? 0 : t.isinf().sum().item<long>();
            var parts = new List<string>();
            if (nan > 0) parts.Add($"{nan} NaN");
            if (inf > 0) parts.Add($"{inf} infinite");
            return $"{string.Join(" and ", parts)} value(s) among {t.numel()} (shape {Shapes.Format(t.shape)})";
        }
    }
}
