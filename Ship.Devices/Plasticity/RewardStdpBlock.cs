using Ship.Core.Persistence;
using Ship.Core.Errors;
using Ship.Core.Parameters;
using Ship.Devices.Synapses;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Devices.Plasticity;

/// <summary>
/// Reward-modulated STDP (R-STDP) as a learning-rule circuit block: the pair-STDP term does not change the weights
/// directly but feeds an eligibility trace per sample, and a reward per sample (batch row) turns it into a weight change
/// (Izhikevich 2007; Florian 2007's MSTDPET as in Inferno; SpykeTorch's reward/punishment when the reward arrives at the
/// end of a sample). Per step k, with pre [batch, Ns] the synapse's input and post [batch, Nt] this block's input:
///   x̃_pre = α·x_pre, x̃_post = β·x_post (α = e^(−dt/τ+), β = e^(−dt/τ−));
///   ζ_bij = A+·x̃_pre,bi·post_bj − A−·pre_bi·x̃_post,bj   (the pair-STDP term of sample b);
///   e_bij ← γ·e_bij + ζ_bij,  γ = e^(−dt/τ_e) (γ = 1 when τ_e is null: the trace keeps the whole sample; γ = 0 when τ_e = 0: MSTDP);
///   ΔW = η·(1/B)·Σ_b r_b[k]·e_b   (only when a per-step reward is set with <see cref="SetReward"/>);
///   then x_pre = x̃_pre + pre, x_post = x̃_post + post.
/// With a delayed reward (SpykeTorch's setting: decide, then reward +1 or punish −1), call <see cref="ApplyReward"/>
/// after the run: ΔW = η·(1/B)·Σ_b r_b·e_b, which consumes the trace. A negative reward applies the anti-STDP term.
/// Bounds act on the signed change: its positive part is potentiation ((w_max − W)·ΔW⁺ with soft bounds), its negative
/// part depression ((W − w_min)·ΔW⁻). Output: x_post [batch, Nt]. Wiring as <see cref="PlasticityBlock"/>.
/// </summary>
[ShipModel("RewardStdpBlock")]
public sealed class RewardStdpBlock : PlasticityBlock, ICheckpointState, IShipModel<RewardStdpBlock, RewardStdpBlock.Settings>
{
    /// <summary>Construction settings (what a checkpoint writes; parameters and states are saved separately).</summary>
    public sealed record Settings(WeightedSynapse Synapse, int PostCount, StdpBounds Bounds, double WMin, double WMax, double? TauEligibility);

    /// <inheritdoc />
    public Settings GetSettings() => new(Synapse, ComponentCount, Bounds, WMin, WMax, TauEligibility);

    /// <inheritdoc />
    public static RewardStdpBlock FromSettings(Settings settings) => new(settings.Synapse, settings.PostCount, tauEligibility: settings.TauEligibility, bounds: settings.Bounds, wMin: settings.WMin, wMax: settings.WMax);

    private readonly Derived<double> _alpha, _beta, _gamma, _plus, _minus, _eta;
    private Tensor? _reward, _runReward;

    /// <summary>
    /// Creates the block for <paramref name="synapse"/>, whose target has <paramref name="postCount"/> neurons.
    /// <paramref name="tauEligibility"/> in seconds: null keeps the eligibility for the whole run, 0 keeps none.
    /// </summary>
    public RewardStdpBlock(WeightedSynapse synapse, int postCount, double aPlus = 0.01, double aMinus = 0.0105, double tauPlus = 20e-3,
        double tauMinus = 20e-3, double? tauEligibility = null, double learningRate = 1.0,
        StdpBounds bounds = StdpBounds.None, double wMin = double.NegativeInfinity, double wMax = double.PositiveInfinity)
        : base(synapse, postCount, bounds, wMin, wMax)
    {
        if (tauEligibility is { } te && !(te >= 0 && double.IsFinite(te)))
            throw new ParameterException(GetType().Name, "tau_e", $"must be ≥ 0 s and finite (null keeps the trace for the whole run), got {te}.");
        TauEligibility = tauEligibility;
        APlus = Param("a_plus", Extent.Scalar, aPlus, Constraint.NonNegative);
        AMinus = Param("a_minus", Extent.Scalar, aMinus, Constraint.NonNegative);
        TauPlus = Param("tau_plus", Extent.Scalar, tauPlus, Constraint.Positive);
        TauMinus = Param("tau_minus", Extent.Scalar, tauMinus, Constraint.Positive);
        LearningRate = Param("eta", Extent.Scalar, learningRate, Constraint.NonNegative);
        XPre = State("x_pre", Extent.Batch, 0.0, Constraint.Finite);
        XPost = State("x_post", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        Eligibility = State("eligibility", Extent.Batch, 0.0, Constraint.Finite);
        _alpha = Derive("alpha", dt => Math.Exp(-dt / TauPlus.Value.ToDouble()));
        _beta = Derive("beta", dt => Math.Exp(-dt / TauMinus.Value.ToDouble()));
        _gamma = Derive("gamma", dt => TauEligibility switch { null => 1.0, 0.0 => 0.0, { } te => Math.Exp(-dt / te) });
        _plus = Derive("plus", _ => APlus.Value.ToDouble());
        _minus = Derive("minus", _ => AMinus.Value.ToDouble());
        _eta = Derive("eta_per_sample", _ => LearningRate.Value.ToDouble() / Context.BatchSize);
    }

    /// <summary>Eligibility time constant τ_e in seconds; null: no decay within a run.</summary>
    public double? TauEligibility { get; }
    /// <summary>Potentiation amplitude A+ of the STDP term.</summary>
    public Parameter APlus { get; }
    /// <summary>Depression amplitude A− of the STDP term.</summary>
    public Parameter AMinus { get; }
    /// <summary>Presynaptic trace time constant τ+ in seconds.</summary>
    public Parameter TauPlus { get; }
    /// <summary>Postsynaptic trace time constant τ− in seconds.</summary>
    public Parameter TauMinus { get; }
    /// <summary>Learning rate η that scales reward × eligibility.</summary>
    public Parameter LearningRate { get; }
    /// <summary>Presynaptic trace x_pre [batch, Ns].</summary>
    public StateVariable XPre { get; }
    /// <summary>Postsynaptic trace x_post [batch, Nt].</summary>
    public StateVariable XPost { get; }
    /// <summary>Eligibility trace e [batch, Ns, Nt], one per sample.</summary>
    public StateVariable Eligibility { get; }

    /// <summary>
    /// Sets the reward used during the following runs: [batch] (the same every step) or [batch, steps] (column k at
    /// step k after the reset), or null for none (the weights then change only through <see cref="ApplyReward"/>).
    /// </summary>
    public void SetReward(Tensor? reward)
    {
        if (reward is not null && reward.is_complex())
            throw new InputException(DisplayName, $"the reward is complex ({reward.dtype}); rewards are real.");
        if (reward is not null && (reward.dim() is < 1 or > 2))
            throw new InputException(DisplayName, $"reward must be [batch] or [batch, steps], got {Shapes.Format(reward.Sizes())}.");
        _reward?.Dispose();
        _reward = reward?.detach().clone().DetachFromDisposeScope();
    }

    /// <summary>
    /// Applies a delayed reward per sample after a run: W += η·(1/B)·Σ_b r_b·e_b (bounded), then clears the eligibility
    /// so the same pairing is never rewarded twice. <paramref name="reward"/> is [batch].
    /// </summary>
    public void ApplyReward(Tensor reward)
    {
        ArgumentNullException.ThrowIfNull(reward);
        var e = Eligibility.Tensor;
        if (e is null || e.dim() != 3)
            throw new NetworkConfigurationException($"{GetType().Name} '{DisplayName}': no eligibility yet; run the network before applying a reward.");
        CheckReward(reward, e.Sizes()[0]);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var r = reward.detach().to(e.dtype).to(e.device).reshape(-1);
        double eta = LearningRate.Value.ToDouble() / e.Sizes()[0];
        ChangeWeights(w => RewardStdpFunctional.Reward(w, e, r, eta, Bounds, WMin, WMax)); // pulses on a device-backed synapse
        Eligibility.Tensor = Keep(torch.zeros_like(e));
        e.Dispose();
    }

    /// <inheritdoc />
    protected override void ResetTraces(long ns, long nt)
    {
        XPre.Tensor = PerSource(XPre.Value, ns);
        Eligibility.Tensor = Keep(Eligibility.Value.reshape(-1, 1, 1).expand(Context.BatchSize, ns, nt).clone());
        // During a call the previous run's reward belongs to the rollback point (a failed Run puts it back).
        if (!_rewardHeld) _runReward?.Dispose();
        _runReward = null;
        if (_reward is not null)
        {
            CheckReward(_reward, Context.BatchSize);
            // Converted once per run, so the per-step update makes no copy.
            _runReward = Keep(_reward.to(Context.DType).to(Context.Device).clone());
        }
    }

    /// <inheritdoc />
    protected override Tensor Learn(Tensor w, Tensor pre, Tensor post)
    {
        Tensor? r = null;
        if (_runReward is { } given)
        {
            long k = Context.Now.Index;
            if (given.dim() == 2 && k >= given.Sizes()[1])
                throw new InputException(DisplayName, $"the reward has {given.Sizes()[1]} steps, the run reached step {k + 1}.");
            r = given.dim() == 1 ? given : given.select(1, k);
        }
        var (xPre, xPost, e) = RewardStdpFunctional.Step(w, XPre.Value, XPost.Value, Eligibility.Value, pre, post, r,
            _alpha.Value, _beta.Value, _gamma.Value, _plus.Value, _minus.Value, _eta.Value, Bounds, WMin, WMax);
        XPre.Tensor = xPre;
        XPost.Tensor = xPost;
        Eligibility.Tensor = e;
        return xPost;
    }

    private bool _rewardHeld;

    /// <inheritdoc />
    protected override Ship.Core.Groups.RollbackPoint CaptureRule(bool reset)
    {
        // A Run converts the reward set now: if it fails, the Continue after it goes on with the previous run's.
        var before = _runReward;
        _rewardHeld = true;
        return new(() =>
        {
            _rewardHeld = false;
            if (!ReferenceEquals(_runReward, before)) _runReward?.Dispose();
            _runReward = before;
        }, () =>
        {
            _rewardHeld = false;
            if (!ReferenceEquals(_runReward, before)) before?.Dispose();
        });
    }

    void ICheckpointState.SaveState(CheckpointWriter writer) => writer.SetTensor("reward", _reward);

    void ICheckpointState.LoadState(CheckpointReader reader)
    {
        var reward = reader.GetNullableTensor("reward");
        if (reward is not null) CheckReward(reward, Context.BatchSize);
        SetReward(reward);
        reward?.Dispose();
        _runReward?.Dispose();
        _runReward = _reward is null ? null : Keep(_reward.to(Context.DType).to(Context.Device).clone());
    }

    private void CheckReward(Tensor reward, long batch)
    {
        if (reward.dim() is < 1 or > 2 || reward.Sizes()[0] != batch)
            throw new InputException(DisplayName, $"reward must be [{batch}] or [{batch}, steps] (one per sample), got {Shapes.Format(reward.Sizes())}.");
    }
}

/// <summary>The R-STDP update as pure functions (no autograd: call them under no_grad).</summary>
public static class RewardStdpFunctional
{
    /// <summary>
    /// One step: decays the traces, adds this step's STDP term to the eligibility [B, Ns, Nt], applies
    /// η·Σ_b r_b·e_b to <paramref name="w"/> IN PLACE when <paramref name="reward"/> [B] is given
    /// (<paramref name="eta"/> already divided by the batch size), and returns the traces after this step's spikes.
    /// </summary>
    public static (Tensor XPre, Tensor XPost, Tensor Eligibility) Step(Tensor w, Tensor xPre, Tensor xPost, Tensor eligibility,
        Tensor pre, Tensor post, Tensor? reward, double alpha, double beta, double gamma, double aPlus, double aMinus, double eta,
        StdpBounds bounds, double wMin, double wMax)
    {
        var dPre = xPre.mul(alpha);
        var dPost = xPost.mul(beta);
        // ζ_b = A+·x̃_pre,bᵀ·post_b − A−·pre_bᵀ·x̃_post,b as two batched outer products.
        var zeta = torch.bmm(dPre.unsqueeze(2), post.unsqueeze(1)).mul_(aPlus)
            .add_(torch.bmm(pre.unsqueeze(2), dPost.unsqueeze(1)), alpha: -aMinus);
        var e = gamma == 0 ? zeta : eligibility.mul(gamma).Plus_(zeta);
        if (reward is not null) Reward(w, e, reward, eta, bounds, wMin, wMax);
        return (dPre.Plus_(pre), dPost.Plus_(post), e);
    }

    /// <summary>W += η·Σ_b r_b·e_b [Ns, Nt] under the bounds, IN PLACE; <paramref name="eta"/> includes the 1/B of the batch average.</summary>
    public static Tensor Reward(Tensor w, Tensor eligibility, Tensor reward, double eta, StdpBounds bounds, double wMin, double wMax)
    {
        long b = eligibility.Sizes()[0];
        var delta = torch.mm(reward.reshape(1, b), eligibility.reshape(b, -1)).view(w.Sizes()).mul_(eta);
        return PlasticityBounds.ApplySigned(w, delta, bounds, wMin, wMax);
    }
}
