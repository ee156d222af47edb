using Ship.Core.Groups;
using Ship.Devices.Neurons;

namespace Ship.Devices.Energy;

/// <summary>
/// NeuroBench's neuron operations (neurobench/metrics/workload/neuron_operations.py): every membrane update of a neuron
/// costs a fixed number of operations by neuron type and reset mechanism — snnTorch Leaky 4 (subtract or zero reset),
/// Synaptic 6 (subtract) or 8 (zero), Lapicque 11, Alpha 18 (subtract) or 24 (zero). Ship.NET's models map onto these
/// types where they compute the same update; a model with no NeuroBench counterpart has no figure (null: not counted).
/// </summary>
public static class NeuronOperations
{
    /// <summary>NeuroBench's Leaky neuron (β-decay, threshold, reset): 4 operations per update, either reset.</summary>
    public const int Leaky = 4;
    /// <summary>NeuroBench's Synaptic neuron (a current stage before the membrane) with reset to zero: 8 operations per update.</summary>
    public const int SynapticZeroReset = 8;

    /// <summary>
    /// Operations per membrane update of <paramref name="group"/>: <see cref="Leaky"/> for <see cref="Lif"/>,
    /// <see cref="LifRest"/>, <see cref="LifRestReset"/> and <see cref="LeakyIntegrator"/> (one decaying membrane, a
    /// threshold and a reset, or none); for <see cref="CubaLif"/> <see cref="SynapticZeroReset"/> with its current stage
    /// (it sets v to v_reset: NeuroBench's zero reset) and <see cref="Leaky"/> without; null for every other model.
    /// </summary>
    public static int? NeuroBench(Group group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var core = group is GroupWrapper w ? w.Core : group;
        return core switch
        {
            Lif or LifRest or LifRestReset or LeakyIntegrator => Leaky,
            CubaLif c => c.HasSynapse ? SynapticZeroReset : Leaky,
            _ => null,
        };
    }

    /// <summary>The membrane state of a neuron group: its state "v" if it has one (CubaLif, Izhikevich), else "u" (the LIF family), else null.</summary>
    public static string? MembraneOf(Group group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var names = group.States.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        return names.Contains("v") ? "v" : names.Contains("u") ? "u" : null;
    }
}
