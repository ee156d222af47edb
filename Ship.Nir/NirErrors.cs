using Ship.Core.Errors;

namespace Ship.Nir;

/// <summary>Base of NIR errors: names the file (if any) and the node or HDF5 path at fault.</summary>
public class NirException : ShipException
{
    /// <summary>Creates the exception; <paramref name="where"/> is the file and HDF5 path or the node name.</summary>
    public NirException(string where, string problem, Exception? inner = null) : base($"NIR {where}: {problem}", inner) => Where = where;

    /// <summary>The file, HDF5 path or node the problem is about.</summary>
    public string Where { get; }
}

/// <summary>The file is not a NIR file, or a node, dataset or edge in it is malformed (missing, wrong type or shape).</summary>
public sealed class NirFormatException : NirException
{
    /// <summary>Creates the exception naming the file and HDF5 path and what was expected.</summary>
    public NirFormatException(string file, string path, string problem, Exception? inner = null) : base($"file '{file}', {path}", problem, inner)
    {
        File = file;
        Path = path;
    }

    /// <summary>The file read or written.</summary>
    public string File { get; }
    /// <summary>The HDF5 path inside it (e.g. /node/nodes/lif1/tau).</summary>
    public string Path { get; }
}

/// <summary>A well-formed node that Ship.NET cannot map (unknown type, or parameters without an exact counterpart).</summary>
public sealed class NirUnsupportedException : NirException
{
    /// <summary>Creates the exception naming the node, its NIR type and why it cannot be mapped.</summary>
    public NirUnsupportedException(string node, string type, string problem) : base($"node '{node}' ({type})", problem)
    {
        Node = node;
        NodeType = type;
    }

    /// <summary>The node's name (nested graphs joined with '.').</summary>
    public string Node { get; }
    /// <summary>The node's NIR type.</summary>
    public string NodeType { get; }
}

/// <summary>A group of a Ship.NET network has no NIR counterpart, or settings NIR cannot express.</summary>
public sealed class NirExportException : NirException
{
    /// <summary>Creates the exception naming the group, its model and why it cannot be exported.</summary>
    public NirExportException(string group, string model, string problem) : base($"export of group '{group}' ({model})", problem)
    {
        Group = group;
        Model = model;
    }

    /// <summary>The group's tag.</summary>
    public string Group { get; }
    /// <summary>The group's model (class name).</summary>
    public string Model { get; }
}
