using NUnit.Framework;
using OxyPlot.Annotations;
using OxyPlot.Series;
using Ship.Core.Networks;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using Ship.Plots;
using TorchSharp;
using static Ship.Tests.Plots.PlotAssert;
using static TorchSharp.torch;

namespace Ship.Tests.Plots;

public class SpikePlotTests
{
    private static (Network Net, RunResult Result) RunLif(int steps, int batch)
    {
        var net = new Network { Dt = 0.5e-3, Steps = steps, BatchSize = batch, Seed = 4 };
        net.Add("I", new TensorInput(6));
        net.Add("W", new Dense(Ship.Core.Parameters.Init.Uniform(0, 0.6)), "I", "L");
        net.Add("L", new Lif(9, tau: 10e-3));
        net.MarkOutput("L");
        var x = torch.rand(new long[] { batch, steps, 6 }, generator: new torch.Generator(3)).lt(0.3).to_type(ScalarType.Float32);
        return (net, net.Run(x));
    }

    [Test]
    public void RasterCsvListsExactlyTheSpikesOfTheTensor()
    {
        var (_, r) = RunLif(80, 3);
        var spikes = r["L"];
        var dir = NewFolder("raster");
        var f = SpikePlots.Raster(dir, "raster", r, "L", batchRow: 2);

        FilesWritten(f, dir, "raster");
        // Expected pairs, found here by scanning the tensor itself.
        var flat = spikes[2].contiguous().data<float>().ToArray();
        var expected = new List<(int, double, int)>();
        for (int k = 0; k < 80; k++)
            for (int j = 0; j < 9; j++)
                if (flat[k * 9 + j] != 0) expected.Add((k, r.Times[k] * 1e3, j));
        Assert.That(expected, Has.Count.GreaterThan(10), "the run must produce spikes for the test to mean something");

        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "step", "time_ms", "neuron" }));
        var csv = rows.Select(x => (int.Parse(x[0]), D(x[1]), int.Parse(x[2]))).ToList();
        Assert.That(csv, Is.EqualTo(expected));
        Assert.That(csv.Select(c => c.Item2), Is.EqualTo(csv.Select(c => (c.Item1 + 1) * 0.5)).Within(1e-12), "times are the end of each step, in ms");
        var ticks = SeriesOf<ScatterSeries>(f.Model).Single();
        Assert.That(ticks.Points.Select(p => (p.X, p.Y)), Is.EqualTo(csv.Select(c => (c.Item2, (double)c.Item3))), "drawn ticks = CSV");
    }

    [Test]
    public void RasterChecksShapes()
    {
        var dir = NewFolder("rasterbad");
        var s = torch.zeros(2, 10, 3);
        Assert.Throws<ArgumentException>(() => SpikePlots.Raster(dir, "r", s, new double[9]));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpikePlots.Raster(dir, "r", s, new double[10], batchRow: 2));
        // An empty raster is still a valid figure.
        var f = SpikePlots.Raster(dir, "empty", s, Enumerable.Range(1, 10).Select(k => k * 1e-3).ToArray());
        FilesWritten(f, dir, "empty");
        Assert.That(ReadCsv(f.Csv).Rows, Is.Empty);
    }

    [Test]
    public void MembraneTraceFromMonitorMatchesRecordsAndSpikes()
    {
        var net = new Network { Dt = 1e-3, Steps = 60, BatchSize = 2, Seed = 1 };
        net.Add("I", new TensorInput(2));
        net.Add("S", new Identity(), "I", "L");
        net.Add("L", new Lif(2, tau: 10e-3, threshold: 1.0));
        net.MarkOutput("L");
        var mon = net.Monitor("L", "u");
        var x = torch.tensor(new float[] { 0.3f, 0.45f }).reshape(1, 1, 2).expand(2, 60, 2).contiguous();
        var r = net.Run(x);
        var dir = NewFolder("trace");
        var f = SpikePlots.MembraneTrace(dir, "trace", mon, r["L"], batchRow: 1, neuron: 1, threshold: 1.0);

        FilesWritten(f, dir, "trace");
        var u = mon.Values[1, .., 1].contiguous().data<float>().Select(v => (double)v).ToArray();
        var s = r["L"][1, .., 1].contiguous().data<float>().Select(v => (double)v).ToArray();
        var (header, rows) = ReadCsv(f.Csv);
        Assert.That(header, Is.EqualTo(new[] { "step", "time_ms", "u", "spike" }));
        Assert.That(Column(rows, 2), Is.EqualTo(u));
        Assert.That(Column(rows, 3), Is.EqualTo(s));
        Assert.That(Column(rows, 1), Is.EqualTo(mon.Times.Select(t => t * 1e3)));
        Assert.That(s.Sum(), Is.GreaterThan(3), "neuron 1 spikes several times");
        var line = Lines(f.Model).Single();
        Assert.That(line.Points.Select(p => p.Y), Is.EqualTo(u), "drawn trace = CSV");
        var marks = SeriesOf<ScatterSeries>(f.Model).Single();
        Assert.That(marks.Points.Select(p => p.X), Is.EqualTo(rows.Where(row => D(row[3]) != 0).Select(row => D(row[1]))), "one mark per spike, at its time");
        Assert.That(marks.Points.All(p => p.Y > u.Max()), "marks sit above the trace");
        Assert.That(f.Model.Annotations.OfType<LineAnnotation>().Single().Y, Is.EqualTo(1.0));
    }

    [Test]
    public void MembraneTraceNamesItsVariableInTheLegendAndTheCsv()
    {
        // An Izhikevich membrane is "v" (its "u" is the recovery variable): the figure must not call it "u".
        var dir = NewFolder("trace-v");
        var f = SpikePlots.MembraneTrace(dir, "v", new[] { 1e-3, 2e-3 }, new[] { -65.0, -60.0 }, new[] { 0.0, 1.0 }, threshold: 30, variable: "v");
        Assert.That(ReadCsv(f.Csv).Header, Is.EqualTo(new[] { "step", "time_ms", "v", "spike" }));
        Assert.That(Lines(f.Model).Single().Title, Is.EqualTo("v"));
    }

    [Test]
    public void MembraneTraceFromArrays()
    {
        var dir = NewFolder("tracearr");
        var t = new[] { 1e-3, 2e-3, 3e-3, 4e-3 };
        var u = new[] { 0.2, 0.7, 1.1, 0.0 };
        var f = SpikePlots.MembraneTrace(dir, "t", t, u, new[] { 0.0, 0, 1, 0 });
        var rows = ReadCsv(f.Csv).Rows;
        Assert.That(Column(rows, 2), Is.EqualTo(u));
        Assert.That(Column(rows, 1), Is.EqualTo(t.Select(v => v * 1e3)));
        Assert.That(SeriesOf<ScatterSeries>(f.Model).Single().Points.Select(p => p.X), Is.EqualTo(new[] { 3.0 }));
        Assert.Throws<ArgumentException>(() => SpikePlots.MembraneTrace(dir, "bad", t, u.Take(3).ToArray()));
    }
}
