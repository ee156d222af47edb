using System.Text.Json.Nodes;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Persistence;

/// <summary>
/// What an <see cref="ICheckpointState"/> reads back: the counterpart of <see cref="CheckpointWriter"/>.
/// A missing or mistyped entry raises a <see cref="CheckpointException"/> naming the path in the checkpoint, so a
/// damaged file is reported instead of building a wrong model. Tensors come on the network's device and belong to
/// the caller.
/// </summary>
public sealed class CheckpointReader
{
    private readonly LoadSession _session;
    private readonly JsonObject _node;
    private readonly string _path;

    internal CheckpointReader(LoadSession session, JsonObject node, string path)
    {
        _session = session;
        _node = node;
        _path = path;
    }

    /// <summary>Device of the network being loaded (tensors are created there).</summary>
    public Device Device => _session.Device;

    /// <summary>Floating dtype of the network being loaded.</summary>
    public ScalarType DType => _session.DType;

    /// <summary>The network being loaded; set once its groups are added (null while the groups are being constructed).</summary>
    public Network? Network => _session.Network;

    /// <summary>The keys of this section, in file order.</summary>
    public IEnumerable<string> Keys => _node.Select(kv => kv.Key).Where(k => k != "type");

    /// <summary>A nested section written by <see cref="CheckpointWriter.Child"/>.</summary>
    public CheckpointReader Child(string key) =>
        new(_session, Need(key) as JsonObject ?? throw Bad(key, "a section (JSON object)"), $"{_path}.{key}");

    /// <summary>Whether the entry exists and is not null.</summary>
    public bool Has(string key) => _node[key] is not null;

    /// <summary>Reads a number (NaN and infinities may be stored as strings).</summary>
    public double GetDouble(string key) => Json.TryDouble(Need(key), out var v) ? v : throw Bad(key, "a number");

    /// <summary>Reads an optional number.</summary>
    public double? GetNullableDouble(string key) => _node[key] is null ? null : GetDouble(key);

    /// <summary>Reads an integer.</summary>
    public long GetLong(string key) => Need(key) is JsonValue v && v.TryGetValue(out long x) ? x : throw Bad(key, "an integer");

    /// <summary>Reads a 32-bit integer.</summary>
    public int GetInt(string key)
    {
        long x = GetLong(key);
        return x is >= int.MinValue and <= int.MaxValue ? (int)x : throw Bad(key, "a 32-bit integer");
    }

    /// <summary>Reads a flag.</summary>
    public bool GetBool(string key) => Need(key) is JsonValue v && v.TryGetValue(out bool x) ? x : throw Bad(key, "true or false");

    /// <summary>Reads a string.</summary>
    public string GetString(string key) => Need(key) is JsonValue v && v.TryGetValue(out string? s) ? s : throw Bad(key, "a string");

    /// <summary>Reads an optional string.</summary>
    public string? GetNullableString(string key) => _node[key] is null ? null : GetString(key);

    /// <summary>Reads an enum written by name.</summary>
    public TEnum GetEnum<TEnum>(string key) where TEnum : struct, Enum =>
        Enum.TryParse<TEnum>(GetString(key), ignoreCase: false, out var e) && Enum.IsDefined(e)
            ? e
            : throw Bad(key, $"one of {string.Join(", ", Enum.GetNames<TEnum>())}");

    /// <summary>Reads a tensor (a copy on the network's device, owned by the caller).</summary>
    public Tensor GetTensor(string key) => GetNullableTensor(key) ?? throw Bad(key, "a tensor");

    /// <summary>Reads an optional tensor.</summary>
    public Tensor? GetNullableTensor(string key)
    {
        var node = _node[key];
        if (node is null) return null;
        var name = (node as JsonObject)?["tensor"] is JsonValue v && v.TryGetValue(out string? s) ? s : throw Bad(key, "a tensor reference {\"tensor\": name}");
        return _session.Tensor(name, $"{_path}.{key}");
    }

    /// <summary>Reads a registered object of type <typeparamref name="T"/>.</summary>
    public T GetObject<T>(string key) where T : class => GetNullableObject<T>(key) ?? throw Bad(key, $"a {typeof(T).Name}");

    /// <summary>Reads an optional registered object.</summary>
    public T? GetNullableObject<T>(string key) where T : class
    {
        var node = _node[key];
        if (node is null) return null;
        return _session.ReadObject<T>(node as JsonObject ?? throw Bad(key, "an object with a \"type\""), $"{_path}.{key}");
    }

    /// <summary>Reads a list of registered objects.</summary>
    public IReadOnlyList<T> GetObjects<T>(string key) where T : class
    {
        var array = Need(key) as JsonArray ?? throw Bad(key, "a list");
        var list = new List<T>(array.Count);
        for (int k = 0; k < array.Count; k++)
            list.Add(_session.ReadObject<T>(array[k] as JsonObject ?? throw Bad($"{key}[{k}]", "an object with a \"type\""), $"{_path}.{key}[{k}]"));
        return list;
    }

    /// <summary>Reads a value specification written by <see cref="CheckpointWriter.SetValue"/>.</summary>
    public Value? GetValue(string key) => _session.ReadSpec(_node[key], $"{_path}.{key}");

    /// <summary>
    /// The network group with this tag, built first if needed, for codecs that refer to another group (e.g. a
    /// learning block and the synapse it taps); a reference cycle is an error.
    /// </summary>
    public Group GroupByTag(string tag) => _session.GroupByTag(tag, _path);

    private JsonNode Need(string key) => _node[key] ?? throw new CheckpointException(CheckpointProblem.Corrupted, $"checkpoint entry '{_path}.{key}' is missing.");

    private CheckpointException Bad(string key, string expected) =>
        new(CheckpointProblem.Corrupted, $"checkpoint entry '{_path}.{key}' should be {expected}, found {(_node[key]?.ToJsonString() ?? "nothing")}.");
}

/// <summary>
/// A group (or a device it owns) with run state beyond its declared parameters and states — an input cursor, a
/// flag, a device's programmed conductances. The serializer calls <see cref="SaveState"/> when saving and
/// <see cref="LoadState"/> once the loaded network is initialized and its declared states are restored. Prefer a
/// declared <c>State</c> where the value is a tensor of the usual shape: it is then saved, monitored and reset for free.
/// </summary>
public interface ICheckpointState
{
    /// <summary>Writes the extra state.</summary>
    void SaveState(CheckpointWriter writer);

    /// <summary>Restores what <see cref="SaveState"/> wrote; throw a <see cref="CheckpointException"/> if it does not fit.</summary>
    void LoadState(CheckpointReader reader);
}
