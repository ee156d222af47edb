using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Networks;
using Ship.Core.Networks.Observers;
using TorchSharp;

namespace Ship.Tests.Conformance;

/// <summary>
/// For every catalogued model: a Run that fails part-way holds (does not copy) the states and latest outputs from before
/// it and must put them back untouched, also inside <see cref="Network.FreeingReplacedStates"/> (the trainer's scope).
/// Checked against a twin network that never saw the failed call: same states, then the same Run and Run + Continue.
/// A model whose reset or step mutated a held tensor in place, or an engine path that freed one, fails here.
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

    /// <summary>
    /// The catalogue less the online-plasticity blocks: their weights (a parameter of the synapse, updated in place
    /// during the run) and device arrays are not part of any call's snapshot, so a failed Run keeps the weight updates
    /// it made before failing. That predates the held snapshot (the copied one had the same set: state variables only)
    /// and is reported as a separate defect; this test covers what the snapshot does hold.
    /// </summary>
    public static IEnumerable<object[]> WithoutOnlinePlasticity => ModelCatalog.Names.Where(n => !((string)n[0]).Contains("Stdp", StringComparison.Ordinal));

    [TestCaseSource(nameof(WithoutOnlinePlasticity))]
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
}
