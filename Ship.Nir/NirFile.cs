using PureHDF;
using PureHDF.Filters;
using PureHDF.VOL.Native;

namespace Ship.Nir;

/// <summary>
/// Reads and writes NIR files (HDF5, via PureHDF). Layout (NIR's serialization): a root dataset "version" and a group
/// "node"; every node is a group with a string dataset "type", one dataset per parameter and an optional group
/// "metadata"; a graph (type "NIRGraph") adds a group "nodes" (one group per child) and "edges", an N × 2 array of
/// strings. Both layouts in use are read: 0.1.x files (no v_reset, float32, uncompressed, no metadata) and the current
/// one (v_reset, metadata, gzip-compressed arrays). Writing uses the current layout with deflate-compressed arrays.
/// </summary>
public static class NirFile
{
    /// <summary>The NIR version written into new files (the layout of NIR 1.0's serialization).</summary>
    public const string WriterVersion = "1.0.0";

    /// <summary>Reads a NIR file; any structural problem raises <see cref="NirFormatException"/> naming the HDF5 path.</summary>
    public static NirDocument Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Ship.Core.Errors.UserFiles.RequireFile(path, "a NIR file (HDF5)");
        NativeFile file;
        try
        {
            file = H5File.OpenRead(path);
        }
        catch (Exception e) when (e is not NirException)
        {
            throw new NirFormatException(path, "/", $"not an HDF5 file ({e.Message}).", e);
        }
        using (file)
        {
            string version = file.LinkExists("version") ? ReadText(file, "version", path, "/version") : "";
            if (!file.LinkExists("node")) throw new NirFormatException(path, "/node", "missing: a NIR file holds its graph in the group 'node'.");
            var root = ReadNode(Child<IH5Group>(file, "node", path, "/node"), path, "/node");
            return new NirDocument(version, root);
        }
    }

    private static T Child<T>(IH5Group g, string name, string file, string at) where T : class
    {
        IH5Object o;
        try { o = g.Get(name); }
        catch (Exception e) { throw new NirFormatException(file, at, $"cannot be read ({e.Message}).", e); }
        return o as T ?? throw new NirFormatException(file, at, $"expected a {(typeof(T) == typeof(IH5Group) ? "group" : "dataset")}, found a {Kind(o)}.");
    }

    private static string Kind(IH5Object o) => o is IH5Group ? "group" : o is IH5Dataset ? "dataset" : o.GetType().Name;

    private static NirNode ReadNode(IH5Group g, string file, string at)
    {
        if (!g.LinkExists("type")) throw new NirFormatException(file, at + "/type", "missing: every NIR node has a 'type'.");
        var node = new NirNode(ReadText(g, "type", file, at + "/type"));
        foreach (var child in g.Children())
        {
            string name = child.Name, here = $"{at}/{name}";
            switch (name)
            {
                case "type":
                    continue;
                case "nodes" when node.IsGraph:
                    if (child is not IH5Group nodes) throw new NirFormatException(file, here, "expected a group of nodes.");
                    foreach (var c in nodes.Children())
                    {
                        if (c is not IH5Group cg) throw new NirFormatException(file, $"{here}/{c.Name}", $"expected a node group, found a {Kind(c)}.");
                        node.Nodes.Add(new(c.Name, ReadNode(cg, file, $"{here}/{c.Name}")));
                    }
                    continue;
                case "edges" when node.IsGraph:
                    ReadEdges(child as IH5Dataset ?? throw new NirFormatException(file, here, "expected an N x 2 dataset of strings."), node, file, here);
                    continue;
                case "metadata":
                    if (child is IH5Group meta) ReadValues(meta, node.Metadata, file, here, "");
                    else node.Metadata[""] = ReadValue((IH5Dataset)child, file, here);
                    continue;
            }
            if (child is IH5Dataset d) node.Values[name] = ReadValue(d, file, here);
            else if (child is IH5Group sub) ReadValues(sub, node.Values, file, here, name + "/"); // e.g. an input_type written as a dictionary
        }
        if (node.IsGraph)
        {
            if (!g.LinkExists("nodes")) throw new NirFormatException(file, at + "/nodes", "missing: a NIRGraph holds its nodes in 'nodes'.");
            if (!g.LinkExists("edges")) throw new NirFormatException(file, at + "/edges", "missing: a NIRGraph holds its edges in 'edges'.");
            var names = node.Nodes.Select(n => n.Key).ToHashSet();
            foreach (var (s, t) in node.Edges)
                foreach (var end in new[] { s, t })
                    if (!names.Contains(end) && !names.Contains(end.Split('.')[0]))
                        throw new NirFormatException(file, at + "/edges", $"edge {s} -> {t} names '{end}', which is not a node of this graph (nodes: {string.Join(", ", names)}).");
        }
        return node;
    }

    private static void ReadValues(IH5Group g, SortedDictionary<string, NirValue> into, string file, string at, string prefix)
    {
        foreach (var c in g.Children())
        {
            if (c is IH5Dataset d) into[prefix + c.Name] = ReadValue(d, file, $"{at}/{c.Name}");
            else if (c is IH5Group sg) ReadValues(sg, into, file, $"{at}/{c.Name}", $"{prefix}{c.Name}/");
        }
    }

    private static void ReadEdges(IH5Dataset d, NirNode node, string file, string at)
    {
        var dims = d.Space.Dimensions;
        if (dims.Length == 1 && dims[0] == 0) return; // an empty edge list is stored as an empty vector
        if (dims.Length != 2 || dims[1] != 2) throw new NirFormatException(file, at, $"expected an N x 2 array of node names, got shape [{string.Join(", ", dims)}].");
        if (dims[0] == 0) return;
        if (!IsText(d.Type)) throw new NirFormatException(file, at, $"expected strings, got {d.Type.Class}.");
        string[,] e;
        try { e = d.Read<string[,]>(); }
        catch (Exception x) { throw new NirFormatException(file, at, $"cannot be read as strings ({x.Message}).", x); }
        for (int i = 0; i < e.GetLength(0); i++) node.Edges.Add((e[i, 0], e[i, 1]));
    }

    private static bool IsText(IH5DataType t) => t.Class is H5DataTypeClass.String or H5DataTypeClass.VariableLength;

    private static string ReadText(IH5Group g, string name, string file, string at)
    {
        var d = Child<IH5Dataset>(g, name, file, at);
        if (ReadValue(d, file, at) is NirText t) return t.Text;
        throw new NirFormatException(file, at, $"expected a string, got a {d.Type.Class} dataset.");
    }

    private static NirValue ReadValue(IH5Dataset d, string file, string at)
    {
        var dims = d.Space.Dimensions.Select(x => (long)x).ToArray();
        var t = d.Type;
        try
        {
            if (IsText(t))
            {
                if (dims.Length == 0) return new NirText(d.Read<string>());
                var all = d.Read<string[]>();
                if (all.Length == 1) return new NirText(all[0]);
                throw new NirFormatException(file, at, $"expected one string, got an array of shape [{string.Join(", ", dims)}].");
            }
            switch (t.Class)
            {
                case H5DataTypeClass.FloatingPoint when t.Size == 4:
                    return new NirArray(dims.Length == 0 ? new double[] { d.Read<float>() } : d.Read<float[]>().Select(x => (double)x).ToArray(), dims, NirDType.Float32);
                case H5DataTypeClass.FloatingPoint when t.Size == 8:
                    return new NirArray(dims.Length == 0 ? new double[] { d.Read<double>() } : d.Read<double[]>(), dims, NirDType.Float64);
                case H5DataTypeClass.FixedPoint when t.Size == 1 && !t.FixedPoint.IsSigned:
                    return new NirArray((dims.Length == 0 ? new[] { d.Read<byte>() } : d.Read<byte[]>()).Select(b => (double)b).ToArray(), dims, NirDType.UInt8);
                case H5DataTypeClass.FixedPoint:
                    return new NirArray(ReadInts(d, t.Size, dims.Length == 0), dims, NirDType.Int64);
                case H5DataTypeClass.Enumerated when t.Size == 1: // h5py's bool
                    return new NirArray((dims.Length == 0 ? new[] { d.Read<byte>() } : d.Read<byte[]>()).Select(b => (double)b).ToArray(), dims, NirDType.Int64);
            }
        }
        catch (Exception e) when (e is not NirException)
        {
            throw new NirFormatException(file, at, $"cannot be read ({e.Message}).", e);
        }
        throw new NirFormatException(file, at, $"unsupported data type {t.Class} of {t.Size} bytes (expected strings, floats or integers).");
    }

    private static double[] ReadInts(IH5Dataset d, int size, bool scalar) => size switch
    {
        8 => scalar ? new double[] { d.Read<long>() } : d.Read<long[]>().Select(x => (double)x).ToArray(),
        4 => scalar ? new double[] { d.Read<int>() } : d.Read<int[]>().Select(x => (double)x).ToArray(),
        2 => scalar ? new double[] { d.Read<short>() } : d.Read<short[]>().Select(x => (double)x).ToArray(),
        1 => scalar ? new double[] { d.Read<sbyte>() } : d.Read<sbyte[]>().Select(x => (double)x).ToArray(),
        _ => throw new NotSupportedException($"integers of {size} bytes"),
    };

    /// <summary>Writes <paramref name="document"/> in the current layout; arrays of one or more dimensions are deflate-compressed.</summary>
    public static void Write(string path, NirDocument document)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(document);
        var file = new H5File { ["version"] = document.Version, ["node"] = WriteNode(document.Root) };
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        // Written next to the target first, so a failure never leaves a truncated NIR file behind.
        string tmp = path + ".shiptmp";
        try
        {
            file.Write(tmp);
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e)
        {
            if (File.Exists(tmp)) File.Delete(tmp);
            throw new NirFormatException(path, "/", $"cannot be written ({e.Message}).", e);
        }
    }

    private static H5Group WriteNode(NirNode node)
    {
        var g = new H5Group { ["type"] = node.Type };
        foreach (var (k, v) in node.Values) Put(g, k, v);
        if (node.IsGraph)
        {
            var nodes = new H5Group();
            foreach (var (name, child) in node.Nodes) nodes[name] = WriteNode(child);
            g["nodes"] = nodes;
            var e = new string[node.Edges.Count, 2];
            for (int i = 0; i < node.Edges.Count; i++) (e[i, 0], e[i, 1]) = node.Edges[i];
            g["edges"] = e;
        }
        if (node.Metadata.Count > 0)
        {
            var m = new H5Group();
            foreach (var (k, v) in node.Metadata) Put(m, k, v);
            g["metadata"] = m;
        }
        return g;
    }

    private static void Put(H5Group g, string key, NirValue v)
    {
        // Keys with '/' came from dictionaries stored as groups: write them back as groups.
        int slash = key.IndexOf('/');
        if (slash > 0)
        {
            string head = key[..slash];
            if (!g.TryGetValue(head, out var o) || o is not H5Group sub) g[head] = sub = new H5Group();
            Put(sub, key[(slash + 1)..], v);
            return;
        }
        g[key] = v switch
        {
            NirText t => t.Text,
            NirArray a => Dataset(a),
            _ => throw new ArgumentException($"unknown value {v.GetType().Name}"),
        };
    }

    private static object Dataset(NirArray a)
    {
        object data = a.DType switch
        {
            NirDType.Float32 => a.Data.Select(x => (float)x).ToArray(),
            NirDType.Float64 => a.Data.ToArray(),
            NirDType.UInt8 => a.Data.Select(x => (byte)x).ToArray(),
            _ => a.Data.Select(x => (long)x).ToArray(),
        };
        // Each arm boxed on its own: unboxed, the switch would take the arms' common type (double) and store every scalar as float64.
        if (a.Shape.Length == 0) return a.DType switch { NirDType.Float32 => (object)(float)a.Data[0], NirDType.Float64 => (object)a.Data[0], NirDType.UInt8 => (object)(byte)a.Data[0], _ => (object)(long)a.Data[0] };
        var dims = a.Shape.Select(x => (ulong)x).ToArray();
        if (a.Count == 0) return new H5Dataset(data, fileDims: dims);
        return new H5Dataset(data, chunks: a.Shape.Select(x => (uint)x).ToArray(), fileDims: dims,
            datasetCreation: new H5DatasetCreation(Filters: new List<H5Filter> { DeflateFilter.Id }));
    }
}
