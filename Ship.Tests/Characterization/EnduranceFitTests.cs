using NUnit.Framework;
using Ship.Characterization.Fitting;
using Ship.Characterization.Measurements;
using Ship.Devices.Memristive;

namespace Ship.Tests.Characterization;

public class EnduranceFitTests
{
    private static readonly long[] Grid = Enumerable.Range(0, 30).Select(i => (long)Math.Round(Math.Pow(10, 6.0 * i / 29))).Distinct().ToArray();

    private static double Gauss(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    // Synthetic cycling data from the closed forms, written here: window W0/(1 + (n/N½)^β) closing towards
    // G_low0 + c·W0, Gaussian read noise σ (S); devices fail after Weibull lifetimes (η, k) and then read stuck.
    private static CyclingMeasurements Data(int seed, int devices, double nHalf, double beta, double c, double sigma,
        double eta = double.PositiveInfinity, double k = 1, double stuckHigh = 0.5)
    {
        var r = new Random(seed);
        const double low0 = 20e-6, high0 = 100e-6;
        double gc = low0 + c * (high0 - low0);
        var samples = new List<CyclingSample>();
        for (int d = 0; d < devices; d++)
        {
            double life = double.IsPositiveInfinity(eta) ? double.PositiveInfinity : eta * Math.Pow(-Math.Log(1 - r.NextDouble()), 1 / k);
            bool high = r.NextDouble() < stuckHigh;
            foreach (long n in Grid)
            {
                double f = 1 / (1 + Math.Pow(n / nHalf, beta));
                double hi = n >= life ? (high ? high0 : low0) : gc + (high0 - gc) * f;
                double lo = n >= life ? (high ? high0 : low0) : gc + (low0 - gc) * f;
                samples.Add(new CyclingSample($"d{d}", n, true, Math.Max(0, hi + sigma * Gauss(r))));
                samples.Add(new CyclingSample($"d{d}", n, false, Math.Max(0, lo + sigma * Gauss(r))));
            }
        }
        return new CyclingMeasurements("synthetic", samples);
    }

    [Test]
    public void NarrowingParametersAreRecoveredInsideTheirIntervalsInAtLeast90Of100Seeds()
    {
        int[] inside = new int[4];
        for (int seed = 1; seed <= 100; seed++)
        {
            var fit = EnduranceFitter.Fit(Data(seed, devices: 6, nHalf: 2e5, beta: 1.3, c: 0.35, sigma: 1e-6));
            if (fit.Window0.Covers(80e-6)) inside[0]++;
            if (fit.HalfWindowCycles.Covers(2e5)) inside[1]++;
            if (fit.Sharpness.Covers(1.3)) inside[2]++;
            if (fit.CollapsePoint.Covers(0.35)) inside[3]++;
            Assert.That(fit.Failed, Is.EqualTo(0), "no lifetime: nothing fails");
            Assert.That(fit.LifetimeCycles, Is.Null);
        }
        Assert.That(inside, Is.All.GreaterThanOrEqualTo(90), "W0, N½, β, c coverage of the 95 % intervals");
    }

    [Test]
    public void WeibullLifetimeIsRecoveredInsideItsIntervalsInAtLeast90Of100Seeds()
    {
        int eta = 0, shape = 0;
        for (int seed = 1; seed <= 100; seed++)
        {
            // Interval-censored lifetimes read off the same grid, without narrowing or read noise.
            var r = new Random(1000 + seed);
            var intervals = new List<(double, double)>();
            for (int d = 0; d < 200; d++)
            {
                double life = 2e4 * Math.Pow(-Math.Log(1 - r.NextDouble()), 1 / 1.7);
                int i = Array.FindIndex(Grid, n => n >= life);
                intervals.Add(i < 0 ? (Grid[^1], double.PositiveInfinity) : (i == 0 ? 0 : Grid[i - 1], Grid[i]));
            }
            var (e, k) = EnduranceFitter.Weibull(intervals);
            if (e.Covers(2e4)) eta++;
            if (k.Covers(1.7)) shape++;
        }
        Assert.That(eta, Is.GreaterThanOrEqualTo(90), "η coverage");
        Assert.That(shape, Is.GreaterThanOrEqualTo(90), "k coverage");
    }

    [Test]
    public void FailuresAreDetectedAndTheFitConvertsCyclesToPulses()
    {
        var fit = EnduranceFitter.Fit(Data(7, devices: 150, nHalf: 1e5, beta: 2, c: 0.3, sigma: 0.3e-6, eta: 5e4, k: 1.2, stuckHigh: 0.25));
        // P(failed by the last grid point 10^6) = 1 − e^(−(20)^1.2): essentially every device.
        Assert.That(fit.Failed, Is.EqualTo(150), "P(alive at 10^6 cycles) = e^(−20^1.2) ≈ 10^−16");
        Assert.That(fit.LifetimeCycles!.Covers(5e4), Is.True, $"η {fit.LifetimeCycles}");
        Assert.That(fit.WeibullShape!.Covers(1.2), Is.True, $"k {fit.WeibullShape}");
        // Every device failed, so the stuck-high ones are those whose last reads both sit near the fresh high level (100 µS).
        int high = fit.Series.Count(x => x.High[^1] > 60e-6 && x.Low[^1] > 60e-6);
        Assert.That(fit.StuckHighFraction!.Value, Is.EqualTo(high / 150.0), "stuck side classified for every device");
        Assert.That(fit.StuckHighFraction.Covers(high / 150.0), Is.True);
        var e = fit.ToEndurance(pulsesPerCycle: 2);
        Assert.That(e.HalfWindowPulses, Is.EqualTo(2 * fit.HalfWindowCycles.Value));
        Assert.That(e.LifetimePulses, Is.EqualTo(2 * fit.LifetimeCycles.Value));
        Assert.That(e.WeibullShape, Is.EqualTo(fit.WeibullShape.Value));
        Assert.That(e.Sharpness, Is.EqualTo(fit.Sharpness.Value));
    }

    [Test]
    public void TheExampleFileRecoversTheValuesItsScriptWrote()
    {
        // examples/data/make-measured-device.cs: N½ = 10^5 cycles, β = 2, c = 0.3, η = 2·10^5 cycles, k = 1.5, half stuck high.
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ship.sln"))) dir = dir.Parent;
        var path = Path.Combine(dir!.FullName, "examples", "data", "measured-cycling.csv");
        var fit = EnduranceFitter.Fit(MeasurementReader.ReadCycling(path));
        Assert.That(fit.Devices, Is.EqualTo(40));
        Assert.That(fit.HalfWindowCycles.Covers(1e5), Is.True, $"{fit.HalfWindowCycles}");
        Assert.That(fit.Sharpness.Covers(2), Is.True, $"{fit.Sharpness}");
        Assert.That(fit.CollapsePoint.Covers(0.3), Is.True, $"{fit.CollapsePoint}");
        Assert.That(fit.LifetimeCycles!.Covers(2e5), Is.True, $"{fit.LifetimeCycles}");
        Assert.That(fit.WeibullShape!.Covers(1.5), Is.True, $"{fit.WeibullShape}");
        Assert.That(fit.StuckHighFraction!.Covers(0.5), Is.True, $"{fit.StuckHighFraction}");
    }

    private static CyclingMeasurements Read(string text) => MeasurementReader.ReadCycling(new StringReader(text), "cycling.csv");

    [Test]
    public void CyclingFileIsReadInSiemensAsOneSeriesPerDevice()
    {
        var m = Read("device,cycle,state,conductance_uS\nd1,1,high,100\nd1,1,low,20\nd1,10,lrs,90\nd1,10,hrs,30\nd2,1,set,95\nd2,1,reset,25\n");
        var s = m.Series();
        Assert.That(s.Select(x => x.Device), Is.EqualTo(new[] { "d1", "d2" }));
        Assert.That(s[0].Cycles, Is.EqualTo(new long[] { 1, 10 }));
        Assert.That(s[0].Window[1], Is.EqualTo(60e-6).Within(1e-18));
        Assert.That(s[1].Low[0], Is.EqualTo(25e-6).Within(1e-18));
    }

    // The malformed-file catalogue of the cycling reader: each case, the row (line) and column the error must name.
    private static IEnumerable<TestCaseData> Malformed()
    {
        const string h = "device,cycle,state,conductance_uS\n";
        yield return new TestCaseData("device,cycle,conductance_uS\nd,1,5\n", 1L, "state", "a column 'state'").SetName("CyclingMissingColumn");
        yield return new TestCaseData(h + "d,1,middle,5\n", 2L, "state", "a state high/low").SetName("CyclingUnknownState");
        yield return new TestCaseData(h + "d,10,high,90\nd,10,low,20\nd,5,high,95\n", 4L, "cycle", "increasing").SetName("CyclingNonMonotoneCycles");
        yield return new TestCaseData(h + "d,1,high,90\nd,2,high,90\nd,2,low,20\n", 2L, "state", "a high and a low read").SetName("CyclingMissingLowRead");
        yield return new TestCaseData(h + "d,1,high,90\nd,1,high,91\n", 3L, "state", "one high read").SetName("CyclingTwoHighReads");
        yield return new TestCaseData(h + "d,1,high,90\nd,1,low,-2\n", 3L, "conductance_uS", "a conductance >= 0").SetName("CyclingNegativeConductance");
        yield return new TestCaseData(h + "d,1,high,NaN\n", 2L, "conductance_uS", "finite").SetName("CyclingNaN");
        yield return new TestCaseData(h + "d,-3,high,90\n", 2L, "cycle", "a cycle count").SetName("CyclingNegativeCycle");
        yield return new TestCaseData("device,cycle,state,conductance_uS,unit\nd,1,high,90,mS\n", 2L, "unit", "mixed units").SetName("CyclingMixedUnits");
    }

    [TestCaseSource(nameof(Malformed))]
    public void MalformedCyclingFilesNameRowAndColumn(string text, long row, string column, string says)
    {
        var e = Assert.Throws<MeasurementFileException>(() => Read(text))!;
        Assert.That(e.Row, Is.EqualTo(row), e.Message);
        Assert.That(e.Column, Is.EqualTo(column), e.Message);
        Assert.That(e.Message, Does.Contain(says));
    }
}
