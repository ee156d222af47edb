using Ship.Core.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// A device array on the bench, without a network: program weights, apply pulse trains, age (set the time since
/// programming) and read conductances (S) or weights, every draw from the bench's own seeded context (the network path
/// itself, on a context of that seed: the same physics and the same named random streams). For characterization
/// and fitting: <c>using var bench = new DeviceBench(MemristivePresets.PcmLike(), seed: 1);
/// bench.Program(w).Age(3600); var g = bench.Read();</c>
/// </summary>
public sealed class DeviceBench : IDisposable
{
    /// <summary>Puts <paramref name="array"/> on the bench with a generator seeded <paramref name="seed"/>; tensors on <paramref name="device"/> (CPU by default).</summary>
    public DeviceBench(DeviceArray array, long seed = 0, Device? device = null)
    {
        Array = array ?? throw new ArgumentNullException(nameof(array));
        Context = new SimulationContext(1, device, ScalarType.Float64, seed: seed);
        Device = device ?? CPU;
    }

    /// <summary>The bench's context: its named random streams give every draw of programming, pulses and reads.</summary>
    public SimulationContext Context { get; }

    /// <summary>The array under test.</summary>
    public DeviceArray Array { get; }
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
        Array.Program(weights, Context);
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
    public Tensor Pulse(int count, PulseDirection direction, Tensor? mask = null) => Array.ApplyPulses(count, direction, Context, mask);

    /// <summary>Conductances (S) of every device [D, …] read now.</summary>
    public Tensor Read() => Array.ReadConductances(Context);

    /// <summary>Weights read now (float64).</summary>
    public Tensor ReadWeights() => Array.ReadWeights(Context.Stream("read-noise"));

    /// <summary>Nothing to free but the array, which is not owned and stays usable.</summary>
    public void Dispose() { }
}
