using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;
using Ship.Core.Errors;

namespace Ship.Characterization.Fitting;

/// <summary>
/// Result of one nonlinear least-squares fit in the fitter's internal parameters θ: the estimate, its covariance
/// s²·(JᵀJ)⁻¹ (s² = RSS/(n − k), J the model's Jacobian at the optimum), and goodness of fit.
/// </summary>
public sealed class LeastSquaresResult
{
    internal LeastSquaresResult(double[] theta, double[,] covariance, double rss, int n, double[] fitted, double[] observed, string exit)
    {
        Theta = theta;
        Covariance = covariance;
        Rss = rss;
        Count = n;
        Fitted = fitted;
        Observed = observed;
        Exit = exit;
    }

    /// <summary>Estimated internal parameters.</summary>
    public double[] Theta { get; }
    /// <summary>Covariance of <see cref="Theta"/>.</summary>
    public double[,] Covariance { get; }
    /// <summary>Residual sum of squares.</summary>
    public double Rss { get; }
    /// <summary>Number of observations.</summary>
    public int Count { get; }
    /// <summary>Degrees of freedom n − k.</summary>
    public int DegreesOfFreedom => Count - Theta.Length;
    /// <summary>Root-mean-square residual √(RSS/n).</summary>
    public double Rmse => Math.Sqrt(Rss / Count);
    /// <summary>Residual standard deviation s = √(RSS/(n − k)).</summary>
    public double ResidualSigma => Math.Sqrt(Rss / Math.Max(1, DegreesOfFreedom));
    /// <summary>Coefficient of determination 1 − RSS/TSS.</summary>
    public double RSquared
    {
        get
        {
            double m = Observed.Average(), tss = Observed.Sum(v => (v - m) * (v - m));
            return tss > 0 ? 1 - Rss / tss : 1;
        }
    }
    /// <summary>Model values at the optimum.</summary>
    public double[] Fitted { get; }
    /// <summary>The observations.</summary>
    public double[] Observed { get; }
    /// <summary>Why the optimizer stopped.</summary>
    public string Exit { get; }

    /// <summary>Standard error of θ_i.</summary>
    public double StandardError(int i) => Math.Sqrt(Math.Max(0, Covariance[i, i]));

    /// <summary>Two-sided confidence interval of θ_i at <paramref name="level"/> (Student t with n − k degrees of freedom).</summary>
    public (double Lower, double Upper) Interval(int i, double level = 0.95)
    {
        double t = StudentT.InvCDF(0, 1, Math.Max(1, DegreesOfFreedom), 0.5 + level / 2);
        double h = t * StandardError(i);
        return (Theta[i] - h, Theta[i] + h);
    }
}

/// <summary>Nonlinear least squares with MathNet's Levenberg–Marquardt minimizer, plus the covariance of the estimate.</summary>
public static class LeastSquares
{
    /// <summary>
    /// Fits <paramref name="model"/>(θ) (all n predictions at once) to <paramref name="observed"/> from <paramref name="start"/>.
    /// Throws <see cref="FitException"/> when the model gives non-finite values at the start or the fit does not converge to finite numbers.
    /// </summary>
    public static LeastSquaresResult Fit(string what, Func<double[], double[]> model, double[] observed, double[] start, int maxIterations = 2000)
    {
        ArgumentNullException.ThrowIfNull(model);
        int n = observed.Length, k = start.Length;
        if (n <= k) throw new FitException(what, $"needs more observations than parameters: {n} observations for {k} parameters");
        var first = model(start);
        if (first.Length != n || first.Any(v => !double.IsFinite(v)))
            throw new FitException(what, "the model gives non-finite values at the starting point");
        var x = Vector<double>.Build.Dense(n, i => i);
        var y = Vector<double>.Build.DenseOfArray(observed);
        var objective = ObjectiveFunction.NonlinearModel(
            (p, _) => Vector<double>.Build.DenseOfArray(Safe(model(p.ToArray()), first)), x, y, accuracyOrder: 2);
        var minimizer = new LevenbergMarquardtMinimizer(maximumIterations: maxIterations);
        NonlinearMinimizationResult r;
        try { r = minimizer.FindMinimum(objective, Vector<double>.Build.DenseOfArray(start)); }
        catch (Exception e) when (e is not ShipException)
        {
            throw new FitException(what, $"the optimizer failed ({e.GetType().Name}: {e.Message})");
        }
        var theta = r.MinimizingPoint.ToArray();
        var fitted = model(theta);
        if (theta.Any(v => !double.IsFinite(v)) || fitted.Any(v => !double.IsFinite(v)))
            throw new FitException(what, "the fit ended at non-finite parameters");
        double rss = 0;
        for (int i = 0; i < n; i++) rss += (observed[i] - fitted[i]) * (observed[i] - fitted[i]);
        var cov = Covariance(model, theta, fitted, rss / Math.Max(1, n - k));
        return new LeastSquaresResult(theta, cov, rss, n, fitted, observed, r.ReasonForExit.ToString());
    }

    // Keeps the optimizer away from regions where the model is undefined without hiding it: a non-finite prediction
    // becomes a large residual.
    private static double[] Safe(double[] v, double[] reference)
    {
        for (int i = 0; i < v.Length; i++)
            if (!double.IsFinite(v[i])) v[i] = reference[i] + 1e6;
        return v;
    }

    private static double[,] Covariance(Func<double[], double[]> model, double[] theta, double[] fitted, double s2)
    {
        int k = theta.Length, n = fitted.Length;
        var j = Matrix<double>.Build.Dense(n, k);
        for (int c = 0; c < k; c++)
        {
            double h = 1e-6 * Math.Max(Math.Abs(theta[c]), 1e-3);
            var tp = (double[])theta.Clone();
            var tm = (double[])theta.Clone();
            tp[c] += h;
            tm[c] -= h;
            var fp = model(tp);
            var fm = model(tm);
            for (int i = 0; i < n; i++) j[i, c] = (fp[i] - fm[i]) / (2 * h);
        }
        var jtj = j.TransposeThisAndMultiply(j);
        var inv = jtj.PseudoInverse() * s2;
        return inv.ToArray();
    }
}

/// <summary>A fit could not be made (too little data, a model undefined on the data, no convergence).</summary>
public sealed class FitException : ShipException
{
    /// <summary>Creates the exception naming what was being fitted and why it failed.</summary>
    public FitException(string what, string problem) : base($"Fit of {what}: {problem}.") => What = what;

    /// <summary>What was being fitted (model and device).</summary>
    public string What { get; }
}
