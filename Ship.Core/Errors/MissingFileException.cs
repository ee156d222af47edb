namespace Ship.Core.Errors;

/// <summary>
/// A file or folder a reader was given cannot be opened: it does not exist, is a folder where a file was expected (or the
/// other way round), or may not be read. Names the path, what was expected there and what was found; the .NET exception
/// that reported it, if any, is the inner exception.
/// </summary>
public sealed class MissingFileException : ShipException
{
    /// <summary>Creates the exception for <paramref name="path"/>: <paramref name="expected"/> there, <paramref name="found"/> instead.</summary>
    public MissingFileException(string path, string expected, string found, Exception? inner = null)
        : base($"'{path}': expected {expected}, found {found}.", inner)
    {
        Path = path;
        Expected = expected;
        Found = found;
    }

    /// <summary>The path as given to the reader.</summary>
    public string Path { get; }
    /// <summary>What the reader expected at the path (e.g. "an IDX image file (train-images-idx3-ubyte)").</summary>
    public string Expected { get; }
    /// <summary>What was there instead (e.g. "no such file", "a folder", "no folder 'data/raw' above it").</summary>
    public string Found { get; }
}

/// <summary>
/// The one place readers open user paths: a missing file or folder (or one of the wrong kind, or unreadable) becomes a
/// <see cref="MissingFileException"/> naming the path, what was expected and what was found, never .NET's
/// FileNotFound/DirectoryNotFound/UnauthorizedAccess.
/// </summary>
public static class UserFiles
{
    /// <summary>Throws unless <paramref name="path"/> is an existing file; <paramref name="expected"/> says what it should be.</summary>
    public static void RequireFile(string path, string expected)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new MissingFileException(path, expected, WhatIsAt(path, file: true));
    }

    /// <summary>Throws unless <paramref name="path"/> is an existing folder; <paramref name="expected"/> says what it should hold.</summary>
    public static void RequireFolder(string path, string expected)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!Directory.Exists(path)) throw new MissingFileException(path, expected, WhatIsAt(path, file: false));
    }

    /// <summary>
    /// Runs <paramref name="open"/> on <paramref name="path"/> (checked to be a file first); a file that vanishes or
    /// cannot be read in the meantime is reported the same way, with .NET's exception inside.
    /// </summary>
    public static T Open<T>(string path, string expected, Func<string, T> open)
    {
        ArgumentNullException.ThrowIfNull(open);
        RequireFile(path, expected);
        try { return open(path); }
        catch (FileNotFoundException e) { throw new MissingFileException(path, expected, "no such file", e); }
        catch (DirectoryNotFoundException e) { throw new MissingFileException(path, expected, WhatIsAt(path, file: true), e); }
        catch (UnauthorizedAccessException e) { throw new MissingFileException(path, expected, $"a file that may not be read ({e.Message})", e); }
    }

    /// <summary>What is at <paramref name="path"/> in words, for a reader that wanted a file (<paramref name="file"/>) or a folder.</summary>
    public static string WhatIsAt(string path, bool file)
    {
        if (file && Directory.Exists(path)) return "a folder";
        if (!file && File.Exists(path)) return "a file";
        string? parent;
        try { parent = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { return $"an invalid path ({e.Message})"; }
        // The nearest folder that exists tells where the path went wrong.
        var probe = parent;
        while (!string.IsNullOrEmpty(probe) && !Directory.Exists(probe)) probe = System.IO.Path.GetDirectoryName(probe);
        if (probe == parent) return file ? "no such file" : "no such folder";
        return $"no such {(file ? "file" : "folder")}: its folder '{parent}' does not exist (the nearest existing folder is '{probe}')";
    }
}
