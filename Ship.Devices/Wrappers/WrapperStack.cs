using Ship.Core.Errors;
using Ship.Core.Groups;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Wrappers;

/// <summary>
/// What the wrappers of this library share when they look into the stack they wrap: the integration gate they act
/// through, the spikes the neuron emitted this step (ahead of any <see cref="Delay"/>), and checks that fail early
/// with the group's name instead of misbehaving silently.
/// </summary>
public static class WrapperStack
{
    /// <summary>The stack as "Outer → … → Core" (type names), so error messages show what was actually built.</summary>
    public static string Describe(Group group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var names = new List<string>();
        for (Group? g = group; g is not null; g = (g as GroupWrapper)?.Inner) names.Add(g.GetType().Name);
        return string.Join(" → ", names);
    }

    /// <summary>
    /// The integration gate below <paramref name="wrapper"/>; a wrapper that suspends integration cannot work without one,
    /// so its absence is a configuration error that names the group and the stack.
    /// </summary>
    public static IIntegrationGate RequireGate(GroupWrapper wrapper)
    {
        ArgumentNullException.ThrowIfNull(wrapper);
        return wrapper.Inner is GroupWrapper w ? w.Find<IIntegrationGate>() ?? Missing(wrapper)
            : wrapper.Inner as IIntegrationGate ?? Missing(wrapper);
    }

    private static IIntegrationGate Missing(GroupWrapper wrapper) => throw new NetworkConfigurationException(
        $"Group '{wrapper.DisplayName}': {wrapper.GetType().Name} suspends integration through the neuron's integration gate, " +
        $"but the stack {Describe(wrapper)} has no group implementing IIntegrationGate (a neuron model such as Lif does).");

    /// <summary>
    /// Rejects a wrapper whose variable names repeat one of the wrapped stack, since monitors and Set find variables by
    /// name and would silently reach only the outer one.
    /// </summary>
    public static void CheckNames(GroupWrapper wrapper)
    {
        ArgumentNullException.ThrowIfNull(wrapper);
        var inner = wrapper.Inner.AllVariables.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var v in wrapper.Parameters.Cast<Ship.Core.Parameters.Variable>().Concat(wrapper.States))
            if (inner.Contains(v.Name))
                throw new ParameterException(wrapper.DisplayName, v.Name,
                    $"the wrapped stack {Describe(wrapper.Inner)} already has a variable of this name; " +
                    $"stacking two {wrapper.GetType().Name} wrappers is not supported (combine them into one).");
    }

    /// <summary>
    /// The output the stack below computed in this step before any delay: a <see cref="Delay"/> in the stack hands over
    /// what its own inner group just emitted, otherwise it is <paramref name="returned"/>. Refractoriness and
    /// winner-take-all use it, so they react to the neuron's own spikes wherever a delay sits in the stack.
    /// </summary>
    public static Tensor Undelayed(Group inner, Tensor returned)
    {
        for (Group? g = inner; g is not null; g = (g as GroupWrapper)?.Inner)
            if (g is IUndelayedOutput u) return u.UndelayedOutput;
        return returned;
    }
}
