using Ship.Core.Errors;

namespace Ship.Devices.Memristive;

/// <summary>
/// The conductance window [Gmin, Gmax] devices are programmed in. Physical presets use µS (the RRAM drift fit needs µS);
/// a weight-space study uses the weights' own units.
/// </summary>
public readonly record struct ConductanceRange
{
    /// <summary>Creates a range; <paramref name="owner"/> names the model in the error raised for a bad window.</summary>
    public ConductanceRange(double gmin, double gmax, string owner = nameof(ConductanceRange))
    {
        if (!double.IsFinite(gmin) || !double.IsFinite(gmax) || !(gmin < gmax))
            throw new ParameterException(owner, "Gmin/Gmax", $"needs finite Gmin < Gmax, got Gmin = {gmin}, Gmax = {gmax}.");
        Gmin = gmin;
        Gmax = gmax;
    }

    /// <summary>Lowest programmable conductance (also the reference device of a differential pair).</summary>
    public double Gmin { get; }
    /// <summary>Highest programmable conductance.</summary>
    public double Gmax { get; }
    /// <summary>Gmax − Gmin, the span a full-scale weight uses.</summary>
    public double Width => Gmax - Gmin;
}
