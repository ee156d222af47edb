using Ship.Core.Errors;

namespace Ship.Devices.Memristive;

/// <summary>
/// The conductance window [Gmin, Gmax] devices are programmed in, in siemens (S) for physical devices (e.g. SHIP's
/// RRAM window is [50e-6, 120e-6] S); a weight-space study (<see cref="DirectMapping"/>) uses the weights' own units.
/// </summary>
public readonly record struct ConductanceRange
{
    /// <summary>Creates a range from Gmin and Gmax (S); <paramref name="owner"/> names the model in the error raised for a bad window.</summary>
    public ConductanceRange(double gmin, double gmax, string owner = nameof(ConductanceRange))
    {
        if (!double.IsFinite(gmin) || !double.IsFinite(gmax) || !(gmin < gmax))
            throw new ParameterException(owner, "Gmin/Gmax", $"needs finite Gmin < Gmax, got Gmin = {gmin}, Gmax = {gmax}.");
        Gmin = gmin;
        Gmax = gmax;
    }

    /// <summary>Lowest programmable conductance (S; also the reference device of a differential pair).</summary>
    public double Gmin { get; }
    /// <summary>Highest programmable conductance (S).</summary>
    public double Gmax { get; }
    /// <summary>Gmax − Gmin (S), the span a full-scale weight uses.</summary>
    public double Width => Gmax - Gmin;
}
