using NUnit.Framework;
using Ship.Cli;
using Ship.Devices.Energy;
using Ship.Devices.Memristive;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Tests.Cli;

/// The main job's programming-energy table: program-and-verify of both weight matrices onto each preset, its write
/// energy bounded by the formula with every device conductance inside the preset's window.
public class ProgrammingEnergyTests
{
    private static Dictionary<string, Tensor> Weights() => new()
    {
        [StudyModel.InHidden] = torch.rand(new long[] { 12, 8 }, generator: new torch.Generator(1)).mul_(2).sub_(1),
        [StudyModel.HiddenOut] = torch.rand(new long[] { 8, 3 }, generator: new torch.Generator(2)).mul_(2).sub_(1),
    };

    // The presets' windows as their docs give them (S): SHIP's RRAM 50–120 µS, the PCM-like pair 0–25 µS.
    [TestCase("rram", 50e-6, 120e-6)]
    [TestCase("pcm", 0.0, 25e-6)]
    public void ProgrammingEnergyLiesBetweenTheFormulaAtTheWindowsEnds(string preset, double lo, double hi)
    {
        var p = EnergyStudy.Programming(Weights(), preset, seed: 3);
        using var probe = Study.Preset(preset);
        int perWeight = probe.Mapping.DevicesPerWeight;
        Assert.That(p.Devices, Is.EqualTo(perWeight * (12 * 8 + 8 * 3)));
        Assert.That(p.Pulses, Is.GreaterThan(0));
        Assert.That(p.ConvergedFraction, Is.GreaterThan(0.95), "1 % of the window is reachable with steps of 1/60 to 1/100 of it");
        // Every pulse: V²·t·(mean conductance in [lo, hi]) + V²·C·(cells on its row: 8 or 3).
        var m = EnergyStudy.Crossbar;
        double v2 = m.WriteVoltage * m.WriteVoltage;
        double least = p.Pulses * (v2 * m.WritePulseWidth * lo + v2 * m.CellCapacitance * 3);
        double most = p.Pulses * (v2 * m.WritePulseWidth * hi + v2 * m.CellCapacitance * 8);
        Assert.That(p.Energy, Is.InRange(least, most));
    }

    [Test]
    public void TheTablesShowTheProgrammingRow()
    {
        using var ledger = new HardwareLedger();
        var e = new NetworkEnergy("plain", ledger.Report(), System.Array.Empty<(string, LedgerReport)>())
        {
            Programming = new[] { EnergyStudy.Programming(Weights(), "rram", seed: 3) },
        };
        var text = EnergyStudy.Tables(e);
        Assert.That(text, Does.Contain("program-and-verify").And.Contain("| rram | 240 |"));
    }

    [Test]
    public void TheTwoArraysAreIndependentDevices()
    {
        // Both matrices equal: if the two arrays drew their devices, cycle noise and verify reads from the same stream,
        // the second would repeat the first pulse for pulse and the total would be exactly twice one array's.
        var w = torch.rand(new long[] { 8, 8 }, generator: new torch.Generator(5)).mul_(2).sub_(1);
        var p = EnergyStudy.Programming(new Dictionary<string, Tensor> { [StudyModel.InHidden] = w, [StudyModel.HiddenOut] = w }, "rram", seed: 3);
        using var probe = Study.Preset("rram");
        using var one = probe.WithPulses(Study.PulseModel("rram", probe));
        var rng = new torch.Generator(3);
        one.Program(w, rng);
        using var r = one.ProgramAndVerify(ProgramVerifySettings.ForWindow(one.State.Range) with { FromErased = true }, rng);
        Assert.That(r.TotalPulses, Is.GreaterThan(0));
        Assert.That(p.Pulses, Is.Not.EqualTo(2 * r.TotalPulses), "the second array repeated the first");
    }
}
