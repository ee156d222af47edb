using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CsvHelper;
using Ship.Core.IO;

namespace Ship.Training.Sweeps;

/// <summary>
/// What a shard declares about its results file, written next to it as <c>&lt;sweep&gt;-shard-i-of-n.json</c> after the
/// results are complete (so a shard killed mid-write leaves no manifest and is reported missing, never half-merged).
/// </summary>
public sealed record ShardManifest
{
    /// <summary>The manifest format this code writes and reads.</summary>
    public const int CurrentFormat = 1;

    /// <summary>Manifest format version.</summary>
    [JsonPropertyName("format")] public int Format { get; init; } = CurrentFormat;
    /// <summary>Name of the sweep (the results' base file name, e.g. "compare").</summary>
    [JsonPropertyName("sweep")] public required string Sweep { get; init; }
    /// <summary>This shard's number i (1-based).</summary>
    [JsonPropertyName("shard")] public required int Shard { get; init; }
    /// <summary>Number of shards n.</summary>
    [JsonPropertyName("shards")] public required int Shards { get; init; }
    /// <summary>Number of points of the whole sweep.</summary>
    [JsonPropertyName("total_points")] public required int TotalPoints { get; init; }
    /// <summary>SHA-256 (hex) of the sweep name, the total and the settings: shards merge only when theirs are equal.</summary>
    [JsonPropertyName("fingerprint")] public required string Fingerprint { get; init; }
    /// <summary>Every setting that affects the results (name → value text), kept readable so a mismatch can name the setting.</summary>
    [JsonPropertyName("settings")] public required IReadOnlyDictionary<string, string> Settings { get; init; }
    /// <summary>The points (0-based) this shard computed, ascending.</summary>
    [JsonPropertyName("points")] public required IReadOnlyList<int> Points { get; init; }
    /// <summary>Result columns, without the leading "point" column of the shard's CSV.</summary>
    [JsonPropertyName("columns")] public required IReadOnlyList<string> Columns { get; init; }
    /// <summary>Data rows in the results file.</summary>
    [JsonPropertyName("rows")] public required int Rows { get; init; }
    /// <summary>File name of the results (same folder as the manifest).</summary>
    [JsonPropertyName("results")] public required string Results { get; init; }
    /// <summary>SHA-256 (hex) of the results file's bytes, so a file changed or truncated after the run is refused.</summary>
    [JsonPropertyName("results_sha256")] public required string ResultsSha256 { get; init; }
}

/// <summary>One result row of a sweep, tagged with the point (0-based) that produced it; a point may produce several rows.</summary>
/// <param name="Point">The point's index in the whole sweep.</param>
/// <param name="Values">The row's values, one per result column (formatted as <see cref="CsvTable"/> formats them).</param>
public sealed record SweepRow(int Point, IReadOnlyList<object> Values);

/// <summary>Rows of all shards combined in point order, as text exactly as the shards wrote them.</summary>
/// <param name="Sweep">The sweep's name.</param>
/// <param name="Shards">How many shards were merged.</param>
/// <param name="TotalPoints">Points of the whole sweep.</param>
/// <param name="Settings">The shared settings (from the manifests).</param>
/// <param name="Columns">Result columns.</param>
/// <param name="Rows">(point, fields) in point order; rows of one point keep the order their shard wrote them in.</param>
/// <param name="Manifests">The manifest files merged, by shard number.</param>
public sealed record MergedSweep(string Sweep, int Shards, int TotalPoints, IReadOnlyDictionary<string, string> Settings,
    IReadOnlyList<string> Columns, IReadOnlyList<(int Point, IReadOnlyList<string> Fields)> Rows, IReadOnlyList<string> Manifests)
{
    /// <summary>
    /// Writes the rows without the point column through <see cref="CsvTable"/>: byte-identical to the CSV an unsharded run
    /// writes with <see cref="CsvTable.Write"/> from the same values in point order, because each field is the text
    /// <see cref="CsvTable.Format"/> produced (doubles in round-trip form).
    /// </summary>
    public void WriteCsv(string path) => CsvTable.Write(path, Columns, Rows.Select(r => (IReadOnlyList<object>)r.Fields.Cast<object>().ToArray()));
}

/// <summary>
/// Writes one shard's results with its manifest, and merges the shards of a sweep back into one table after checking
/// that they fit together: all n shards present exactly once, run with the same settings (fingerprint) and columns,
/// every point exactly once and in the shard it belongs to, and each results file unchanged since its manifest was
/// written. Any violation is a <see cref="ShardException"/> naming the file and the problem.
/// </summary>
public static class SweepShards
{
    /// <summary>Name of the point column that leads every shard results file.</summary>
    public const string PointColumn = "point";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Base file name (no extension) of shard <paramref name="shard"/> of sweep <paramref name="sweep"/>: "sweep-shard-i-of-n".</summary>
    public static string BaseName(string sweep, ShardSpec shard)
    {
        CheckName(sweep);
        ArgumentNullException.ThrowIfNull(shard);
        return $"{sweep}-{shard.FileTag}";
    }

    /// <summary>
    /// SHA-256 (lower-case hex) of the sweep name, its total points and the settings (sorted by name, one "name=value" per
    /// line): equal exactly when everything that decides the results is equal.
    /// </summary>
    public static string Fingerprint(string sweep, int totalPoints, IReadOnlyDictionary<string, string> settings)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        ArgumentNullException.ThrowIfNull(settings);
        var sb = new StringBuilder();
        sb.Append("sweep=").Append(sweep).Append('\n');
        sb.Append("total_points=").Append(totalPoints.ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var (k, v) in settings.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.Append(k).Append('=').Append(v).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    /// <summary>
    /// Writes shard <paramref name="shard"/>'s rows to <c>folder/sweep-shard-i-of-n.csv</c> (a leading "point" column, then
    /// <paramref name="columns"/>) and then its manifest <c>.json</c>; returns the manifest path. Every row must be of a point
    /// this shard owns and every owned point must have at least one row (ArgumentException otherwise: a bug of the caller).
    /// </summary>
    public static string Write(string folder, string sweep, ShardSpec shard, int totalPoints, IReadOnlyDictionary<string, string> settings,
        IReadOnlyList<string> columns, IEnumerable<SweepRow> rows)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentNullException.ThrowIfNull(shard);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(totalPoints);
        if (columns.Contains(PointColumn)) throw new ArgumentException($"'{PointColumn}' is reserved for the point index.", nameof(columns));
        var points = shard.Points(totalPoints);
        var list = rows.ToList();
        foreach (var r in list)
            if (r.Point < 0 || r.Point >= totalPoints || !shard.Owns(r.Point))
                throw new ArgumentException($"Sweep '{sweep}': a row of point {r.Point} does not belong to shard {shard} of {totalPoints} points.", nameof(rows));
        var without = points.Except(list.Select(r => r.Point)).ToArray();
        if (without.Length > 0) throw new ArgumentException($"Sweep '{sweep}' shard {shard}: no rows for point(s) {string.Join(", ", without)}.", nameof(rows));

        Directory.CreateDirectory(folder);
        string name = BaseName(sweep, shard);
        string csv = Path.Combine(folder, name + ".csv");
        string manifestPath = Path.Combine(folder, name + ".json");
        // A manifest left by an earlier run of this shard must not vouch for the new results while they are written.
        File.Delete(manifestPath);
        CsvTable.Write(csv, new[] { PointColumn }.Concat(columns).ToArray(),
            list.Select(r => (IReadOnlyList<object>)new object[] { r.Point }.Concat(r.Values).ToArray()));
        var manifest = new ShardManifest
        {
            Sweep = sweep,
            Shard = shard.Index,
            Shards = shard.Count,
            TotalPoints = totalPoints,
            Fingerprint = Fingerprint(sweep, totalPoints, settings),
            Settings = new SortedDictionary<string, string>(settings.ToDictionary(p => p.Key, p => p.Value), StringComparer.Ordinal),
            Points = points,
            Columns = columns.ToArray(),
            Rows = list.Count,
            Results = Path.GetFileName(csv),
            ResultsSha256 = Sha256(csv),
        };
        string temp = manifestPath + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(manifest, Json));
        File.Move(temp, manifestPath, overwrite: true);
        return manifestPath;
    }

    /// <summary>The shard manifests (<c>*-shard-*-of-*.json</c>) directly inside <paramref name="folder"/>, sorted by name.</summary>
    public static string[] FindManifests(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder)) throw new ShardException("no such folder.", folder);
        return Directory.GetFiles(folder, "*-shard-*-of-*.json").OrderBy(f => f, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Reads one manifest; a file that is not one gives a <see cref="ShardException"/> naming it.</summary>
    public static ShardManifest ReadManifest(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        ShardManifest? m;
        try { m = JsonSerializer.Deserialize<ShardManifest>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new ShardException($"not a shard manifest ({e.Message}).", path, e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ShardException($"expected a shard manifest (JSON), found {(File.Exists(path) ? $"a file that cannot be read ({e.Message})" : Ship.Core.Errors.UserFiles.WhatIsAt(path, file: true))}.", path, e);
        }
        if (m is null) throw new ShardException("not a shard manifest (empty).", path);
        if (m.Format != ShardManifest.CurrentFormat)
            throw new ShardException($"manifest format {m.Format}; this version reads format {ShardManifest.CurrentFormat}.", path);
        if (m.Shards < 1 || m.Shard < 1 || m.Shard > m.Shards)
            throw new ShardException($"declares shard {m.Shard}/{m.Shards}; a shard i/n needs 1 <= i <= n.", path);
        if (m.Fingerprint != Fingerprint(m.Sweep, m.TotalPoints, m.Settings))
            throw new ShardException("the settings in the manifest do not match its fingerprint (edited after the run?).", path);
        return m;
    }

    /// <summary>
    /// Finds the manifests of sweep <paramref name="sweep"/> in <paramref name="folders"/> (each searched directly, not
    /// recursively), checks that they form one complete sharded run, and returns the rows in point order.
    /// </summary>
    public static MergedSweep Merge(IEnumerable<string> folders, string sweep)
    {
        ArgumentNullException.ThrowIfNull(folders);
        CheckName(sweep);
        var dirs = folders.ToList();
        if (dirs.Count == 0) throw new ShardException("no folders to merge.");
        var found = new List<(string Path, ShardManifest M)>();
        foreach (var dir in dirs)
            foreach (var f in FindManifests(dir))
                if (Path.GetFileName(f).StartsWith(sweep + "-shard-", StringComparison.Ordinal))
                {
                    var m = ReadManifest(f);
                    if (m.Sweep != sweep) throw new ShardException($"named like a shard of '{sweep}' but declares sweep '{m.Sweep}'.", f);
                    found.Add((f, m));
                }
        if (found.Count == 0)
            throw new ShardException($"no shards of '{sweep}' ({sweep}-shard-i-of-n.json) found in {string.Join(", ", dirs)}.");

        var byShard = found.OrderBy(x => x.M.Shard).ThenBy(x => x.Path, StringComparer.Ordinal).ToList();
        var (refPath, r) = byShard[0];
        foreach (var (path, m) in byShard.Skip(1))
        {
            if (m.Shards != r.Shards)
                throw new ShardException($"is shard {m.Shard}/{m.Shards} but {refPath} is shard {r.Shard}/{r.Shards}: the folders mix runs cut into different numbers of shards (stale files of an earlier run?).", path);
            if (m.Fingerprint != r.Fingerprint)
                throw new ShardException($"was run with other settings than {refPath}: {SettingsDiff(r, m)}.", path);
            if (!m.Columns.SequenceEqual(r.Columns))
                throw new ShardException($"has columns [{string.Join(", ", m.Columns)}] but {refPath} has [{string.Join(", ", r.Columns)}].", path);
        }
        var seen = new Dictionary<int, string>();
        foreach (var (path, m) in byShard)
            if (!seen.TryAdd(m.Shard, path))
                throw new ShardException($"shard {m.Shard}/{m.Shards} is present twice: {seen[m.Shard]} and {path}.", path);
        var missing = Enumerable.Range(1, r.Shards).Where(i => !seen.ContainsKey(i)).ToArray();
        if (missing.Length > 0)
        {
            var expected = $"{sweep}-shard-{missing[0]}-of-{r.Shards}.json";
            throw new ShardException($"missing shard{(missing.Length > 1 ? "s" : "")} {string.Join(", ", missing.Select(i => $"{i}/{r.Shards}"))} " +
                $"of '{sweep}' (found {byShard.Count} of {r.Shards} in {string.Join(", ", dirs)}); rerun {(missing.Length > 1 ? "them" : "it")} with --shard i/{r.Shards}.", expected);
        }

        // Points: each exactly once over all shards, in the shard that owns it.
        var pointFile = new Dictionary<int, string>();
        foreach (var (path, m) in byShard)
            foreach (var k in m.Points)
            {
                if (k < 0 || k >= m.TotalPoints) throw new ShardException($"lists point {k}, outside the sweep's points 0..{m.TotalPoints - 1}.", path);
                if (!pointFile.TryAdd(k, path)) throw new ShardException($"duplicate point {k}: it is in {pointFile[k]} and in {path}.", path);
            }
        foreach (var (path, m) in byShard)
            foreach (var k in m.Points)
                if (ShardSpec.ShardOf(k, m.Shards) is var owner && owner != m.Shard)
                    throw new ShardException($"lists point {k}, which belongs to shard {owner}/{m.Shards}, not {m.Shard}/{m.Shards}.", path);
        var absent = Enumerable.Range(0, r.TotalPoints).Where(k => !pointFile.ContainsKey(k)).ToArray();
        if (absent.Length > 0)
            throw new ShardException($"point{(absent.Length > 1 ? "s" : "")} {string.Join(", ", absent)} of '{sweep}' are in no shard (e.g. should be in shard {ShardSpec.ShardOf(absent[0], r.Shards)}/{r.Shards}).",
                byShard[ShardSpec.ShardOf(absent[0], r.Shards) - 1].Path);

        var rows = new List<(int Point, IReadOnlyList<string> Fields)>();
        foreach (var (path, m) in byShard) rows.AddRange(ReadRows(path, m));
        // Stable: rows of one point keep their shard's order.
        var ordered = rows.Select((x, i) => (x, i)).OrderBy(t => t.x.Point).ThenBy(t => t.i).Select(t => t.x).ToList();
        return new MergedSweep(sweep, r.Shards, r.TotalPoints, r.Settings, r.Columns, ordered, byShard.Select(x => x.Path).ToArray());
    }

    private static List<(int, IReadOnlyList<string>)> ReadRows(string manifestPath, ShardManifest m)
    {
        var csv = Path.Combine(Path.GetDirectoryName(manifestPath) ?? ".", m.Results);
        if (!File.Exists(csv)) throw new ShardException($"results file {m.Results} named by the manifest is missing.", csv);
        if (Sha256(csv) != m.ResultsSha256)
            throw new ShardException("the results file changed after its manifest was written (SHA-256 differs); rerun the shard.", csv);
        var rows = new List<(int, IReadOnlyList<string>)>();
        var owned = m.Points.ToHashSet();
        using var reader = CsvReader.FromFile(csv);
        var header = reader.Headers.ToArray();
        var expected = new[] { PointColumn }.Concat(m.Columns).ToArray();
        if (!header.SequenceEqual(expected))
            throw new ShardException($"header [{string.Join(", ", header)}] differs from the manifest's [{string.Join(", ", expected)}].", csv);
        int line = 1;
        while (reader.Read())
        {
            line++;
            if (reader.FieldCount != expected.Length)
                throw new ShardException($"row {line} has {reader.FieldCount} fields, the header has {expected.Length}.", csv);
            var p = reader.GetString(0);
            if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int k) || !owned.Contains(k))
                throw new ShardException($"row {line} is of point '{p}', which the manifest does not list.", csv);
            rows.Add((k, Enumerable.Range(1, m.Columns.Count).Select(i => reader.GetString(i)).ToArray()));
        }
        if (rows.Count != m.Rows) throw new ShardException($"{rows.Count} rows, the manifest says {m.Rows}.", csv);
        var empty = m.Points.Except(rows.Select(x => x.Item1)).ToArray();
        if (empty.Length > 0) throw new ShardException($"no rows for point(s) {string.Join(", ", empty)} listed in the manifest.", csv);
        return rows;
    }

    private static string SettingsDiff(ShardManifest a, ShardManifest b)
    {
        var diffs = new List<string>();
        if (a.TotalPoints != b.TotalPoints) diffs.Add($"{b.TotalPoints} points vs {a.TotalPoints}");
        foreach (var k in a.Settings.Keys.Union(b.Settings.Keys).OrderBy(k => k, StringComparer.Ordinal))
        {
            a.Settings.TryGetValue(k, out var va);
            b.Settings.TryGetValue(k, out var vb);
            if (va != vb) diffs.Add($"{k} = {vb ?? "(absent)"} vs {va ?? "(absent)"}");
        }
        return diffs.Count == 0 ? "fingerprints differ" : string.Join("; ", diffs);
    }

    private static string Sha256(string path)
    {
        FileStream s;
        try { s = File.OpenRead(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ShardException($"expected a shard's results file, found {(File.Exists(path) ? $"a file that cannot be read ({e.Message})" : Ship.Core.Errors.UserFiles.WhatIsAt(path, file: true))}.", path, e);
        }
        using (s) return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    private static void CheckName(string sweep)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sweep);
        if (sweep.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || sweep.Contains("-shard-", StringComparison.Ordinal))
            throw new ArgumentException($"'{sweep}' cannot name a sweep: it must be a valid file name without '-shard-'.", nameof(sweep));
    }
}
