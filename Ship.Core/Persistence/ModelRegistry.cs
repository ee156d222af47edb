using System.Globalization;
using System.Text.RegularExpressions;
using Ship.Core.Parameters;
using Ship.Core.Spikes;

namespace Ship.Core.Persistence;

/// <summary>
/// Maps model types to the stable names a checkpoint stores, with how to write an object's construction settings and
/// how to build it back. One registry per serializer (no global table): built-in models are registered by the
/// library that defines them (Ship.Core: spike functions and surrogates; Ship.Devices: every model, see
/// <c>Ship.Devices.Persistence.DeviceModels</c>), a custom model by its author:
/// <code>registry.Register&lt;MyNeuron&gt;("MyNeuron", (g, w) =&gt; w.Set("n", g.ComponentCount), r =&gt; new MyNeuron(r.GetInt("n")));</code>
/// Parameters, states and run state are saved by the serializer itself; a codec only writes what the constructor needs.
/// </summary>
public sealed class ModelRegistry
{
    private readonly Dictionary<string, Codec> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<Type, Codec> _byType = new();
    private readonly List<(string Prefix, Func<string, Value?> Resolve)> _generators = new();

    /// <summary>Creates a registry; with <paramref name="includeCoreModels"/> it knows Ship.Core's spike functions, surrogates and Init generators.</summary>
    public ModelRegistry(bool includeCoreModels = true)
    {
        if (includeCoreModels) RegisterCore();
    }

    /// <summary>Registered names, for messages and inspection.</summary>
    public IReadOnlyCollection<string> Names => _byName.Keys;

    /// <summary>
    /// Registers the exact type <typeparamref name="T"/> under <paramref name="name"/>: <paramref name="write"/> stores what
    /// its constructor needs, <paramref name="read"/> builds a new instance from it. Names and types are unique.
    /// </summary>
    public ModelRegistry Register<T>(string name, Action<T, CheckpointWriter> write, Func<CheckpointReader, T> read) where T : class
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(write);
        ArgumentNullException.ThrowIfNull(read);
        if (_byName.ContainsKey(name)) throw new ArgumentException($"the model name '{name}' is already registered (for {_byName[name].Type.Name}).", nameof(name));
        if (_byType.ContainsKey(typeof(T))) throw new ArgumentException($"{typeof(T).Name} is already registered as '{_byType[typeof(T)].Name}'.", nameof(T));
        var codec = new Codec(name, typeof(T), (o, w) => write((T)o, w), r => read(r));
        _byName[name] = codec;
        _byType[typeof(T)] = codec;
        return this;
    }

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

    internal Codec? Find(Type type) => _byType.GetValueOrDefault(type);

    internal Codec? Find(string name) => _byName.GetValueOrDefault(name);

    internal Value? ResolveGenerated(string description)
    {
        foreach (var (prefix, resolve) in _generators)
            if (description.StartsWith(prefix, StringComparison.Ordinal) && resolve(description) is { } v)
                return v;
        return null;
    }

    internal sealed record Codec(string Name, Type Type, Action<object, CheckpointWriter> Write, Func<CheckpointReader, object> Read);

    private static readonly Regex TwoArgs = new(@"^(uniform|normal)\((\S+), (\S+)\)$", RegexOptions.CultureInvariant);

    private void RegisterCore()
    {
        Register<HeavisideSpikes>("HeavisideSpikes", (_, _) => { }, _ => HeavisideSpikes.Instance);
        Register<SurrogateSpikes>("SurrogateSpikes", (s, w) => w.SetObject("surrogate", s.Surrogate), r => new SurrogateSpikes(r.GetObject<ISurrogate>("surrogate")));
        Register<FastSigmoid>("FastSigmoid", (s, w) => w.Set("slope", s.Slope), r => new FastSigmoid(r.GetDouble("slope")));
        Register<ArcTan>("ArcTan", (s, w) => w.Set("alpha", s.Alpha), r => new ArcTan(r.GetDouble("alpha")));
        Register<Triangle>("Triangle", (s, w) => w.Set("width", s.Width), r => new Triangle(r.GetDouble("width")));
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
