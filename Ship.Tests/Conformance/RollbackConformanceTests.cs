using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Networks;
using Ship.Core.Networks.Observers;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Conformance;

/// <summary>
/// For every catalogued model: a Run that fails part-way holds (does not copy) the states and latest outputs from before
/// it and must put them back untouched, also inside <see cref="Network.FreeingReplacedStates"/> (the trainer's scope).
/// Checked against a twin network that never saw the failed call: same states, then the same Run and Run + Continue.
/// A model whose reset or step mutated a held tensor in place, or an engine path that freed one, fails here.
/// A failed Continue, and a failed Run after a Run, must leave the network where it was: the next Continue gives what the
/// twin's one Continue gives (outputs, states, timeline), learning rules' weights and device arrays included.
/// </summary>
public class RollbackConformanceTests
{
    private const double Dt = ModelCatalog.Dt;
    private static readonly Schedule Whole = new((Dt, 12), (Dt / 2, 9), (Dt * 2, 10), (Dt, 6));
    private static readonly Schedule First = new((Dt, 12), (Dt / 2, 5));
    private static readonly Schedule Second = new((Dt / 2, 4), (Dt * 2, 10), (Dt, 6));

    /// <summary>Throws at its second step or block end once armed, so the failed run has already replaced states.</summary>
    private sealed class FailPartWay : IRunObserver
    {
        private int _seen;
        public bool Armed { get; set; }
        public bool NeedsStepOutput(Ship.Core.Groups.Group group) => false;
        public void OnRunStart(RunStartView run) => _seen = 0;
        public void OnStep(StepView step) => Maybe();
        public void OnBlockEnd(BlockView block) => Maybe();
        public void OnRunEnd(bool completed) { }
        private void Maybe() { if (Armed && ++_seen >= 2) throw new InvalidOperationException("injected failure"); }
    }

    private static ModelCase Build(string name, bool batching)
    {
        var c = ModelCatalog.Get(name).Build(7);
        c.Network.TimeBatching = batching;
        c.Network.SequenceBlockSteps = 7;
        return c;
    }

    /// <summary>Every catalogue model, the online-plasticity blocks included (their weights and device arrays are part of the snapshot).</summary>
    public static IEnumerable<object[]> Every => ModelCatalog.Names;

    [TestCaseSource(nameof(Every))]
    public void AFailedRunInsideTheFreeingScopeLeavesTheNetworkAsItWas(string name)
    {
        foreach (bool batching in new[] { true, false })
        {
            var twin = Build(name, batching);
            var net = Build(name, batching);
            var fail = new FailPartWay();
            net.Network.AddObserver(fail);
            var data = twin.Inputs(Whole.TotalSteps);
            var other = net.Inputs(Whole.TotalSteps).ToDictionary(p => p.Key, p => p.Value.dim() >= 2 ? p.Value.flip(1) : p.Value);
            using (twin.Network.FreeingReplacedStates()) twin.Network.Run(data, Whole);
            using (net.Network.FreeingReplacedStates())
            {
                net.Network.Run(data, Whole);
                fail.Armed = true;
                Assert.Throws<InvalidOperationException>(() => net.Network.Run(other, Whole), $"{name}: the injected failure");
                fail.Armed = false;
            }
            Identical.States(net.Network, twin.Network, $"{name} (batching {batching}): states after the failed Run");

            int t1 = First.TotalSteps, t2 = Second.TotalSteps;
            using (twin.Network.FreeingReplacedStates())
            using (net.Network.FreeingReplacedStates())
            {
                var a1 = net.Network.Run(data.ToDictionary(p => p.Key, p => p.Value.narrow(1, 0, t1)), First);
                var b1 = twin.Network.Run(data.ToDictionary(p => p.Key, p => p.Value.narrow(1, 0, t1)), First);
                var a2 = net.Network.Continue(data.ToDictionary(p => p.Key, p => p.Value.narrow(1, t1, t2)), Second);
                var b2 = twin.Network.Continue(data.ToDictionary(p => p.Key, p => p.Value.narrow(1, t1, t2)), Second);
                foreach (var (tag, y) in b1.Outputs) Identical.Assert(a1[tag], y, $"{name} (batching {batching}): Run output {tag} after the failed Run");
                foreach (var (tag, y) in b2.Outputs) Identical.Assert(a2[tag], y, $"{name} (batching {batching}): Continue output {tag} after the failed Run");
            }
            Identical.States(net.Network, twin.Network, $"{name} (batching {batching}): states after Run + Continue");
        }
    }

    private static Dictionary<string, Tensor> Slice(IReadOnlyDictionary<string, Tensor> data, int start, int steps) =>
        data.ToDictionary(p => p.Key, p => p.Value.narrow(1, start, steps));

    [TestCaseSource(nameof(Every))]
    public void AContinueAfterAFailedCallGivesWhatItWouldHaveGiven(string name)
    {
        int t1 = First.TotalSteps, t2 = Second.TotalSteps;
        foreach (bool batching in new[] { true, false })
            foreach (bool failedRun in new[] { false, true })
            {
                string what = $"{name} (batching {batching}, failed {(failedRun ? "Run" : "Continue")})";
                var twin = Build(name, batching);
                var net = Build(name, batching);
                var fail = new FailPartWay();
                net.Network.AddObserver(fail);
                var data = twin.Inputs(Whole.TotalSteps);
                var other = net.Inputs(Whole.TotalSteps).ToDictionary(p => p.Key, p => p.Value.dim() >= 2 ? p.Value.flip(1) : p.Value);
                var b1 = twin.Network.Run(Slice(data, 0, t1), First);
                var b2 = twin.Network.Continue(Slice(data, t1, t2), Second);

                net.Network.Run(Slice(data, 0, t1), First);
                fail.Armed = true;
                if (failedRun) Assert.Throws<InvalidOperationException>(() => net.Network.Run(other, Whole), $"{what}: the injected failure");
                else Assert.Throws<InvalidOperationException>(() => net.Network.Continue(Slice(other, t1, t2), Second), $"{what}: the injected failure");
                fail.Armed = false;
                // The clock is back where the first Run left it: t1 steps, the first schedule's times.
                Assert.That(net.Network.Timeline.Times.ToArray(), Is.EqualTo(Enumerable.Range(0, t1).Select(k => TimeAt(First, k)).ToArray()).Within(1e-15), $"{what}: timeline");

                var a2 = net.Network.Continue(Slice(data, t1, t2), Second);
                foreach (var (tag, y) in b2.Outputs) Identical.Assert(a2[tag], y, $"{what}: Continue output {tag}");
                Assert.That(a2.Times, Is.EqualTo(b2.Times), $"{what}: the Continue's step times");
                Assert.That(net.Network.Timeline.Count, Is.EqualTo(t1 + t2), $"{what}: steps since the reset");
                Identical.States(net.Network, twin.Network, $"{what}: states after the Continue");
            }
    }

    /// <summary>End of step <paramref name="k"/> of a schedule: the sum of the first k + 1 dts (closed form per segment).</summary>
    private static double TimeAt(Schedule schedule, int k)
    {
        double t = 0;
        foreach (var s in schedule.Segments)
        {
            if (k < s.Steps) return t + (k + 1) * s.Dt;
            t += s.Steps * s.Dt;
            k -= s.Steps;
        }
        throw new ArgumentOutOfRangeException(nameof(k));
    }
}
