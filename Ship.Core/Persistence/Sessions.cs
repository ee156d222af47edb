using System.Text.Json;
using System.Text.Json.Nodes;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Persistence;

/// <summary>State of one save: the tensors gathered so far (in file order) and the objects being written (cycle check).</summary>
internal sealed class SaveSession
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly HashSet<object> _writing = new(ReferenceEqualityComparer.Instance);

    public SaveSession(ModelRegistry registry, Network network)
    {
        Registry = registry;
        Network = network;
    }

    public ModelRegistry Registry { get; }
    public Network Network { get; }
    public List<KeyValuePair<string, Tensor>> Tensors { get; } = new();

    public string AddTensor(string name, Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.IsInvalid) throw new CheckpointException(CheckpointProblem.NotSaveable, $"tensor '{name}' is disposed.");
        if (!_names.Add(name)) throw new CheckpointException(CheckpointProblem.NotSaveable, $"two tensors would be saved as '{name}' (a variable name repeated in a wrapper stack?).");
        if (t.dtype is ScalarType.ComplexFloat32 or ScalarType.ComplexFloat64)
            throw new CheckpointException(CheckpointProblem.NotSaveable, $"tensor '{name}' is complex ({t.dtype}), which safetensors cannot store.");
        Tensors.Add(new(name, t.detach()));
        return name;
    }

    private JsonSerializerOptions? _options;
    private readonly Stack<string> _paths = new();
    private int _nested;

    /// <summary>The JSON options of this save (nested models come back to <see cref="WriteObject"/>).</summary>
    public JsonSerializerOptions Options => _options ??= SettingsJson.Create(Registry, this, null);

    /// <summary>A path for a model nested in the settings being written (messages and tensor names only).</summary>
    public string NestedPath() => $"{(_paths.Count > 0 ? _paths.Peek() : "")}/{_nested++}";

    public JsonObject WriteObject(object value, string prefix)
    {
        ArgumentNullException.ThrowIfNull(value);
        var codec = Registry.Find(value.GetType())
            ?? throw new CheckpointException(CheckpointProblem.UnknownModel,
                $"{value.GetType().FullName} (at '{prefix}') is not a registered model: mark it [ShipModel(\"Name\")] and implement IShipModel<{value.GetType().Name}, TSettings>; " +
                "a model outside the entry assembly is found with new ModelRegistry(typeof(Model).Assembly).");
        if (!_writing.Add(value)) throw new CheckpointException(CheckpointProblem.NotSaveable, $"{value.GetType().Name} at '{prefix}' contains itself.");
        _paths.Push(prefix);
        try
        {
            JsonNode? settings;
            try { settings = JsonSerializer.SerializeToNode(codec.Settings(value), codec.SettingsType, Options); }
            catch (Exception e) when (e is NotSupportedException or JsonException or InvalidOperationException)
            {
                throw new CheckpointException(CheckpointProblem.NotSaveable, $"the settings of the {codec.Name} at '{prefix}' cannot be written as JSON: {e.Message}", e);
            }
            return new JsonObject { ["type"] = codec.Name, ["settings"] = settings };
        }
        finally
        {
            _paths.Pop();
            _writing.Remove(value);
        }
    }

    /// <summary>The tag of the network group whose wrapper stack contains <paramref name="group"/>.</summary>
    public string TagOf(Group group, string path)
    {
        ArgumentNullException.ThrowIfNull(group);
        foreach (var g in Network.Groups)
            for (Group? x = g; x is not null; x = (x as GroupWrapper)?.Inner)
                if (ReferenceEquals(x, group)) return g.Tag;
        throw new CheckpointException(CheckpointProblem.NotSaveable, $"{group.GetType().Name} '{group.DisplayName}' is referenced at '{path}' but is not part of network '{Network.Name}'.");
    }

    public JsonNode? WriteSpec(Value? value, string prefix) => value switch
    {
        null => null,
        ConstantValue c => new JsonObject { ["kind"] = "constant", ["value"] = Json.Number(c.Scalar) },
        TensorValue t => new JsonObject { ["kind"] = "tensor", ["tensor"] = AddTensor(prefix, t.Tensor) },
        GeneratedValue g => new JsonObject { ["kind"] = "generated", ["description"] = g.Description },
        _ => throw new CheckpointException(CheckpointProblem.NotSaveable, $"value kind {value.GetType().Name} at '{prefix}' cannot be saved."),
    };
}

/// <summary>State of one load: the tensors read, the registry, and the groups built so far (lazily, with a cycle check).</summary>
internal sealed class LoadSession
{
    private readonly SafeTensorsContent _content;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public LoadSession(ModelRegistry registry, SafeTensorsContent content, Device device, ScalarType dtype, string source)
    {
        Registry = registry;
        _content = content;
        Device = device;
        DType = dtype;
        Source = source;
    }

    public ModelRegistry Registry { get; }
    public Device Device { get; set; }
    public ScalarType DType { get; set; }
    public string Source { get; }
    public Network? Network { get; set; }
    public Func<string, string, Group>? ResolveGroup { get; set; }
    public IReadOnlyCollection<string> Used => _used;
    public IEnumerable<string> Available => _content.Names;

    /// <summary>A copy of a stored tensor on the target device (the stored CPU tensor is freed with the session).</summary>
    public Tensor Tensor(string name, string path)
    {
        if (!_content.Tensors.TryGetValue(name, out var t))
            throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{Source}: '{path}' refers to tensor '{name}', which the tensor file does not hold.");
        _used.Add(name);
        // Stored tensors are CPU; a copy either way, so the caller owns what it gets and the session can free its own.
        var copy = Device.type == DeviceType.CPU ? t.clone() : t.to(Device);
        return copy.DetachFromDisposeScope();
    }

    /// <summary>The stored tensor itself (CPU, not copied), for checks.</summary>
    public Tensor Peek(string name, string path)
    {
        if (!_content.Tensors.TryGetValue(name, out var t))
            throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{Source}: '{path}' refers to tensor '{name}', which the tensor file does not hold.");
        _used.Add(name);
        return t;
    }

    private JsonSerializerOptions? _options;
    private readonly Stack<string> _paths = new();
    private int _nested;

    /// <summary>The JSON options of this load (nested models come back to <see cref="ReadObject"/>).</summary>
    public JsonSerializerOptions Options => _options ??= SettingsJson.Create(Registry, null, this);

    /// <summary>A path for a model nested in the settings being read (messages only).</summary>
    public string NestedPath() => $"{(_paths.Count > 0 ? _paths.Peek() : "")}.{_nested++}";

    public T ReadObject<T>(JsonObject node, string path) where T : class => (T)ReadObject(node, typeof(T), path);

    public object ReadObject(JsonObject node, Type expected, string path)
    {
        var name = node["type"] is JsonValue v && v.TryGetValue(out string? s) ? s
            : throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: '{path}' has no \"type\".");
        var codec = Registry.Find(name)
            ?? throw new CheckpointException(CheckpointProblem.UnknownModel,
                $"{Source}: '{path}' is a '{name}', which the registry does not know (known: {string.Join(", ", Registry.Names.OrderBy(n => n, StringComparer.Ordinal))}); " +
                "a model outside the Ship.NET libraries and the entry assembly is found with new ModelRegistry(typeof(Model).Assembly).");
        if (!expected.IsAssignableFrom(codec.Type))
            throw new CheckpointException(CheckpointProblem.TopologyMismatch, $"{Source}: '{path}' is a {name} ({codec.Type.Name}), where a {expected.Name} is expected.");
        var extra = node.Select(kv => kv.Key).Where(k => k is not "type" and not "settings").ToList();
        if (extra.Count > 0) throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: '{path}' has unknown entries: {string.Join(", ", extra)}.");
        var settingsNode = node["settings"] as JsonObject
            ?? throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: '{path}.settings' is missing or not a JSON object.");
        _paths.Push(path);
        try
        {
            object settings;
            try
            {
                settings = settingsNode.Deserialize(codec.SettingsType, Options)
                    ?? throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: '{path}.settings' is null.");
            }
            catch (JsonException e)
            {
                throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: the settings of the {name} at '{path}' do not fit {codec.SettingsType.Name}: {e.Message}", e);
            }
            try { return codec.Build(settings); }
            catch (CheckpointException) { throw; }
            catch (Exception e) when (e is ShipException or ArgumentException or InvalidOperationException)
            {
                throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: cannot build the {name} at '{path}': {e.Message}", e);
            }
        }
        finally { _paths.Pop(); }
    }

    public Value? ReadSpec(JsonNode? node, string path)
    {
        if (node is null) return null;
        var o = node as JsonObject ?? throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: '{path}' is not a value specification.");
        var kind = o["kind"] is JsonValue kv && kv.TryGetValue(out string? k) ? k : "";
        switch (kind)
        {
            case "constant":
                return Json.TryDouble(o["value"], out var d) ? new ConstantValue(d)
                    : throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: '{path}.value' is not a number.");
            case "tensor":
                var name = o["tensor"] is JsonValue tv && tv.TryGetValue(out string? n) ? n
                    : throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: '{path}.tensor' is not a tensor name.");
                return new TensorValue(Tensor(name, path));
            case "generated":
                var description = o["description"] is JsonValue dv && dv.TryGetValue(out string? ds) ? ds
                    : throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: '{path}.description' is missing.");
                return Registry.ResolveGenerated(description) ?? Unresolved(description, path);
            default:
                throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: '{path}' has an unknown value kind '{kind}'.");
        }
    }

    /// <summary>A generator the registry cannot rebuild: the load succeeds (the saved tensors are used), a redraw fails clearly.</summary>
    private static Value Unresolved(string description, string path) => Value.Generated(
        c => throw new ShipException(
            $"Group '{c.Group}', variable '{c.Name}': its generator '{description}' was not rebuilt when the network was loaded ({path}); " +
            "register it with ModelRegistry.RegisterGenerator before loading, or Set a new value."),
        description);

    public Group GroupByTag(string tag, string path) =>
        ResolveGroup?.Invoke(tag, path)
        ?? throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: '{path}' refers to group '{tag}' outside of group construction.");
}
