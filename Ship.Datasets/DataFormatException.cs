using Ship.Core.Errors;

namespace Ship.Datasets;

/// <summary>
/// A data file does not have the format its reader expects. The message and the properties name the file and the
/// place (byte offset for binary files, line for text files) so the bad file can be found and fixed without a debugger.
/// </summary>
public sealed class DataFormatException : ShipException
{
    private DataFormatException(string file, long? byteOffset, long? line, string message, Exception? inner,
        string? field = null, long? row = null)
        : base(message, inner)
    {
        File = file;
        ByteOffset = byteOffset;
        Line = line;
        Field = field;
        Row = row;
    }

    /// <summary>Path of the file (or the name of the embedded resource) that is malformed.</summary>
    public string File { get; }

    /// <summary>Byte offset of the problem in a binary file (in the decompressed stream for a gzipped file); null for text files.</summary>
    public long? ByteOffset { get; }

    /// <summary>1-based line of the problem in a text file; null for binary files.</summary>
    public long? Line { get; }

    /// <summary>The field at fault: an HDF5 dataset path (e.g. "/spikes/times") or an event field (e.g. "x"); null when the place is a byte or a line only.</summary>
    public string? Field { get; }

    /// <summary>0-based row (sample of an HDF5 data set, or event of an event file) of the problem; null when the problem is not in one row.</summary>
    public long? Row { get; }

    /// <summary>A problem in a binary file at a byte offset; <paramref name="decompressed"/> says the offset counts bytes after gunzip.</summary>
    public static DataFormatException AtOffset(string file, long byteOffset, string problem, bool decompressed = false, Exception? inner = null) =>
        new(file, byteOffset, null,
            $"File '{file}', byte offset {byteOffset}{(decompressed ? " (of the decompressed data)" : "")}: {problem}", inner);

    /// <summary>A problem in a text file at a 1-based line.</summary>
    public static DataFormatException AtLine(string file, long line, string problem, Exception? inner = null) =>
        new(file, null, line, $"File '{file}', line {line}: {problem}", inner);

    /// <summary>A problem in a field of a structured file (an HDF5 dataset path), optionally in one 0-based row of it.</summary>
    public static DataFormatException InField(string file, string field, long? row, string problem, Exception? inner = null) =>
        new(file, null, null, $"File '{file}', {field}{(row is { } r ? $", row {r}" : "")}: {problem}", inner, field, row);

    /// <summary>A problem in one field of one record (event) of a binary file, at the byte offset of that record.</summary>
    public static DataFormatException InRecord(string file, long byteOffset, string field, long row, string problem) =>
        new(file, byteOffset, null, $"File '{file}', byte offset {byteOffset}, event {row}, field '{field}': {problem}", null, field, row);
}
