using System.Text.Json.Serialization;
using Ship.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;
using Ship.Core.Memory;

namespace Ship.Core.Spikes;

/// <summary>The derivative used in place of the Heaviside step's (zero almost everywhere) when training through spikes.</summary>
public interface ISurrogate
{
    /// <summary>Name for summaries and logs.</summary>
    string Name { get; }
    /// <summary>g(x), x = v − thr: the pseudo-derivative of the spike with respect to the membrane.</summary>
    Tensor Derivative(Tensor x);
}

/// <summary>Fast sigmoid (SuperSpike; SHIP's default with slope 100): g(x) = 1 / (slope·|x| + 1)².</summary>
[ShipModel("FastSigmoid")]
public sealed record FastSigmoid(double Slope = 100) : ISurrogate, IShipModel<FastSigmoid, FastSigmoid>
{
    /// <inheritdoc />
    public FastSigmoid GetSettings() => this;
    /// <inheritdoc />
    public static FastSigmoid FromSettings(FastSigmoid settings) => settings;
    /// <inheritdoc />
    [JsonIgnore]
    public string Name => $"fast-sigmoid(slope={Slope})";
    /// <inheritdoc />
    public Tensor Derivative(Tensor x) => x.abs().MulNumber_(Slope).AddNumber_(1).PowNumber_(-2);
}

/// <summary>Arctan (SpikingJelly): g(x) = (α/2) / (1 + (π/2·α·x)²); integrates to 1.</summary>
[ShipModel("ArcTan")]
public sealed record ArcTan(double Alpha = 2) : ISurrogate, IShipModel<ArcTan, ArcTan>
{
    /// <inheritdoc />
    public ArcTan GetSettings() => this;
    /// <inheritdoc />
    public static ArcTan FromSettings(ArcTan settings) => settings;
    /// <inheritdoc />
    [JsonIgnore]
    public string Name => $"arctan(alpha={Alpha})";
    /// <inheritdoc />
    public Tensor Derivative(Tensor x) => x.MulNumber(Math.PI / 2 * Alpha).PowNumber_(2).AddNumber_(1).reciprocal_().MulNumber_(Alpha / 2);
}

/// <summary>Triangle: g(x) = max(0, 1 − |x|/w) / w; integrates to 1 and is zero beyond the half-width w.</summary>
[ShipModel("Triangle")]
public sealed record Triangle(double Width = 1) : ISurrogate, IShipModel<Triangle, Triangle>
{
    /// <inheritdoc />
    public Triangle GetSettings() => this;
    /// <inheritdoc />
    public static Triangle FromSettings(Triangle settings) => settings;
    /// <inheritdoc />
    [JsonIgnore]
    public string Name => $"triangle(width={Width})";
    /// <inheritdoc />
    public Tensor Derivative(Tensor x) => x.abs().DivNumber_(-Width).AddNumber_(1).ClampMinZero_().DivNumber_(Width);
}

/// <summary>A user-defined pseudo-derivative.</summary>
public sealed record CustomSurrogate(string Name, Func<Tensor, Tensor> Function) : ISurrogate
{
    /// <inheritdoc />
    public Tensor Derivative(Tensor x) => Function(x);
}

/// <summary>
/// Heaviside forward (exactly v ≥ thr, the inference convention) with a surrogate derivative backward. Without
/// gradients to track it is the plain step, so attaching a trainer never changes forward results.
/// </summary>
[ShipModel("SurrogateSpikes")]
public sealed class SurrogateSpikes : ISpikeFunction, IShipModel<SurrogateSpikes, SurrogateSpikes.Settings>
{
    /// <summary>Construction settings: the surrogate (a registered model).</summary>
    public sealed record Settings(ISurrogate Surrogate);

    /// <inheritdoc />
    public Settings GetSettings() => new(Surrogate);

    /// <inheritdoc />
    public static SurrogateSpikes FromSettings(Settings settings) => new(settings.Surrogate);

    /// <summary>Uses the given surrogate (fast sigmoid with slope 100 if none).</summary>
    public SurrogateSpikes(ISurrogate? surrogate = null) => Surrogate = surrogate ?? new FastSigmoid();

    /// <summary>The pseudo-derivative used backward.</summary>
    public ISurrogate Surrogate { get; }

    /// <inheritdoc />
    public Tensor Fire(Tensor v, Tensor thr)
    {
        if (!torch.is_grad_enabled() || !(v.requires_grad || thr.requires_grad))
            return v.ge(thr).to_type(v.dtype);
        // v − thr ≥ 0 ⇔ v ≥ thr in IEEE arithmetic (a difference is zero only for equal values), so the forward is identical.
        return SurrogateStep.apply(v.sub(thr), Surrogate);
    }
}

/// <summary>The autograd node behind <see cref="SurrogateSpikes"/>: step forward, surrogate derivative backward.</summary>
public sealed class SurrogateStep : torch.autograd.SingleTensorFunction<SurrogateStep>
{
    /// <inheritdoc />
    public override string Name => "ShipSurrogateStep";

    /// <inheritdoc />
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        ctx.save_for_backward(new List<Tensor> { x });
        ctx.save_data("surrogate", vars[1]);
        return x.ge(HeldScalars.Zero).to_type(x.dtype);
    }

    /// <inheritdoc />
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        using var b = Ship.Core.Autograd.BackwardScope.Begin(gradOutput);
        var x = ctx.get_saved_variables()[0];
        var s = (ISurrogate)ctx.get_data("surrogate");
        return new List<Tensor> { b.Return(gradOutput.mul(s.Derivative(x))), null! };
    }
}
