using NUnit.Framework;
using OxyPlot.Axes;
using Ship.Devices.Memristive;
using Ship.Plots;
using Ship.Tests.Plots;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Devices.Memristive;

/// <summary>Conductances are siemens in every public API; plots show them in µS without the caller scaling anything.</summary>
public class SiemensTests
{
    /// <summary>The windows the presets are documented with (SHIP: 50–120 µS; aihwkit PCM: 0–25 µS), in siemens.</summary>
    private static readonly (string Name, double Gmin, double Gmax)[] Windows = { ("rram", 50e-6, 120e-6), ("pcm", 0, 25e-6) };

    [Test]
    public void PresetWindowsAreInSiemens()
    {
        foreach (var (name, gmin, gmax) in Windows)
        {
            using var array = MemristivePresets.ByName(name);
            var range = array.Mapping switch
            {
                DifferentialReferenceMapping d => d.Range,
                SymmetricDifferentialMapping s => s.Range,
                _ => throw new AssertionException($"{name}: unexpected mapping {array.Mapping.GetType().Name}"),
            };
            Assert.That(range.Gmin, Is.EqualTo(gmin), name);
            Assert.That(range.Gmax, Is.EqualTo(gmax), name);
        }
        Assert.That(new PcmProgrammingSigma().ReferenceGmax, Is.EqualTo(25e-6));
        Assert.That(new PcmProgrammingSigma().C0, Is.EqualTo(0.26348e-6));
    }

    [Test]
    public void RramDriftRefusesAWindowGivenInMicrosiemens()
    {
        // The old µS numbers (50, 120) are 50 S and 120 S now: the drift fit must say so instead of drifting nonsense.
        using var micro = new DeviceArray("old window", new DifferentialReferenceMapping(50, 120), new RramDrift());
        var e = Assert.Throws<Ship.Core.Errors.ParameterException>(() => micro.Program(torch.ones(2, 3), Stat.Ctx()))!;
        Assert.That(e.Group, Is.EqualTo("old window"));
        Assert.That(e.Parameter, Is.EqualTo("conductances"));
        Assert.That(e.Message, Does.Contain("siemens").And.Contain("µS"));
        Assert.That(micro.IsProgrammed, Is.False, "nothing was programmed");
        using var siemens = MemristivePresets.ShipRram();
        Assert.DoesNotThrow(() => siemens.Program(torch.ones(2, 3), Stat.Ctx()));
    }

    [Test]
    public void UnknownPresetNamesAreATypedErrorListingTheKnownOnes()
    {
        var e = Assert.Throws<UnknownPresetException>(() => MemristivePresets.ByName("ship-rram"))!;
        Assert.That(e.Name, Is.EqualTo("ship-rram"));
        Assert.That(e.Known, Is.EqualTo(new[] { "rram", "pcm", "ideal" }));
        foreach (var known in MemristivePresets.Names) Assert.That(e.Message, Does.Contain(known));
        Assert.That(e, Is.InstanceOf<Ship.Core.Errors.ShipException>());
        using var pcm = MemristivePresets.ByName("pcm", elapsedTime: 60);
        Assert.That(pcm.ElapsedTime, Is.EqualTo(60));
    }

    [Test]
    public void IdealDevicesOnPresetMappingsReproduceFloat32WeightsExactly()
    {
        // Siemens-sized conductances (1e-4) must not cost float32 weights any precision: reading back a device array
        // with the preset's mapping and no non-ideality returns every weight bit for bit, as the µS windows did.
        var w = torch.randn(new long[] { 37, 23 }, generator: new torch.Generator(17));
        w[0, 0] = torch.tensor(0f);
        w[1, 1] = torch.tensor(1e-7f); // far below max|w|: the difference G+ − G− is tiny against Gmin
        var expected = w.data<float>().ToArray();
        foreach (var (mapping, micro) in new (ConductanceMapping, ConductanceMapping)[]
                 {
                     (MemristivePresets.ShipRram().Mapping, new DifferentialReferenceMapping(50, 120)),
                     (MemristivePresets.PcmLike().Mapping, new SymmetricDifferentialMapping(0, 25)),
                 })
        {
            using var siemens = new DeviceArray(mapping);
            using var old = new DeviceArray(micro);
            var ctx = Stat.Ctx(3);
            siemens.Program(w, ctx);
            old.Program(w, ctx);
            var read = siemens.Read(ctx);
            Assert.That(read.dtype, Is.EqualTo(ScalarType.Float32));
            Assert.That(read.data<float>().ToArray(), Is.EqualTo(expected), mapping.GetType().Name);
            Assert.That(read.data<float>().ToArray(), Is.EqualTo(old.Read(ctx).data<float>().ToArray()), $"{mapping.GetType().Name}: same weights as on the µS window");
        }
    }

    [Test]
    public void PlottingAPresetsReadsPutsTheAxisInsideItsWindowInMicrosiemens()
    {
        var dir = PlotAssert.NewFolder("siemens-preset");
        var times = new[] { 0.01, 0.1, 0.5 }; // before the RRAM fit's validity limit, and at most a 1 % PCM drift
        var fractions = new[] { 0.0, 0.25, 0.5, 0.75, 1.0 };
        foreach (var (name, gmin, gmax) in Windows)
        {
            using var array = MemristivePresets.ByName(name);
            var ctx = Stat.Ctx(8);
            var w = torch.tensor(fractions, ScalarType.Float64).unsqueeze(1).expand(fractions.Length, 300).contiguous();
            array.Program(w, ctx);
            var reads = new List<Tensor>();
            foreach (var t in times)
            {
                array.ElapsedTime = t;
                reads.Add(array.ReadConductances(ctx)[0]);
            }
            var f = DevicePlots.DriftDistribution(dir, name, torch.stack(reads, 1), times);

            double lo = gmin * 1e6, hi = gmax * 1e6, margin = 0.15 * (hi - lo);
            var axis = f.Model.Axes.Single(a => a.Position == AxisPosition.Left);
            Assert.That(axis.Title, Is.EqualTo("Conductance (µS)"), name);
            Assert.That(axis.ActualMinimum, Is.InRange(lo - margin, lo + margin), $"{name}: axis starts at the window's Gmin in µS");
            Assert.That(axis.ActualMaximum, Is.InRange(hi - margin, hi + margin), $"{name}: axis ends at the window's Gmax in µS");
            var (_, rows) = PlotAssert.ReadCsv(f.Csv);
            Assert.That(PlotAssert.Column(rows, 2), Has.All.InRange(lo - margin, hi + margin), $"{name}: mean_uS lies in the window");
        }
    }
}
