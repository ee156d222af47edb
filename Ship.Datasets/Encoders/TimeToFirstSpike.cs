using TorchSharp;
using static TorchSharp.torch;
using static Ship.Datasets.Encoders.EncoderChecks;

namespace Ship.Datasets.Encoders;

/// <summary>What a latency encoder does with a spike whose time falls after the encoding window.</summary>
public enum LateSpikes
{
    /// <summary>No spike: the input is too weak to be seen within the window (SHIP's TTFSencoder does this).</summary>
    Drop,
    /// <summary>The spike moves to the last step of the window, so every non-zero input spikes exactly once.</summary>
    LastStep,
}

/// <summary>
/// Time-to-first-spike (latency) coding: each channel fires at most once, stronger inputs earlier, zero input never.
/// A spike at latency t (seconds) goes to step k = ⌊t/dt⌋ (a 1e-9 tolerance absorbs round-off at exact multiples);
/// step k spans [k·dt, (k+1)·dt). The window W (default steps·dt, at most steps·dt) holds the steps
/// k &lt; K = ⌈W/dt⌉. Inputs are [batch, N] (or [N] for one sample, or [batch, ...] flattened to [batch, N]);
/// outputs are 0/1 rasters [batch, steps, N].
/// </summary>
public static class TimeToFirstSpike
{
    /// <summary>The threshold SHIP's <c>logI</c> docstring states (0.2); its code uses 0, Ship.NET's default.</summary>
    public const double ShipDocumentedThreshold = 0.2;

    private const double Tolerance = 1e-9;

    /// <summary>
    /// Linear latency t = (1 − x/x_max)·W: x = x_max fires in step 0, x → 0⁺ fires in the last step of the window,
    /// x = 0 does not fire. x must lie in [0, x_max].
    /// </summary>
    /// <param name="x">Intensities, [batch, N].</param>
    /// <param name="steps">Number of time steps of the output.</param>
    /// <param name="dt">Time step in seconds.</param>
    /// <param name="xMax">Intensity that fires at t = 0 (e.g. 1 for normalized data, 16 for the digits, 255 for MNIST).</param>
    /// <param name="window">Latest latency W in seconds; default steps·dt.</param>
    /// <param name="dtype">Floating dtype of the raster.</param>
    public static Tensor Linear(Tensor x, int steps, double dt, double xMax = 1, double? window = null, ScalarType dtype = ScalarType.Float32)
    {
        const string name = nameof(TimeToFirstSpike) + "." + nameof(Linear);
        var w = CheckWindow(name, steps, dt, window);
        Positive(name, "xMax", xMax, "");
        using var scope = torch.NewDisposeScope();
        var xf = Intensities(name, x, 0, xMax, $" (0 to xMax = {xMax})");
        var t = xf.div(xMax).neg_().add_(1).mul_(w);
        // The linear code never needs Drop: every x > 0 has t < W, so clamping only absorbs round-off.
        return Raster(t, xf.gt(0), steps, dt, w, LateSpikes.LastStep, dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Logarithmic latency t = τ·ln(x_max/x): x = x_max fires at t = 0 and each factor e less intensity adds τ, so a
    /// wide range of intensities maps to a few time constants. x = 0 does not fire; latencies beyond the window
    /// (x &lt; x_max·e^(−W/τ)) are dropped or put on the last step as <paramref name="late"/> says.
    /// </summary>
    /// <param name="x">Intensities, [batch, N].</param>
    /// <param name="steps">Number of time steps of the output.</param>
    /// <param name="dt">Time step in seconds.</param>
    /// <param name="tau">Latency added per factor e of intensity, in seconds.</param>
    /// <param name="xMax">Intensity that fires at t = 0.</param>
    /// <param name="window">Latest latency W in seconds; default steps·dt.</param>
    /// <param name="late">What happens to latencies ≥ W.</param>
    /// <param name="dtype">Floating dtype of the raster.</param>
    /// <param name="threshold">
    /// Intensities at or below it never fire. 0 by default, as the signature of SHIP's <c>logI</c> (its docstring says
    /// 0.2; pass <see cref="ShipDocumentedThreshold"/> for that).
    /// </param>
    public static Tensor Logarithmic(Tensor x, int steps, double dt, double tau, double xMax = 1, double? window = null,
        LateSpikes late = LateSpikes.Drop, ScalarType dtype = ScalarType.Float32, double threshold = 0)
    {
        const string name = nameof(TimeToFirstSpike) + "." + nameof(Logarithmic);
        var w = CheckWindow(name, steps, dt, window);
        Positive(name, "xMax", xMax, "");
        Positive(name, "tau", tau, " s");
        using var scope = torch.NewDisposeScope();
        var xf = Intensities(name, x, 0, xMax, $" (0 to xMax = {xMax})");
        if (!double.IsFinite(threshold) || threshold < 0 || threshold >= xMax)
            throw new Ship.Core.Errors.ParameterException(name, "threshold", $"must be a finite intensity in [0, xMax = {xMax}), got {threshold}.");
        var fires = xf.gt(threshold);
        var safe = torch.where(fires, xf, torch.ones_like(xf));
        var t = safe.reciprocal().mul_(xMax).log_().mul_(tau);
        return Raster(t, fires, steps, dt, w, late, dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The step index ⌊t/dt⌋ used for a latency t, exposed so that callers and tests can map times to steps the same way.</summary>
    public static long StepOf(double t, double dt) => (long)Math.Floor(t / dt + Tolerance);

    /// <summary>Number of steps K = ⌈W/dt⌉ in a window of W seconds.</summary>
    public static long WindowSteps(double window, double dt) => (long)Math.Ceiling(window / dt - Tolerance);

    private static double CheckWindow(string name, int steps, double dt, double? window)
    {
        Steps(name, steps);
        Positive(name, "dt", dt, " s");
        double w = window ?? steps * dt;
        Positive(name, "window", w, " s");
        if (WindowSteps(w, dt) > steps)
            throw new Ship.Core.Errors.ParameterException(name, "window",
                $"the window of {w} s needs {WindowSteps(w, dt)} steps of {dt} s, more than the {steps} steps of the output.");
        return w;
    }

    private static Tensor Raster(Tensor t, Tensor fires, int steps, double dt, double window, LateSpikes late, ScalarType dtype)
    {
        long k = WindowSteps(window, dt);
        var step = t.div(dt).add_(Tolerance).floor_();
        var inWindow = step.lt(k);
        var valid = late == LateSpikes.Drop ? fires.logical_and(inWindow) : fires;
        var index = torch.where(valid, step.clamp_max(k - 1), torch.zeros_like(step)).to_type(ScalarType.Int64);
        var b = t.Sizes()[0];
        var n = t.Sizes()[1];
        var raster = torch.zeros(new long[] { b, steps, n }, dtype, t.device);
        raster.scatter_(1, index.unsqueeze(1), valid.unsqueeze(1).to_type(dtype));
        return raster;
    }
}
