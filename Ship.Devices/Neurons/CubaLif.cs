using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Groups;
using Ship.Core.Parameters;
using Ship.Core.Spikes;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Neurons;

/// <summary>
/// Continuous-time neuron of the NIR family (LIF, LI, IF, I, CubaLIF, CubaLI), discretized exactly for an input held
/// constant over each step (zero-order hold, the NIR paper's "exact" simulation):
/// membrane τ_mem·dv/dt = (v_leak − v) + r·I, or dv/dt = r·I when τ_mem = +∞ (NIR's I and IF);
/// with a synaptic stage (<see cref="HasSynapse"/>), τ_syn·dI/dt = −I + w_in·x, else I = x.
/// Per step: v ← β·v + (1 − β)·v_leak + r·(P·w_in·x + C·(I − w_in·x)), I ← α·I + (1 − α)·w_in·x, with β = e^(−dt/τ_mem),
/// α = e^(−dt/τ_syn), P = 1 − β (dt when τ_mem = ∞) and C = τ_syn·(α − β)/(τ_syn − τ_mem) the exact coupling of the
/// decaying current into the membrane (dt·β/τ_mem when τ_syn = τ_mem, τ_syn·(1 − α) when τ_mem = ∞).
/// Spiking variants (<see cref="Spiking"/>) fire where v ≥ v_threshold and set v to v_reset in the same step; their
/// output is the spikes, the others' output is v. Unlike SHIP's <see cref="Lif"/> there is no floor at 0 and no held step
/// after a spike. Everything starts at 0.
/// </summary>
[ShipModel("CubaLif")]
public sealed class CubaLif : NeuronGroup, IShipModel<CubaLif, CubaLif.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(int N, bool Spiking, bool Synapse);

    /// <inheritdoc />
    public Settings GetSettings() => new(ComponentCount, Spiking, HasSynapse);

    /// <inheritdoc />
    public static CubaLif FromSettings(Settings settings) => new(settings.N, settings.Spiking, settings.Synapse);

    private readonly Derived<Coefficients> _k;

    /// <summary>The per-step factors in the network dtype (computed in float64 from the time constants).</summary>
    private sealed record Coefficients(Tensor Beta, Tensor Leak, Tensor P, Tensor? C, Tensor? Alpha, Tensor? OneMinusAlpha);

    /// <summary>Creates N neurons; <paramref name="spiking"/> adds threshold and reset, <paramref name="synapse"/> the current stage.</summary>
    public CubaLif(int n, bool spiking = true, bool synapse = true, double tauMem = 10e-3, double tauSyn = 5e-3, double r = 1.0,
        double vLeak = 0.0, double threshold = 1.0, double reset = 0.0, double weightIn = 1.0) : base(n)
    {
        Spiking = spiking;
        HasSynapse = synapse;
        // τ_mem may be +∞ (a perfect integrator), which no Constraint admits: checked where the factors are derived.
        TauMem = Param("tau_mem", Extent.Component | Extent.Batch, tauMem);
        R = Param("r", Extent.Component | Extent.Batch, r, Constraint.Finite);
        VLeak = Param("v_leak", Extent.Component | Extent.Batch, vLeak, Constraint.Finite);
        V = State("v", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        if (spiking)
        {
            Threshold = Param("v_threshold", Extent.Component | Extent.Batch, threshold, Constraint.Finite);
            Reset = Param("v_reset", Extent.Component | Extent.Batch, reset, Constraint.Finite);
        }
        if (synapse)
        {
            TauSyn = Param("tau_syn", Extent.Component | Extent.Batch, tauSyn, Constraint.Positive);
            WeightIn = Param("w_in", Extent.Component | Extent.Batch, weightIn, Constraint.Finite);
            I = State("i", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        }
        _k = Derive("factors", Factors);
    }

    /// <summary>Whether the neuron fires and resets (LIF, IF, CubaLIF) or outputs its membrane (LI, I, CubaLI).</summary>
    public bool Spiking { get; }
    /// <summary>Whether a synaptic current stage filters the input (CubaLIF, CubaLI).</summary>
    public bool HasSynapse { get; }
    /// <summary>Membrane time constant τ_mem in seconds, &gt; 0; +∞ makes dv/dt = r·I.</summary>
    public Parameter TauMem { get; }
    /// <summary>Input resistance r (membrane units per input unit).</summary>
    public Parameter R { get; }
    /// <summary>Leak (rest) potential the membrane relaxes to.</summary>
    public Parameter VLeak { get; }
    /// <summary>Firing threshold (spiking variants only).</summary>
    public Parameter? Threshold { get; }
    /// <summary>Potential after a spike (spiking variants only).</summary>
    public Parameter? Reset { get; }
    /// <summary>Synaptic time constant τ_syn in seconds (synaptic variants only).</summary>
    public Parameter? TauSyn { get; }
    /// <summary>Input weight w_in of the synaptic stage (synaptic variants only).</summary>
    public Parameter? WeightIn { get; }
    /// <summary>Membrane potential.</summary>
    public StateVariable V { get; }
    /// <summary>Synaptic current (synaptic variants only).</summary>
    public StateVariable? I { get; }

    private Coefficients Factors(double dt)
    {
        var tauM = TauMem.Value.detach().to_type(ScalarType.Float64);
        if (tauM.le(0).logical_or(tauM.isnan()).any().item<bool>())
            throw new ParameterException(DisplayName, TauMem.Name, "values must be > 0 seconds (+∞ for a perfect integrator).");
        var tauS = TauSyn?.Value.detach().to_type(ScalarType.Float64);
        var k = CubaLifFunctional.Coefficients(tauM, tauS, dt);
        var dtype = Context.DType;
        var leak = k.OneMinusBeta.mul(VLeak.Value.detach().to_type(ScalarType.Float64)).to_type(dtype);
        return new Coefficients(k.Beta.to_type(dtype), leak, k.P.to_type(dtype),
            k.C?.to_type(dtype), k.Alpha?.to_type(dtype), k.OneMinusAlpha?.to_type(dtype));
    }

    /// <inheritdoc />
    public override Tensor Step(Tensor? input)
    {
        var ctx = Context;
        var k = _k.Value;
        var (v, i) = CubaLifFunctional.Integrate(V.Value, I?.Value, input, k.Beta, k.Leak, k.P, R.Value, WeightIn?.Value, k.C, k.Alpha, k.OneMinusAlpha);
        if (i is not null) I!.Tensor = i;
        if (!Spiking)
        {
            V.Tensor = v;
            return v;
        }
        var (spikes, after) = CubaLifFunctional.Fire(v, Threshold!.Value, Reset!.Value, ctx.Spikes);
        V.Tensor = after;
        return spikes;
    }
}

/// <summary>The exact zero-order-hold update of <see cref="CubaLif"/> as pure functions.</summary>
public static class CubaLifFunctional
{
    /// <summary>Per-step coefficients in float64: β, 1 − β, P, and with a synaptic stage C, α and 1 − α.</summary>
    public sealed record Factors(Tensor Beta, Tensor OneMinusBeta, Tensor P, Tensor? C, Tensor? Alpha, Tensor? OneMinusAlpha);

    /// <summary>Coefficients for time constants τ_mem (may hold +∞) and τ_syn (or null) at step <paramref name="dt"/>.</summary>
    public static Factors Coefficients(Tensor tauMem, Tensor? tauSyn, double dt)
    {
        var infinite = tauMem.isinf();
        var x = tauMem.reciprocal().MulNumber(-dt);                 // −dt/τ_mem, 0 where τ_mem = ∞
        var beta = x.exp();
        var oneMinusBeta = x.expm1().neg();                    // exact for small dt/τ
        var p = torch.where(infinite, torch.full_like(tauMem, dt), oneMinusBeta);
        if (tauSyn is null) return new Factors(beta, oneMinusBeta, p, null, null, null);
        var y = tauSyn.reciprocal().MulNumber(-dt);
        var alpha = y.exp();
        var oneMinusAlpha = y.expm1().neg();
        // C = (1/τm)∫₀^dt e^{−(dt−s)/τm} e^{−s/τs} ds. The general form divides α − β by τs − τm: where they (nearly) meet,
        // the limit dt·β/τm is used instead; where τm = ∞ the integral is τs·(1 − α).
        var tauM = tauMem.expand_as(tauSyn.Plus(tauMem)).contiguous();
        var tauS = tauSyn.expand_as(tauM).contiguous();
        var diff = tauS.sub(tauM);
        var near = diff.abs().le(tauM.mul(1e-9));
        var general = tauS.mul(alpha.sub(beta)).div(torch.where(near, torch.ones_like(diff), diff));
        var equal = beta.MulNumber(dt).div(tauM);
        var c = torch.where(near, equal, general);
        c = torch.where(tauM.isinf(), tauS.mul(oneMinusAlpha), c);
        return new Factors(beta, oneMinusBeta, p, c, alpha, oneMinusAlpha);
    }

    /// <summary>
    /// One subthreshold step: returns (new v, new I or null). Without a synaptic stage v ← β·v + leak + r·P·x, where
    /// <paramref name="leak"/> = (1 − β)·v_leak is precomputed; with one, see <see cref="CubaLif"/>.
    /// </summary>
    public static (Tensor V, Tensor? I) Integrate(Tensor v, Tensor? i, Tensor? x, Tensor beta, Tensor leak, Tensor p, Tensor r,
        Tensor? weightIn, Tensor? c, Tensor? alpha, Tensor? oneMinusAlpha)
    {
        var next = v.mul(beta).Plus_(leak);
        if (i is null)
        {
            if (x is not null) next = next.Plus(x.mul(p).mul_(r));
            return (next, null);
        }
        var drive = x is null ? null : x.mul(weightIn!);
        // r·(P·drive + C·(I − drive)) = r·(C·I + (P − C)·drive)
        next = next.Plus(i.mul(c!).mul_(r));
        var newI = i.mul(alpha!);
        if (drive is not null)
        {
            next = next.Plus(drive.mul(p.sub(c!)).mul_(r));
            newI = newI.Plus(drive.mul(oneMinusAlpha!));
        }
        return (next, newI);
    }

    /// <summary>Fires where v ≥ threshold and sets v to v_reset there; returns (spikes, v after reset). Gradients flow through the spikes.</summary>
    public static (Tensor Spikes, Tensor V) Fire(Tensor v, Tensor threshold, Tensor reset, ISpikeFunction? fire = null)
    {
        var spikes = (fire ?? HeavisideSpikes.Instance).Fire(v, threshold);
        // v·(1 − s) + v_reset·s: exactly v or exactly v_reset for s ∈ {0, 1}, with gradients through s.
        var after = v.mul(spikes.neg().add(1)).Plus_(reset.mul(spikes));
        return (spikes, after);
    }
}
