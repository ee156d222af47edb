using NUnit.Framework;
using Ship.Characterization.Fitting;
using Ship.Characterization.Measurements;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Persistence;
using Ship.Devices.Synapses;
using Ship.Tests.Datasets;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Characterization;

public class RramDriftFitTests
{
    // DRIFT.md §1, in µS as published: the reference written out once, in RramDriftTests.
    private static double Mu(double g0, double t) => Ship.Tests.Devices.Memristive.RramDriftTests.Mu(g0, t);

    private static double SigmaOverMu(double g0, double t) => Ship.Tests.Devices.Memristive.RramDriftTests.SigmaOverMu(g0, t);

    // The same law expanded into RramDriftLaw's coefficients (S), in its parameter order.
    private static readonly double[] Truth =
    {
        0.2302, -15.24e-6, 0.9546, 4.82e-6, 0.4129e-6,
        1.047 * 0.005127 - 0.006294, 1.047 * 0.85543e-6, -0.01677 * 0.005127 + 0.005473, -0.01677 * 0.85543e-6, 38.72e-6,
    };

    private static readonly double[] Levels = { 42, 48, 54, 60, 70, 85, 100, 115 };
    private static readonly double[] Times = Enumerable.Range(0, 10).Select(i => Math.Pow(10, 1 + 3.0 * i / 9)).ToArray();

    private static RetentionMeasurements Data(int seed, int devices)
    {
        var r = new Random(seed);
        double Gauss() => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
        var samples = new List<RetentionSample>();
        foreach (var g0 in Levels)
            foreach (var t in Times)
                for (int d = 0; d < devices; d++)
                {
                    double mu = Mu(g0, t);
                    samples.Add(new RetentionSample($"d{d}", g0 * 1e-6, t, (mu + mu * Math.Abs(SigmaOverMu(g0, t)) * Gauss()) * 1e-6));
                }
        return new RetentionMeasurements("synthetic", samples);
    }

    [Test]
    public void ShipsLawInSiemensMatchesTheCheckValuesOfDriftMd()
    {
        var law = RramDriftLaw.Ship;
        double W(double t) => (law.Mean(120e-6, t) - law.Mean(50e-6, t)) / 70e-6;
        Assert.That(W(1), Is.EqualTo(0.9636).Within(5e-5));
        Assert.That(W(10), Is.EqualTo(1.0110).Within(5e-5));
        Assert.That(W(1e4), Is.EqualTo(1.1531).Within(5e-5));
        foreach (var g0 in Levels)
            foreach (var t in Times)
            {
                Assert.That(law.Mean(g0 * 1e-6, t), Is.EqualTo(Mu(g0, t) * 1e-6).Within(1e-12 * Mu(g0, t) * 1e-6));
                Assert.That(law.RelativeSpread(g0 * 1e-6, t), Is.EqualTo(SigmaOverMu(g0, t)).Within(1e-12));
            }
    }

    [Test]
    public void ShipFormParametersAreRecoveredInsideTheirIntervalsInAtLeast90Of100Seeds()
    {
        var inside = new int[Truth.Length];
        for (int seed = 1; seed <= 100; seed++)
        {
            var fit = DriftFitter.FitRram(Data(seed, devices: 60));
            for (int i = 0; i < Truth.Length; i++)
                if (fit.Parameters[i].Covers(Truth[i])) inside[i]++;
        }
        Assert.That(inside, Is.All.GreaterThanOrEqualTo(90), string.Join(", ", inside));
    }

    [Test]
    public void TheFitBecomesADriftThatReadsItsLawAndIsSavedWithTheNetwork()
    {
        var fit = DriftFitter.FitRram(Data(3, devices: 80));
        var drift = fit.ToDrift();
        Assert.That(drift.Law, Is.EqualTo(fit.Law));
        var array = new DeviceArray("fitted rram", new DifferentialReferenceMapping(50e-6, 120e-6), drift) { ElapsedTime = 1000 };
        var net = new Network { Dt = 1e-3, Steps = 2, Seed = 4, DType = ScalarType.Float64 };
        net.Add("I", new TensorInput(3));
        net.Add("L", new Lif(2));
        net.Add("S", new Dense(torch.tensor(new[] { 1.0, 0.5, -0.25, 0.75, -1, 0.1 }, ScalarType.Float64).reshape(3, 2)).WithDevice(array), "I", "L");
        net.Initialize();
        var g0 = array.State.Programmed.flatten().data<double>().ToArray();
        var z = drift.Deviations(array).flatten().data<double>().ToArray();
        var read = array.ReadConductances(net.Context).flatten().data<double>().ToArray();
        for (int i = 0; i < g0.Length; i++)
        {
            double mu = fit.Law.Mean(g0[i], 1000), s = Math.Abs(fit.Law.RelativeSpread(g0[i], 1000));
            Assert.That(read[i], Is.EqualTo(mu * (1 + s * z[i])).Within(1e-15), $"device {i}");
        }
        using var dir = new TempDir();
        Checkpoint.Save(net, dir.Path);
        var loaded = Checkpoint.Load(dir.Path);
        var la = (DeviceArray)((WeightedSynapse)loaded["S"]).WeightDevice!;
        Assert.That(la.NonIdealities.OfType<RramDrift>().Single().Law, Is.EqualTo(fit.Law), "the fitted coefficients are saved");
        Assert.That(la.ReadConductances(loaded.Context).flatten().data<double>().ToArray(), Is.EqualTo(read));
    }

    [Test]
    public void TooFewLevelsIsAFitErrorSayingWhatIsNeeded()
    {
        var one = new RetentionMeasurements("one level", Data(1, 5).Samples.Where(s => s.Level == 70e-6).ToArray());
        var e = Assert.Throws<FitException>(() => DriftFitter.FitRram(one))!;
        Assert.That(e.Message, Does.Contain("2 or more levels below the breakpoint"));
    }

    [Test]
    public void ALevelAtOrBelowThePoleIsAFitErrorNamingIt()
    {
        // SHIP's spread law has its pole at r = 38.72 µS: 1/(G0 − r) is infinite there and changes sign below it.
        var data = Data(1, 5);
        var below = data.Samples.Where(s => s.Level == 42e-6).Select(s => s with { Level = 30e-6 });
        var e = Assert.Throws<FitException>(() => DriftFitter.FitRram(new RetentionMeasurements("30 µS", data.Samples.Concat(below).ToArray())))!;
        Assert.That(e.Message, Does.Contain("3e-05 S"), "the offending level is named");
        Assert.That(e.Message, Does.Contain("3.872e-05 S"), "and the pole it must exceed");
    }
}
