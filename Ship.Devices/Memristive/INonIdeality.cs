using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// One physical non-ideality of a memristive device array (quantization, noise, faults, drift…), applied in the
/// order the array lists them. Both hooks receive the conductances (S) of every device [D, Ns, Nt] (float64) and return
/// the changed conductances as a new tensor (never modify the input in place). Draws come from
/// <see cref="DeviceState.Rng"/>, the network's generator, so a seed fixes every device.
/// </summary>
public interface INonIdeality
{
    /// <summary>Whether <see cref="Read"/> draws fresh randomness, so two reads differ and the synapse must read every step.</summary>
    bool ReadsVary => false;

    /// <summary>Programming stage, once per programming: turns the conductances (S) being written into what the devices hold (S).</summary>
    Tensor Program(Tensor conductances, DeviceState state) => conductances;

    /// <summary>Read stage, at every read: turns the programmed conductances (S) into what is read (S) at the study's elapsed time.</summary>
    Tensor Read(Tensor conductances, DeviceState state) => conductances;
}

/// <summary>Where the noise σ of a Gaussian non-ideality comes from (absolute, relative, a fitted law).</summary>
public interface INoiseSigma
{
    /// <summary>σ (S) for each device (any shape broadcastable to the conductances), given the conductances (S) the noise is added to.</summary>
    Tensor Sigma(Tensor conductances, DeviceState state);
}
