#:project ../../Ship.Core/Ship.Core.csproj
#:project ../../Ship.Devices/Ship.Devices.csproj
#:project ../../Ship.Plots/Ship.Plots.csproj
#:property GenerateDocumentationFile=false
#:property PublishAot=false

// Tutorial 4: writing your own models (docs/tutorials/04-model.md).
// Every code block of the tutorial is part of this file. Writes its files to --out (default examples-output/tutorial-04).

using Ship.Core.Clocks;
using Ship.Core.Groups;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Synapses;
using Ship.Devices.Wrappers;
using Ship.Plots;
using TorchSharp;
using static TorchSharp.torch;

int at = Array.IndexOf(args, "--out");
string outDir = at >= 0 && at + 1 < args.Length ? args[at + 1] : Path.Combine("examples-output", "tutorial-04");
Ship.Core.IO.Provenance.Write(outDir, new Dictionary<string, long> { ["network"] = 1 });   // provenance.json: version, commit, command line, seeds, time

// [standalone]
// One depressing synapse alone: 1 source, 1 target, a spike every step.
var syn = new DepressingSynapse(weights: 1.0, release: 0.5, tauRecovery: 20e-3);
syn.WithSizes(1, 1);
syn.Bind(new SimulationContext(batchSize: 1, dtype: ScalarType.Float64));
syn.PrepareTimeStep(1e-3);
syn.ResetState();
double x = 1, decay = Math.Exp(-1e-3 / 20e-3);
for (int k = 0; k < 5; k++)
{
    double got = syn.Step(torch.ones(1, 1, dtype: ScalarType.Float64)).item<double>();
    x = 1 - (1 - x) * decay;                             // the same equations, by hand
    double expected = 0.5 * x;
    x -= expected;
    if (Math.Abs(got - expected) > 1e-12) throw new Exception($"step {k}: model gives {got}, equations give {expected}");
    Console.WriteLine($"spike {k + 1}: released {got:0.0000}");
}
// [/standalone]

// [network]
var net = new Network("tutorial-4") { Dt = 1e-3, BatchSize = 1, Seed = 1, DType = ScalarType.Float64 };
net.Add("In", new TensorInput(1));
net.Add("S", new DepressingSynapse(weights: 4.0, release: 0.4, tauRecovery: 100e-3), source: "In", target: "N");
net.Add("N", new Refractory(new SubtractiveLif(1, tau: 10e-3, threshold: 1.0), 2e-3));
net.MarkOutput("N", "S");
var resources = net.Monitor("S", "x");
var membrane = net.Monitor("N", "u");
// A 50 Hz train for 200 ms, then a pause, then the train again: depression, then recovery.
var train = torch.zeros(1, 400, 1, dtype: ScalarType.Float64);
for (int k = 0; k < 400; k += 20) if (k < 200 || k >= 300) train[0, k, 0] = 1.0;
var result = net.Run(train, Schedule.Fixed(1e-3, 400));
Console.WriteLine($"postsynaptic spikes: {result["N"].sum().item<double>()}");
// [/network]

// [plot]
var times = result.Times;
var ms = times.Select(t => t * 1e3).ToArray();
LinePlots.Lines(outDir, "resources", new[] { new LineData("x (resources)", ms, PlotData.ToDoubles(resources.Values[0, .., 0, 0])) },
    "Time (ms)", "Available resources x");
SpikePlots.MembraneTrace(outDir, "membrane", membrane, result["N"], threshold: 1.0);
Console.WriteLine($"wrote {Path.Combine(outDir, "resources.png")} and {Path.Combine(outDir, "membrane.png")}");
// [/plot]

// [neuron]
/// <summary>
/// LIF neuron with a subtractive ("soft") reset: u ← g·(β·u + x), β = exp(−dt/τ); spike s = (u ≥ thr); u ← u − s·thr.
/// g is the integration gate (1 = integrate, 0 = hold at rest and drop the input), so refractory wrappers work.
/// </summary>
sealed class SubtractiveLif : NeuronGroup, IIntegrationGate
{
    private readonly Derived<Tensor> _beta;

    public SubtractiveLif(int n, double tau = 10e-3, double threshold = 1.0) : base(n)
    {
        Tau = Param("tau", Extent.Batch | Extent.Component, tau, Constraint.Positive);
        Threshold = Param("thr", Extent.Batch | Extent.Component, threshold, Constraint.Positive);
        U = State("u", Extent.Batch | Extent.Component, 0.0, Constraint.Finite);
        Integrate = State("integrate", Extent.Batch | Extent.Component, 1.0);
        // The only place dt enters the model: declared once, recomputed by the framework when dt or τ changes.
        _beta = Derive("beta", dt => Tau.Value.reciprocal().mul(-dt).exp());
    }

    public Parameter Tau { get; }
    public Parameter Threshold { get; }
    public StateVariable U { get; }
    public StateVariable Integrate { get; }

    public override Tensor Step(Tensor? input)
    {
        var v = U.Value.mul(_beta.Value);
        if (input is not null) v = v.add(input);
        v = v.mul(Integrate.Value);
        var spikes = Context.Spikes.Fire(v, Threshold.Value);       // through the network's spike function
        U.Tensor = v.sub(spikes.detach().mul(Threshold.Value));     // the reset carries no gradient
        Integrate.Tensor = torch.ones_like(v);                       // wrappers lower it for the next step
        return spikes;
    }
}
// [/neuron]

// [synapse]
/// <summary>
/// Short-term depression (Tsodyks and Markram, 1997) on every connection: resources x recover toward 1 with τ_rec,
/// x ← 1 − (1 − x)·exp(−dt/τ_rec); a presynaptic spike s releases r = U·x·s, x ← x − r; output Σ_sources r·w.
/// </summary>
sealed class DepressingSynapse : WeightedSynapse
{
    private readonly Derived<Tensor> _recovery;

    public DepressingSynapse(Value? weights = null, double release = 0.5, double tauRecovery = 100e-3) : base(weights)
    {
        Release = Param("U", Extent.Connection, release, Constraint.Probability);
        TauRecovery = Param("tau_rec", Extent.Connection, tauRecovery, Constraint.Positive);
        X = State("x", Extent.Batch | Extent.Connection, 1.0, Constraint.Finite);
        _recovery = Derive("recovery", dt => TauRecovery.Value.reciprocal().mul(-dt).exp());
    }

    public Parameter Release { get; }
    public Parameter TauRecovery { get; }
    public StateVariable X { get; }

    public override Tensor Step(Tensor? input)
    {
        var x = X.Value.neg().add(1).mul(_recovery.Value).neg().add(1);   // recovery during the step
        var released = x.mul(Release.Value).mul(input!.unsqueeze(2));  // [batch, Ns, Nt]
        X.Tensor = x.sub(released);
        return released.mul(Weights).sum(1);                          // Weights: w, or what a memristive device reads
    }
}
// [/synapse]
