using Ship.Core.Errors;

namespace Ship.Datasets;

/// <summary>
/// A data file does not have the format its reader expects. The message and the properties name the file and the
/// place (byte offset for binary files, line for text files) so the bad file can be found and fixed without a debugger.
/// </summary>
public sealed class DataFormatException : ShipException
{
    private DataFormatException(string file, long? byteOffset, long? line, string message, Exception? inner)
        : base(message, inner)
    {
        File = file;
        ByteOffset = byteOffset;
        Line = line;
    }

    /// <summary>Path of the file (or the name of the embedded resource) that is malformed.</summary>
    public string File { get; }

    /// <summary>Byte offset of the problem in a binary file (in the decompressed stream for a gzipped file); null for text files.</summary>
    public long? ByteOffset { get; }

    /// <summary>1-based line of the problem in a text file; null for binary files.</summary>
    public long? Line { get; }

    /// <summary>A problem in a binary file at a byte offset; <paramref name="decompressed"/> says the offset counts bytes after gunzip.</summary>
    public static DataFormatException AtOffset(string file, long byteOffset, string problem, bool decompressed = false, Exception? inner = null) =>
        new(file, byteOffset, null,
            $"File '{file}', byte offset {byteOffset}{(decompressed ? " (of the decompressed data)" : "")}: {problem}", inner);

    /// <summary>A problem in a text file at a 1-based line.</summary>
    public static DataFormatException AtLine(string file, long line, string problem, Exception? inner = null) =>
        new(file, null, line, $"File '{file}', line {line}: {problem}", inner);
}
