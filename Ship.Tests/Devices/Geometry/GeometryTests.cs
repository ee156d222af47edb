using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Devices.Geometry;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Geometry;

public class GeometryTests
{
    private static double[] Flat(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    [Test]
    public void GridsAreRowMajorWithTheFirstAxisSlowest()
    {
        var sq = Layout.SquareGrid(3, spacing: 0.5);
        var p = Flat(sq.Positions);
        Assert.That(sq.Count, Is.EqualTo(9));
        for (int i = 0; i < 9; i++)
        {
            Assert.That(p[2 * i], Is.EqualTo(0.5 * (i / 3)));
            Assert.That(p[2 * i + 1], Is.EqualTo(0.5 * (i % 3)));
        }
        var g3 = Layout.Grid3D(2, 3, 4);
        var q = Flat(g3.Positions);
        Assert.That(g3.Count, Is.EqualTo(24));
        Assert.That(g3.Dimensions, Is.EqualTo(3));
        for (int i = 0; i < 24; i++)
            Assert.That(new[] { q[3 * i], q[3 * i + 1], q[3 * i + 2] }, Is.EqualTo(new double[] { i / 12, i / 4 % 3, i % 4 }));
        Assert.That(g3.IsPeriodic, Is.False);
    }

    [Test]
    public void GridDistancesMatchTheEuclideanClosedForm()
    {
        var g3 = Layout.Grid3D(3, 2, 4, spacing: 2.0);
        var d = Flat(Distances.Euclidean(g3));
        int n = g3.Count;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double dx = 2.0 * (i / 8 - j / 8), dy = 2.0 * (i / 4 % 2 - j / 4 % 2), dz = 2.0 * (i % 4 - j % 4);
                Assert.That(d[i * n + j], Is.EqualTo(Math.Sqrt(dx * dx + dy * dy + dz * dz)).Within(1e-12));
            }
    }

    [Test]
    public void TorusDistancesWrapAround()
    {
        const int rows = 5, cols = 7;
        var t = Layout.Torus(rows, cols, spacing: 1.5);
        Assert.That(t.IsPeriodic);
        Assert.That(t.Period, Is.EqualTo(new[] { 7.5, 10.5 }));
        var d = Flat(Distances.Euclidean(t));
        int n = rows * cols;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                int dr = Math.Abs(i / cols - j / cols), dc = Math.Abs(i % cols - j % cols);
                double wr = 1.5 * Math.Min(dr, rows - dr), wc = 1.5 * Math.Min(dc, cols - dc);
                Assert.That(d[i * n + j], Is.EqualTo(Math.Sqrt(wr * wr + wc * wc)).Within(1e-12), $"pair {i}, {j}");
            }
        // Opposite corners are neighbours across both seams: one step in each direction.
        Assert.That(d[0 * n + (n - 1)], Is.EqualTo(1.5 * Math.Sqrt(2)).Within(1e-12));
    }

    [Test]
    public void CircleDistancesAreChords()
    {
        const int n = 12;
        const double radius = 2.5;
        var c = Layout.Circle(n, radius);
        var d = Flat(Distances.Euclidean(c));
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                Assert.That(d[i * n + j], Is.EqualTo(2 * radius * Math.Sin(Math.PI * Math.Abs(i - j) / n)).Within(1e-12));
    }

    [Test]
    public void DistancesBetweenTwoLayersAreSourceByTarget()
    {
        var a = new Layout(torch.tensor(new double[] { 0, 0, 3, 0 }).reshape(2, 2));
        var b = new Layout(torch.tensor(new double[] { 0, 4, 3, 4, 6, 8 }).reshape(3, 2));
        var d = Distances.Euclidean(a, b);
        Assert.That(d.shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(Flat(d), Is.EqualTo(new double[] { 4, 5, 10, 5, 4, Math.Sqrt(9 + 64) }).Within(1e-12));
        Assert.Throws<ParameterException>(() => Distances.Euclidean(a, Layout.Grid3D(1, 1, 2)));
        Assert.Throws<ParameterException>(() => Distances.Euclidean(Layout.Torus(2, 2), Layout.SquareGrid(2)));
    }

    [Test]
    public void ConnectionCountsFollowTheGaussianProfileWithinBinomialBounds()
    {
        const double k = 0.3, lambda = 2.0;
        var grid = Layout.Grid3D(8, 8, 8);
        var d2 = Distances.Squared(grid);
        var mask = Flat(DistanceConnectivity.Mask(d2, k, lambda, new torch.Generator(123)));
        var dd = Flat(d2);
        int n = grid.Count;
        Assert.That(mask, Is.All.EqualTo(0.0).Or.EqualTo(1.0));

        // Group pairs by squared distance; each group's count is Binomial(m, k·exp(−D²/λ²)): within 5 standard deviations.
        var groups = Enumerable.Range(0, n * n).GroupBy(i => (int)Math.Round(dd[i])).Where(g => g.Key <= 12);
        double totalMean = 0, totalVar = 0, totalCount = 0;
        foreach (var g in groups)
        {
            int m = g.Count();
            double p = k * Math.Exp(-g.Key / (lambda * lambda));
            double count = g.Sum(i => mask[i]);
            double mean = m * p, sd = Math.Sqrt(m * p * (1 - p));
            Assert.That(Math.Abs(count - mean), Is.LessThanOrEqualTo(5 * sd + 1e-9), $"D² = {g.Key}: {count} of {m}, expected {mean:F1} ± {sd:F1}");
            totalMean += mean; totalVar += m * p * (1 - p); totalCount += count;
        }
        Assert.That(Math.Abs(totalCount - totalMean), Is.LessThanOrEqualTo(5 * Math.Sqrt(totalVar)));
        // The diagonal (D = 0) connects with probability k when self-connections are allowed.
        double diag = Enumerable.Range(0, n).Sum(i => mask[i * n + i]);
        Assert.That(Math.Abs(diag - n * k), Is.LessThanOrEqualTo(5 * Math.Sqrt(n * k * (1 - k))));
    }

    [Test]
    public void SelfConnectionsCanBeExcluded()
    {
        var grid = Layout.SquareGrid(6);
        var d2 = Distances.Squared(grid);
        var all = Flat(DistanceConnectivity.Mask(d2, 1.0, 1.0, new torch.Generator(1)));
        var none = Flat(DistanceConnectivity.Mask(d2, 1.0, 1.0, new torch.Generator(1), excludeSelf: true));
        int n = grid.Count;
        for (int i = 0; i < n; i++)
        {
            Assert.That(all[i * n + i], Is.EqualTo(1.0), "k = 1 at distance 0 always connects");
            Assert.That(none[i * n + i], Is.EqualTo(0.0));
        }
        // Off the diagonal the same draws give the same mask.
        for (int i = 0; i < n * n; i++) if (i % (n + 1) != 0) Assert.That(none[i], Is.EqualTo(all[i]));
    }

    [Test]
    public void WeightValueDrawsFromTheNetworkGenerator()
    {
        var layout = Layout.Torus(4, 5);
        Tensor DrawWith(long seed)
        {
            var net = new Network { Dt = 1e-3, Steps = 2, Seed = seed };
            net.Add("I", new TensorInput(20));
            net.Add("R", new Dense(DistanceConnectivity.Weights(layout, layout, 0.5, 1.5, weight: -0.75, excludeSelf: true)), "I", "L");
            net.Add("L", new Lif(20));
            net.Initialize();
            return net["R"].Get("w").clone();
        }
        var w1 = Flat(DrawWith(7));
        var w1Again = Flat(DrawWith(7));
        var w2 = Flat(DrawWith(8));
        Assert.That(w1, Is.EqualTo(w1Again), "same seed, same connectivity");
        Assert.That(w1, Is.Not.EqualTo(w2), "another seed draws another mask");
        Assert.That(w1, Is.All.EqualTo(0.0).Or.EqualTo(-0.75));
        for (int i = 0; i < 20; i++) Assert.That(w1[i * 20 + i], Is.EqualTo(0.0));
        Assert.That(w1.Count(x => x != 0), Is.GreaterThan(0));
    }

    [Test]
    public void BadArgumentsRaiseTypedErrors()
    {
        var g = Layout.SquareGrid(2);
        var d2 = Distances.Squared(g);
        Assert.Throws<ParameterException>(() => DistanceConnectivity.Probability(d2, 1.5, 1.0));
        Assert.Throws<ParameterException>(() => DistanceConnectivity.Probability(d2, 0.5, 0.0));
        Assert.Throws<ParameterException>(() => DistanceConnectivity.Mask(Distances.Squared(g, Layout.Grid(1.0, 3, 1)), 0.5, 1.0, new torch.Generator(1), excludeSelf: true));
        Assert.Throws<ParameterException>(() => Layout.SquareGrid(0));
        Assert.Throws<ParameterException>(() => Layout.Circle(4, -1));

        // A weight value whose layouts do not fit the synapse names the group and the parameter.
        var net = new Network { Steps = 2 };
        net.Add("I", new TensorInput(3));
        net.Add("R", new Dense(DistanceConnectivity.Weights(g, g, 0.5, 1.0)), "I", "L");
        net.Add("L", new Lif(4));
        var ex = Assert.Throws<ParameterException>(() => net.Initialize());
        Assert.That(ex!.Group, Is.EqualTo("R"));
        Assert.That(ex.Parameter, Is.EqualTo("w"));
    }
}
