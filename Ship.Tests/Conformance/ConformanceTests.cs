using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Conformance;

/// <summary>
/// The model contract, checked for every catalogue entry (float64, a 3-segment schedule, sequence blocks of 7 steps):
/// time-batched ≡ step by step, Run + Continue ≡ one run, every declared state and parameter monitorable, and
/// monitoring changes nothing ("≡" as in <see cref="Identical"/>); gradients are in <see cref="GradientConformanceTests"/>.
/// </summary>
public class ConformanceTests
{
    private const double Dt = ModelCatalog.Dt;
    private static readonly Schedule Whole = new((Dt, 12), (Dt / 2, 9), (Dt * 2, 10), (Dt, 6));
    private static readonly Schedule First = new((Dt, 12), (Dt / 2, 5));
    private static readonly Schedule Second = new((Dt / 2, 4), (Dt * 2, 10), (Dt, 6));

    private static RunResult Run(ModelCase c, Schedule s) => c.Network.Run(c.Inputs(s.TotalSteps), s);

    private static ModelCase Build(string name, bool batching, long seed = 7)
    {
        var c = ModelCatalog.Get(name).Build(seed);
        c.Network.TimeBatching = batching;
        c.Network.SequenceBlockSteps = 7;
        return c;
    }

    [TestCaseSource(typeof(ModelCatalog), nameof(ModelCatalog.Names))]
    public void TimeBatchedIsIdenticalToStepByStep(string name)
    {
        var a = Build(name, batching: true);
        var b = Build(name, batching: false);
        var ra = Run(a, Whole);
        var rb = Run(b, Whole);
        foreach (var (tag, y) in rb.Outputs) Identical.Assert(ra[tag], y, $"{name}: output {tag}");
        Identical.States(a.Network, b.Network, name);
    }

    [TestCaseSource(typeof(ModelCatalog), nameof(ModelCatalog.Names))]
    public void RunThenContinueIsIdenticalToOneRun(string name)
    {
        var whole = Build(name, batching: true);
        var rw = Run(whole, Whole);
        var split = Build(name, batching: true);
        var data = split.Inputs(Whole.TotalSteps);
        int t1 = First.TotalSteps, t2 = Second.TotalSteps;
        var r1 = split.Network.Run(data.ToDictionary(p => p.Key, p => p.Value.narrow(1, 0, t1)), First);
        var r2 = split.Network.Continue(data.ToDictionary(p => p.Key, p => p.Value.narrow(1, t1, t2)), Second);
        foreach (var (tag, y) in rw.Outputs)
            Identical.Assert(torch.cat(new[] { r1[tag], r2[tag] }, 1), y, $"{name}: output {tag}");
        Identical.States(split.Network, whole.Network, name);
        Assert.That(split.Network.Timeline.Times, Is.EqualTo(whole.Network.Timeline.Times).Within(1e-15));
    }

    [TestCaseSource(typeof(ModelCatalog), nameof(ModelCatalog.Names))]
    public void EveryDeclaredVariableIsMonitorableAndMonitoringChangesNothing(string name)
    {
        var plain = Build(name, batching: true);
        var rp = Run(plain, Whole);
        var watched = Build(name, batching: true);
        var model = watched.Model;
        var monitors = new List<Ship.Core.Monitors.StateMonitor> { watched.Network.Monitor(watched.ModelTag) };
        foreach (var v in model.AllVariables)
        {
            if (v is StateVariable { NotMonitorableBecause: not null })
            {
                Assert.Throws<ParameterException>(() => watched.Network.Monitor(watched.ModelTag, v.Name), $"{name}.{v.Name} is refused up front");
                continue;
            }
            monitors.Add(watched.Network.Monitor(watched.ModelTag, v.Name));
        }
        var rw = Run(watched, Whole);
        foreach (var (tag, y) in rp.Outputs) Identical.Assert(rw[tag], y, $"{name}: output {tag} with monitors");
        foreach (var m in monitors)
        {
            Assert.That(m.Count, Is.EqualTo(Whole.TotalSteps), $"{name}.{m.Variable}: one record per step");
            Assert.That(m.Values.shape[0], Is.EqualTo(ModelCatalog.Batch), $"{name}.{m.Variable}: [batch, steps, …]");
            Assert.That(m.Times, Is.EqualTo(watched.Network.Timeline.Times).Within(1e-15));
        }
        Identical.Assert(monitors[0].Values, rp[watched.ModelTag], $"{name}: the output monitor records the output");
    }
}
