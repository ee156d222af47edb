using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Energy;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

/// Program-and-verify against closed-form pulse counts, a scalar re-implementation of the loop written here (noise
/// statistics), and the write-energy formula computed pulse by pulse here.
public class ProgramAndVerifyTests
{
    private const double Gmin = 50e-6, Gmax = 120e-6, Dw = 1e-6;

    // Constant step dw (γ = 0), hard bounds [40, 130] µS, no spread.
    private static LinearStepPulses Linear(double cycleNoise = 0) =>
        new(dwMin: Dw, wMin: 40e-6, wMax: 130e-6, reference: 85e-6, cycleNoise: cycleNoise);

    private static DeviceArray Programmed(PulseResponse response, long rows, long cols, long seed, params INonIdeality[] effects)
    {
        var array = new DeviceArray("pv", new DifferentialReferenceMapping(Gmin, Gmax), effects).WithPulses(response);
        array.Program(torch.rand(new[] { rows, cols }, generator: new torch.Generator((ulong)seed)).mul_(2).sub_(1), new torch.Generator((ulong)seed + 1));
        return array;
    }

    // Targets anywhere in [Gmin, Gmax], drawn independently of the programmed state.
    private static Tensor Targets(long[] shape, long seed) =>
        torch.rand(shape, dtype: ScalarType.Float64, generator: new torch.Generator((ulong)seed)).mul_(Gmax - Gmin).add_(Gmin);

    // Pulses of a constant step dw to come within tol of T from G0 (tol ≥ dw/2, so the loop never overshoots).
    private static long ClosedFormCount(double g0, double t, double tol) =>
        Math.Abs(t - g0) <= tol ? 0 : (long)Math.Ceiling((Math.Abs(t - g0) - tol) / Dw);

    [Test]
    public void IncrementalLoopOnAConstantStepNeedsTheClosedFormCount()
    {
        const double tol = 0.6 * Dw;
        using var array = Programmed(Linear(), 6, 5, seed: 1);
        var g0 = Stat.D(array.State.Programmed);
        var targets = Targets(array.State.Shape, 7);
        var t = Stat.D(targets);
        using var result = array.ProgramAndVerify(ProgramVerifySettings.Incremental(tol), new torch.Generator(3), targets);
        var pulses = Stat.D(result.Pulses);
        var error = Stat.D(result.Error);
        var g = Stat.D(array.State.Programmed);
        long most = 0;
        for (int i = 0; i < g0.Length; i++)
        {
            long n = ClosedFormCount(g0[i], t[i], tol);
            most = Math.Max(most, n);
            Assert.That(pulses[i], Is.EqualTo(n), $"device {i}: |T − G0| = {Math.Abs(t[i] - g0[i]):E3} S");
            double expected = g0[i] + Math.Sign(t[i] - g0[i]) * n * Dw;
            Assert.That(g[i], Is.EqualTo(expected).Within(1e-15), $"device {i} holds G0 ± n·dw");
            Assert.That(error[i], Is.EqualTo(expected - t[i]).Within(1e-15));
            Assert.That(Math.Abs(error[i]), Is.LessThanOrEqualTo(tol));
        }
        Assert.That(result.ConvergedFraction, Is.EqualTo(1));
        Assert.That(result.VerifyReads, Is.EqualTo(most + 1), "one read per pulse of the longest device, plus the final read");
        Assert.That(result.TotalPulses, Is.EqualTo(pulses.Sum()));
        Assert.That(Stat.D(array.State.LifetimeWrites), Is.EqualTo(pulses), "every pulse wears its device");
    }

    [Test]
    public void FromErasedEveryDeviceStartsAtGminAndNeedsTheClosedFormCount()
    {
        const double tol = 0.6 * Dw;
        using var array = Programmed(Linear(), 5, 4, seed: 12);
        var targets = Targets(array.State.Shape, 13);
        var t = Stat.D(targets);
        using var result = array.ProgramAndVerify(ProgramVerifySettings.Incremental(tol) with { FromErased = true }, new torch.Generator(3), targets);
        var pulses = Stat.D(result.Pulses);
        var g = Stat.D(array.State.Programmed);
        for (int i = 0; i < t.Length; i++)
        {
            long n = ClosedFormCount(Gmin, t[i], tol);
            Assert.That(pulses[i], Is.EqualTo(n), $"device {i}");
            Assert.That(g[i], Is.EqualTo(Gmin + n * Dw).Within(1e-15));
        }
    }

    [Test]
    public void AdaptiveBurstsGiveTheSamePulsesWithFewerReads()
    {
        const double tol = 0.6 * Dw;
        const int burst = 8;
        using var array = Programmed(Linear(), 6, 5, seed: 2);
        var g0 = Stat.D(array.State.Programmed);
        var targets = Targets(array.State.Shape, 8);
        var t = Stat.D(targets);
        using var result = array.ProgramAndVerify(ProgramVerifySettings.Adaptive(tol, maxPulsesPerVerify: burst), new torch.Generator(3), targets);
        var pulses = Stat.D(result.Pulses);
        long reads = 0;
        for (int i = 0; i < g0.Length; i++)
        {
            long n = ClosedFormCount(g0[i], t[i], tol);
            Assert.That(pulses[i], Is.EqualTo(n), $"device {i}");
            // Bursts of floor(e/dw) whole steps (at most 8) cover m = floor(|T − G0|/dw) pulses, then one more pulse if
            // the remainder is still above the tolerance; one final read.
            long m = (long)Math.Floor(Math.Abs(t[i] - g0[i]) / Dw);
            reads = Math.Max(reads, (m + burst - 1) / burst + (n - m) + 1);
        }
        Assert.That(result.VerifyReads, Is.EqualTo(reads));
    }

    [Test]
    public void SoftBoundsLoopNeedsTheClosedFormCount()
    {
        // Potentiation only: w_k = w_max − (w_max − w0)·q^k, q = 1 − dw/(w_max − r); the largest step (at 50 µS,
        // dw·(1 + 35/45)) is below 2·tol, so the loop never overshoots.
        const double wMax = 130e-6, r = 85e-6, tol = Dw;
        var response = new SoftBoundsPulses(dwMin: Dw, wMin: 40e-6, wMax: wMax, reference: r);
        using var array = Programmed(response, 4, 4, seed: 3);
        var g0 = Stat.D(array.State.Programmed);
        var up = torch.rand(array.State.Shape, dtype: ScalarType.Float64, generator: new torch.Generator(9)).mul_(20e-6).add_(2e-6);
        var targets = array.State.Programmed + up;
        var t = Stat.D(targets);
        using var result = array.ProgramAndVerify(ProgramVerifySettings.Incremental(tol), new torch.Generator(3), targets);
        var pulses = Stat.D(result.Pulses);
        double q = 1 - Dw / (wMax - r);
        for (int i = 0; i < g0.Length; i++)
        {
            double k = Math.Log((wMax - t[i] + tol) / (wMax - g0[i])) / Math.Log(q);
            Assert.That(pulses[i], Is.EqualTo(Math.Ceiling(k)), $"device {i}");
        }
    }

    // One verify loop on one device, written from the settings' definition (scalar, System.Random draws).
    private static (int Pulses, bool Converged, double Error) Reference(double g0, double t, double tol, int maxPulses,
        double readSigma, double cycleNoise, Random rng)
    {
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        double g = g0;
        int n = 0;
        while (true)
        {
            double e = t - (g + readSigma * Normal());
            if (Math.Abs(e) <= tol) return (n, true, g - t);
            if (n >= maxPulses) return (n, false, g - t);
            g = Math.Clamp(g + Math.Sign(e) * Dw * (1 + cycleNoise * Normal()), 40e-6, 130e-6);
            n++;
        }
    }

    [Test]
    public void WithNoiseTheStatisticsMatchABruteForceReference()
    {
        const double tol = Dw, readSigma = 0.4 * Dw, cycle = 0.3;
        const int maxPulses = 30;
        using var array = Programmed(Linear(cycle), 40, 25, seed: 4, ReadNoise.Absolute(readSigma));
        var g0 = Stat.D(array.State.Programmed);
        // Targets within 35 dw of the start and at most 30 pulses: most converge, some run out of pulses.
        var offset = torch.rand(array.State.Shape, dtype: ScalarType.Float64, generator: new torch.Generator(11)).mul_(70 * Dw).sub_(35 * Dw);
        var targets = (array.State.Programmed + offset).clamp_(41e-6, 129e-6);
        var t = Stat.D(targets);
        using var result = array.ProgramAndVerify(new ProgramVerifySettings(tol, maxPulses), new torch.Generator(5), targets);
        var pulses = Stat.D(result.Pulses);
        var conv = Stat.D(result.Converged.to_type(ScalarType.Float64));
        var err = Stat.D(result.Error).Select(Math.Abs).ToArray();

        const int repeats = 4;
        var rng = new Random(17);
        var refPulses = new List<double>();
        var refConv = new List<double>();
        var refErr = new List<double>();
        for (int rep = 0; rep < repeats; rep++)
            for (int i = 0; i < g0.Length; i++)
            {
                var (n, ok, e) = Reference(g0[i], t[i], tol, maxPulses, readSigma, cycle, rng);
                refPulses.Add(n);
                refConv.Add(ok ? 1 : 0);
                refErr.Add(Math.Abs(e));
            }
        void Same(double[] ours, List<double> theirs, string what)
        {
            // Difference of two means of independent samples: within 5 standard errors.
            double se = Math.Sqrt(Stat.Var(ours) / ours.Length + Stat.Var(theirs) / theirs.Count);
            Assert.That(Stat.Mean(ours) - Stat.Mean(theirs), Is.EqualTo(0).Within(5 * se + 1e-300), what);
        }
        TestContext.Out.WriteLine($"ours: pulses {Stat.Mean(pulses)}, conv {Stat.Mean(conv)}, err {Stat.Mean(err)}; ref: {Stat.Mean(refPulses)}, {Stat.Mean(refConv)}, {Stat.Mean(refErr)}");
        Assert.That(Stat.Mean(refConv), Is.InRange(0.5, 0.995), "the setting exercises both outcomes");
        Same(pulses, refPulses, "mean pulses per device");
        Same(conv, refConv, "converged fraction");
        Same(err, refErr, "mean |final error|");
        Assert.That(result.ConvergedFraction, Is.EqualTo(Stat.Mean(conv)).Within(1e-12));
    }

    private static Network Net(Tensor w, DeviceArray array)
    {
        var net = new Network("pv-ledger") { BatchSize = 1, Seed = 3 };
        net.Add("I", new TensorInput(3));
        net.Add("IL", new Dense(w), "I", "L").WithDevice(array);
        net.Add("L", new Lif(2));
        net.MarkOutput("L");
        return net;
    }

    [TestCase(false)]
    [TestCase(true)]
    public void TheLedgerChargesEveryVerifyPulseWithTheWriteFormula(bool crossPoint)
    {
        const double tol = 0.6 * Dw;
        var array = new DeviceArray("pv", new DifferentialReferenceMapping(Gmin, Gmax)).WithPulses(Linear());
        var net = Net(torch.tensor(new float[,] { { 1.5f, -0.5f }, { 0.25f, 0 }, { 2f, -3f } }), array);
        net.Initialize();
        var g0 = Stat.D(array.State.Programmed); // [2, 3, 2], row-major
        var targets = Targets(array.State.Shape, 21);
        var t = Stat.D(targets);
        using var result = array.ProgramAndVerify(ProgramVerifySettings.Incremental(tol), net.Context, targets);
        using var ledger = new HardwareLedger();
        net.AddObserver(ledger);
        net.Run(torch.zeros(1, 4, 3));
        var m = (crossPoint ? EnergyPresets.CrossPoint() : EnergyPresets.Crossbar1T1R())
            with { WriteVoltage = 2.5, WritePulseWidth = 40e-9, CellCapacitance = 5e-17 };

        // Every device i steps by ±dw once per verify iteration until its closed-form count n_i; at pulse j the cells
        // sharing its row (last dim) or column (middle dim) in its plane are at G0 ± min(j − 1, n)·dw.
        var n = g0.Select((g, i) => ClosedFormCount(g, t[i], tol)).ToArray();
        double G(int i, long pulsesSoFar) => g0[i] + Math.Sign(t[i] - g0[i]) * Math.Min(pulsesSoFar, n[i]) * Dw;
        double v2 = m.WriteVoltage * m.WriteVoltage, expected = 0;
        for (long j = 1; j <= n.Max(); j++)
            for (int d = 0; d < 2; d++)
                for (int r = 0; r < 3; r++)
                    for (int c = 0; c < 2; c++)
                    {
                        int i = d * 6 + r * 2 + c;
                        if (n[i] < j) continue;
                        expected += v2 * (G(i, j - 1) + G(i, j)) / 2 * m.WritePulseWidth + v2 * m.CellCapacitance * 2;
                        if (!crossPoint) continue;
                        double half = 0;
                        for (int c2 = 0; c2 < 2; c2++) if (c2 != c) half += G(d * 6 + r * 2 + c2, j - 1);
                        for (int r2 = 0; r2 < 3; r2++) if (r2 != r) half += G(d * 6 + r2 * 2 + c, j - 1);
                        expected += v2 / 4 * m.WritePulseWidth * half;
                    }
        var rep = ledger.Report();
        Assert.That(rep.Writes.Pulses, Is.EqualTo(n.Sum()));
        Assert.That(expected, Is.GreaterThan(0));
        Assert.That(rep.WriteEnergyTotal(m), Is.EqualTo(expected).Within(1e-12 * expected));
        Assert.That(WriteEnergy.Energy(result.Writes, m), Is.EqualTo(expected).Within(1e-12 * expected));
    }

    [Test]
    public void StuckDevicesTakeEveryPulseAndNeverConverge()
    {
        using var array = Programmed(Linear(), 3, 3, seed: 6, new StuckAtFaults(1.0, 0.0));
        var targets = Targets(array.State.Shape, 5);
        var before = Stat.D(array.State.Programmed);
        using var result = array.ProgramAndVerify(ProgramVerifySettings.Incremental(0.6 * Dw, maxPulses: 7), new torch.Generator(1), targets);
        // Every device is stuck: none moves, and every one whose target differs from its stuck value gets all 7 pulses.
        Assert.That(Stat.D(array.State.Programmed), Is.EqualTo(before));
        var t = Stat.D(targets);
        var pulses = Stat.D(result.Pulses);
        for (int i = 0; i < t.Length; i++)
            Assert.That(pulses[i], Is.EqualTo(Math.Abs(t[i] - before[i]) <= 0.6 * Dw ? 0 : 7));
        Assert.That(result.ConvergedFraction, Is.LessThan(1));
    }

    private static IEnumerable<TestCaseData> BadSettings()
    {
        yield return new TestCaseData(new ProgramVerifySettings(0), "Tolerance");
        yield return new TestCaseData(new ProgramVerifySettings(double.NaN), "Tolerance");
        yield return new TestCaseData(new ProgramVerifySettings(-1e-6), "Tolerance");
        yield return new TestCaseData(new ProgramVerifySettings(1e-6, MaxPulses: 0), "MaxPulses");
        yield return new TestCaseData(new ProgramVerifySettings(1e-6, MaxPulsesPerVerify: 0), "MaxPulsesPerVerify");
        yield return new TestCaseData(new ProgramVerifySettings(1e-6, ReadsPerVerify: 0), "ReadsPerVerify");
    }

    [TestCaseSource(nameof(BadSettings))]
    public void BadSettingsAreRefusedByNameAndChangeNothing(ProgramVerifySettings settings, string name)
    {
        using var array = Programmed(Linear(), 3, 2, seed: 8);
        var before = Stat.D(array.State.Programmed);
        var ex = Assert.Throws<ParameterException>(() => array.ProgramAndVerify(settings, new torch.Generator(1)));
        Assert.That(ex!.Parameter, Is.EqualTo(name));
        Assert.That(ex.Group, Is.EqualTo("pv"));
        AssertUntouched(array, before);
    }

    [Test]
    public void BadTargetsOrNoPulseModelAreRefusedAndChangeNothing()
    {
        using var array = Programmed(Linear(), 3, 2, seed: 8);
        var before = Stat.D(array.State.Programmed);
        var settings = ProgramVerifySettings.Incremental(Dw);
        var ex = Assert.Throws<ParameterException>(() => array.ProgramAndVerify(settings, new torch.Generator(1), torch.full(new long[] { 2, 2, 3 }, 80e-6)));
        Assert.That(ex!.Parameter, Is.EqualTo("targets"));
        Assert.That(ex.Message, Does.Contain("[2, 3, 2]").And.Contain("[2, 2, 3]"));
        var nan = array.State.Target.clone();
        nan[0, 0, 0] = torch.tensor(double.NaN);
        Assert.That(Assert.Throws<ParameterException>(() => array.ProgramAndVerify(settings, new torch.Generator(1), nan))!.Parameter, Is.EqualTo("targets"));
        AssertUntouched(array, before);

        using var plain = new DeviceArray("plain", new DifferentialReferenceMapping(Gmin, Gmax));
        plain.Program(torch.ones(3, 2), new torch.Generator(1));
        Assert.That(Assert.Throws<ParameterException>(() => plain.ProgramAndVerify(settings, new torch.Generator(1)))!.Parameter, Is.EqualTo("Pulses"));
        Assert.Throws<ShipException>(() => new DeviceArray("empty", new DifferentialReferenceMapping()).WithPulses(Linear())
            .ProgramAndVerify(settings, new torch.Generator(1)));
    }

    private static void AssertUntouched(DeviceArray array, double[] before)
    {
        Assert.That(Stat.D(array.State.Programmed), Is.EqualTo(before), "conductances unchanged");
        Assert.That(Stat.D(array.State.LifetimeWrites).Sum(), Is.EqualTo(0), "no wear recorded");
        Assert.That(array.TakeWrites().Pulses, Is.EqualTo(0), "no pulse charged");
    }

    [Test]
    public void TheMappingsTargetsAreTheDefaultAndAWindowPresetScalesTheTolerance()
    {
        // Start from a uniform state away from the targets: the loop brings every device within 1 % of the window.
        using var array = Programmed(Linear(), 4, 3, seed: 10);
        var settings = ProgramVerifySettings.ForWindow(new ConductanceRange(Gmin, Gmax, "test"));
        Assert.That(settings.Tolerance, Is.EqualTo(0.01 * (Gmax - Gmin)).Within(1e-18));
        array.ApplyPulses(30, PulseDirection.Depression, new torch.Generator(2));
        array.TakeWrites();
        using var result = array.ProgramAndVerify(settings, new torch.Generator(4));
        var err = Stat.D(array.State.Programmed - array.State.Target);
        foreach (var e in err) Assert.That(Math.Abs(e), Is.LessThanOrEqualTo(settings.Tolerance));
        Assert.That(result.ConvergedFraction, Is.EqualTo(1));
    }
}
