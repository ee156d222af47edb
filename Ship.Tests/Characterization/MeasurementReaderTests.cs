using NUnit.Framework;
using Ship.Characterization.Measurements;
using Ship.Core.Errors;
using Ship.Devices.Memristive;

namespace Ship.Tests.Characterization;

public class MeasurementReaderTests
{
    private static PulseMeasurements Pulses(string text, MeasurementReadOptions? o = null) =>
        MeasurementReader.ReadPulses(new StringReader(text), "pulses.csv", o);

    [Test]
    public void PulseFileIsReadInSiemensWithTrainsGrouped()
    {
        var m = Pulses("""
            # a comment line
            device,cycle,pulse,polarity,conductance_uS
            d1,0,0,up,10
            d1,0,1,up,12.5
            d1,0,0,down,20
            d1,0,1,down,18
            d2,0,0,up,11
            """);
        Assert.That(m.Samples, Has.Count.EqualTo(5));
        Assert.That(m.Samples[1].Conductance, Is.EqualTo(12.5e-6).Within(1e-18), "µS header → siemens");
        Assert.That(m.Devices, Is.EqualTo(new[] { "d1", "d2" }));
        var trains = m.Trains("d1");
        Assert.That(trains, Has.Count.EqualTo(2));
        var down = trains.Single(t => t.Polarity == PulseDirection.Depression);
        Assert.That(down.Pulses, Is.EqualTo(new[] { 0.0, 1.0 }));
        Assert.That(down.Conductances[1], Is.EqualTo(18e-6).Within(1e-18));
    }

    [Test]
    public void UnitsComeFromTheHeaderTheUnitColumnOrTheOption()
    {
        const string body = "d,0,0,up,5\n";
        Assert.That(Pulses("device,cycle,pulse,polarity,conductance (mS)\n" + body).Samples[0].Conductance, Is.EqualTo(5e-3).Within(1e-15));
        Assert.That(Pulses("device,cycle,pulse,polarity,conductance [nS]\n" + body).Samples[0].Conductance, Is.EqualTo(5e-9).Within(1e-21));
        Assert.That(Pulses("device,cycle,pulse,polarity,conductance_S\n" + body).Samples[0].Conductance, Is.EqualTo(5));
        Assert.That(Pulses("device,cycle,pulse,polarity,conductance\n" + body, new MeasurementReadOptions { ConductanceUnit = ConductanceUnit.Microsiemens })
            .Samples[0].Conductance, Is.EqualTo(5e-6).Within(1e-18));
        Assert.That(Pulses("device,cycle,pulse,polarity,conductance,unit\nd,0,0,up,5,uS\nd,0,1,up,6,uS\n").Samples[1].Conductance,
            Is.EqualTo(6e-6).Within(1e-18));
        // Columns in any order, headers in any case.
        Assert.That(Pulses("Conductance_uS,Polarity,Pulse,Cycle,Device\n7,down,3,2,x\n").Samples[0],
            Is.EqualTo(new PulseSample("x", 2, 3, PulseDirection.Depression, 7e-6)));
    }

    // The malformed-file catalogue: each case, the row (line) and column the error must name.
    private static IEnumerable<TestCaseData> Malformed()
    {
        const string h = "device,cycle,pulse,polarity,conductance_uS\n";
        yield return new TestCaseData("device,cycle,pulse,conductance_uS\nd,0,0,5\n", null, 1L, "polarity", "a column 'polarity'").SetName("MissingColumn");
        yield return new TestCaseData(h + "d,0,0,up,5\nd,0,2,up,6\nd,0,1,up,7\n", null, 4L, "pulse", "increasing").SetName("NonMonotonePulseNumbers");
        yield return new TestCaseData(h + "d,0,0,up,5\nd,0,1,up,5\nd,0,1,up,6\n", null, 4L, "pulse", "increasing").SetName("RepeatedPulseNumber");
        yield return new TestCaseData(h + "d,0,0,up,5\nd,0,1,up,-0.5\n", null, 3L, "conductance_uS", "a conductance >= 0").SetName("NegativeConductance");
        yield return new TestCaseData(h + "d,0,0,up,NaN\n", null, 2L, "conductance_uS", "finite").SetName("NaNConductance");
        yield return new TestCaseData(h + "d,0,0,up,Infinity\n", null, 2L, "conductance_uS", "finite").SetName("InfiniteConductance");
        yield return new TestCaseData(h + "d,0,0,up,abc\n", null, 2L, "conductance_uS", "finite").SetName("TextConductance");
        yield return new TestCaseData(h + "d,0,0,up,\n", null, 2L, "conductance_uS", "a value").SetName("EmptyCell");
        yield return new TestCaseData("device,cycle,pulse,polarity,conductance,unit\nd,0,0,up,5,uS\nd,0,1,up,6,S\n", null, 3L, "unit", "mixed units").SetName("MixedUnitsBetweenRows");
        yield return new TestCaseData("device,cycle,pulse,polarity,conductance_uS,unit\nd,0,0,up,5,mS\n", null, 2L, "unit", "mixed units").SetName("MixedUnitsHeaderVsColumn");
        yield return new TestCaseData(h + "d,0,0,up,5\n", new MeasurementReadOptions { ConductanceUnit = ConductanceUnit.Siemens }, 1L, "conductance_uS", "mixed units").SetName("MixedUnitsHeaderVsOption");
        yield return new TestCaseData("device,cycle,pulse,polarity,conductance\nd,0,0,up,5\n", null, 1L, "conductance", "a unit").SetName("NoUnitAnywhere");
        yield return new TestCaseData("device,cycle,pulse,polarity,conductance_kS\nd,0,0,up,5\n", null, 1L, "conductance_kS", "a conductance unit").SetName("UnknownUnit");
        yield return new TestCaseData(h + "d,0,0,sideways,5\n", null, 2L, "polarity", "a polarity").SetName("UnknownPolarity");
        yield return new TestCaseData(h + "d,-1,0,up,5\n", null, 2L, "cycle", "an integer >= 0").SetName("NegativeCycle");
        yield return new TestCaseData(h + "d,0,1.5,up,5\n", null, 2L, "pulse", "an integer >= 0").SetName("FractionalPulse");
        yield return new TestCaseData(h, null, 1L, "(rows)", "at least one data row").SetName("NoDataRows");
    }

    [TestCaseSource(nameof(Malformed))]
    public void MalformedPulseFilesNameRowAndColumn(string text, MeasurementReadOptions? options, long row, string column, string expected)
    {
        var e = Assert.Throws<MeasurementFileException>(() => Pulses(text, options))!;
        Assert.That(e, Is.InstanceOf<ShipException>());
        Assert.That(e.File, Is.EqualTo("pulses.csv"));
        Assert.That(e.Row, Is.EqualTo(row), e.Message);
        Assert.That(e.Column, Is.EqualTo(column), e.Message);
        Assert.That(e.Expected, Does.Contain(expected), e.Message);
        Assert.That(e.Message, Does.Contain($"row {row}").And.Contain($"'{column}'"));
    }

    [Test]
    public void RetentionFileConvertsLevelTimeAndConductance()
    {
        var m = MeasurementReader.ReadRetention(new StringReader("""
            device,level_uS,time_min,conductance_uS
            a,50,1,49
            a,50,0.5,49.5
            b,100,2,99
            """), "ret.csv");
        Assert.That(m.Samples[0], Is.EqualTo(new RetentionSample("a", 50e-6, 60, 49e-6)).Using<RetentionSample>((x, y) =>
            x.Device == y.Device && Math.Abs(x.Level - y.Level) < 1e-15 && x.Time == y.Time && Math.Abs(x.Conductance - y.Conductance) < 1e-15));
        var series = m.Series();
        Assert.That(series, Has.Count.EqualTo(2));
        Assert.That(series[0].Times, Is.EqualTo(new[] { 30.0, 60.0 }), "sorted by time");
        var e = Assert.Throws<MeasurementFileException>(() => MeasurementReader.ReadRetention(new StringReader("device,level_uS,time_s,conductance_uS\na,50,-1,49\n"), "ret.csv"))!;
        Assert.That((e.Row, e.Column), Is.EqualTo((2L, "time_s")));
        e = Assert.Throws<MeasurementFileException>(() => MeasurementReader.ReadRetention(new StringReader("device,level_uS,conductance_uS\na,50,49\n"), "ret.csv"))!;
        Assert.That((e.Row, e.Column), Is.EqualTo((1L, "time")));
    }

    [Test]
    public void ReadNoiseGivesPerDeviceMeanAndSampleSigma()
    {
        var m = MeasurementReader.ReadReadNoise(new StringReader("device,read,conductance_uS\na,0,10\na,1,12\na,2,14\nb,0,5\n"), "noise.csv");
        var a = m.PerDevice().Single(d => d.Device == "a");
        Assert.That(a.Mean, Is.EqualTo(12e-6).Within(1e-15));
        Assert.That(a.Sigma, Is.EqualTo(2e-6).Within(1e-15), "sqrt(((−2)² + 0 + 2²)/2) µS");
        Assert.That(a.Reads, Is.EqualTo(3));
    }

    [Test]
    public void AMissingFileIsATypedError()
    {
        var e = Assert.Throws<MeasurementFileException>(() => MeasurementReader.ReadPulses("/nonexistent/x.csv"))!;
        Assert.That(e.Column, Is.EqualTo("(file)"));
    }
}
