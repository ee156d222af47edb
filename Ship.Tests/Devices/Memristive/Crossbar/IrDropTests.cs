using NUnit.Framework;
using Ship.Core.Errors;
using Ship.Devices.Memristive.Crossbar;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive.Crossbar;

/// <summary>
/// The exact IR-drop solve against an independent modified nodal analysis written here (every resistor stamped as a
/// conductance, zero-ohm ones and the drive as voltage sources, solved densely), the zero-resistance limit, a hand-solved
/// 2 × 1 array, and the approximation's exact limits.
/// </summary>
public class IrDropTests
{
    /// <summary>
    /// Dense MNA of the tile: nodes are the drive terminals s_i, driver outputs d_i, word nodes w_ij, bit nodes b_ij and
    /// sense inputs e_j; ground is the sense amplifier's virtual ground. Returns the current through each sense resistor into ground.
    /// </summary>
    private static double[] Mna(double[,] g, double[] v, LineResistances l, bool switched)
    {
        int rows = g.GetLength(0), cols = g.GetLength(1);
        var names = new Dictionary<string, int>();
        int Node(string n) => names.TryGetValue(n, out var k) ? k : names[n] = names.Count;
        var resistors = new List<(string A, string B, double R)>();
        var sources = new List<(string A, string B, double V)>();   // V(A) − V(B) = V
        void R(string a, string b, double r)
        {
            if (r == 0) sources.Add((a, b, 0));
            else resistors.Add((a, b, r));
        }
        for (int i = 0; i < rows; i++)
        {
            sources.Add(($"s{i}", "gnd", v[i]));
            R($"s{i}", $"d{i}", l.Driver);
            R($"d{i}", $"w{i},0", l.WordLine);
            for (int j = 1; j < cols; j++) R($"w{i},{j - 1}", $"w{i},{j}", l.WordLine);
            for (int j = 0; j < cols; j++)
                if (!(switched && v[i] == 0) && g[i, j] > 0) resistors.Add(($"w{i},{j}", $"b{i},{j}", 1 / g[i, j]));
        }
        for (int j = 0; j < cols; j++)
        {
            for (int i = 1; i < rows; i++) R($"b{i - 1},{j}", $"b{i},{j}", l.BitLine);
            R($"b{rows - 1},{j}", $"e{j}", l.BitLine);
            sources.Add(($"e{j}", $"x{j}", 0));                      // ammeter
            R($"x{j}", "gnd", l.Sense);
        }
        foreach (var (a, b, _) in resistors) { Node(a); Node(b); }
        foreach (var (a, b, _) in sources) { Node(a); Node(b); }
        int gnd = names["gnd"], n = names.Count, m = sources.Count, size = n - 1 + m;
        int Ix(string name) { int k = names[name]; return k < gnd ? k : k - 1; }   // ground removed
        var a2 = new double[size, size];
        var rhs = new double[size];
        foreach (var (p, q, r) in resistors)
        {
            double c = 1 / r;
            bool pg = p == "gnd", qg = q == "gnd";
            if (!pg) a2[Ix(p), Ix(p)] += c;
            if (!qg) a2[Ix(q), Ix(q)] += c;
            if (!pg && !qg) { a2[Ix(p), Ix(q)] -= c; a2[Ix(q), Ix(p)] -= c; }
        }
        for (int k = 0; k < m; k++)
        {
            var (p, q, volts) = sources[k];
            int row = n - 1 + k;
            if (p != "gnd") { a2[Ix(p), row] += 1; a2[row, Ix(p)] += 1; }
            if (q != "gnd") { a2[Ix(q), row] -= 1; a2[row, Ix(q)] -= 1; }
            rhs[row] = volts;
        }
        var flat = new double[size * size];
        for (int i = 0; i < size; i++) for (int j = 0; j < size; j++) flat[i * size + j] = a2[i, j];
        var x = torch.linalg.solve(torch.tensor(flat, new long[] { size, size }, ScalarType.Float64),
            torch.tensor(rhs, new long[] { size, 1 }, ScalarType.Float64)).data<double>().ToArray();
        // The ammeter's branch current flows from e_j to x_j, i.e. down into the sense input.
        return Enumerable.Range(0, cols).Select(j => x[n - 1 + sources.FindIndex(s => s.A == $"e{j}")]).ToArray();
    }

    private static (double[,] G, double[] V) Random(int rows, int cols, int seed, double activity)
    {
        var rng = new Random(seed);
        var g = new double[rows, cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) g[i, j] = 1e-6 + rng.NextDouble() * 99e-6;   // 1–100 µS, in S
        var v = Enumerable.Range(0, rows).Select(_ => rng.NextDouble() < activity ? 0.2 : 0.0).ToArray();
        if (v.All(x => x == 0)) v[0] = 0.2;
        return (g, v);
    }

    private static double[] Flat(double[,] g) => g.Cast<double>().ToArray();

    private static class Stat2
    {
        public static double[] D(Tensor t) => t.detach().to_type(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
    }

    [TestCase(2, 2, 1)]
    [TestCase(2, 3, 2)]
    [TestCase(3, 5, 3)]
    [TestCase(4, 4, 4)]
    [TestCase(7, 3, 5)]
    [TestCase(8, 8, 6)]
    [TestCase(12, 9, 7)]
    [TestCase(16, 16, 8)]
    public void ExactSolveEqualsAnIndependentDenseNodalAnalysis(int rows, int cols, int seed)
    {
        var rng = new Random(100 + seed);
        var lines = new[]
        {
            new LineResistances(WordLine: 0.5 + 5 * rng.NextDouble(), BitLine: 0.5 + 5 * rng.NextDouble(), Driver: 200 * rng.NextDouble(), Sense: 200 * rng.NextDouble()),
            new LineResistances(WordLine: 2.5, BitLine: 2.5),                     // zero driver and sense resistance
            new LineResistances(WordLine: 1000, BitLine: 500, Driver: 1e3, Sense: 1e3), // drops of tens of per cent
            new LineResistances(WordLine: 3, Driver: 10),                         // ideal bit lines only
            new LineResistances(BitLine: 3, Sense: 10),                           // ideal word lines only
        };
        foreach (var l in lines)
            foreach (bool switched in new[] { false, true })
                foreach (double activity in new[] { 0.25, 1.0 })
                {
                    var (g, v) = Random(rows, cols, seed * 31 + (int)(activity * 4), activity);
                    var expected = Mna(g, v, l, switched);
                    var gs = Flat(g);
                    if (switched)
                        for (int i = 0; i < rows; i++) if (v[i] == 0) for (int j = 0; j < cols; j++) gs[i * cols + j] = 0;
                    var actual = IrDropFunctional.SolveExact(gs, v, rows, cols, l, IrDropFunctional.DefaultTolerance, out var info);
                    double scale = expected.Max(Math.Abs);
                    for (int j = 0; j < cols; j++)
                        Assert.That(Math.Abs(actual[j] - expected[j]), Is.LessThanOrEqualTo(1e-9 * scale),
                            $"{rows}×{cols} {l} switched={switched} activity={activity} column {j}: {actual[j]} vs {expected[j]}");
                    Assert.That(info.RelativeResidual, Is.LessThanOrEqualTo(1e-10));
                }
    }

    [Test]
    public void TheTensorFormSwitchesOffUndrivenRowsOnlyFor1T1R()
    {
        var (g, v) = Random(6, 5, 9, 0.5);
        var l = new LineResistances(WordLine: 20, BitLine: 20, Driver: 100, Sense: 100);
        var gt = torch.tensor(Flat(g), new long[] { 6, 5 }, ScalarType.Float64);
        var vt = torch.tensor(v, new long[] { 1, 6 }, ScalarType.Float64);
        foreach (bool switched in new[] { false, true })
        {
            var expected = Mna(g, v, l, switched);
            var actual = IrDropFunctional.Exact(gt, vt, l, switched).data<double>().ToArray();
            for (int j = 0; j < 5; j++) Assert.That(actual[j], Is.EqualTo(expected[j]).Within(1e-9 * expected.Max(Math.Abs)));
        }
        // Sneak currents through the grounded undriven rows lower the passive array's column currents.
        var passive = IrDropFunctional.Exact(gt, vt, l, false).data<double>().ToArray();
        var switchedOff = IrDropFunctional.Exact(gt, vt, l, true).data<double>().ToArray();
        for (int j = 0; j < 5; j++) Assert.That(passive[j], Is.LessThan(switchedOff[j]));
    }

    [Test]
    public void ZeroLineResistanceGivesTheIdealSumOfConductanceTimesVoltage()
    {
        var (g, v) = Random(9, 7, 3, 0.6);
        var ideal = new double[7];
        for (int i = 0; i < 9; i++) for (int j = 0; j < 7; j++) ideal[j] += g[i, j] * v[i];
        var exact = IrDropFunctional.SolveExact(Flat(g), v, 9, 7, new LineResistances(), 1e-12, out _);
        var gt = torch.tensor(Flat(g), new long[] { 9, 7 }, ScalarType.Float64);
        var approx = IrDropFunctional.Approximate(gt, torch.tensor(v, new long[] { 1, 9 }, ScalarType.Float64), new LineResistances(), true).data<double>().ToArray();
        for (int j = 0; j < 7; j++)
        {
            Assert.That(exact[j], Is.EqualTo(ideal[j]).Within(1e-15 * ideal.Max()));
            Assert.That(approx[j], Is.EqualTo(ideal[j]).Within(1e-15 * ideal.Max()));
        }
    }

    [Test]
    public void HandSolvedTwoByOneArray()
    {
        // Row i reaches its cell through R_a = Driver + WordLine: h_i = G_i/(1 + R_a·G_i) from V_i to bit node b_i.
        // b_0 —r_b— b_1 —(r_b + R_s)— ground. Eliminating b_0 (series of h_0 and g_b: s_0 = h_0·g_b/(h_0 + g_b)):
        // b_1 = (h_1·V_1 + s_0·V_0)/(h_1 + s_0 + g_e), I = g_e·b_1, with g_b = 1/r_b, g_e = 1/(r_b + R_s).
        double g0 = 50e-6, g1 = 80e-6, rd = 100, rw = 2, rb = 3, rs = 50, v0 = 0.2, v1 = 0.15;
        double ra = rd + rw, h0 = g0 / (1 + ra * g0), h1 = g1 / (1 + ra * g1), gb = 1 / rb, ge = 1 / (rb + rs);
        double s0 = h0 * gb / (h0 + gb);
        double expected = ge * (h1 * v1 + s0 * v0) / (h1 + s0 + ge);
        var actual = IrDropFunctional.SolveExact(new[] { g0, g1 }, new[] { v0, v1 }, 2, 1, new LineResistances(rw, rb, rd, rs), 1e-14, out _);
        Assert.That(actual[0], Is.EqualTo(expected).Within(1e-12 * expected));
        Assert.That(expected, Is.LessThan(g0 * v0 + g1 * v1));   // the drop is real: the ideal current is larger
    }

    [Test]
    public void TheApproximationIsExactForOneCell()
    {
        // One cell between a driver path R_a and a sense path R_b: I = V·G/(1 + (R_a + R_b)·G). The approximation's word
        // factor is exact for one row and its bit-line factor ψ_1(z) = 1/(1 + z), so it reproduces the closed form.
        double g = 70e-6, v = 0.2;
        var gt = torch.tensor(new[] { g }, new long[] { 1, 1 }, ScalarType.Float64);
        var vt = torch.tensor(new[] { v }, new long[] { 1, 1 }, ScalarType.Float64);
        var word = new LineResistances(WordLine: 30, Driver: 500);
        var bit = new LineResistances(BitLine: 30, Sense: 500);
        Assert.That(IrDropFunctional.Approximate(gt, vt, word, true).item<double>(), Is.EqualTo(v * g / (1 + 530 * g)).Within(1e-12 * v * g));
        Assert.That(IrDropFunctional.Approximate(gt, vt, bit, true).item<double>(), Is.EqualTo(v * g / (1 + 530 * g)).Within(1e-12 * v * g));
        var both = new LineResistances(30, 30, 500, 500);
        Assert.That(IrDropFunctional.SolveExact(new[] { g }, new[] { v }, 1, 1, both, 1e-14, out _)[0], Is.EqualTo(v * g / (1 + 1060 * g)).Within(1e-12 * v * g));
        Assert.That(IrDropFunctional.Approximate(gt, vt, both, true).item<double>(), Is.EqualTo(v * g / (1 + 1060 * g)).Within(1e-12 * v * g));
    }

    [Test]
    public void TheBitLineFactorIsTheExactCurrentOfAUniformColumn()
    {
        // A column of n equal cells g, all driven at V (ideal word lines), bit segments r: the exact solve against ψ_n(r·g).
        foreach (int n in new[] { 1, 2, 5, 40 })
            foreach (double r in new[] { 1e-7, 0.1, 3.0, 200.0 })
            {
                double g = 60e-6, v = 0.2;
                var exact = IrDropFunctional.SolveExact(Enumerable.Repeat(g, n).ToArray(), Enumerable.Repeat(v, n).ToArray(), n, 1,
                    new LineResistances(BitLine: r), 1e-14, out _)[0];
                double psi = IrDropFunctional.LineFactor(torch.tensor(new[] { r * g }, ScalarType.Float64), n).item<double>();
                Assert.That(psi * n * g * v, Is.EqualTo(exact).Within(1e-12 * exact), $"n = {n}, r = {r}");
            }
    }

    [Test]
    public void ThePadeBitLineFactorIsExactForOneCellAndCloseToTheUniformLineLaw()
    {
        var d = torch.tensor(new[] { 0.0, 1e-6, 0.3, 1.0, 4.0 }, ScalarType.Float64);
        var one = Stat2.D(IrDropFunctional.PadeLineFactor(d, 1));
        var dd = Stat2.D(d);
        for (int k = 0; k < dd.Length; k++) Assert.That(one[k], Is.EqualTo(1 / (1 + dd[k])).Within(1e-15));
        // Long line: against ψ_n(z) at the same first-order loss D = z(n + 1)(2n + 1)/6, up to κ² = 3D = 3 (0.7 %, documented in PadeLineFactor).
        int n = 256;
        foreach (double loss in new[] { 0.01, 0.1, 0.5, 1.0 })
        {
            double z = 6 * loss / ((n + 1.0) * (2 * n + 1));
            double exact = IrDropFunctional.LineFactor(torch.tensor(new[] { z }, ScalarType.Float64), n).item<double>();
            double pade = IrDropFunctional.PadeLineFactor(torch.tensor(new[] { loss }, ScalarType.Float64), n).item<double>();
            Assert.That(Math.Abs(pade - exact) / exact, Is.LessThan(0.007), $"D = {loss}");
        }
    }

    [Test]
    public void TheApproximationStaysWithinItsDocumentedErrorOfTheExactSolve()
    {
        // docs/models/crossbar.md: at 64 × 64, 1–100 µS, 1 Ω segments, the column currents' error is below 0.5 % of the
        // largest exact column current at every activity (the ideal read is off by 8–12 % there).
        var l = new LineResistances(WordLine: 1, BitLine: 1);
        foreach (double activity in new[] { 0.1, 0.5, 1.0 })
        {
            var (g, v) = Random(64, 64, 11, activity);
            var gt = torch.tensor(Flat(g), new long[] { 64, 64 }, ScalarType.Float64);
            var vt = torch.tensor(v, new long[] { 1, 64 }, ScalarType.Float64);
            var exact = IrDropFunctional.Exact(gt, vt, l, true).data<double>().ToArray();
            var approx = IrDropFunctional.Approximate(gt, vt, l, true).data<double>().ToArray();
            var ideal = vt.matmul(gt).data<double>().ToArray();
            double scale = exact.Max(), errA = 0, errI = 0;
            for (int j = 0; j < 64; j++)
            {
                errA = Math.Max(errA, Math.Abs(approx[j] - exact[j]) / scale);
                errI = Math.Max(errI, Math.Abs(ideal[j] - exact[j]) / scale);
            }
            Assert.That(errA, Is.LessThan(0.005), $"activity {activity}");
            Assert.That(errA, Is.LessThan(errI / 10), $"activity {activity}: the approximation must beat the ideal read clearly");
        }
    }

    [Test]
    public void BadLineResistancesAreRejectedWithTheirName()
    {
        var ex = Assert.Throws<ParameterException>(() => new LineResistances(WordLine: 0, Driver: 5).Validate("xb"))!;
        Assert.That(ex.Parameter, Is.EqualTo("lines.word_line"));
        Assert.That(Assert.Throws<ParameterException>(() => new LineResistances(BitLine: -1).Validate("xb"))!.Parameter, Is.EqualTo("lines.bit_line"));
        Assert.That(Assert.Throws<ParameterException>(() => new LineResistances(Sense: double.NaN, BitLine: 1).Validate("xb"))!.Parameter, Is.EqualTo("lines.sense"));
    }
}
