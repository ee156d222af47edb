using NUnit.Framework;
using OxyPlot.Axes;
using OxyPlot.Series;
using Ship.Plots;
using TorchSharp;
using static Ship.Tests.Plots.PlotAssert;
using static TorchSharp.torch;

namespace Ship.Tests.Plots;

public class DevicePlotTests
{
    [Test]
    public void PulseResponseNumbersPulsesAcrossBothPhasesInMicrosiemens()
    {
        var dir = NewFolder("pulse");
        const int devices = 5, p = 20, d = 15;
        var rng = new Random(2);
        // Saturating potentiation and depression with device-to-device variation, in siemens.
        var pot = Enumerable.Range(0, devices).Select(_ =>
        {
            double gmax = 50e-6 * (1 + 0.1 * rng.NextDouble());
            return (IReadOnlyList<double>)Enumerable.Range(1, p).Select(n => 1e-6 + gmax * (1 - Math.Exp(-n / 6.0))).ToArray();
        }).ToArray();
        var dep = Enumerable.Range(0, devices).Select(i =>
            (IReadOnlyList<double>)Enumerable.Range(1, d).Select(n => pot[i][p - 1] * Math.Exp(-n / 5.0)).ToArray()).ToArray();
        var f = DevicePlots.PulseResponse(dir, "pulse", pot, dep);

        FilesWritten(f, dir, "pulse");
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "phase", "pulse", "mean_uS", "lower_uS", "upper_uS", "n" }));
        Assert.That(rows.Select(r => int.Parse(r[1])), Is.EqualTo(Enumerable.Range(1, p + d)));
        Assert.That(rows.Take(p).All(r => r[0] == "potentiation") && rows.Skip(p).All(r => r[0] == "depression"));
        var lines = Lines(f.Model);
        var bands = SeriesOf<AreaSeries>(f.Model);
        for (int i = 0; i < p + d; i++)
        {
            var samples = i < p ? pot.Select(r => r[i] * 1e6).ToArray() : dep.Select(r => r[i - p] * 1e6).ToArray();
            var (m, s) = MeanStd(samples);
            Assert.That(D(rows[i][2]), Is.EqualTo(m).Within(1e-9));
            Assert.That(D(rows[i][4]) - D(rows[i][3]), Is.EqualTo(2 * s).Within(1e-9));
            var (line, band, j) = i < p ? (lines[0], bands[0], i) : (lines[1], bands[1], i - p);
            Assert.That(line.Points[j].Y, Is.EqualTo(D(rows[i][2])));
            Assert.That(band.Points2[j].Y, Is.EqualTo(D(rows[i][3])));
            Assert.That(band.Points[j].Y, Is.EqualTo(D(rows[i][4])));
        }
        Assert.That(f.Model.Axes.Single(a => a.Position == AxisPosition.Left).Title, Is.EqualTo("Conductance (µS)"));
    }

    [Test]
    public void PulseResponseFromTensors()
    {
        var dir = NewFolder("pulset");
        var pot = torch.linspace(1e-6, 10e-6, 10, dtype: ScalarType.Float64).unsqueeze(0).expand(3, 10).contiguous();
        var f = DevicePlots.PulseResponse(dir, "pt", pot, null);
        var rows = ReadCsv(f.Csv).Rows;
        Assert.That(rows, Has.Count.EqualTo(10));
        Assert.That(Column(rows, 2), Is.EqualTo(Enumerable.Range(0, 10).Select(i => 1 + i).ToArray()).Within(1e-9));
        Assert.That(Column(rows, 4).Zip(Column(rows, 3)).All(z => z.First == z.Second), "identical devices: zero spread");
    }

    [Test]
    public void DriftDistributionHasOneBandPerLevelOnLogTime()
    {
        var dir = NewFolder("drift");
        var times = new[] { 1.0, 10, 100, 1000 };
        const int levels = 3, devices = 8;
        // g(t) = g0 (t/t0)^-ν with a per-device ν, in siemens: [levels, times, devices].
        var g = torch.zeros(new long[] { levels, times.Length, devices }, dtype: ScalarType.Float64);
        var rng = new Random(9);
        var expect = new double[levels, times.Length, devices];
        for (int l = 0; l < levels; l++)
            for (int dv = 0; dv < devices; dv++)
            {
                double nu = 0.05 + 0.02 * rng.NextDouble(), g0 = (l + 1) * 10e-6;
                for (int t = 0; t < times.Length; t++) expect[l, t, dv] = g0 * Math.Pow(times[t], -nu);
            }
        g = torch.tensor(Enumerable.Range(0, levels * times.Length * devices).Select(i => expect[i / (times.Length * devices), i / devices % times.Length, i % devices]).ToArray(), dtype: ScalarType.Float64)
            .reshape(levels, times.Length, devices);
        var f = DevicePlots.DriftDistribution(dir, "drift", g, times, new[] { "10 µS", "20 µS", "30 µS" });

        FilesWritten(f, dir, "drift");
        Assert.That(f.Model.Axes.Single(a => a.Position == AxisPosition.Bottom), Is.TypeOf<LogarithmicAxis>());
        Assert.That(SeriesOf<AreaSeries>(f.Model), Has.Length.EqualTo(levels));
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "level", "time_s", "mean_uS", "lower_uS", "upper_uS", "n" }));
        Assert.That(rows, Has.Count.EqualTo(levels * times.Length));
        for (int l = 0; l < levels; l++)
            for (int t = 0; t < times.Length; t++)
            {
                var row = rows[l * times.Length + t];
                var (m, s) = MeanStd(Enumerable.Range(0, devices).Select(dv => expect[l, t, dv] * 1e6).ToArray());
                Assert.That(row[0], Is.EqualTo(new[] { "10 µS", "20 µS", "30 µS" }[l]));
                Assert.That(D(row[1]), Is.EqualTo(times[t]));
                Assert.That(D(row[2]), Is.EqualTo(m).Within(1e-9));
                Assert.That(D(row[3]), Is.EqualTo(m - s).Within(1e-9));
                Assert.That(Lines(f.Model)[l].Points[t].Y, Is.EqualTo(D(row[2])));
            }
    }

    [Test]
    public void QuantizationTransferWithoutAndWithSpread()
    {
        var dir = NewFolder("quant");
        var w = Enumerable.Range(0, 101).Select(i => -1 + i * 0.02).ToArray();
        var q = w.Select(v => Math.Round(v * 4) / 4).ToArray();    // 9 levels on [-1, 1]
        var f = DevicePlots.QuantizationTransfer(dir, "q", w, q);
        FilesWritten(f, dir, "q");
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "w_in", "w_q" }));
        Assert.That(Column(rows, 0), Is.EqualTo(w));
        Assert.That(Column(rows, 1), Is.EqualTo(q));
        Assert.That(Lines(f.Model).Single().Points.Select(p => (p.X, p.Y)), Is.EqualTo(w.Zip(q)));

        var rng = new Random(1);
        var samples = q.Select(v => (IReadOnlyList<double>)Enumerable.Range(0, 6).Select(_ => v + 0.02 * (rng.NextDouble() - 0.5)).ToArray()).ToArray();
        var g = DevicePlots.QuantizationTransfer(dir, "qs", w, samples);
        FilesWritten(g, dir, "qs");
        var (h2, r2) = ReadCsv(g.Csv);
        Assert.That(h2, Is.EqualTo(new[] { "w_in", "mean", "lower", "upper", "n" }));
        for (int i = 0; i < w.Length; i++)
        {
            var (m, s) = MeanStd(samples[i]);
            Assert.That(D(r2[i][1]), Is.EqualTo(m).Within(1e-12));
            Assert.That(D(r2[i][3]), Is.EqualTo(m + s).Within(1e-12));
            Assert.That(int.Parse(r2[i][4]), Is.EqualTo(6));
        }
        Assert.That(Lines(g.Model).Single().Points.Select(p => p.Y), Is.EqualTo(Column(r2, 1)));
    }

    [Test]
    public void CsvUnitIsAscii()
    {
        Assert.That(DevicePlots.CsvUnit("µS"), Is.EqualTo("uS"));
        Assert.That(DevicePlots.CsvUnit("n S"), Is.EqualTo("nS"));
        Assert.That(DevicePlots.CsvUnit(""), Is.EqualTo("value"));
    }
}
