using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Ship.Core.Parameters;

namespace Ship.Core.Persistence;

/// <summary>
/// Maps model types to the stable names a checkpoint stores, found by discovery: every class marked
/// <see cref="ShipModelAttribute"/> in the Ship.NET assemblies (Ship.Core, Ship.Devices, Ship.Training, where present)
/// and in the assemblies the registry is given — by default the entry assembly, so a program or a file-based study
/// that declares its own models finds them without registering anything. Each registry scans when it is created;
/// nothing is cached process-wide. A model's settings are written and read with System.Text.Json
/// (<see cref="IShipModel{TSelf, TSettings}"/>).
/// </summary>
public sealed class ModelRegistry
{
    /// <summary>The Ship.NET libraries scanned by every registry when they can be loaded.</summary>
    public static IReadOnlyList<string> ShipAssemblies { get; } = ["Ship.Core", "Ship.Devices", "Ship.Training", "Ship.Datasets"];

    private readonly Dictionary<string, Codec> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<Type, Codec> _byType = new();
    private readonly List<(string Prefix, Func<string, Value?> Resolve)> _generators = new();

    /// <summary>
    /// Discovers the models of the Ship.NET assemblies and of <paramref name="assemblies"/> (none given: the entry
    /// assembly). A marked class that does not implement <see cref="IShipModel{TSelf, TSettings}"/>, or two classes
    /// with one name, raise a <see cref="CheckpointException"/> naming them.
    /// </summary>
    public ModelRegistry(params Assembly[] assemblies)
    {
        ArgumentNullException.ThrowIfNull(assemblies);
        var scan = new List<Assembly> { typeof(ModelRegistry).Assembly };
        foreach (var name in ShipAssemblies)
        {
            try { scan.Add(Assembly.Load(name)); }
            catch (FileNotFoundException) { } // a program that does not ship that library has none of its models
        }
        if (assemblies.Length == 0) { if (Assembly.GetEntryAssembly() is { } entry) scan.Add(entry); }
        else scan.AddRange(assemblies.Select(a => a ?? throw new ArgumentNullException(nameof(assemblies))));
        foreach (var a in scan.Distinct())
            foreach (var t in TypesOf(a))
                if (t.GetCustomAttribute<ShipModelAttribute>() is not null) Add(t);
        RegisterCoreGenerators();
    }

    /// <summary>The assemblies' types that could be loaded (a type whose dependency is missing cannot be a model used here).</summary>
    private static IEnumerable<Type> TypesOf(Assembly a)
    {
        try { return a.GetTypes(); }
        catch (ReflectionTypeLoadException e) { return e.Types.OfType<Type>(); }
    }

    /// <summary>Registered names, for messages and inspection.</summary>
    public IReadOnlyCollection<string> Names => _byName.Keys;

    /// <summary>The registered model types.</summary>
    public IReadOnlyCollection<Type> Types => _byType.Keys;

    /// <summary>
    /// Adds one model class (marked <see cref="ShipModelAttribute"/>, implementing <see cref="IShipModel{TSelf, TSettings}"/>)
    /// that lives outside the scanned assemblies; adding a class already known is a no-op.
    /// </summary>
    public ModelRegistry Add(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (_byType.ContainsKey(type)) return this;
        var name = type.GetCustomAttribute<ShipModelAttribute>()?.Name
            ?? throw new CheckpointException(CheckpointProblem.UnknownModel, $"{type.FullName} has no [ShipModel(\"name\")] attribute, so it has no stable checkpoint name.");
        var contract = type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IShipModel<,>) && i.GenericTypeArguments[0] == type)
            ?? throw new CheckpointException(CheckpointProblem.UnknownModel,
                $"{type.FullName} is marked [ShipModel(\"{name}\")] but does not implement IShipModel<{type.Name}, TSettings>: declare its settings record, GetSettings and FromSettings.");
        if (type.IsAbstract || type.IsGenericTypeDefinition)
            throw new CheckpointException(CheckpointProblem.UnknownModel, $"{type.FullName} is marked [ShipModel(\"{name}\")] but is abstract or generic: only concrete classes can be built.");
        if (_byName.TryGetValue(name, out var other))
            throw new CheckpointException(CheckpointProblem.UnknownModel, $"two models use the checkpoint name '{name}': {other.Type.FullName} and {type.FullName}; rename one.");
        var make = typeof(ModelRegistry).GetMethod(nameof(Make), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(type, contract.GenericTypeArguments[1]);
        var codec = (Codec)make.Invoke(null, [name])!;
        _byName[name] = codec;
        _byType[type] = codec;
        return this;
    }

    /// <summary>Adds every marked class of <paramref name="assembly"/>.</summary>
    public ModelRegistry AddAssembly(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        foreach (var t in TypesOf(assembly))
            if (t.GetCustomAttribute<ShipModelAttribute>() is not null) Add(t);
        return this;
    }

    private static Codec Make<T, TSettings>(string name) where T : class, IShipModel<T, TSettings> where TSettings : class =>
        new(name, typeof(T), typeof(TSettings), o => ((T)o).GetSettings(), s => T.FromSettings((TSettings)s));

    /// <summary>
    /// Teaches the registry to rebuild generated values (<see cref="Value.Generated"/>) whose description starts with
    /// <paramref name="prefix"/>: <paramref name="resolve"/> returns the value for a description, or null if it cannot.
    /// Without one, a loaded network keeps the saved tensors and a generator it cannot rebuild fails clearly when drawn.
    /// </summary>
    public ModelRegistry RegisterGenerator(string prefix, Func<string, Value?> resolve)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        ArgumentNullException.ThrowIfNull(resolve);
        _generators.Add((prefix, resolve));
        return this;
    }

    /// <summary>Whether objects of exactly this type can be saved.</summary>
    public bool Contains(Type type) => _byType.ContainsKey(type);

    /// <summary>Whether a model name can be loaded.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The stable name of a registered type, or null.</summary>
    public string? NameOf(Type type) => _byType.GetValueOrDefault(type)?.Name;

    /// <summary>The settings record of a registered model object (what a checkpoint writes for it).</summary>
    public object SettingsOf(object model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var codec = Find(model.GetType()) ?? throw new CheckpointException(CheckpointProblem.UnknownModel, $"{model.GetType().FullName} is not a registered model.");
        return codec.Settings(model);
    }

    internal Codec? Find(Type type) => _byType.GetValueOrDefault(type);

    internal Codec? Find(string name) => _byName.GetValueOrDefault(name);

    internal Value? ResolveGenerated(string description)
    {
        foreach (var (prefix, resolve) in _generators)
            if (description.StartsWith(prefix, StringComparison.Ordinal) && resolve(description) is { } v)
                return v;
        return null;
    }

    internal sealed record Codec(string Name, Type Type, Type SettingsType, Func<object, object> Settings, Func<object, object> Build);

    private static readonly Regex TwoArgs = new(@"^(uniform|normal)\((\S+), (\S+)\)$", RegexOptions.CultureInvariant);

    private void RegisterCoreGenerators()
    {
        Value? Parse(string d)
        {
            var m = TwoArgs.Match(d);
            if (!m.Success) return null;
            if (!double.TryParse(m.Groups[2].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var a)
                || !double.TryParse(m.Groups[3].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var b)) return null;
            return m.Groups[1].Value == "uniform" ? Init.Uniform(a, b) : Init.Normal(a, b);
        }
        RegisterGenerator("uniform(", Parse);
        RegisterGenerator("normal(", Parse);
    }
}
