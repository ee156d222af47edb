using System.Reflection;
using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Tests.Conformance;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Engine;

/// <summary>A test model whose only dt-dependent term is a declared coefficient that counts its evaluations.</summary>
internal sealed class CountingDecay : NeuronGroup
{
    public CountingDecay(int n, double tau) : base(n)
    {
        Tau = Param("tau", Extent.Component, tau, Constraint.Positive);
        U = State("u", Extent.Batch | Extent.Component, 0.0);
        Beta = Derive("beta", dt =>
        {
            Evaluations.Add(dt);
            return Tau.Value.reciprocal().mul(-dt).exp();
        });
    }

    public Parameter Tau { get; }
    public StateVariable U { get; }
    public Derived<Tensor> Beta { get; }
    /// <summary>The dt of every evaluation of the formula, in order.</summary>
    public List<double> Evaluations { get; } = new();

    public override Tensor Step(Tensor? input)
    {
        var u = U.Value.mul(Beta.Value);
        if (input is not null) u = u.add(input);
        U.Tensor = u;
        return u;
    }
}

/// <summary>A test model that records the time information it receives each step.</summary>
internal sealed class ClockReader : NeuronGroup
{
    public ClockReader() : base(1) { }

    public List<TimeStep> Seen { get; } = new();

    public override Tensor Step(Tensor? input)
    {
        Seen.Add(Context.Now);
        return torch.zeros(Context.BatchSize, 1, dtype: Context.DType);
    }
}

/// <summary>
/// Coefficients derived from dt and parameters are declared once and recomputed by the framework (issue 11, point 7):
/// a dt change between segments and a Set() both recompute them (values from the closed form exp(−dt/τ)), a refused
/// value leaves everything as it was, and no model keeps a hand-written recompute hook.
/// </summary>
public class DerivedCoefficientTests
{
    private static double[] D(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    [Test]
    public void ChangingDtBetweenSegmentsRecomputesTheDecayOfALeakyIntegrator()
    {
        // u_k = β·u_{k−1} + x with β = exp(−dt/τ) per segment: closed form u after n steps from u0 is β^n·u0 + x·(1 − β^n)/(1 − β).
        const double tau = 4e-3, x = 0.3, dt1 = 1e-3, dt2 = 0.25e-3;
        const int n1 = 7, n2 = 11;
        var net = new Network { BatchSize = 1, DType = ScalarType.Float64 };
        net.Add("in", new TensorInput(1));
        net.Add("s", new Identity(), "in", "li");
        net.Add("li", new LeakyIntegrator(1, tau));
        net.MarkOutput("li");
        var r = net.Run(new Dictionary<string, Tensor> { ["in"] = torch.full(1, n1 + n2, 1, x, dtype: ScalarType.Float64) },
            new Schedule((dt1, n1), (dt2, n2)));
        var u = D(r["li"]);
        double b1 = Math.Exp(-dt1 / tau), b2 = Math.Exp(-dt2 / tau);
        double expected = 0;
        for (int k = 0; k < n1 + n2; k++)
        {
            double b = k < n1 ? b1 : b2;
            expected = b * expected + x;
            Assert.That(u[k], Is.EqualTo(expected).Within(1e-12), $"step {k + 1}");
        }
        double afterFirst = x * (1 - Math.Pow(b1, n1)) / (1 - b1);
        double closed = Math.Pow(b2, n2) * afterFirst + x * (1 - Math.Pow(b2, n2)) / (1 - b2);
        Assert.That(u[^1], Is.EqualTo(closed).Within(1e-12), "closed form across the dt change");
        var beta = (Derived<Tensor>)net["li"].DerivedValues.Single(d => d.Name == "beta");
        Assert.That(beta.Dt, Is.EqualTo(dt2), "the coefficient was last derived for the second segment's dt");
        Assert.That(D(beta.Value)[0], Is.EqualTo(b2).Within(1e-15));
    }

    [Test]
    public void SettingAParameterRecomputesItsCoefficientsWithoutAnyModelCode()
    {
        var g = new CountingDecay(2, tau: 2e-3);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64, dt: 1e-3));
        g.PrepareTimeStep(0.5e-3);
        Assert.That(g.Evaluations, Is.EqualTo(new[] { 0.5e-3 }), "prepared once, for the given dt");
        Assert.That(D(g.Beta.Value), Is.EqualTo(new[] { Math.Exp(-0.25) }).Within(1e-15), "one τ for all: one β (broadcast)");

        g.Set("tau", torch.tensor(new[] { 1e-3, 5e-3 }, dtype: ScalarType.Float64));
        Assert.That(g.Evaluations, Has.Count.EqualTo(2), "Set recomputed the coefficient once");
        Assert.That(D(g.Beta.Value), Is.EqualTo(new[] { Math.Exp(-1.0), Math.Exp(-0.2) }).Within(1e-15),
            "β from the new τ at the context's dt (1 ms)");

        g.PrepareTimeStep(2e-3);
        Assert.That(D(g.Beta.Value), Is.EqualTo(new[] { Math.Exp(-2.0), Math.Exp(-0.4) }).Within(1e-15), "and again at a new dt");
        g.ResetState();
        var y = D(g.Step(torch.ones(1, 2, dtype: ScalarType.Float64)));
        Assert.That(y, Is.EqualTo(new[] { 1.0, 1.0 }).Within(1e-15));
        y = D(g.Step(torch.ones(1, 2, dtype: ScalarType.Float64)));
        Assert.That(y, Is.EqualTo(new[] { 1 + Math.Exp(-2.0), 1 + Math.Exp(-0.4) }).Within(1e-15), "the step uses the recomputed β");
    }

    [Test]
    public void ACoefficientReadBeforePreparationIsComputedAtTheContextDtAndBindDropsIt()
    {
        var g = new CountingDecay(1, tau: 1e-3);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64, dt: 2e-3));
        Assert.That(g.Beta.IsComputed, Is.False, "nothing derived at bind");
        Assert.That(D(g.Beta.Value)[0], Is.EqualTo(Math.Exp(-2.0)).Within(1e-15));
        Assert.That(g.Beta.Dt, Is.EqualTo(2e-3));
        g.Set("tau", 4e-3);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64, dt: 1e-3));
        Assert.That(g.Beta.IsComputed, Is.False, "a new binding redraws parameters: the old coefficient is dropped");
        Assert.That(D(g.Beta.Value)[0], Is.EqualTo(Math.Exp(-0.25)).Within(1e-15));
    }

    [Test]
    public void ASetRefusedByAFormulaLeavesParameterAndEveryCoefficientAsTheyWere()
    {
        var g = new LifRestReset(2, tau: 2e-3, threshold: 1.0, rest: 0.1, reset: 0.2);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        g.PrepareTimeStep(1e-3);
        var before = g.DerivedValues.Cast<Derived<Tensor>>().Select(d => D(d.Value)).ToList();
        Assert.Throws<ParameterException>(() => g.Set("ur", 1.5), "a reset level above the threshold is refused");
        Assert.That(D(g.Get("ur")), Is.EqualTo(new[] { 0.2 }).Within(1e-15), "the old value stays");
        var after = g.DerivedValues.Cast<Derived<Tensor>>().Select(d => D(d.Value)).ToList();
        for (int i = 0; i < before.Count; i++) Assert.That(after[i], Is.EqualTo(before[i]), g.DerivedValues[i].Name);
        Assert.That(after[2], Is.EqualTo(new[] { 0.1 - 0.2 }).Within(1e-15), "u0 − ur from the kept values");
    }

    [Test]
    public void ARateRefusedAtTheCurrentDtLeavesTheFiringThresholdAsItWas()
    {
        var g = new PoissonSource(1, rate: 100);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64, dt: 1e-3));
        g.PrepareTimeStep(1e-3);
        var threshold = (Derived<Tensor>)g.DerivedValues.Single();
        Assert.That(D(threshold.Value)[0], Is.EqualTo(1 - 100 * 1e-3).Within(1e-15));
        Assert.Throws<ParameterException>(() => g.Set("rate", 2000.0), "rate·dt = 2 > 1");
        Assert.That(D(threshold.Value)[0], Is.EqualTo(1 - 100 * 1e-3).Within(1e-15));
        g.Set("rate", 400.0);
        Assert.That(D(threshold.Value)[0], Is.EqualTo(1 - 400 * 1e-3).Within(1e-15), "an accepted rate is derived at once");
    }

    [Test]
    public void AGroupReceivesEachStepsTimeAsOneValue()
    {
        var net = new Network { BatchSize = 1, DType = ScalarType.Float64 };
        var clock = net.Add("c", new ClockReader());
        net.MarkOutput("c");
        var schedule = new Schedule((1e-3, 3), (0.25e-3, 4));
        net.Run(schedule);
        Assert.That(clock.Seen.Select(t => t.Index), Is.EqualTo(Enumerable.Range(0, 7).Select(i => (long)i)));
        Assert.That(clock.Seen.Select(t => t.Dt), Is.EqualTo(new[] { 1e-3, 1e-3, 1e-3, 0.25e-3, 0.25e-3, 0.25e-3, 0.25e-3 }));
        double start = 0;
        for (int k = 0; k < 7; k++)
        {
            Assert.That(clock.Seen[k].Start, Is.EqualTo(start).Within(1e-15), $"step {k} starts where the previous ended");
            start += k < 3 ? 1e-3 : 0.25e-3;
            Assert.That(clock.Seen[k].End, Is.EqualTo(start).Within(1e-15));
            Assert.That(clock.Seen[k].End, Is.EqualTo(net.Timeline.Times[k]).Within(1e-15), "the end is the timeline's stamp of the step");
        }
    }

    /// <summary>A wrapper whose own coefficient refuses a dt above 2 ms (a formula check, after the dt rule passed).</summary>
    private sealed class PickyWrapper : GroupWrapper
    {
        public PickyWrapper(Group inner) : base(inner) =>
            Steps = Derive("steps", dt => dt <= 2e-3 ? dt : throw new ParameterException("picky", "dt", $"must be <= 2 ms, got {dt}"));
        public Derived<double> Steps { get; }
    }

    [Test]
    public void AFormulaOfAWrapperThatRefusesDtLeavesTheWrappedGroupAsItWas()
    {
        var inner = new CountingDecay(1, tau: 1e-3);
        var w = new PickyWrapper(inner);
        w.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        w.PrepareTimeStep(1e-3);
        Assert.Throws<ParameterException>(() => w.PrepareTimeStep(5e-3));
        Assert.That(inner.Beta.Dt, Is.EqualTo(1e-3), "the inner coefficient was rolled back with the outer one");
        Assert.That(inner.Beta.Value.item<double>(), Is.EqualTo(Math.Exp(-1.0)).Within(1e-15), "exp(-dt/τ) at the accepted dt");
        Assert.That(w.Steps.Value, Is.EqualTo(1e-3));
    }

    [Test]
    public void DtIsCheckedInOnePlaceBeforeAnythingIsDerived()
    {
        var g = new CountingDecay(1, tau: 1e-3);
        g.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        foreach (var bad in new[] { 0.0, -1e-3, double.NaN, double.PositiveInfinity })
            Assert.Throws<ParameterException>(() => g.PrepareTimeStep(bad), $"dt = {bad}");
        Assert.That(g.Evaluations, Is.Empty, "no formula saw a bad dt");
        var p = new PoissonSource(1, rate: 100);
        p.Bind(new SimulationContext(1, dtype: ScalarType.Float64));
        Assert.Throws<ParameterException>(() => p.PrepareTimeStep(0.1), "rate·dt = 10: the model's own check runs in PrepareTimeStep");
    }

    [TestCaseSource(typeof(ModelCatalog), nameof(ModelCatalog.Names))]
    public void ARunAfterADtChangeEqualsARunThatNeverChangedDt(string name)
    {
        // Whatever a model derives from dt must follow a change of dt: a run at 2·dt before the compared run may leave
        // nothing behind (the compared run starts from a reset; both first runs draw the same random numbers).
        const double dt = ModelCatalog.Dt;
        var whole = new Schedule((dt, 9), (dt / 2, 5));
        RunResult Second(double firstDt)
        {
            var c = ModelCatalog.Get(name).Build(5);
            c.Network.Run(c.Inputs(6), Schedule.Fixed(firstDt, 6));
            return c.Network.Run(c.Inputs(whole.TotalSteps), whole);
        }
        var changed = Second(2 * dt);
        var same = Second(dt);
        foreach (var (tag, y) in same.Outputs) Identical.Assert(changed[tag], y, $"{name}: output {tag}");
    }

    // The weights "w" are left out: setting them reprograms a weight device, which draws programming noise again.
    private static List<string> SettableParameters(Group model) => model.AllVariables.OfType<Parameter>()
        .Where(p => p.FixedType is null or ScalarType.Float64 && p.Name != "w").Select(p => p.Name).ToList();

    /// <summary>Catalogue entries whose model has parameters besides its weights.</summary>
    public static IEnumerable<object[]> WithParameters => ModelCatalog.All
        .Where(e => SettableParameters(e.Create()).Count > 0).Select(e => new object[] { e.Name });

    [TestCaseSource(nameof(WithParameters))]
    public void SettingAParameterAfterInitializationEqualsBuildingWithIt(string name)
    {
        // For every parameter of the model: Set(p, 2·p) on an initialized network must give the run of a network
        // built with that value, so everything derived from p was recomputed by the framework, none of it by hand.
        var probe = ModelCatalog.Get(name).Build(3);
        probe.Network.Initialize();
        var names = SettableParameters(probe.Model);
        int compared = 0;
        foreach (var p in names)
        {
            var value = probe.Model.Get(p).detach().mul(2.0);
            var set = ModelCatalog.Get(name).Build(3);
            set.Network.Initialize();
            try { set.Model.Set(p, value); }
            catch (ParameterException) { continue; } // 2·p is outside the parameter's range (or refused by what depends on it)
            var built = ModelCatalog.Get(name).Build(3);
            built.Model.Set(p, value);
            var a = set.Network.Run(set.Inputs(12), Schedule.Fixed(ModelCatalog.Dt, 12));
            var b = built.Network.Run(built.Inputs(12), Schedule.Fixed(ModelCatalog.Dt, 12));
            foreach (var (tag, y) in b.Outputs) Identical.Assert(a[tag], y, $"{name}: output {tag} after Set({p})");
            compared++;
        }
        Assert.That(compared, Is.GreaterThan(0), $"{name}: no parameter of {string.Join(", ", names)} could be doubled");
        TestContext.Out.WriteLine($"{name}: {compared} of {names.Count} parameters compared");
    }

    [Test]
    public void ModelsReadTimeThroughOneRoute()
    {
        // A model reads dt through its declared coefficients and the step's time through Context.Now: a source scan
        // of the model libraries finds no direct read of the context's Dt, Time or StepIndex (the hardware ledger, an
        // observer that makes its own context, is not a model).
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ship.sln"))) dir = dir.Parent;
        Assert.That(dir, Is.Not.Null, "Ship.sln above the test directory");
        var pattern = new System.Text.RegularExpressions.Regex(@"\b(ctx|Context)\.(Dt|Time|StepIndex)\b");
        var hits = new List<string>();
        int scanned = 0;
        foreach (var project in new[] { "Ship.Devices", "Ship.Training", "Ship.Nir" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(dir!.FullName, project), "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || file.Contains($"{Path.DirectorySeparatorChar}Energy{Path.DirectorySeparatorChar}")) continue;
                scanned++;
                foreach (var (line, i) in File.ReadLines(file).Select((l, i) => (l, i)))
                    if (!line.TrimStart().StartsWith("///", StringComparison.Ordinal) && pattern.IsMatch(line)) hits.Add($"{Path.GetFileName(file)}:{i + 1}: {line.Trim()}");
            }
        Assert.That(scanned, Is.GreaterThan(50), "the model sources were found");
        Assert.That(hits, Is.Empty);
    }

    [Test]
    public void NoModelOverridesAPreparationHookAndParameterReactionsAreNotDerivations()
    {
        var prepare = typeof(Group).GetMethod(nameof(Group.PrepareTimeStep))!;
        Assert.That(prepare.IsVirtual, Is.False, "PrepareTimeStep is the framework's: a model declares coefficients instead");
        // ParameterChanged stays for reactions that are not coefficients; each override here is one (device programming,
        // a cached layout, a queue that must grow), never a recompute of a derived value.
        var allowed = new[] { "WeightedSynapse", "CrossbarSynapse", "HeterogeneousDelay" };
        var overriding = ModelCatalog.Libraries.Append(typeof(Ship.Nir.NirGraph).Assembly)
            .SelectMany(a => a.GetTypes())
            .Where(t => typeof(Group).IsAssignableFrom(t))
            .Where(t => t.GetMethod("ParameterChanged", BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly) is not null)
            .Select(t => t.Name).OrderBy(n => n, StringComparer.Ordinal).ToList();
        Assert.That(overriding, Is.SubsetOf(allowed));
        // And no model type keeps a field that the old pattern cached derived tensors in.
        var cached = ModelCatalog.Libraries
            .SelectMany(a => a.GetTypes())
            .Where(t => typeof(Group).IsAssignableFrom(t))
            .SelectMany(t => t.GetFields(BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly).Select(f => (t, f)))
            .Where(x => x.f.Name is "_beta" or "_alpha" or "_rho" or "_decay" or "_threshold" or "_effective" or "_ah" or "_h")
            .Where(x => !typeof(DerivedValue).IsAssignableFrom(x.f.FieldType))
            .Select(x => $"{x.t.Name}.{x.f.Name}")
            .ToList();
        Assert.That(cached, Is.Empty, "dt-derived values are declared coefficients");
    }
}
