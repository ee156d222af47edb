using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Spikes;

/// <summary>
/// Turns a membrane value and a threshold into 0/1 spikes in the membrane's dtype. Every neuron model fires through the
/// network's spike function, so training can swap in a surrogate derivative without changing the forward convention:
/// a spike is emitted when v ≥ thr, with or without a trainer.
/// </summary>
public interface ISpikeFunction
{
    /// <summary>Spikes (1 where v ≥ thr, else 0) in v's dtype; a training implementation adds a surrogate gradient.</summary>
    Tensor Fire(Tensor v, Tensor thr);
}

/// <summary>The exact Heaviside step, v ≥ thr, with no gradient: the default for inference.</summary>
[ShipModel("HeavisideSpikes")]
public sealed class HeavisideSpikes : ISpikeFunction, IShipModel<HeavisideSpikes, NoSettings>
{
    /// <inheritdoc />
    public NoSettings GetSettings() => NoSettings.Instance;

    /// <inheritdoc />
    public static HeavisideSpikes FromSettings(NoSettings settings) => Instance;

    /// <summary>The shared stateless instance.</summary>
    public static readonly HeavisideSpikes Instance = new();

    /// <inheritdoc />
    public Tensor Fire(Tensor v, Tensor thr) => v.ge(thr).to_type(v.dtype);
}
