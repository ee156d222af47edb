using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ship.Core.Errors;
using TorchSharp;

namespace Ship.Core.IO;

/// <summary>
/// The provenance record every output folder holds (<c>provenance.json</c>): which Ship.NET (version and commit) made it,
/// with which command line, seeds and settings, on which torch device and thread count, on which host, and when, so any
/// figure in the folder can be regenerated.
/// </summary>
public static class Provenance
{
    /// <summary>File name of the record inside an output folder.</summary>
    public const string FileName = "provenance.json";

    /// <summary>Ship.NET's version as packed (for example <c>0.1.0</c>), from Ship.Core's informational version.</summary>
    public static string Version => SplitVersion().Version;

    /// <summary>The git commit Ship.Core was built from, or <c>"unknown"</c> when it was built outside a git clone.</summary>
    public static string Commit => SplitVersion().Commit;

    /// <summary>
    /// Writes <c>provenance.json</c> into <paramref name="folder"/> (created if missing) and returns its path.
    /// <paramref name="seeds"/> names every seed the run used; <paramref name="settings"/> is any JSON-serializable object
    /// (a settings record, an anonymous object); <paramref name="device"/> is the torch device the run computes on
    /// (default cpu). <paramref name="commandLine"/> defaults to this process's arguments.
    /// </summary>
    public static string Write(string folder, IReadOnlyDictionary<string, long>? seeds = null, object? settings = null,
        string device = "cpu", IReadOnlyList<string>? commandLine = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        var record = Record(seeds, settings, device, commandLine);
        var path = Path.Combine(folder, FileName);
        try
        {
            Directory.CreateDirectory(folder);
            // Written aside and moved in, so shards sharing a folder never leave a torn record.
            var tmp = $"{path}.{Environment.ProcessId}.tmp";
            File.WriteAllText(tmp, record.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ShipException($"Provenance record '{path}': could not write it ({e.Message}); expected a writable output folder.", e);
        }
        return path;
    }

    /// <summary>The record <see cref="Write"/> writes, as a JSON object (for callers that embed it elsewhere).</summary>
    public static JsonObject Record(IReadOnlyDictionary<string, long>? seeds = null, object? settings = null,
        string device = "cpu", IReadOnlyList<string>? commandLine = null)
    {
        var args = commandLine ?? Environment.GetCommandLineArgs();
        var seedNode = new JsonObject();
        foreach (var (name, value) in seeds ?? new Dictionary<string, long>()) seedNode[name] = value;
        return new JsonObject
        {
            ["ship_net_version"] = Version,
            ["ship_net_commit"] = Commit,
            ["program"] = Assembly.GetEntryAssembly()?.GetName().Name ?? "unknown",
            ["command_line"] = new JsonArray(args.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
            // A file-based program (`dotnet run study.cs`) runs from a cached DLL; .NET 10 names its source file here.
            ["source_file"] = AppContext.GetData("EntryPointFilePath") as string,
            ["working_directory"] = Environment.CurrentDirectory,
            ["seeds"] = seedNode,
            ["settings"] = settings is null ? new JsonObject() : JsonSerializer.SerializeToNode(settings, settings.GetType()),
            ["torch"] = new JsonObject
            {
                ["device"] = device,
                ["threads"] = torch.get_num_threads(),
                ["torchsharp_version"] = typeof(torch).Assembly.GetName().Version?.ToString(3) ?? "unknown",
            },
            ["host"] = new JsonObject
            {
                ["os"] = RuntimeInformation.OSDescription,
                ["architecture"] = RuntimeInformation.ProcessArchitecture.ToString(),
                ["dotnet"] = RuntimeInformation.FrameworkDescription,
                ["processors"] = Environment.ProcessorCount,
            },
            ["time_utc"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        };
    }

    private static (string Version, string Commit) SplitVersion()
    {
        var info = typeof(Provenance).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        int plus = info.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? (info, "unknown") : (info[..plus], info[(plus + 1)..]);
    }
}
