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
        private readonly List<Tensor> _flags = new();
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
            if (_seq[group]) return; // its states are those at the end of the segment: checked by CheckSequenceStates
            foreach (var (v, nanOnly) in _states[group])
                if (v.Tensor is { } t) Flag(group, v.Name, t, nanOnly);
        }

        private void Flag(int group, string name, Tensor t, bool nanOnly)
        {
            if (!t.is_floating_point()) return;
            _flags.Add(nanOnly ? t.isnan().any().logical_not_() : t.isfinite().all());
            _checked.Add((group, name, t, nanOnly));
        }

        public void Check(long step, double time)
        {
            if (_flags.Count == 0) return;
            try
            {
                bool ok;
                using (var all = torch.stack(_flags)) using (var a = all.all()) ok = a.item<bool>();
                if (ok) return;
                bool[] each;
                using (var all = torch.stack(_flags)) each = all.data<bool>().ToArray();
                int k = Array.IndexOf(each, false);
                var (g, name, value, nanOnly) = _checked[k];
                throw new NonFiniteValueException(_net._groups[g].Tag, name, step, time, Describe(value, nanOnly));
            }
            finally
            {
                foreach (var f in _flags) f.Dispose();
                _flags.Clear();
                _checked.Clear();
            }
        }

        /// <summary>States of groups computed a whole segment at once, checked once the segment is done.</summary>
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
