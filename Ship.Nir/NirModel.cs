using System.Globalization;

namespace Ship.Nir;

/// <summary>Element type of a numeric NIR array as stored in the file (kept so that a rewrite stores the same type).</summary>
public enum NirDType
{
    /// <summary>32-bit float.</summary>
    Float32,
    /// <summary>64-bit float.</summary>
    Float64,
    /// <summary>Signed integer (stored as 64-bit).</summary>
    Int64,
    /// <summary>Unsigned byte (opaque payloads such as an embedded Ship.NET checkpoint).</summary>
    UInt8,
}

/// <summary>A value of a NIR node: a numeric array (<see cref="NirArray"/>) or a text (<see cref="NirText"/>).</summary>
public abstract record NirValue
{
    /// <summary>Whether two values hold the same type, shape and bits.</summary>
    public abstract bool SameAs(NirValue other);
}

/// <summary>A text value (node type, padding mode "same"/"valid", metadata strings).</summary>
public sealed record NirText(string Text) : NirValue
{
    /// <inheritdoc />
    public override bool SameAs(NirValue other) => other is NirText t && t.Text == Text;

    /// <inheritdoc />
    public override string ToString() => Text;
}

/// <summary>A numeric array in C order with its shape (empty shape: a scalar) and stored element type; values held as doubles.</summary>
public sealed record NirArray(double[] Data, long[] Shape, NirDType DType) : NirValue
{
    /// <summary>A float64 array of the given shape.</summary>
    public static NirArray Of(double[] data, params long[] shape) => new(data, shape, NirDType.Float64);

    /// <summary>A float64 vector.</summary>
    public static NirArray Vector(params double[] data) => new(data, new long[] { data.Length }, NirDType.Float64);

    /// <summary>An int64 vector.</summary>
    public static NirArray Ints(params long[] data) => new(data.Select(d => (double)d).ToArray(), new long[] { data.Length }, NirDType.Int64);

    /// <summary>An int64 scalar.</summary>
    public static NirArray Int(long value) => new(new double[] { value }, Array.Empty<long>(), NirDType.Int64);

    /// <summary>Number of elements.</summary>
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);

    /// <inheritdoc />
    public override bool SameAs(NirValue other) =>
        other is NirArray a && a.DType == DType && a.Shape.SequenceEqual(Shape)
        && a.Data.Length == Data.Length && a.Data.Zip(Data).All(p => BitConverter.DoubleToInt64Bits(p.First) == BitConverter.DoubleToInt64Bits(p.Second));

    /// <inheritdoc />
    public override string ToString() =>
        $"{DType}[{string.Join(", ", Shape)}] {{{string.Join(", ", Data.Take(6).Select(d => d.ToString("R", CultureInfo.InvariantCulture)))}{(Data.Length > 6 ? ", …" : "")}}}";
}

/// <summary>
/// One NIR node as stored: its type, its named values, its metadata and, for a graph (type "NIRGraph"), its child
/// nodes and edges. This is the file's content without interpretation, so a read then write keeps everything.
/// </summary>
public sealed class NirNode
{
    /// <summary>Creates a node of type <paramref name="type"/>.</summary>
    public NirNode(string type) => Type = type ?? throw new ArgumentNullException(nameof(type));

    /// <summary>The NIR type ("LIF", "Affine", "NIRGraph", …).</summary>
    public string Type { get; }
    /// <summary>Named values (parameters) in name order.</summary>
    public SortedDictionary<string, NirValue> Values { get; } = new(StringComparer.Ordinal);
    /// <summary>Metadata (free-form values), in name order.</summary>
    public SortedDictionary<string, NirValue> Metadata { get; } = new(StringComparer.Ordinal);
    /// <summary>Child nodes of a graph, in file order.</summary>
    public List<KeyValuePair<string, NirNode>> Nodes { get; } = new();
    /// <summary>Edges of a graph, (source, target) by node name.</summary>
    public List<(string Source, string Target)> Edges { get; } = new();

    /// <summary>Whether the node is a graph.</summary>
    public bool IsGraph => Type == "NIRGraph";

    /// <summary>A child node by name, or null.</summary>
    public NirNode? Node(string name) => Nodes.FirstOrDefault(kv => kv.Key == name).Value;

    /// <summary>Sets a value and returns the node (for building).</summary>
    public NirNode With(string name, NirValue value)
    {
        Values[name] = value;
        return this;
    }

    /// <summary>
    /// Whether this node and <paramref name="other"/> hold the same type, values, metadata, child nodes (same names, any
    /// order) and edges (same set); <paramref name="difference"/> says where the first difference is.
    /// </summary>
    public bool SameAs(NirNode other, out string difference, bool compareMetadata = true, string path = "")
    {
        difference = "";
        if (Type != other.Type) { difference = $"{path}: type {Type} vs {other.Type}"; return false; }
        if (!SameValues(Values, other.Values, path, out difference)) return false;
        if (compareMetadata && !SameValues(Metadata, other.Metadata, path + "/metadata", out difference)) return false;
        var mine = Nodes.Select(n => n.Key).OrderBy(k => k, StringComparer.Ordinal).ToArray();
        var theirs = other.Nodes.Select(n => n.Key).OrderBy(k => k, StringComparer.Ordinal).ToArray();
        if (!mine.SequenceEqual(theirs)) { difference = $"{path}: nodes [{string.Join(", ", mine)}] vs [{string.Join(", ", theirs)}]"; return false; }
        foreach (var (name, node) in Nodes)
            if (!node.SameAs(other.Node(name)!, out difference, compareMetadata, $"{path}/{name}")) return false;
        var e1 = Edges.Select(e => $"{e.Source}->{e.Target}").OrderBy(e => e, StringComparer.Ordinal);
        var e2 = other.Edges.Select(e => $"{e.Source}->{e.Target}").OrderBy(e => e, StringComparer.Ordinal);
        if (!e1.SequenceEqual(e2)) { difference = $"{path}: edges [{string.Join(", ", e1)}] vs [{string.Join(", ", e2)}]"; return false; }
        return true;
    }

    private static bool SameValues(SortedDictionary<string, NirValue> a, SortedDictionary<string, NirValue> b, string path, out string difference)
    {
        difference = "";
        if (!a.Keys.SequenceEqual(b.Keys)) { difference = $"{path}: values [{string.Join(", ", a.Keys)}] vs [{string.Join(", ", b.Keys)}]"; return false; }
        foreach (var (k, v) in a)
            if (!v.SameAs(b[k])) { difference = $"{path}/{k}: {v} vs {b[k]}"; return false; }
        return true;
    }
}

/// <summary>A NIR file's content: the format version it declares and its root node (normally a graph).</summary>
public sealed record NirDocument(string Version, NirNode Root);
