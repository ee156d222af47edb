using Ship.Core.Networks;
using Ship.Core.Persistence;

namespace Ship.Devices.Persistence;

/// <summary>
/// Saving and loading networks in one call (see <see cref="NetworkCheckpoint"/> and docs/persistence.md). Models are
/// discovered (<see cref="ModelRegistry"/>): the Ship.NET libraries' and the entry assembly's; pass a registry built
/// with your assembly when your models live elsewhere.
/// </summary>
public static class Checkpoint
{
    /// <summary>Saves <paramref name="network"/> to <paramref name="folder"/>; models outside the Ship.NET libraries and the entry assembly need a <paramref name="registry"/> given their assembly.</summary>
    public static void Save(Network network, string folder, ModelRegistry? registry = null) =>
        new NetworkCheckpoint(registry ?? new ModelRegistry()).Save(network, folder);

    /// <summary>Loads a network saved by <see cref="Save"/>, ready to Continue or Run.</summary>
    public static Network Load(string folder, ModelRegistry? registry = null) =>
        new NetworkCheckpoint(registry ?? new ModelRegistry()).Load(folder);
}
