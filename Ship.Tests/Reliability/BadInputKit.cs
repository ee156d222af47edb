using System.Text.Json.Nodes;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Core.Persistence;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Persistence;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

/// <summary>What the bad-input tests share: the network each row is given, its good input and saved-checkpoint edits.</summary>
internal static class BadInputKit
{
    /// <summary>A small network with a tensor input, a Poisson source and a refractory LIF output "L".</summary>
    public static Network Base()
    {
        var net = new Network("base") { Dt = 1e-3, Steps = 20, BatchSize = 2, Seed = 7 };
        net.Add("I", new TensorInput(3));
        net.Add("S", new FirstOrder(Init.Uniform(0, 1), tau: 5e-3, weightScale: 100.0), "I", "L");
        net.Add("P", new PoissonSource(2, rate: 100));
        net.Add("PS", new Dense(0.5), "P", "L");
        net.Add("L", new Refractory(new Lif(2, tau: 8e-3), 2e-3));
        net.MarkOutput("L");
        return net;
    }

    /// <summary>A correct input for <see cref="Base"/>.</summary>
    public static Tensor Good() => Scenarios.Raster(2, 20, 3, 0.4, seed: 5);

    /// <summary>Saves <see cref="Base"/> after one run into <paramref name="folder"/>/ckpt and returns that path.</summary>
    public static string SavedCheckpoint(string folder)
    {
        var dir = Path.Combine(folder, "ckpt");
        var net = Base();
        net.Run(Good());
        Checkpoint.Save(net, dir);
        return dir;
    }

    /// <summary>Edits a saved checkpoint's manifest in place.</summary>
    public static void EditManifest(string dir, Action<JsonObject> edit)
    {
        var path = Path.Combine(dir, NetworkCheckpoint.ManifestFile);
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(root);
        File.WriteAllText(path, root.ToJsonString());
    }

    /// <summary>The manifest node of the group tagged <paramref name="tag"/>.</summary>
    public static JsonObject GroupNode(JsonObject root, string tag) =>
        root["network"]!["groups"]!.AsArray().Select(g => g!.AsObject()).Single(g => (string)g["tag"]! == tag);
}
