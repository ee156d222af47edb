using Ship.Core.Errors;

namespace Ship.Devices.Energy;

/// <summary>
/// How a crossbar's cells are selected; shared by the energy models and <c>CrossbarSettings.ArrayType</c> (a crossbar
/// synapse's writes take its own type's half-select terms).
/// </summary>
public enum ArrayType
{
    /// <summary>Every cell has an access transistor: a write pulse reaches only the selected cell.</summary>
    OneTransistorOneResistor,
    /// <summary>Selector-less cross-point (V/2 scheme): the other cells of the selected row and column see half the write voltage.</summary>
    CrossPoint,
}

/// <summary>
/// A digital platform that computes the network's operations: energy per accumulate (a spike reaching a synapse),
/// per multiply-accumulate (a non-binary input reaching a synapse) and per neuron update. An event-driven platform does
/// only the effective operations (NeuroBench's Effective_ACs and Effective_MACs); a dense one computes every synapse
/// every step (NeuroBench's Dense, charged as MACs). Energies in joules.
/// </summary>
/// <param name="Name">Name shown in tables.</param>
/// <param name="AccumulateEnergy">Energy of one accumulate (J).</param>
/// <param name="MacEnergy">Energy of one multiply-accumulate (J).</param>
/// <param name="NeuronUpdateEnergy">Energy of one neuron update (J).</param>
/// <param name="EventDriven">Whether only effective operations are computed (spiking hardware) rather than every synapse every step.</param>
/// <param name="Source">Where the numbers come from (shown in docs and reports).</param>
public sealed record DigitalEnergyModel(string Name, double AccumulateEnergy, double MacEnergy, double NeuronUpdateEnergy, bool EventDriven, string Source)
{
    /// <summary>Checks every energy is finite and ≥ 0; the message names the model and the field.</summary>
    public DigitalEnergyModel Validate()
    {
        EnergyChecks.NonNegative(Name, nameof(AccumulateEnergy), AccumulateEnergy);
        EnergyChecks.NonNegative(Name, nameof(MacEnergy), MacEnergy);
        EnergyChecks.NonNegative(Name, nameof(NeuronUpdateEnergy), NeuronUpdateEnergy);
        return this;
    }
}

/// <summary>
/// A memristive crossbar with its periphery: the read and write pulses that reach the devices, the wire capacitance
/// charged per cell of a driven line, converter energies and neuron-circuit energies and times. Volts, seconds,
/// farads, joules. Conductances come from the device array itself, in siemens (S).
/// </summary>
/// <param name="Name">Name shown in tables.</param>
/// <param name="ReadVoltage">Read pulse amplitude V_read (V).</param>
/// <param name="ReadPulseWidth">Read pulse width t_read (s).</param>
/// <param name="WriteVoltage">Write pulse amplitude V_w (V).</param>
/// <param name="WritePulseWidth">Write pulse width t_pulse (s).</param>
/// <param name="CellCapacitance">Wire capacitance per cell of a driven line (F): a write pulse charges C = cells on the line × this.</param>
/// <param name="ArrayType">How cells are selected (decides the half-select terms of a write).</param>
/// <param name="AdcEnergy">Energy of one ADC conversion (J): a crossbar synapse's own count, else one per column read in a step with input events; 0 = not modelled.</param>
/// <param name="DacEnergy">Energy of one row drive (J): a crossbar synapse's DAC conversion, else a pulse driver per input event; 0 = not modelled.</param>
/// <param name="NeuronUpdateEnergy">Energy of one neuron-circuit update (J); 0 = not modelled.</param>
/// <param name="SpikeEnergy">Energy of one emitted spike (J); 0 = not modelled.</param>
/// <param name="AdcTime">Time of one (column-parallel) conversion per step (s), for the latency estimate (× ColumnsPerAdc for a crossbar synapse).</param>
/// <param name="NeuronUpdateTime">Time of one (parallel) neuron update per step (s), for the latency estimate.</param>
/// <param name="Source">Where the numbers come from (shown in docs and reports).</param>
public sealed record CrossbarEnergyModel(string Name, double ReadVoltage, double ReadPulseWidth, double WriteVoltage, double WritePulseWidth,
    double CellCapacitance, ArrayType ArrayType, double AdcEnergy, double DacEnergy, double NeuronUpdateEnergy, double SpikeEnergy,
    double AdcTime, double NeuronUpdateTime, string Source)
{
    /// <summary>Checks every number is finite and ≥ 0 (pulse widths > 0); the message names the model and the field.</summary>
    public CrossbarEnergyModel Validate()
    {
        EnergyChecks.NonNegative(Name, nameof(ReadVoltage), ReadVoltage);
        EnergyChecks.Positive(Name, nameof(ReadPulseWidth), ReadPulseWidth);
        EnergyChecks.NonNegative(Name, nameof(WriteVoltage), WriteVoltage);
        EnergyChecks.Positive(Name, nameof(WritePulseWidth), WritePulseWidth);
        EnergyChecks.NonNegative(Name, nameof(CellCapacitance), CellCapacitance);
        EnergyChecks.NonNegative(Name, nameof(AdcEnergy), AdcEnergy);
        EnergyChecks.NonNegative(Name, nameof(DacEnergy), DacEnergy);
        EnergyChecks.NonNegative(Name, nameof(NeuronUpdateEnergy), NeuronUpdateEnergy);
        EnergyChecks.NonNegative(Name, nameof(SpikeEnergy), SpikeEnergy);
        EnergyChecks.NonNegative(Name, nameof(AdcTime), AdcTime);
        EnergyChecks.NonNegative(Name, nameof(NeuronUpdateTime), NeuronUpdateTime);
        return this;
    }
}

/// <summary>
/// Ready-made energy models. Every number names its source here and in docs/energy.md; numbers derived from a source
/// say how.
/// </summary>
public static class EnergyPresets
{
    private const string Horowitz = "M. Horowitz, \"Computing's energy problem (and what we can do about it)\", ISSCC 2014, 45 nm, 0.9 V";
    private const string KerasSpiking = "keras-spiking ModelEnergy device table (nengo/keras-spiking, keras_spiking/model_energy.py)";
    private const string NeuroSim = "DNN+NeuroSim V2 Param.cpp defaults (readVoltage 0.5 V, readPulseWidth 10 ns, writeVoltage 4 V, writePulseWidth 50 ns); wire 0.2 fF/µm × 200 nm 1T1R cell pitch at 45 nm";

    /// <summary>
    /// Event-driven digital reference in 32-bit float at 45 nm (Horowitz 2014): AC = FP32 add 0.9 pJ, MAC = FP32 mult
    /// 3.7 pJ + add 0.9 pJ = 4.6 pJ; a neuron update = NeuroBench's 4 operations of a leaky neuron (subtract reset,
    /// neurobench/metrics/workload/neuron_operations.py) × one FP32 MAC = 18.4 pJ.
    /// </summary>
    public static DigitalEnergyModel Fp32Cmos45nm() => new("CMOS 45 nm FP32", 0.9e-12, 4.6e-12, 4 * 4.6e-12, EventDriven: true, Horowitz);

    /// <summary>
    /// Event-driven digital reference in 8-bit integers at 45 nm (Horowitz 2014): AC = INT8 add 0.03 pJ, MAC = INT8
    /// mult 0.2 pJ + add 0.03 pJ = 0.23 pJ; a neuron update = 4 operations (NeuroBench leaky neuron) × one INT8 MAC = 0.92 pJ.
    /// </summary>
    public static DigitalEnergyModel Int8Cmos45nm() => new("CMOS 45 nm INT8", 0.03e-12, 0.23e-12, 4 * 0.23e-12, EventDriven: true, Horowitz);

    /// <summary>keras-spiking "cpu" (Intel i7-4960X, Degnan et al. 2016): 8.6 nJ per synaptic operation and per neuron update; dense.</summary>
    public static DigitalEnergyModel KerasCpu() => new("cpu", 8.6e-9, 8.6e-9, 8.6e-9, EventDriven: false, KerasSpiking);

    /// <summary>keras-spiking "gpu" (Nvidia GTX Titan Black, Degnan et al. 2016): 0.3 nJ per synaptic operation and per neuron update; dense.</summary>
    public static DigitalEnergyModel KerasGpu() => new("gpu", 0.3e-9, 0.3e-9, 0.3e-9, EventDriven: false, KerasSpiking);

    /// <summary>keras-spiking "arm" (ARM Cortex-A, Degnan et al. 2016): 0.9 nJ per synaptic operation and per neuron update; dense.</summary>
    public static DigitalEnergyModel KerasArm() => new("arm", 0.9e-9, 0.9e-9, 0.9e-9, EventDriven: false, KerasSpiking);

    /// <summary>keras-spiking "loihi" (Davies et al., IEEE Micro 2018): (23.6 + 3.5) pJ per synaptic operation, 81 pJ per neuron update; event-driven.</summary>
    public static DigitalEnergyModel KerasLoihi() => new("loihi", (23.6 + 3.5) * 1e-12, (23.6 + 3.5) * 1e-12, 81e-12, EventDriven: true, KerasSpiking);

    /// <summary>keras-spiking "spinnaker" (Höppner et al., IEEE TCAS-I 2019): 13.3 nJ per synaptic operation, 26 nJ per neuron update; event-driven.</summary>
    public static DigitalEnergyModel KerasSpinnaker() => new("spinnaker", 13.3e-9, 13.3e-9, 26e-9, EventDriven: true, KerasSpiking);

    /// <summary>keras-spiking "spinnaker2" (Höppner et al., IEEE TCAS-I 2019): 450 pJ per synaptic operation, 2.19 nJ per neuron update; event-driven.</summary>
    public static DigitalEnergyModel KerasSpinnaker2() => new("spinnaker2", 450e-12, 450e-12, 2.19e-9, EventDriven: true, KerasSpiking);

    /// <summary>The digital references in report order: Horowitz FP32 and INT8, then keras-spiking's table.</summary>
    public static IReadOnlyList<DigitalEnergyModel> Digital() => new[]
    {
        Fp32Cmos45nm(), Int8Cmos45nm(), KerasCpu(), KerasGpu(), KerasArm(), KerasLoihi(), KerasSpinnaker(), KerasSpinnaker2(),
    };

    /// <summary>
    /// A 1T1R analog crossbar with NeuroSim's default circuit parameters (DNN+NeuroSim V2 Param.cpp: V_read 0.5 V,
    /// t_read 10 ns, V_w 4 V, t_pulse 50 ns) and a wire capacitance of 0.2 fF/µm × 200 nm cell pitch (1T1R cell of
    /// 4 F at the 45 nm node with 50 nm wires) = 0.04 fF per cell. The conductances, hence the read and write energies,
    /// come from the device preset the array uses (SHIP RRAM: 50–120 µS, PCM-like: 0–25 µS). Converters and neuron
    /// circuits are not modelled (0): set them from your periphery with <c>with { AdcEnergy = … }</c>.
    /// </summary>
    public static CrossbarEnergyModel Crossbar1T1R() => new("1T1R crossbar (NeuroSim defaults)", 0.5, 10e-9, 4.0, 50e-9, 0.2e-15 / 1e-6 * 200e-9,
        ArrayType.OneTransistorOneResistor, 0, 0, 0, 0, 0, 0, NeuroSim);

    /// <summary>The same circuit parameters as <see cref="Crossbar1T1R"/> for a selector-less cross-point array (V/2 half-select writes).</summary>
    public static CrossbarEnergyModel CrossPoint() => Crossbar1T1R() with { Name = "cross-point crossbar (NeuroSim defaults)", ArrayType = ArrayType.CrossPoint };
}

/// <summary>Checks shared by the energy records.</summary>
internal static class EnergyChecks
{
    public static void NonNegative(string owner, string name, double v)
    {
        if (!double.IsFinite(v) || v < 0) throw new ParameterException(owner, name, $"must be a finite value >= 0, got {v}.");
    }

    public static void Positive(string owner, string name, double v)
    {
        if (!double.IsFinite(v) || v <= 0) throw new ParameterException(owner, name, $"must be a finite value > 0, got {v}.");
    }
}
