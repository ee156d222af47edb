using System.Globalization;
using System.Text.Json.Nodes;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Persistence;

/// <summary>
/// What an <see cref="ICheckpointState"/> writes into a checkpoint (run state beyond declared variables; construction settings are records, see <see cref="IShipModel{TSelf, TSettings}"/>): named numbers, flags, strings, enums,
/// tensors (stored in the safetensors file, referenced by name from the JSON) and nested registered objects.
/// Keys are the codec's own; the JSON keeps them as given, so a checkpoint stays readable.
/// </summary>
public sealed class CheckpointWriter
{
    private readonly SaveSession _session;
    private readonly JsonObject _node;
    private readonly string _prefix;

    internal CheckpointWriter(SaveSession session, JsonObject node, string prefix)
    {
        _session = session;
        _node = node;
        _prefix = prefix;
    }

    /// <summary>The network being saved (to find the group that holds an object, for instance).</summary>
    public Network Network => _session.Network;

    /// <summary>Writes a number; NaN and infinities are written as the strings "NaN", "Infinity", "-Infinity".</summary>
    public void Set(string key, double value) => _node[Key(key)] = Json.Number(value);

    /// <summary>Writes an optional number (null stays null).</summary>
    public void Set(string key, double? value) => _node[Key(key)] = value is { } v ? Json.Number(v) : null;

    /// <summary>Writes an integer.</summary>
    public void Set(string key, long value) => _node[Key(key)] = value;

    /// <summary>Writes a flag.</summary>
    public void Set(string key, bool value) => _node[Key(key)] = value;

    /// <summary>Writes a string (null stays null).</summary>
    public void Set(string key, string? value) => _node[Key(key)] = value;

    /// <summary>Writes an enum by its name, so a reordering of the enum does not change the meaning of old files.</summary>
    public void SetEnum<TEnum>(string key, TEnum value) where TEnum : struct, Enum => _node[Key(key)] = value.ToString();

    /// <summary>Stores a tensor (a detached CPU copy) in the tensor file; null is written as null.</summary>
    public void SetTensor(string key, Tensor? value)
    {
        if (value is null) { _node[Key(key)] = null; return; }
        _node[Key(key)] = new JsonObject { ["tensor"] = _session.AddTensor($"{_prefix}/{key}", value) };
    }

    /// <summary>Writes a registered object (a nested model, mapping, surrogate…) with its type name; null stays null.</summary>
    public void SetObject(string key, object? value) => _node[Key(key)] = value is null ? null : _session.WriteObject(value, $"{_prefix}/{key}");

    /// <summary>Writes a list of registered objects.</summary>
    public void SetObjects(string key, IEnumerable<object> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var array = new JsonArray();
        int k = 0;
        foreach (var v in values) array.Add(_session.WriteObject(v, $"{_prefix}/{key}/{k++}"));
        _node[Key(key)] = array;
    }

    /// <summary>Writes a value specification: a constant, a tensor, or the description of a generator (see <see cref="ModelRegistry.RegisterGenerator"/>).</summary>
    public void SetValue(string key, Value? value) => _node[Key(key)] = _session.WriteSpec(value, $"{_prefix}/{key}");

    /// <summary>A nested section (a JSON object under <paramref name="key"/>) for structured state, e.g. a device's programmed arrays.</summary>
    public CheckpointWriter Child(string key)
    {
        var node = new JsonObject();
        _node[Key(key)] = node;
        return new CheckpointWriter(_session, node, $"{_prefix}/{key}");
    }

    /// <summary>The tag of the network group whose wrapper stack contains <paramref name="group"/>, for codecs that refer to another group.</summary>
    public string TagOf(Group group) => _session.TagOf(group, _prefix);

    private string Key(string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (key == "type") throw new ArgumentException("'type' is reserved for the registered type name.", nameof(key));
        return key;
    }
}

/// <summary>JSON helpers shared by the writer and the reader: exact doubles, named non-finite values.</summary>
internal static class Json
{
    /// <summary>A double as a JSON number (System.Text.Json writes the shortest round-trip form), or a string for NaN/±∞.</summary>
    public static JsonNode Number(double v) =>
        double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(v.ToString(CultureInfo.InvariantCulture))!;

    public static bool TryDouble(JsonNode? node, out double value)
    {
        value = 0;
        if (node is not JsonValue v) return false;
        if (v.TryGetValue(out double d)) { value = d; return true; }
        if (v.TryGetValue(out string? s) && s is "NaN" or "Infinity" or "-Infinity")
        {
            value = double.Parse(s, CultureInfo.InvariantCulture);
            return true;
        }
        return false;
    }
}
