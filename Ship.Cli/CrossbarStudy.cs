using System.Globalization;
using Ship.Core.Parameters;
using Ship.Devices.Memristive;
using Ship.Devices.Memristive.Crossbar;
using Ship.Devices.Synapses;
using Ship.Plots;
using Ship.Training.Hardware;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Cli;

/// <summary>Accuracy of one trained network on crossbar tiles against ADC resolution and against line resistance.</summary>
/// <param name="Bits">ADC resolutions evaluated.</param>
/// <param name="BitsAccuracy">Test accuracy per resolution.</param>
/// <param name="Resistances">Line resistances per segment evaluated (Ω).</param>
/// <param name="ResistanceAccuracy">Test accuracy per resistance (approximate IR drop, ideal converters).</param>
/// <param name="IdealAccuracy">Test accuracy on the tiles with ideal periphery (the reference line of both plots).</param>
public sealed record CrossbarResult(IReadOnlyList<int> Bits, IReadOnlyList<double> BitsAccuracy, IReadOnlyList<double> Resistances,
    IReadOnlyList<double> ResistanceAccuracy, double IdealAccuracy);

/// <summary>
/// The main job's optional crossbar stage (<c>--crossbar</c>, docs/models/crossbar.md): both synapses of the trained plain
/// network are placed on 128 × 128 1T1R tiles of ideal symmetric pairs on 1–100 µS (in siemens), spikes read at 0.2 V;
/// accuracy against the resolution of signed column ADCs whose full scale is an eighth of the worst-case pair current of
/// the layer's fan-in, FS = Ns·(Gmax − Gmin)·V_read/8, and against the resistance of every word- and bit-line segment
/// (the fast approximation; ideal converters).
/// </summary>
public sealed class CrossbarStudy
{
    /// <summary>Conductance window of the pairs (S).</summary>
    public const double Gmin = 1e-6, Gmax = 100e-6;
    /// <summary>Read voltage (V).</summary>
    public const double ReadVoltage = 0.2;

    private readonly StudyModel _model;
    private readonly TrainedModel _trained;
    private readonly Tensor _x, _y;

    /// <summary>Creates the stage for a trained network and its test set.</summary>
    public CrossbarStudy(StudyModel model, TrainedModel trained, Tensor testSpikes, Tensor testLabels)
    {
        _model = model;
        _trained = trained;
        _x = testSpikes;
        _y = testLabels;
    }

    /// <summary>Runs both sweeps; <paramref name="progress"/> is told after each evaluation.</summary>
    public CrossbarResult Run(IReadOnlyList<int> bits, IReadOnlyList<double> resistances, Action<string>? progress = null)
    {
        double ideal = Accuracy(_ => new CrossbarSettings());
        progress?.Invoke($"ideal periphery: {ideal:P1}");
        var byBits = bits.Select(b =>
        {
            double a = Accuracy(ns => new CrossbarSettings { Adc = new AdcSettings(b, ns * (Gmax - Gmin) * ReadVoltage / 8) });
            progress?.Invoke($"{b}-bit ADC: {a:P1}");
            return a;
        }).ToList();
        var byR = resistances.Select(r =>
        {
            double a = Accuracy(_ => new CrossbarSettings { Lines = new LineResistances(r, r), IrDrop = IrDropModel.Approximate });
            progress?.Invoke($"{r.ToString(CultureInfo.InvariantCulture)} Ω per segment: {a:P1}");
            return a;
        }).ToList();
        return new CrossbarResult(bits, byBits, resistances, byR, ideal);
    }

    private double Accuracy(Func<long, CrossbarSettings> settings)
    {
        int batch = (int)Math.Min(_x.shape[0], 512);
        var net = _model.Build(batch, _trained.Weights, synapse: (w, ns) => new CrossbarSynapse(
            new DeviceArray(new SymmetricDifferentialMapping(Gmin, Gmax)),
            settings(ns) with { Tile = new TileSize(128, 128), Read = new ReadPulse(ReadVoltage, 10e-9) }, w));
        net.Initialize();
        return HardwareEvaluator.Accuracy(net, _model.Readout, _x, _y);
    }

    /// <summary>Draws accuracy vs ADC bits and vs line resistance (PNG + SVG + CSV of the plotted numbers) into <paramref name="folder"/>.</summary>
    public static IReadOnlyList<FigureFiles> Plot(string folder, CrossbarResult r)
    {
        var bits = r.Bits.Select(b => (double)b).ToList();
        var rs = r.Resistances.ToList();
        return new[]
        {
            LinePlots.Lines(folder, "accuracy-vs-adc-bits", new[]
            {
                new LineData("signed column ADC, FS = Ns·ΔG·V/8", bits, r.BitsAccuracy.Select(a => 100 * a).ToList()),
                new LineData("ideal periphery", bits, bits.Select(_ => 100 * r.IdealAccuracy).ToList()),
            }, "ADC resolution (bits)", "Test accuracy (%)", options: new PlotOptions(Title: "Crossbar (128 × 128 1T1R tiles): accuracy vs ADC bits")),
            LinePlots.Lines(folder, "accuracy-vs-line-resistance", new[]
            {
                new LineData("approximate IR drop", rs, r.ResistanceAccuracy.Select(a => 100 * a).ToList()),
                new LineData("ideal lines", rs, rs.Select(_ => 100 * r.IdealAccuracy).ToList()),
            }, "Line resistance per segment (Ω)", "Test accuracy (%)", options: new PlotOptions(Title: "Crossbar (128 × 128 1T1R tiles): accuracy vs line resistance")),
        };
    }
}
