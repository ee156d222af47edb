using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Geometry;

/// <summary>
/// Where the N neurons of a layer sit: positions [N, D] in float64 (any length unit, e.g. grid spacings) and, per
/// axis, the period of a periodic boundary (a torus) or +∞ for an open axis. Neuron i of the group is row i, so a
/// layout lines up with the component index of the group it describes. Built by the static factories below.
/// </summary>
public sealed class Layout
{
    /// <summary>Wraps positions [N, D] and per-axis periods (null: no axis is periodic).</summary>
    public Layout(Tensor positions, double[]? period = null)
    {
        ArgumentNullException.ThrowIfNull(positions);
        if (positions.IsInvalid || positions.dim() != 2 || positions.Sizes()[0] < 1 || positions.Sizes()[1] < 1)
            throw new ParameterException(nameof(Layout), "positions", $"expected a [N, D] tensor with N, D >= 1, got {(positions.IsInvalid ? "a disposed tensor" : Ship.Core.Parameters.Shapes.Format(positions.Sizes()))}.");
        int dims = (int)positions.Sizes()[1];
        var p = period ?? Enumerable.Repeat(double.PositiveInfinity, dims).ToArray();
        if (p.Length != dims)
            throw new ParameterException(nameof(Layout), "period", $"needs one period per axis ({dims}), got {p.Length}.");
        if (p.Any(x => !(x > 0)))
            throw new ParameterException(nameof(Layout), "period", $"periods must be > 0 (+∞ for an open axis), got [{string.Join(", ", p)}].");
        // A private copy: later changes to the caller's tensor cannot move the layout.
        Positions = positions.detach().to_type(ScalarType.Float64).clone().DetachFromDisposeScope();
        Period = p;
    }

    /// <summary>Positions [N, D] in float64.</summary>
    public Tensor Positions { get; }
    /// <summary>Per-axis period of the boundary; +∞ where the axis is open.</summary>
    public IReadOnlyList<double> Period { get; }
    /// <summary>Number of positions N.</summary>
    public int Count => (int)Positions.Sizes()[0];
    /// <summary>Number of axes D.</summary>
    public int Dimensions => (int)Positions.Sizes()[1];
    /// <summary>Whether any axis wraps around.</summary>
    public bool IsPeriodic => Period.Any(double.IsFinite);

    /// <summary>
    /// A regular grid with <paramref name="sizes"/>[k] points along axis k at the given spacing, in row-major order:
    /// the first axis varies slowest (point i of a 3-D grid (nx, ny, nz) is at (i / (ny·nz), (i / nz) mod ny, i mod nz)·spacing,
    /// the layout of SHIP's reservoir scripts).
    /// </summary>
    public static Layout Grid(double spacing, params int[] sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Length == 0 || sizes.Any(s => s < 1))
            throw new ParameterException(nameof(Layout), "sizes", $"a grid needs at least one axis and >= 1 point per axis, got [{string.Join(", ", sizes)}].");
        CheckSpacing(spacing);
        using var scope = torch.NewDisposeScope();
        return new Layout(GridPositions(spacing, sizes));
    }

    /// <summary>A side × side square grid (row-major: point i is at (i / side, i mod side)·spacing).</summary>
    public static Layout SquareGrid(int side, double spacing = 1) => Grid(spacing, side, side);

    /// <summary>An nx × ny × nz grid, as used for 3-D reservoirs (row-major, x slowest).</summary>
    public static Layout Grid3D(int nx, int ny, int nz, double spacing = 1) => Grid(spacing, nx, ny, nz);

    /// <summary>
    /// A rows × cols grid on a torus: the same positions as a 2-D grid, with periods rows·spacing and cols·spacing so
    /// that the last row (column) neighbours the first one.
    /// </summary>
    public static Layout Torus(int rows, int cols, double spacing = 1)
    {
        if (rows < 1 || cols < 1) throw new ParameterException(nameof(Layout), "sizes", $"a torus needs rows, cols >= 1, got {rows} × {cols}.");
        CheckSpacing(spacing);
        using var scope = torch.NewDisposeScope();
        return new Layout(GridPositions(spacing, new[] { rows, cols }), new[] { rows * spacing, cols * spacing });
    }

    /// <summary>N points evenly spaced on a circle of the given radius centred at the origin; point i at angle 2π·i/N.</summary>
    public static Layout Circle(int n, double radius = 1)
    {
        if (n < 1) throw new ParameterException(nameof(Layout), "n", $"a circle needs at least one point, got {n}.");
        if (!(radius > 0) || double.IsInfinity(radius)) throw new ParameterException(nameof(Layout), "radius", $"must be a finite value > 0, got {radius}.");
        using var scope = torch.NewDisposeScope();
        var angle = torch.arange(n, dtype: ScalarType.Float64).mul_(2 * Math.PI / n);
        var xy = torch.stack(new[] { angle.cos().mul_(radius), angle.sin().mul_(radius) }, 1);
        return new Layout(xy);
    }

    private static void CheckSpacing(double spacing)
    {
        if (!(spacing > 0) || double.IsInfinity(spacing)) throw new ParameterException(nameof(Layout), "spacing", $"must be a finite value > 0, got {spacing}.");
    }

    private static Tensor GridPositions(double spacing, int[] sizes)
    {
        var axes = sizes.Select(s => torch.arange(s, dtype: ScalarType.Float64).mul_(spacing)).ToArray();
        var mesh = torch.meshgrid(axes, indexing: "ij");
        var pos = torch.stack(mesh.Select(m => m.reshape(-1)).ToArray(), 1);
        return pos;
    }
}
