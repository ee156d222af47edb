using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive.Crossbar;

/// <summary>How the column currents of a tile are computed.</summary>
public enum IrDropModel
{
    /// <summary>No line resistance: I_j = Σ_i G_ij·V_i.</summary>
    Ideal,
    /// <summary>Exact nodal solve of the resistive network, one system per sample and step (validation, small arrays, reference runs).</summary>
    Exact,
    /// <summary>The fast closed-form approximation (two matrix products per tile; differentiable, for training and sweeps).</summary>
    Approximate,
}

/// <summary>
/// Line resistances of a tile (data only), all in ohms. Word line i is driven at its column-0 end by a driver of output
/// resistance <paramref name="Driver"/>; each cell has one word-line segment <paramref name="WordLine"/> before it, so the
/// driver reaches cell (i, 0) through Driver + WordLine. Bit line j ends below the last row at the sense amplifier's
/// virtual ground through BitLine + <paramref name="Sense"/>; each cell has one bit-line segment below it. A line kind with
/// both its segment and end resistance at zero is ideal; a zero segment with a non-zero end resistance is rejected
/// (the line would collapse to one node, which the tile model does not represent).
/// </summary>
/// <param name="WordLine">Word-line resistance per cell segment (Ω, ≥ 0).</param>
/// <param name="BitLine">Bit-line resistance per cell segment (Ω, ≥ 0).</param>
/// <param name="Driver">Row driver output resistance (Ω, ≥ 0).</param>
/// <param name="Sense">Sense-amplifier input resistance (Ω, ≥ 0).</param>
public sealed record LineResistances(double WordLine = 0, double BitLine = 0, double Driver = 0, double Sense = 0)
{
    /// <summary>All resistances zero: the ideal Σ G·V.</summary>
    public bool IsIdeal => WordIdeal && BitIdeal;
    /// <summary>Word lines (and drivers) ideal.</summary>
    public bool WordIdeal => WordLine == 0 && Driver == 0;
    /// <summary>Bit lines (and sense inputs) ideal.</summary>
    public bool BitIdeal => BitLine == 0 && Sense == 0;

    /// <summary>Checks every field; throws a <see cref="ParameterException"/> naming <paramref name="owner"/> and the field.</summary>
    public void Validate(string owner)
    {
        foreach (var (name, r) in new[] { ("word_line", WordLine), ("bit_line", BitLine), ("driver", Driver), ("sense", Sense) })
            if (!double.IsFinite(r) || r < 0) throw new ParameterException(owner, $"lines.{name}", $"must be a finite resistance >= 0 Ω, got {r}.");
        if (WordLine == 0 && Driver > 0)
            throw new ParameterException(owner, "lines.word_line", $"is 0 Ω while the driver resistance is {Driver} Ω: give the word line a segment resistance > 0, or set both to 0 for an ideal word line.");
        if (BitLine == 0 && Sense > 0)
            throw new ParameterException(owner, "lines.bit_line", $"is 0 Ω while the sense resistance is {Sense} Ω: give the bit line a segment resistance > 0, or set both to 0 for an ideal bit line.");
    }
}

/// <summary>What one exact solve did: preconditioned conjugate-gradient iterations and the final relative residual ‖b − A·x‖/‖b‖.</summary>
public readonly record struct ExactSolveInfo(int Iterations, double RelativeResidual);

/// <summary>
/// Column currents of a tile with line resistance. Unknowns: the word-line node voltages a_ij and the bit-line node
/// voltages b_ij (both at cell (i, j)); Kirchhoff's current law at every node gives a symmetric positive-definite system
/// (a conductance Laplacian grounded through the drivers and the sense inputs), solved exactly by conjugate gradients
/// preconditioned with the exact solves of every line (tridiagonal, Thomas algorithm) to a relative residual ≤ the
/// tolerance; an ideal line kind removes its unknowns and the rest is solved directly. The column current is the
/// current into the sense input, I_j = b_(R−1)j / (BitLine + Sense). The approximation and its error are in
/// docs/models/crossbar.md.
/// </summary>
public static class IrDropFunctional
{
    /// <summary>Default relative residual of the exact solve (the issue asks ≤ 1e-10; tighter costs a few iterations).</summary>
    public const double DefaultTolerance = 1e-13;

    /// <summary>
    /// Exact column currents (A) of one tile: <paramref name="g"/> is row-major [rows·cols] conductances (S; a row whose
    /// access transistors are off has zeros), <paramref name="v"/> the [rows] driver voltages (V).
    /// </summary>
    public static double[] SolveExact(ReadOnlySpan<double> g, ReadOnlySpan<double> v, int rows, int cols, LineResistances lines,
        double tolerance, out ExactSolveInfo info)
    {
        ArgumentNullException.ThrowIfNull(lines);
        if (rows < 1 || cols < 1 || g.Length != rows * cols || v.Length != rows)
            throw new ArgumentException($"needs g of {rows}×{cols} and v of {rows}, got {g.Length} and {v.Length}.");
        if (!(tolerance > 0) || tolerance >= 1) throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "relative residual must lie in (0, 1).");
        lines.Validate(nameof(IrDropFunctional));
        var current = new double[cols];
        info = new ExactSolveInfo(0, 0);
        if (lines.IsIdeal)
        {
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) current[j] += g[i * cols + j] * v[i];
            return current;
        }
        var sys = new NodalSystem(g.ToArray(), rows, cols, lines);
        if (lines.WordIdeal)
        {
            // a = V known: each bit line is one tridiagonal system with right-hand side G_ij·V_i.
            var rhs = new double[rows * cols];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) rhs[i * cols + j] = g[i * cols + j] * v[i];
            var b = new double[rows * cols];
            sys.SolveBitLines(rhs, b);
            for (int j = 0; j < cols; j++) current[j] = sys.Gbe * b[(rows - 1) * cols + j];
            return current;
        }
        if (lines.BitIdeal)
        {
            // b = 0: each word line is one tridiagonal system; the cells sink G_ij·a_ij into the virtual grounds.
            var rhs = new double[rows * cols];
            for (int i = 0; i < rows; i++) rhs[i * cols] = sys.Gwe * v[i];
            var a = new double[rows * cols];
            sys.SolveWordLines(rhs, a);
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) current[j] += g[i * cols + j] * a[i * cols + j];
            return current;
        }
        var x = sys.SolveCoupled(v, tolerance, out info);
        for (int j = 0; j < cols; j++) current[j] = sys.Gbe * x[rows * cols + (rows - 1) * cols + j];
        return current;
    }

    /// <summary>
    /// Exact column currents [B, C] (A, float64) for conductances <paramref name="g"/> [R, C] (S) and driver voltages
    /// <paramref name="v"/> [B, R] (V), one solve per sample. When <paramref name="rowsSwitched"/> (1T1R), the cells of a
    /// row driven at 0 V are disconnected by their access transistors; otherwise (passive) that row is held at 0 V.
    /// </summary>
    public static Tensor Exact(Tensor g, Tensor v, LineResistances lines, bool rowsSwitched, double tolerance = DefaultTolerance)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(v);
        int rows = (int)g.Sizes()[0], cols = (int)g.Sizes()[1];
        var gh = g.detach().to(ScalarType.Float64, CPU).contiguous().data<double>().ToArray();
        var vh = v.detach().to(ScalarType.Float64, CPU).contiguous();
        long batch = vh.Sizes()[0];
        var vd = vh.data<double>().ToArray();
        var result = new double[batch * cols];
        var masked = new double[gh.Length];
        for (long s = 0; s < batch; s++)
        {
            var vs = new ReadOnlySpan<double>(vd, (int)(s * rows), rows);
            var gs = gh;
            if (rowsSwitched)
            {
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++) masked[i * cols + j] = vs[i] != 0 ? gh[i * cols + j] : 0;
                gs = masked;
            }
            SolveExact(gs, vs, rows, cols, lines, tolerance, out _).CopyTo(result, s * cols);
        }
        return torch.tensor(result, new[] { batch, (long)cols }, ScalarType.Float64).to(v.device);
    }

    /// <summary>
    /// Word-line factor α_ij: the voltage of word node (i, j) per volt of drive when every cell of the row sinks into an
    /// ideal bit line (b = 0): each row's tridiagonal system T·a = e_0/(Driver + WordLine) solved exactly by the Thomas
    /// algorithm, vectorized over rows and tiles (C sequential steps, once per programming). Any leading dimensions; the
    /// last two are [R, C]. Differentiable in G.
    /// </summary>
    public static Tensor WordFactor(Tensor g, LineResistances lines)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.WordIdeal) return torch.ones_like(g);
        using var scope = torch.NewDisposeScope();
        int cols = (int)g.Sizes()[^1];
        double gw = 1 / lines.WordLine, gwe = 1 / (lines.Driver + lines.WordLine);
        var cells = g.unbind(-1);
        var upper = new Tensor[cols];
        var y = new Tensor[cols];
        for (int j = 0; j < cols; j++)
        {
            double fixedDiagonal = (j == 0 ? gwe : gw) + (j < cols - 1 ? gw : 0);
            var m = j == 0 ? cells[j].add(fixedDiagonal) : cells[j].add(fixedDiagonal).add(upper[j - 1].mul(gw));
            upper[j] = m.reciprocal().mul(-gw);
            y[j] = j == 0 ? m.reciprocal().mul(gwe) : y[j - 1].mul(gw).div(m);
        }
        var a = new Tensor[cols];
        a[cols - 1] = y[cols - 1];
        for (int j = cols - 2; j >= 0; j--) a[j] = y[j].sub(upper[j].mul(a[j + 1]));
        return torch.stack(a, -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Bit-line profile ρ_i = BitLine·Σ_(k≥i) f_k (Ω), with f_k = Σ_(m≤k)|V_m| / Σ_m|V_m| the fraction of the column current
    /// injected at or above row k (currents taken proportional to the drive): the bit-line voltage at row i per ampere of
    /// column current, without the lumped sense resistance. <paramref name="v"/> has any leading dimensions and rows last.
    /// </summary>
    public static Tensor BitProfile(Tensor v, LineResistances lines)
    {
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.BitIdeal) return torch.zeros_like(v);
        using var scope = torch.NewDisposeScope();
        var a = v.detach().abs();
        var total = a.sum(-1, keepdim: true).clamp_min_(1e-30);
        var f = a.cumsum(-1).div_(total);
        return f.flip(-1).cumsum(-1).flip(-1).mul_(lines.BitLine).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// ψ_n(z): column current over its ideal value for a uniform bit line of n cells, each of conductance g feeding the line
    /// from the same voltage, segment resistance r, z = r·g, sense at virtual ground below the last cell. With
    /// 2(cosh θ − 1) = z, i.e. θ = 2·asinh(√z/2): ψ_n = 1 − cosh(θ(n − ½))/cosh(θ(n + ½)) over n·z, which is
    /// sinh(nθ)/(n·√z·cosh((n + ½)θ)) = e^(−θ/2)(1 − e^(−2nθ))/((1 + e^(−(2n+1)θ))·n·√z) — no cancellation near z = 0,
    /// no overflow for long lines (ψ_1 = 1/(1 + z); ψ_n ≈ 1 − z(n + 1)(2n + 1)/6). Differentiable.
    /// </summary>
    public static Tensor LineFactor(Tensor z, int n)
    {
        ArgumentNullException.ThrowIfNull(z);
        using var scope = torch.NewDisposeScope();
        Tensor psi;
        if (!z.requires_grad)
        {
            // Inference: in place (no autograd graph to keep), a handful of element-wise passes.
            var root = z.clamp_min(1e-30).sqrt_();
            var u = root.mul(0.5).asinh_();                                   // θ/2
            var h = u.neg().exp_();                                           // e^(−θ/2)
            var m = u.mul_(-4.0 * n).expm1_();                                // e^(−2nθ) − 1, exact near 0
            var denominator = m.add(1).mul_(h).mul_(h).add_(1);
            psi = m.neg_().mul_(h).div_(denominator).div_(root.mul_(n));
        }
        else
        {
            var root = z.clamp_min(1e-30).sqrt();
            var u = root.mul(0.5).asinh();
            var h = u.neg().exp();
            var m = u.mul(-4.0 * n).expm1();
            psi = m.neg().mul(h).div(m.add(1).mul(h).mul(h).add(1)).div(root.mul(n));
        }
        return psi.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The bit-line factor of the approximation as a function of the first-order loss D (the value of 1 − ψ to first
    /// order): ψ ≈ (1 + a·D)/(1 + (1 + a)·D) with a = (1 − 1/n²)/5. For n = 1 it is ψ_1 = 1/(1 + D) exactly; for long
    /// lines it is the [2/2] Padé approximant of the uniform line's tanh(κ)/κ (κ² = 3D), within 0.7 % of it up to
    /// κ² = 3 and 2 % up to κ² = 5. Three element-wise passes instead of the exact law's transcendental functions.
    /// </summary>
    public static Tensor PadeLineFactor(Tensor d, int n)
    {
        ArgumentNullException.ThrowIfNull(d);
        double a = (1 - 1.0 / ((double)n * n)) / 5;
        if (d.requires_grad) return d.mul(a).add(1).div(d.mul(1 + a).add(1));
        var numerator = d.mul(a).add_(1);
        return numerator.div_(d.mul(1 + a).add_(1));
    }

    /// <summary>
    /// Σ_r V[b, t, r]·G[t, c, r, k] for every tile: [B, Tr, R] × [Tr, Tc, R, C] → [B, Tr, Tc, C], as one batched matrix
    /// product over row tiles (the column tiles side by side).
    /// </summary>
    public static Tensor TileProduct(Tensor v, Tensor g)
    {
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(g);
        long b = v.Sizes()[0], tr = g.Sizes()[0], tc = g.Sizes()[1], r = g.Sizes()[2], c = g.Sizes()[3];
        if (tr == 1 && tc == 1) return v.squeeze(1).matmul(g[0, 0]).view(b, 1, 1, c);
        var flat = g.permute(0, 2, 1, 3).reshape(tr, r, tc * c);
        return v.transpose(0, 1).bmm(flat).view(tr, b, tc, c).transpose(0, 1);
    }

    /// <summary>
    /// Approximate column currents of tiles, [B, Tr, Tc, C] (A), from row voltages <paramref name="v"/> [B, Tr, R] (V) and
    /// word-corrected conductances <paramref name="gw"/> = G∘α [Tr, Tc, R, C] (S): I0 = V·G^w; the bit lines scale it by
    /// ψ = <see cref="PadeLineFactor"/>(D), D = (w∘ρ)·G^w the exact first-order relative loss of any activity pattern
    /// (ψ approximates the uniform line's law <see cref="LineFactor"/> resummed from D); the lumped sense resistance then acts in series
    /// with the column's conductance Y = ψ·(c·G^w): I = I0·ψ/(1 + Sense·Y). w = c = 1 on the rows connected to the bit lines
    /// (every row of a passive array, the driven rows of a 1T1R array). Two or three matrix products; differentiable.
    /// </summary>
    public static Tensor ApproximateTiles(Tensor v, Tensor gw, LineResistances lines, bool rowsSwitched)
    {
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(gw);
        ArgumentNullException.ThrowIfNull(lines);
        using var scope = torch.NewDisposeScope();
        var direct = TileProduct(v, gw);
        if (lines.BitIdeal) return direct.MoveToOuterDisposeScope();
        int n = (int)gw.Sizes()[2];
        var connected = rowsSwitched ? v.detach().ne(0).to_type(v.dtype) : torch.ones_like(v);
        Tensor psi;
        if (lines.BitLine > 0)
        {
            var d = TileProduct(rowsSwitched ? BitProfile(v, lines).mul_(connected) : BitProfile(v, lines), gw);
            psi = PadeLineFactor(d, n);
        }
        else psi = torch.ones_like(direct);
        var current = direct.mul(psi);   // not in place: ψ is needed again below and both may carry gradients
        if (lines.Sense > 0)
        {
            var y = rowsSwitched ? TileProduct(connected, gw) : gw.sum(2).unsqueeze(0);
            current = current.div(y.mul(psi).mul_(lines.Sense).add_(1));
        }
        return current.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Approximate column currents [B, C] (A) of one tile, conductances <paramref name="g"/> [R, C] (S), driver voltages
    /// <paramref name="v"/> [B, R] (V): <see cref="ApproximateTiles"/> with the exact word-line factor of <see cref="WordFactor"/>.
    /// </summary>
    public static Tensor Approximate(Tensor g, Tensor v, LineResistances lines, bool rowsSwitched)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(lines);
        using var scope = torch.NewDisposeScope();
        var gw = g.mul(WordFactor(g, lines)).unsqueeze(0).unsqueeze(0);
        return ApproximateTiles(v.unsqueeze(1), gw, lines, rowsSwitched).squeeze(2).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>Line network of one tile: conductances, the line-block preconditioner (Thomas factors), the coupled CG solve.</summary>
    private sealed class NodalSystem
    {
        private readonly double[] _g;
        private readonly int _rows, _cols, _n;
        private readonly double _gw, _gb;
        // Thomas factors of every word line (along j) and every bit line (along i): modified upper coefficient and 1/pivot.
        private readonly double[] _wc, _wp, _bc, _bp;

        public NodalSystem(double[] g, int rows, int cols, LineResistances lines)
        {
            _g = g;
            _rows = rows;
            _cols = cols;
            _n = rows * cols;
            _gw = lines.WordLine > 0 ? 1 / lines.WordLine : 0;
            _gb = lines.BitLine > 0 ? 1 / lines.BitLine : 0;
            Gwe = lines.WordIdeal ? 0 : 1 / (lines.Driver + lines.WordLine);
            Gbe = lines.BitIdeal ? 0 : 1 / (lines.BitLine + lines.Sense);
            _wc = new double[_n];
            _wp = new double[_n];
            _bc = new double[_n];
            _bp = new double[_n];
            if (!lines.WordIdeal)
                for (int i = 0; i < rows; i++)
                {
                    double prev = 0;
                    for (int j = 0; j < cols; j++)
                    {
                        int k = i * cols + j;
                        double m = WordDiagonal(i, j) + (j > 0 ? _gw * prev : 0);
                        _wp[k] = 1 / m;
                        _wc[k] = j < cols - 1 ? -_gw / m : 0;
                        prev = _wc[k];
                    }
                }
            if (!lines.BitIdeal)
                for (int j = 0; j < cols; j++)
                {
                    double prev = 0;
                    for (int i = 0; i < rows; i++)
                    {
                        int k = i * cols + j;
                        double m = BitDiagonal(i, j) + (i > 0 ? _gb * prev : 0);
                        _bp[k] = 1 / m;
                        _bc[k] = i < rows - 1 ? -_gb / m : 0;
                        prev = _bc[k];
                    }
                }
        }

        /// <summary>Conductance from the driver to the first word node, 1/(Driver + WordLine).</summary>
        public double Gwe { get; }
        /// <summary>Conductance from the last bit node to the sense input, 1/(BitLine + Sense).</summary>
        public double Gbe { get; }

        private double WordDiagonal(int i, int j) => (j == 0 ? Gwe : _gw) + (j < _cols - 1 ? _gw : 0) + _g[i * _cols + j];
        private double BitDiagonal(int i, int j) => (i > 0 ? _gb : 0) + (i < _rows - 1 ? _gb : Gbe) + _g[i * _cols + j];

        /// <summary>Solves every word line's tridiagonal system T_w·a = r (Thomas).</summary>
        public void SolveWordLines(double[] r, double[] a, int offset = 0)
        {
            for (int i = 0; i < _rows; i++)
            {
                int row = i * _cols;
                double prev = 0;
                for (int j = 0; j < _cols; j++)
                {
                    int k = row + j;
                    prev = (r[offset + k] + (j > 0 ? _gw * prev : 0)) * _wp[k];
                    a[offset + k] = prev;
                }
                for (int j = _cols - 2; j >= 0; j--) a[offset + row + j] -= _wc[row + j] * a[offset + row + j + 1];
            }
        }

        /// <summary>Solves every bit line's tridiagonal system T_b·b = r (Thomas).</summary>
        public void SolveBitLines(double[] r, double[] b, int offset = 0)
        {
            for (int j = 0; j < _cols; j++)
            {
                double prev = 0;
                for (int i = 0; i < _rows; i++)
                {
                    int k = i * _cols + j;
                    prev = (r[offset + k] + (i > 0 ? _gb * prev : 0)) * _bp[k];
                    b[offset + k] = prev;
                }
                for (int i = _rows - 2; i >= 0; i--) b[offset + i * _cols + j] -= _bc[i * _cols + j] * b[offset + (i + 1) * _cols + j];
            }
        }

        /// <summary>y = A·x for x = [a; b].</summary>
        private void Apply(double[] x, double[] y)
        {
            int n = _n, c = _cols;
            for (int i = 0; i < _rows; i++)
                for (int j = 0; j < c; j++)
                {
                    int k = i * c + j;
                    double g = _g[k], a = x[k], b = x[n + k];
                    double ya = (WordDiagonal(i, j)) * a - g * b;
                    if (j > 0) ya -= _gw * x[k - 1];
                    if (j < c - 1) ya -= _gw * x[k + 1];
                    double yb = BitDiagonal(i, j) * b - g * a;
                    if (i > 0) yb -= _gb * x[n + k - c];
                    if (i < _rows - 1) yb -= _gb * x[n + k + c];
                    y[k] = ya;
                    y[n + k] = yb;
                }
        }

        private void Precondition(double[] r, double[] z)
        {
            SolveWordLines(r, z);
            SolveBitLines(r, z, _n);
        }

        private static double Dot(double[] a, double[] b)
        {
            double s = 0;
            for (int k = 0; k < a.Length; k++) s += a[k] * b[k];
            return s;
        }

        /// <summary>Preconditioned conjugate gradients on the coupled word/bit system, restarted from the true residual until it meets the tolerance.</summary>
        public double[] SolveCoupled(ReadOnlySpan<double> v, double tolerance, out ExactSolveInfo info)
        {
            int m = 2 * _n;
            var rhs = new double[m];
            for (int i = 0; i < _rows; i++) rhs[i * _cols] = Gwe * v[i];
            var x = new double[m];
            double norm = Math.Sqrt(Dot(rhs, rhs));
            if (norm == 0)
            {
                info = new ExactSolveInfo(0, 0);
                return x;
            }
            var r = (double[])rhs.Clone();
            var z = new double[m];
            var p = new double[m];
            var q = new double[m];
            int iterations = 0, limit = 20 * (_rows + _cols) + 500;
            double relative = 1;
            for (int restart = 0; restart < 5; restart++)
            {
                Precondition(r, z);
                Array.Copy(z, p, m);
                double rz = Dot(r, z);
                while (iterations < limit)
                {
                    Apply(p, q);
                    double alpha = rz / Dot(p, q);
                    for (int k = 0; k < m; k++)
                    {
                        x[k] += alpha * p[k];
                        r[k] -= alpha * q[k];
                    }
                    iterations++;
                    if (Math.Sqrt(Dot(r, r)) <= tolerance * norm) break;
                    Precondition(r, z);
                    double rzNew = Dot(r, z);
                    double beta = rzNew / rz;
                    rz = rzNew;
                    for (int k = 0; k < m; k++) p[k] = z[k] + beta * p[k];
                }
                // The recursive residual drifts from the true one in floating point: check the true residual.
                Apply(x, q);
                for (int k = 0; k < m; k++) r[k] = rhs[k] - q[k];
                relative = Math.Sqrt(Dot(r, r)) / norm;
                if (relative <= tolerance) break;
                if (iterations >= limit) break;
            }
            if (!(relative <= tolerance))
                throw new ShipException($"IR-drop solve of a {_rows}×{_cols} tile did not reach the relative residual {tolerance:g3} (reached {relative:g3} after {iterations} iterations); loosen the tolerance or check the resistances.");
            info = new ExactSolveInfo(iterations, relative);
            return x;
        }
    }
}
