using NUnit.Framework;
using Ship.Core.Clocks;
using Ship.Core.Errors;
using Ship.Core.Monitors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Persistence;
using Ship.Devices.Synapses;
using TorchSharp;
using static Ship.Tests.Reliability.ReliabilityKit;
using static TorchSharp.torch;

namespace Ship.Tests.Reliability;

public class StreamingMonitorTests
{
    internal static Network Net()
    {
        var net = new Network { Dt = 1e-3, Steps = 50, BatchSize = 2, Seed = 6 };
        net.Add("I", new TensorInput(4));
        net.Add("S", new FirstOrder(Init.Uniform(0, 1), tau: 5e-3, weightScale: 150.0), "I", "L");
        net.Add("L", new Lif(3, tau: 8e-3));
        net.MarkOutput("L");
        return net;
    }

    internal static long LiveTensors()
    {
        for (int k = 0; k < 3; k++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return torch.Tensor.TotalCount;
    }

    [TestCase(MonitorFileFormat.SafeTensors, 7)]
    [TestCase(MonitorFileFormat.SafeTensors, 1000)]
    [TestCase(MonitorFileFormat.Csv, 16)]
    public void StreamedRecordsEqualTheInMemoryMonitor(MonitorFileFormat format, int chunk)
    {
        var dir = TempFolder($"stream-{format}-{chunk}");
        var net = Net();
        var memory = net.Monitor("L", "u");
        var memoryI = net.Monitor("S", "I");
        var streamed = net.Monitor("L", "u").StreamTo(Path.Combine(dir, "u"), chunk, format);
        var streamedI = net.Monitor("S", "I").StreamTo(Path.Combine(dir, "I"), chunk, format);
        var x = Scenarios.Raster(2, 80, 4, 0.4, seed: 3);
        net.Run(x, new Schedule((1e-3, 30), (0.5e-3, 20)));
        net.Continue(schedule: Schedule.Fixed(0.5e-3, 25));

        Assert.That(streamed.IsStreaming, Is.True);
        Assert.That(streamed.Count, Is.EqualTo(75));
        Assert.That(streamed.Times, Is.EqualTo(memory.Times), "times of every step");
        var (values, times) = MonitorStream.Read(Path.Combine(dir, "u"));
        Assert.That(times, Is.EqualTo(memory.Times.ToArray()));
        if (format == MonitorFileFormat.SafeTensors)
        {
            AssertBitIdentical(memory.Values, values, "streamed u");
            AssertBitIdentical(memoryI.Values, streamedI.Values, "streamed I [batch, steps, Ns, Nt]");
            int chunks = (50 + chunk - 1) / chunk + (25 + chunk - 1) / chunk; // full chunks, and a partial one at the end of each call
            Assert.That(MonitorStream.ChunkFiles(Path.Combine(dir, "u")), Has.Count.EqualTo(chunks));
        }
        else
        {
            // CSV holds the values as round-trip doubles, element index flattened.
            var expected = memory.Values.to_type(ScalarType.Float64).reshape(2, 75, -1);
            AssertBitIdentical(expected, values, "CSV u");
            var expectedI = memoryI.Values.to_type(ScalarType.Float64).reshape(2, 75, -1);
            AssertBitIdentical(expectedI, streamedI.Values, "CSV I");
        }
        Assert.That(memory.Values.abs().sum().item<float>(), Is.GreaterThan(0), "the membrane moved");
    }

    [Test]
    public void AStreamedMonitorHoldsAtMostOneChunkInMemory()
    {
        var dir = TempFolder("stream-bounded");
        var net = Net();
        var m = net.Monitor("L", "u").StreamTo(dir, chunkSteps: 10);
        var x = Scenarios.Raster(2, 500, 4, 0.4, seed: 3);
        net.Run(x, Schedule.Fixed(1e-3, 20));
        var live = new List<long>();
        for (int k = 0; k < 8; k++)
        {
            net.Continue(schedule: Schedule.Fixed(1e-3, 60));
            live.Add(LiveTensors());
        }
        // Replaced states wait for the garbage collector; once collected, the live count does not grow with the steps.
        Assert.That(live.Skip(2).Max() - live[1], Is.LessThan(5), $"live tensors after each call: {string.Join(", ", live)}");
        Assert.That(m.Count, Is.EqualTo(500));
        Assert.That(MonitorStream.ChunkFiles(dir), Has.Count.EqualTo(2 + 8 * 6));
        net.Run(x, Schedule.Fixed(1e-3, 35));
        Assert.That(MonitorStream.ChunkFiles(dir), Has.Count.EqualTo(4), "a new run replaces the previous run's chunks");
    }

    [Test]
    public void ANewRunRestartsTheStreamAndACheckpointResumesIt()
    {
        var dir = TempFolder("stream-resume");
        var net = Net();
        var m = net.Monitor("L", "u").StreamTo(Path.Combine(dir, "stream"), 8);
        var x = Scenarios.Raster(2, 80, 4, 0.4, seed: 3);
        net.Run(x, Schedule.Fixed(1e-3, 20));
        Checkpoint.Save(net, Path.Combine(dir, "ckpt"));
        var savedChunks = MonitorStream.ChunkFiles(Path.Combine(dir, "stream")).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f))).ToList();
        net.Continue(schedule: Schedule.Fixed(1e-3, 20));
        var expected = m.Values.clone();

        net.Run(x, Schedule.Fixed(1e-3, 5));
        Assert.That(m.Count, Is.EqualTo(5));
        Assert.That(m.Values.shape[1], Is.EqualTo(5), "a reset starts the stream over");

        // While the original streams into the folder, nobody else may: resuming there is refused and deletes nothing.
        Assert.Throws(Is.InstanceOf<ShipException>().With.Message.Contains("is locked by another stream"), () => Checkpoint.Load(Path.Combine(dir, "ckpt")));
        Assert.That(MonitorStream.ChunkFiles(Path.Combine(dir, "stream")), Has.Count.EqualTo(1), "the original's chunk is kept");

        // Back to the folder as it was at the save, as after a crash: the original's stream is gone and its lock released.
        m.CloseStream();
        Assert.That(File.Exists(Path.Combine(dir, "stream", MonitorStream.LockFile)), Is.False, "closing removes the lock file");
        foreach (var f in MonitorStream.ChunkFiles(Path.Combine(dir, "stream"))) File.Delete(f);
        foreach (var (k, chunk) in savedChunks) File.WriteAllBytes(Path.Combine(dir, "stream", k), chunk);
        var loaded = Checkpoint.Load(Path.Combine(dir, "ckpt"));
        var lm = loaded.Monitors.Single();
        Assert.That(lm.IsStreaming, Is.True);
        Assert.That(lm.Count, Is.EqualTo(20));
        loaded.Continue(schedule: Schedule.Fixed(1e-3, 20));
        AssertBitIdentical(expected, lm.Values, "resumed stream");
    }

    [Test]
    public void AClosedStreamsFolderTakesANewStreamFromAnotherNetworkOrProcess()
    {
        var dir = TempFolder("stream-reopen");
        var x = Scenarios.Raster(2, 30, 4, 0.4, seed: 4);
        var first = Net();
        var m = first.Monitor("L", "u").StreamTo(dir, 10);
        first.Run(x, Schedule.Fixed(1e-3, 30));
        Assert.That(File.Exists(Path.Combine(dir, MonitorStream.LockFile)), Is.True, "the stream holds its folder");
        // Another process cannot take the folder either (the lock belongs to the operating system, not to this process).
        var (code, output) = RunHelperProcess("stream-into", dir);
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain("is locked by another stream"));
        Assert.That(MonitorStream.ChunkFiles(dir), Has.Count.EqualTo(3), "the refused process deleted nothing");

        m.CloseStream();
        Assert.That(m.IsStreaming, Is.False);
        Assert.That(MonitorStream.Read(dir).Values.shape[1], Is.EqualTo(30), "closing keeps the records on disk");
        var second = Net();
        var reopened = second.Monitor("L", "u").StreamTo(dir, 10);
        second.Run(x, Schedule.Fixed(1e-3, 20));
        Assert.That(MonitorStream.ChunkFiles(dir), Has.Count.EqualTo(2), "the new stream replaced the finished one");
        var memory = Net();
        var inMemory = memory.Monitor("L", "u");
        memory.Run(x, Schedule.Fixed(1e-3, 20));
        AssertBitIdentical(inMemory.Values, reopened.Values, "the reopened stream holds the new run's records");

        // Removing the monitor releases the folder: another process now streams into it.
        second.RemoveMonitor(reopened);
        RunHelper("stream-into", dir);
        Assert.That(MonitorStream.Read(dir).Values.shape[1], Is.EqualTo(5), "the other process's stream");
        Assert.That(File.Exists(Path.Combine(dir, MonitorStream.LockFile)), Is.False, "its lock was released when it ended");
    }

    [Test]
    public void StreamingMustBeChosenBeforeRecording()
    {
        var net = Net();
        var m = net.Monitor("L", "u");
        net.Run(Scenarios.Raster(2, 50, 4, 0.4, seed: 3));
        Assert.Throws<ShipException>(() => m.StreamTo(TempFolder("late")));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Monitor("L").StreamTo(TempFolder("zero"), 0));
    }
}
