using System.Text.Json.Serialization;
using Ship.Core.Networks;
using Ship.Core.Spikes;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Persistence;

/// <summary>
/// Every run setting of a <see cref="Network"/> as one record: what a checkpoint writes (System.Text.Json, snake_case)
/// and what loading applies, so the list exists once. A conformance test checks that every public settable property
/// of <see cref="Network"/> appears here.
/// </summary>
/// <param name="Name">Network name (messages).</param>
/// <param name="Dt">Default time step in seconds.</param>
/// <param name="Steps">Default number of steps.</param>
/// <param name="BatchSize">Samples simulated side by side.</param>
/// <param name="Device">Device, as torch names it ("cpu", "cuda:0").</param>
/// <param name="DType">Floating dtype of states and outputs.</param>
/// <param name="Seed">Seed of the network's generator.</param>
/// <param name="TrackGradients">Whether runs record the autograd graph.</param>
/// <param name="TimeBatching">Whether input-only groups compute a segment at once.</param>
/// <param name="CheckFinite">Whether the NaN/∞ guard is on.</param>
/// <param name="StepsPerDisposeScope">Most steps under one dispose scope.</param>
/// <param name="SequenceBlockSteps">Most steps a whole-segment group computes ahead.</param>
/// <param name="DisposeScopeBytes">About how many bytes of intermediates a dispose scope may gather.</param>
/// <param name="SpikeFunction">How neurons fire (a registered model).</param>
/// <param name="Precision">Reduced storage and TF32 (docs/precision.md); absent in older checkpoints: full precision.</param>
public sealed record NetworkSettings(
    string Name, double Dt, int Steps, int BatchSize, string Device, [property: JsonPropertyName("dtype")] ScalarType DType, long Seed,
    bool TrackGradients, bool TimeBatching, bool CheckFinite, int StepsPerDisposeScope, int SequenceBlockSteps,
    long DisposeScopeBytes, ISpikeFunction SpikeFunction, Precision? Precision = null)
{
    /// <summary>The settings of <paramref name="network"/>.</summary>
    public static NetworkSettings Of(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return new(network.Name, network.Dt, network.Steps, network.BatchSize, network.Device.ToString(), network.DType, network.Seed,
            network.TrackGradients, network.TimeBatching, network.CheckFinite, network.StepsPerDisposeScope, network.SequenceBlockSteps,
            network.DisposeScopeBytes, network.SpikeFunction, network.Precision);
    }

    /// <summary>A new empty network with these settings; an unknown device or a non-floating dtype raises an <see cref="ArgumentException"/>.</summary>
    public Network Create()
    {
        if (DType is not (ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64))
            throw new ArgumentException($"dtype {DType} is not a floating dtype (Float16, BFloat16, Float32 or Float64).", nameof(DType));
        Device device;
        try { device = torch.device(Device); }
        catch (Exception e) when (e is not ArgumentNullException) { throw new ArgumentException($"'{Device}' is not a device torch knows.", nameof(Device), e); }
        return new Network(Name)
        {
            Dt = Dt, Steps = Steps, BatchSize = BatchSize, Device = device, DType = DType, Seed = Seed,
            TrackGradients = TrackGradients, TimeBatching = TimeBatching, CheckFinite = CheckFinite,
            StepsPerDisposeScope = StepsPerDisposeScope, SequenceBlockSteps = SequenceBlockSteps,
            DisposeScopeBytes = DisposeScopeBytes, SpikeFunction = SpikeFunction, Precision = Precision ?? Precision.Full,
        };
    }
}
