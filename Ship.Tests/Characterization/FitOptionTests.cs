using NUnit.Framework;
using Ship.Characterization.Fitting;
using Ship.Characterization.Measurements;
using Ship.Core.Errors;

namespace Ship.Tests.Characterization;

/// <summary>Out-of-range fit options are refused up front with the option, its range and the value given (not a MathNet error or NaN intervals).</summary>
public class FitOptionTests
{
    private static string Data(string file)
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ship.sln"))) dir = dir.Parent;
        return Path.Combine(dir!.FullName, "examples", "data", file);
    }

    private static void Refused(TestDelegate fit, string options, string option, string value)
    {
        var e = Assert.Throws<ParameterException>(fit)!;
        Assert.That(e.Message, Does.Contain(options).And.Contain(option).And.Contain(value));
    }

    [TestCase(0.0)]
    [TestCase(1.0)]
    [TestCase(1.5)]
    [TestCase(double.NaN)]
    public void AConfidenceLevelOutsideZeroToOneIsRefusedByEveryFitter(double level)
    {
        var v = level.ToString(System.Globalization.CultureInfo.CurrentCulture);
        var retention = MeasurementReader.ReadRetention(Data("measured-retention.csv"));
        Refused(() => DriftFitter.FitPowerLaw(retention, new DriftFitOptions { Level = level }), nameof(DriftFitOptions), "Level", v);
        Refused(() => DriftFitter.FitRram(retention, new RramFitOptions { Level = level }), nameof(RramFitOptions), "Level", v);
        Refused(() => EnduranceFitter.Fit(MeasurementReader.ReadCycling(Data("measured-cycling.csv")), new EnduranceFitOptions { Level = level }), nameof(EnduranceFitOptions), "Level", v);
        Refused(() => PulseFitter.FitAll(MeasurementReader.ReadPulses(Data("measured-pulses.csv")), new PulseFitOptions { Level = level }), nameof(PulseFitOptions), "Level", v);
    }

    [Test]
    public void OtherOptionsOutOfRangeAreRefusedNamingThem()
    {
        var retention = MeasurementReader.ReadRetention(Data("measured-retention.csv"));
        Refused(() => DriftFitter.FitPowerLaw(retention, new DriftFitOptions { T0 = 0 }), nameof(DriftFitOptions), "T0", "0");
        Refused(() => DriftFitter.FitRram(retention, new RramFitOptions { Breakpoint = -1e-6 }), nameof(RramFitOptions), "Breakpoint", "-1E-06");
        Refused(() => DriftFitter.FitRram(retention, new RramFitOptions { ValidFrom = double.PositiveInfinity }), nameof(RramFitOptions), "ValidFrom", double.PositiveInfinity.ToString(System.Globalization.CultureInfo.CurrentCulture));
        Refused(() => EnduranceFitter.Fit(MeasurementReader.ReadCycling(Data("measured-cycling.csv")), new EnduranceFitOptions { StuckWindow = 1 }), nameof(EnduranceFitOptions), "StuckWindow", "1");
        Refused(() => PulseFitter.FitAll(MeasurementReader.ReadPulses(Data("measured-pulses.csv")), new PulseFitOptions { SelectionTolerance = -0.1 }), nameof(PulseFitOptions), "SelectionTolerance", "-0.1");
    }
}
