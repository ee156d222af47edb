namespace Ship.Core.Parameters;

/// <summary>
/// The axes a parameter or state may vary along (SHIP's underscore notation, typed).
/// The declared extent fixes the full shape: [batch?] followed by [N] (Component) or [Ns, Nt] (Connection).
/// A value may have any shape that broadcasts to the full shape (torch rules, trailing axes aligned),
/// so a scalar, a per-component [N], a per-batch [B, 1], a per-source [Ns, 1] or a per-target [Nt] all fit where declared.
/// </summary>
[Flags]
public enum Extent
{
    /// <summary>One value for the whole group.</summary>
    Scalar = 0,
    /// <summary>May differ per batch row (leading axis of size batch).</summary>
    Batch = 1,
    /// <summary>May differ per component: per neuron, or per target for a synapse group.</summary>
    Component = 2,
    /// <summary>May differ per connection of a synapse group: an [Ns, Nt] matrix.</summary>
    Connection = 4,
}
