namespace Ship.Core.Persistence;

/// <summary>
/// Marks a model class as saveable under a stable <see cref="Name"/> (the name a checkpoint stores, independent of the
/// class's namespace or later renames). A <see cref="ModelRegistry"/> discovers every class carrying it in the Ship.NET
/// assemblies and in the assemblies it is given; the class must also implement <see cref="IShipModel{TSelf, TSettings}"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class ShipModelAttribute : Attribute
{
    /// <summary>Marks the class as the model saved under <paramref name="name"/>.</summary>
    public ShipModelAttribute(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    /// <summary>The stable name written in checkpoints.</summary>
    public string Name { get; }
}

/// <summary>
/// A model whose construction settings are data: <see cref="GetSettings"/> returns a record that System.Text.Json writes,
/// and <see cref="FromSettings"/> builds an equal model from it. Settings hold only what the constructor needs (sizes,
/// options that are not parameters, nested models); parameters, states and run state are restored by the checkpoint
/// itself. Nested models in a settings record (a wrapped group, a mapping, a list of non-idealities) are written with
/// their own settings; a group that belongs to the network elsewhere is referenced by tag with
/// <see cref="GroupTagJsonConverter"/>.
/// </summary>
/// <typeparam name="TSelf">The model class itself.</typeparam>
/// <typeparam name="TSettings">Its settings record.</typeparam>
public interface IShipModel<TSelf, TSettings>
    where TSelf : class, IShipModel<TSelf, TSettings>
    where TSettings : class
{
    /// <summary>The settings this model was constructed with (enough for <see cref="FromSettings"/> to build an equal one).</summary>
    TSettings GetSettings();

    /// <summary>Builds a model from its settings; invalid settings raise the model's own validation errors.</summary>
    static abstract TSelf FromSettings(TSettings settings);
}

/// <summary>An empty settings record, for models whose constructor takes nothing (a shared instance, a parameter-free synapse).</summary>
public sealed record NoSettings
{
    /// <summary>The one value.</summary>
    public static NoSettings Instance { get; } = new();
}
