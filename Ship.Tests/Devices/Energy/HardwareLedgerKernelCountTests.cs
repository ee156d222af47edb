using NUnit.Framework;
using Ship.Core.Networks;
using Ship.Devices.Energy;
using Ship.Devices.Inputs;
using Ship.Devices.Kernels;
using Ship.Devices.Memristive;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Energy;

/// The ledger's counts taken where the data is (the LIF kernel's own spike counts, one managed pass, one product per run)
/// against the tensor passes over every block (<see cref="HardwareLedger.CountInKernels"/> = false), which the hand-count
/// tests of <see cref="HardwareLedgerTests"/> pin; and the managed pass against a hand count.
public class HardwareLedgerKernelCountTests
{
    /// Input [batch, steps, n]: per step, at random, binary spikes or non-binary values (some steps silent).
    private static Tensor Input(Random rng, int batch, int steps, int n)
    {
        var x = new float[batch, steps, n];
        for (int t = 0; t < steps; t++)
        {
            int kind = rng.Next(3); // 0 silent, 1 spikes, 2 values
            for (int b = 0; b < batch; b++)
                for (int j = 0; j < n; j++)
                    x[b, t, j] = kind == 0 || rng.NextDouble() < 0.6 ? 0f : kind == 1 ? 1f : (float)(rng.NextDouble() * 4 - 1);
        }
        return torch.tensor(x);
    }

    /// Sparse random weights [rows, cols] (about a third zero) with large enough values for the LIF groups to fire.
    private static Tensor Weights(Random rng, int rows, int cols)
    {
        var w = new float[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                w[i, j] = rng.NextDouble() < 0.35 ? 0f : (float)(rng.NextDouble() * 1.5);
        return torch.tensor(w);
    }

    /// I → (IH) → H (LIF) → (HO) → O (LIF), and I → (IO) → O: the input and H each drive synapses; IO is on a device array when asked.
    private static Network Net(int seed, bool timeBatching, bool devices)
    {
        var rng = new Random(seed);
        int batch = rng.Next(1, 5), ni = rng.Next(3, 40), nh = rng.Next(3, 40), no = rng.Next(2, 20);
        var net = new Network("kernel-counts") { BatchSize = batch, Seed = seed, TimeBatching = timeBatching };
        net.Add("I", new TensorInput(ni));
        net.Add("IH", new Dense(Weights(rng, ni, nh)), "I", "H");
        net.Add("H", new Lif(nh, threshold: 0.8));
        net.Add("HO", new Dense(Weights(rng, nh, no)), "H", "O");
        var io = net.Add("IO", new Dense(Weights(rng, ni, no).mul(40e-6)), "I", "O");
        if (devices) io.WithDevice(new DeviceArray("io", new DirectMapping()));
        net.Add("O", new Lif(no, threshold: 0.5));
        net.MarkOutput("O");
        net.MarkOutput("H");
        return net;
    }

    private static (LedgerReport Report, Tensor H, Tensor O) Run(int seed, bool timeBatching, bool devices, bool inKernels)
    {
        var net = Net(seed, timeBatching, devices);
        using var ledger = new HardwareLedger { CountInKernels = inKernels };
        net.AddObserver(ledger);
        var rng = new Random(seed + 1000);
        int batch = net.BatchSize, ni = net["I"].OutputSize, steps = rng.Next(5, 60);
        var r = net.Run(Input(rng, batch, steps, ni));
        var h = r["H"].clone();
        var o = r["O"].clone();
        // A Continue adds to the same counts.
        net.Continue(Input(rng, batch, rng.Next(1, 20), ni));
        return (ledger.Report(), h, o);
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Test]
    public void CountsInKernelsEqualTensorPassCountsOnRandomNetworks()
    {
        for (int seed = 0; seed < 12; seed++)
            foreach (bool timeBatching in new[] { true, false })
            {
                bool devices = seed % 3 == 2;
                var what = $"seed {seed}, time batching {timeBatching}, devices {devices}";
                var fast = Run(seed, timeBatching, devices, inKernels: true);
                var passes = Run(seed, timeBatching, devices, inKernels: false);
                Assert.That(Same(fast.H, passes.H) && Same(fast.O, passes.O), Is.True, $"{what}: outputs differ");
                var (a, b) = (fast.Report, passes.Report);
                Assert.That(a.Steps, Is.EqualTo(b.Steps), what);
                foreach (var n in b.Neurons)
                {
                    var m = a.Neurons.Single(x => x.Tag == n.Tag);
                    Assert.That(m.Events, Is.EqualTo(n.Events), $"{what}: events of {n.Tag}");
                    Assert.That(m.Updates, Is.EqualTo(n.Updates), $"{what}: updates of {n.Tag}");
                }
                // Both must have seen events of every kind, or the comparison proves little.
                Assert.That(b.Neurons.Single(n => n.Tag == "H").Events, Is.GreaterThan(0), $"{what}: H fires");
                foreach (var s in b.Synapses)
                {
                    var m = a.Synapses.Single(x => x.Tag == s.Tag);
                    Assert.That(m.EffectiveAcs, Is.EqualTo(s.EffectiveAcs), $"{what}: ACs of {s.Tag}");
                    Assert.That(m.EffectiveMacs, Is.EqualTo(s.EffectiveMacs), $"{what}: MACs of {s.Tag}");
                    Assert.That(m.Dense, Is.EqualTo(s.Dense), $"{what}: dense of {s.Tag}");
                    Assert.That(m.RowEvents, Is.EqualTo(s.RowEvents), $"{what}: row events of {s.Tag}");
                    Assert.That(m.ActiveReads, Is.EqualTo(s.ActiveReads), $"{what}: active reads of {s.Tag}");
                    Assert.That(m.AdcConversions, Is.EqualTo(s.AdcConversions), $"{what}: ADC of {s.Tag}");
                    Assert.That(m.Steps, Is.EqualTo(s.Steps), $"{what}: steps of {s.Tag}");
                    // A conductance sum in another order: equal to rounding.
                    Assert.That(m.ReadConductance, Is.EqualTo(s.ReadConductance).Within(1e-12 * Math.Abs(s.ReadConductance) + 1e-30), $"{what}: conductance read by {s.Tag}");
                }
                if (devices) Assert.That(b.Synapses.Single(s => s.Tag == "IO").ReadConductance, Is.GreaterThan(0), $"{what}: the array is read");
                Assert.That(b.Synapses.Sum(s => s.EffectiveMacs), Is.GreaterThan(0), $"{what}: some steps are not binary");
            }
    }

    [Test]
    public void LedgerOnChangesNoResultAndOffIsBitIdentical()
    {
        for (int seed = 0; seed < 4; seed++)
        {
            var rng = new Random(seed + 1000);
            var plain = Net(seed, true, false);
            var x = Input(rng, plain.BatchSize, 40, plain["I"].OutputSize);
            var a = plain.Run(x)["O"].clone();
            var watched = Net(seed, true, false);
            using var ledger = new HardwareLedger();
            watched.AddObserver(ledger);
            var b = watched.Run(x)["O"].clone();
            watched.RemoveObserver(ledger);
            var c = watched.Run(x)["O"].clone();
            Assert.That(Same(a, b) && Same(a, c), Is.True, $"seed {seed}");
        }
    }

    [Test]
    public void ManagedPassEqualsHandCount()
    {
        // [batch 2, steps 3, 9 neurons] (9: one vector of 8 floats and a tail, or a tail alone).
        var y = torch.zeros(2, 3, 9);
        // Step 0, binary: sample 0 fires neurons 0 and 8; sample 1 is silent.
        y[0, 0, 0] = torch.tensor(1f); y[0, 0, 8] = torch.tensor(1f);
        // Step 1, not binary (a 0.5 and a NaN): sample 0 neuron 3 = 0.5, sample 1 neuron 3 = 1, neuron 8 = NaN.
        y[0, 1, 3] = torch.tensor(0.5f); y[1, 1, 3] = torch.tensor(1f); y[1, 1, 8] = torch.tensor(float.NaN);
        // Step 2, binary: sample 1 fires neuron 5.
        y[1, 2, 5] = torch.tensor(1f);
        foreach (bool perSample in new[] { true, false })
        {
            var c = new EventCounts(2, 9, perSample);
            c.Count(y);
            Assert.That(c.Steps, Is.EqualTo(3));
            Assert.That(c.ActivePairs, Is.EqualTo(4)); // (0,0), (0,1), (1,1), (1,2)
            var nonBinary = new double[9];
            nonBinary[3] = 2;
            nonBinary[8] = 1;
            Assert.That(c.NonBinary.ToArray(), Is.EqualTo(nonBinary));
            var total = new double[9];
            total[0] = 1; total[8] = 2; total[3] = 2; total[5] = 1;
            var sum = c.Unattributed.ToArray();
            for (int b = 0; b < 2; b++)
                for (int j = 0; j < 9; j++) sum[j] += c.PerSample[b * 9 + j];
            Assert.That(sum, Is.EqualTo(total));
            if (perSample) Assert.That(c.PerSample[9 + 8], Is.EqualTo(1), "sample 1, neuron 8: the NaN");
        }
    }

    [Test]
    public void NonZerosPerRowEqualHandCount()
    {
        // 3 rows × 11 columns (a vector of 8 and a tail of 3): row 0 has 2 non-zeros (one a NaN, in the tail), row 1
        // none, row 2 every column but one.
        var w = torch.zeros(3, 11);
        w[0, 1] = torch.tensor(-2f); w[0, 10] = torch.tensor(float.NaN);
        w[2] = torch.ones(11); w[2, 4] = torch.tensor(0f);
        Assert.That(EventCounts.NonZerosPerRow(w), Is.EqualTo(new double[] { 2, 0, 10 }));
        Assert.That(EventCounts.NonZerosPerRow(w.to(ScalarType.Float64)), Is.EqualTo(new double[] { 2, 0, 10 }));
        Assert.That(EventCounts.NonZerosPerRow(w.t()), Is.Null, "a strided view is left to tensor operations");
    }

    [TestCase(1)]
    [TestCase(2)]
    public void ManagedPassOfALargeBlockEqualsTensorCounts(int threads)
    {
        // [3, 400, 301] (beyond the size split over workers when libtorch has more than one thread): per step binary or
        // valued, at random; the reference counts are tensor operations written here.
        int before = torch.get_num_threads();
        try
        {
            torch.set_num_threads(threads);
            var gen = new torch.Generator(7);
            var y = torch.rand(new long[] { 3, 400, 301 }, generator: gen);
            var spikes = y.lt(0.3).to(ScalarType.Float32);
            var valued = torch.rand(new long[] { 1, 400, 1 }, generator: gen).lt(0.5); // steps with values rather than spikes
            y = torch.where(valued, y.mul(spikes), spikes);
            var nz = y.ne(0).to(ScalarType.Float64);
            var oddStep = y.ne(0).logical_and(y.ne(1)).any(2).any(0); // [T]
            var expectedPerSample = nz.sum(new long[] { 1 }).flatten();
            var expectedNonBinary = nz.sum(new long[] { 0 }).mul(oddStep.unsqueeze(1).to(ScalarType.Float64)).sum(new long[] { 0 });
            double expectedActive = nz.amax(2).sum().item<double>();
            foreach (bool perSample in new[] { true, false })
            {
                var c = new EventCounts(3, 301, perSample);
                c.Count(y);
                Assert.That(c.ActivePairs, Is.EqualTo(expectedActive), $"threads {threads}");
                Assert.That(c.NonBinary.ToArray(), Is.EqualTo(expectedNonBinary.data<double>().ToArray()), $"threads {threads}");
                var total = nz.sum(new long[] { 0, 1 }).data<double>().ToArray();
                var sum = c.Unattributed.ToArray();
                for (int b = 0; b < 3; b++)
                    for (int j = 0; j < 301; j++) sum[j] += c.PerSample[b * 301 + j];
                Assert.That(sum, Is.EqualTo(total), $"threads {threads}");
                if (perSample) Assert.That(c.PerSample.ToArray(), Is.EqualTo(expectedPerSample.data<double>().ToArray()), $"threads {threads}");
            }
            Assert.That(oddStep.any().item<bool>() && !oddStep.all().item<bool>(), "both kinds of step occur");
        }
        finally { torch.set_num_threads(before); }
    }
}
