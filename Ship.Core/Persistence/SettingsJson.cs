using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Ship.Core.Groups;

namespace Ship.Core.Persistence;

/// <summary>
/// The System.Text.Json options settings records are written and read with, one set per save or load (never shared):
/// snake_case names, enums by name, NaN and infinities as named literals, and on reading no unknown, duplicated,
/// missing or null-where-not-allowed member. Nested models go through the session, so they are written with their
/// registered name and their own settings.
/// </summary>
internal static class SettingsJson
{
    public static JsonSerializerOptions Create(ModelRegistry registry, SaveSession? save, LoadSession? load)
    {
        var o = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
            AllowDuplicateProperties = false,
            IncludeFields = false,
        };
        o.Converters.Add(new JsonStringEnumConverter(namingPolicy: null, allowIntegerValues: false));
        o.Converters.Add(new ModelJsonConverterFactory(registry, save, load));
        return o;
    }
}

/// <summary>Writes a nested model as {"type", "settings"} through the session, and reads it back the same way.</summary>
internal sealed class ModelJsonConverterFactory(ModelRegistry registry, SaveSession? save, LoadSession? load) : JsonConverterFactory
{
    public SaveSession? Save { get; } = save;
    public LoadSession? Load { get; } = load;

    /// <summary>
    /// Abstract and interface types (a group, a mapping, a non-ideality…) and registered concrete models are nested
    /// models; a model that is its own settings record (a surrogate record) is written as plain data inside.
    /// </summary>
    public override bool CanConvert(Type t)
    {
        if (t.IsValueType || t == typeof(string) || t == typeof(object) || t.IsArray) return false;
        if (registry.Find(t) is { } codec) return codec.SettingsType != t;
        return (t.IsInterface || t.IsAbstract) && !typeof(IEnumerable).IsAssignableFrom(t);
    }

    public override JsonConverter CreateConverter(Type t, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(ModelJsonConverter<>).MakeGenericType(t), this)!;
}

internal sealed class ModelJsonConverter<T>(ModelJsonConverterFactory factory) : JsonConverter<T> where T : class
{
    public override T? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var session = factory.Load ?? throw new InvalidOperationException("settings are read only while loading a checkpoint.");
        var node = JsonNode.Parse(ref reader) as JsonObject
            ?? throw new JsonException($"a nested {typeof(T).Name} must be a JSON object with \"type\" and \"settings\".");
        return (T)session.ReadObject(node, typeof(T), session.NestedPath());
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
    {
        var session = factory.Save ?? throw new InvalidOperationException("settings are written only while saving a checkpoint.");
        session.WriteObject(value, session.NestedPath()).WriteTo(writer, options);
    }
}

/// <summary>
/// Writes a group that is part of the network being saved as its tag, and resolves the tag when loading (building that
/// group first if needed). Put it on a settings member that refers to another network group rather than owning it,
/// e.g. <c>[property: JsonConverter(typeof(GroupTagJsonConverter))] Group? Block</c>.
/// </summary>
public sealed class GroupTagJsonConverter : JsonConverter<Group>
{
    /// <inheritdoc />
    public override Group? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException("a group reference must be the tag of a network group (a string).");
        var session = Factory(options).Load ?? throw new InvalidOperationException("group references are read only while loading a checkpoint.");
        return session.GroupByTag(reader.GetString()!, session.NestedPath());
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, Group value, JsonSerializerOptions options)
    {
        var session = Factory(options).Save ?? throw new InvalidOperationException("group references are written only while saving a checkpoint.");
        writer.WriteStringValue(session.TagOf(value, session.NestedPath()));
    }

    private static ModelJsonConverterFactory Factory(JsonSerializerOptions options) =>
        options.Converters.OfType<ModelJsonConverterFactory>().FirstOrDefault()
        ?? throw new InvalidOperationException("GroupTagJsonConverter works only inside a Ship.NET checkpoint.");
}
