using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Devices.Memristive;

/// <summary>
/// How a weight update becomes programming pulses on a device array (online plasticity on device weights,
/// <see cref="DeviceArray.PulseWeightUpdate"/>). Per weight, the device whose conductance moves the decoded weight most
/// (largest |∂w/∂G_d|, the mapping being linear in each conductance; the first one on a tie, e.g. G+ of a pair) receives the pulses: SET when
/// ΔW·∂w/∂G &gt; 0, RESET otherwise. The pulse count is ΔG/|Δw_nominal(G)| with ΔG = ΔW/(∂w/∂G) and Δw_nominal the
/// nominal device's step at its present conductance, stochastically rounded (⌊x⌋ plus one more pulse with probability
/// x − ⌊x⌋, one uniform draw per weight): the expected change equals the asked one, and an update smaller than one
/// step fires one pulse with the matching probability, as stochastic pulse programming in hardware does. The count
/// is capped at the pulses a nominal constant step needs to cross the whole window ((w_max − w_min)/dw_min, rounded
/// up): more cannot move a device further. Device bounds hold because every pulse is clipped to the device's window.
/// </summary>
public static class WeightUpdatePulsesFunctional
{
    /// <summary>
    /// The pulses per device [D, …] (float64, ≥ 0) and their direction (bool, true = SET) for the weight change
    /// <paramref name="deltaW"/> [… weights shape] given the sensitivities <paramref name="sensitivity"/> [D, …] (∂w/∂G_d)
    /// and conductances <paramref name="g"/> [D, …] (S); <paramref name="uniform"/> [… weights shape] are draws on [0, 1).
    /// </summary>
    public static (Tensor Pulses, Tensor Up) Counts(Tensor deltaW, Tensor sensitivity, Tensor g, PulseResponse response, Tensor uniform)
    {
        using var scope = torch.NewDisposeScope();
        // The first device within rounding of the largest sensitivity (argmax returns the first of equal values): a
        // reference-pair mapping's sensitivities are equal in size up to the last bit, and its first device is the one programmed.
        var abs = sensitivity.abs();
        var best = abs.ge(abs.amax(new long[] { 0 }, keepdim: true).mul_(1 - 1e-9)).to(ScalarType.Float64).argmax(0, keepdim: true);
        var s = sensitivity.gather(0, best);
        var gBest = g.gather(0, best);
        var dg = deltaW.unsqueeze(0).div(s);
        dg = torch.where(s.eq(0), torch.zeros_like(dg), dg);
        var up = dg.gt(0);
        using var nominal = response.NominalDevices(gBest.Sizes(), gBest.device);
        var step = response.StepSize(gBest, up, nominal);
        double cap = Math.Ceiling((response.WMax - response.WMin) / response.DwMin);
        // A device at its bound has no step left: no pulse then (x = 0/0 or ΔG/0 → 0).
        var x = dg.abs().div_(step);
        x = torch.where(step.gt(0), x, torch.zeros_like(x)).clamp_(0, cap);
        var whole = x.floor();
        var n = whole.add_(uniform.unsqueeze(0).lt(x - whole).to(ScalarType.Float64));
        var pulses = torch.zeros_like(g).scatter_(0, best, n);
        var dir = torch.zeros(g.Sizes(), dtype: ScalarType.Bool, device: g.device).scatter_(0, best, up);
        return (pulses.MoveToOuterDisposeScope(), dir.MoveToOuterDisposeScope());
    }
}
