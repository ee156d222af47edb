using System.Globalization;
using CsvHelper;

namespace Ship.Core.IO;

/// <summary>Writes numeric tables as RFC 4180 CSV with invariant culture, the one place every CSV output of Ship.NET goes through.</summary>
public static class CsvTable
{
    /// <summary>Writes a header and rows of values; numbers use the round-trip format so a re-read gives the same doubles.</summary>
    public static void Write(string path, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<object>> rows)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        using var csv = CsvWriter.ToFile(path);
        foreach (var h in header) csv.WriteField(h);
        csv.EndRecord();
        int n = 0;
        foreach (var row in rows)
        {
            n++;
            if (row.Count != header.Count)
                throw new ArgumentException($"CSV '{path}': row {n} has {row.Count} fields, the header has {header.Count}.", nameof(rows));
            foreach (var v in row) csv.WriteField(Format(v));
            csv.EndRecord();
        }
        csv.Flush();
    }

    /// <summary>Formats a value as CSV text: doubles round-trip ("R"), everything else invariant.</summary>
    public static string Format(object v) => v switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        null => "",
        _ => v.ToString() ?? "",
    };
}
