using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// A device array on the bench, without a network: program weights, apply pulse trains, age (set the time since
/// programming) and read conductances (S) or weights, every draw from the bench's own seeded generator (the same
/// physics and the same draw order as the array inside a network whose generator has that seed). For characterization
/// and fitting: <c>using var bench = new DeviceBench(MemristivePresets.PcmLike(), seed: 1);
/// bench.Program(w).Age(3600); var g = bench.Read();</c>
/// </summary>
public sealed class DeviceBench : IDisposable
{
    /// <summary>Puts <paramref name="array"/> on the bench with a generator seeded <paramref name="seed"/>; tensors on <paramref name="device"/> (CPU by default).</summary>
    public DeviceBench(DeviceArray array, long seed = 0, Device? device = null)
    {
        Array = array ?? throw new ArgumentNullException(nameof(array));
        Rng = new torch.Generator((ulong)seed, CPU); // host generator, as a network's (see Draw)
        Device = device ?? CPU;
    }

    /// <summary>The array under test.</summary>
    public DeviceArray Array { get; }
    /// <summary>The bench's generator: every draw of programming, pulses and reads.</summary>
    public torch.Generator Rng { get; }
    /// <summary>Where the device tensors live.</summary>
    public Device Device { get; }
    /// <summary>The programmed devices (conductances, stuck masks, draws).</summary>
    public DeviceState State => Array.State;
    /// <summary>Time since programming at which reads happen (s).</summary>
    public double ElapsedTime => Array.ElapsedTime;

    /// <summary>Programs weights (any shape; the array adds its device dimension) and resets the clock to 0 s.</summary>
    public DeviceBench Program(Tensor weights)
    {
        Array.ElapsedTime = 0;
        Array.Program(weights, Rng, Device);
        return this;
    }

    /// <summary>Sets the time since programming to <paramref name="seconds"/> (absolute).</summary>
    public DeviceBench AgeTo(double seconds)
    {
        Array.ElapsedTime = seconds;
        return this;
    }

    /// <summary>Lets <paramref name="seconds"/> more pass.</summary>
    public DeviceBench Age(double seconds)
    {
        Array.ElapsedTime = Array.ElapsedTime + DeviceErrors.Time(Array.Name, "seconds", seconds);
        return this;
    }

    /// <summary>Applies <paramref name="count"/> pulses (to masked devices only, if given): the trace of programmed conductances (S), [count + 1, D, …].</summary>
    public Tensor Pulse(int count, PulseDirection direction, Tensor? mask = null) => Array.ApplyPulses(count, direction, Rng, mask);

    /// <summary>Conductances (S) of every device [D, …] read now.</summary>
    public Tensor Read() => Array.ReadConductances(Rng);

    /// <summary>Weights read now (float64).</summary>
    public Tensor ReadWeights() => Array.ReadWeights(Rng);

    /// <summary>Frees the generator; the array stays usable (it is not owned).</summary>
    public void Dispose() => Rng.Dispose();
}
