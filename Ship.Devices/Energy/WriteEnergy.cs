using Ship.Core.Errors;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Energy;

/// <summary>
/// Programming pulses, reduced to what the write energy needs, independent of voltages and widths: the pulse count,
/// Σ (G_before + G_after)/2 over pulses (S), the cells of the driven lines charged (Σ over pulses of cells on the
/// line) and the conductance of the cells a cross-point array half-selects (S).
/// </summary>
/// <param name="Pulses">Programming pulses.</param>
/// <param name="MeanConductance">Σ over pulses of (G_before + G_after)/2 of the pulsed device (S).</param>
/// <param name="LineCells">Σ over pulses of the cells on the driven line (each charged to V_w).</param>
/// <param name="HalfSelectConductance">Σ over pulses of the conductance of the other cells of the pulsed cell's row and column (S): they see V_w/2 in a cross-point array, nothing in a 1T1R one.</param>
public sealed record WriteCounts(double Pulses, double MeanConductance, double LineCells, double HalfSelectConductance)
{
    /// <summary>No pulse.</summary>
    public static WriteCounts Zero { get; } = new(0, 0, 0, 0);

    /// <summary>Sum of two counts.</summary>
    public static WriteCounts operator +(WriteCounts a, WriteCounts b) => new(a.Pulses + b.Pulses, a.MeanConductance + b.MeanConductance,
        a.LineCells + b.LineCells, a.HalfSelectConductance + b.HalfSelectConductance);
}

/// <summary>
/// Write energy of programming pulses. Per pulse on a device going from G_before to G_after:
/// V_w²·(G_before + G_after)/2·t_pulse (the device, trapezoidal in G) + V_w²·C_line (charging the driven line,
/// C_line = cells on the line × <see cref="CrossbarEnergyModel.CellCapacitance"/>); in a cross-point array the other
/// cells of the selected row and column see V_w/2: + (V_w/2)²·t_pulse·Σ G_half-selected.
/// </summary>
public static class WriteEnergy
{
    /// <summary>
    /// The counts of a pulse train <paramref name="trace"/> [count + 1, …, rows, cols] (conductances in S before the
    /// first pulse and after each, as <c>DeviceArray.ApplyPulses</c> returns them; a 2-dim trace [count + 1, devices] is
    /// one row of devices). Devices where <paramref name="mask"/> (broadcast to one step of the trace) is false received
    /// no pulse. The driven line is the device's row (its last dimension); half-selected cells are the other cells of
    /// its row and column, at their conductance before the pulse (used only for cross-point arrays).
    /// </summary>
    public static WriteCounts OfPulseTrain(Tensor trace, Tensor? mask)
    {
        using var scope = torch.NewDisposeScope();
        var c = CountsOf(trace, mask).cpu().data<double>().ToArray();
        return new WriteCounts(c[0], c[1], c[2], c[3]);
    }

    /// <summary>The counts of <see cref="OfPulseTrain"/> as a float64 tensor [4] on the trace's device (pulses, Σ mean G, line cells, Σ half-selected G), without a host read.</summary>
    internal static Tensor CountsOf(Tensor trace, Tensor? mask)
    {
        ArgumentNullException.ThrowIfNull(trace);
        if (trace.dim() < 2 || trace.Sizes()[0] < 1)
            throw new ParameterException(nameof(WriteEnergy), "trace", $"expected [count + 1, devices…] with at least 2 dimensions, got [{string.Join(", ", trace.Sizes())}].");
        if (mask is not null && !Shapes.BroadcastsTo(mask.Sizes(), trace.Sizes()[1..]))
            throw new ParameterException(nameof(WriteEnergy), "mask",
                $"expected a shape that broadcasts to the devices [{string.Join(", ", trace.Sizes()[1..])}] of the trace, got [{string.Join(", ", mask.Sizes())}].");
        using var noGrad = torch.no_grad();
        var g = trace.detach().to(ScalarType.Float64);
        long count = g.Sizes()[0] - 1;
        if (count == 0) return torch.zeros(4, dtype: ScalarType.Float64, device: g.device);
        var before = g.narrow(0, 0, count);
        var after = g.narrow(0, 1, count);
        var pulsed = mask is null
            ? torch.ones_like(before)
            : mask.to(ScalarType.Float64, g.device).expand(before.Sizes()[1..]).unsqueeze(0).expand(before.Sizes());
        var pulses = pulsed.sum();
        var mean = before.add(after).mul_(0.5).mul_(pulsed).sum();
        var lineCells = pulses.mul(g.Sizes()[^1]);
        // Row sum + column sum − 2·G of the pulsed cell: the cells that share its row or its column.
        var rowSum = before.sum(-1, keepdim: true);
        var colSum = g.dim() >= 3 ? before.sum(-2, keepdim: true) : before;
        var half = rowSum.add(colSum).sub_(before.mul(2)).mul_(pulsed).sum();
        return torch.stack(new[] { pulses, mean, lineCells, half });
    }

    /// <summary>The energy of the counted pulses with a model's write voltage, width and line capacitance (J).</summary>
    public static double Energy(WriteCounts counts, CrossbarEnergyModel model)
    {
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(model);
        model.Validate();
        double v2 = model.WriteVoltage * model.WriteVoltage;
        return v2 * counts.MeanConductance * model.WritePulseWidth + v2 * model.CellCapacitance * counts.LineCells + HalfSelectEnergy(counts, model, model.ArrayType);
    }

    /// <summary>The half-select term of the counted pulses in an array of type <paramref name="arrayType"/> (J): (V_w/2)²·t_pulse·Σ G_half-selected for cross-point, 0 for 1T1R.</summary>
    public static double HalfSelectEnergy(WriteCounts counts, CrossbarEnergyModel model, ArrayType arrayType)
    {
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(model);
        double v2 = model.WriteVoltage * model.WriteVoltage;
        return arrayType == ArrayType.CrossPoint ? v2 / 4 * model.WritePulseWidth * counts.HalfSelectConductance : 0;
    }
}
