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

    public JsonObject WriteObject(object value, string prefix)
    {
        ArgumentNullException.ThrowIfNull(value);
        var codec = Registry.Find(value.GetType())
            ?? throw new CheckpointException(CheckpointProblem.UnknownModel,
                $"no codec is registered for {value.GetType().FullName} (at '{prefix}'): register it with ModelRegistry.Register<{value.GetType().Name}>(name, write, read).");
        if (!_writing.Add(value)) throw new CheckpointException(CheckpointProblem.NotSaveable, $"{value.GetType().Name} at '{prefix}' contains itself.");
        try
        {
            var node = new JsonObject { ["type"] = codec.Name };
            codec.Write(value, new CheckpointWriter(this, node, prefix));
            return node;
        }
        finally { _writing.Remove(value); }
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
    public Device Device { get; }
    public ScalarType DType { get; }
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

    public T ReadObject<T>(JsonObject node, string path) where T : class
    {
        var name = node["type"] is JsonValue v && v.TryGetValue(out string? s) ? s
            : throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: '{path}' has no \"type\".");
        var codec = Registry.Find(name)
            ?? throw new CheckpointException(CheckpointProblem.UnknownModel,
                $"{Source}: '{path}' is a '{name}', which the registry does not know (known: {string.Join(", ", Registry.Names.OrderBy(n => n, StringComparer.Ordinal))}); register the model's codec before loading.");
        object result;
        try { result = codec.Read(new CheckpointReader(this, node, path)); }
        catch (CheckpointException) { throw; }
        catch (Exception e) when (e is ShipException or ArgumentException or InvalidOperationException)
        {
            throw new CheckpointException(CheckpointProblem.Corrupted, $"{Source}: cannot build the {name} at '{path}': {e.Message}", e);
        }
        return result as T ?? throw new CheckpointException(CheckpointProblem.TopologyMismatch,
            $"{Source}: '{path}' is a {name} ({result.GetType().Name}), where a {typeof(T).Name} is expected.");
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
