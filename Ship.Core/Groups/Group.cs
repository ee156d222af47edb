using Ship.Core.Errors;
using Ship.Core.Networks;
using Ship.Core.Parameters;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Groups;

/// <summary>Whether a group holds neurons (size given by the user) or connections (sizes taken from its source and target).</summary>
public enum GroupKind
{
    /// <summary>N components, N inputs, N outputs.</summary>
    Neuron,
    /// <summary>Ns × Nt connections between a source and a target group.</summary>
    Synapse,
}

/// <summary>
/// A group of N identical components (a compact device model). It declares parameters (set at initialization) and state
/// variables (reset at the start of every run) and coefficients derived from parameters and dt (<see cref="Derive{T}"/>:
/// declared with their formula, recomputed by the framework), and implements <see cref="Step"/> to advance one step
/// (input [batch, InputSize] → output [batch, OutputSize]). A group can be bound to a context and stepped on its own,
/// which is how models are unit-tested without a network.
/// </summary>
public abstract class Group
{
    private readonly List<Parameter> _parameters = new();
    private readonly List<StateVariable> _states = new();
    private readonly List<DerivedValue> _derived = new();
    private SimulationContext? _ctx;
    private int _n, _ns, _nt;

    /// <summary>Creates a group of the given kind; neuron groups pass their size, synapse groups pass 0 and get sizes when wired.</summary>
    protected Group(GroupKind kind, int n)
    {
        Kind = kind;
        if (kind == GroupKind.Neuron)
        {
            if (n < 1) throw new ParameterException(GetType().Name, "N", $"a neuron group needs N >= 1, got {n}.");
            _n = _ns = _nt = n;
        }
    }

    /// <summary>Neuron or synapse group.</summary>
    public GroupKind Kind { get; }
    /// <summary>Unique tag within its network; empty until added.</summary>
    public string Tag { get; internal set; } = "";
    /// <summary>Tag if added, else the type name: used in every message about this group.</summary>
    public string DisplayName => Tag.Length > 0 ? Tag : GetType().Name;
    /// <summary>Number of components: neurons, or targets of a synapse group (the "per component" extent).</summary>
    public int ComponentCount => Kind == GroupKind.Neuron ? _n : _nt;
    /// <summary>Number of source components (Ns); equals N for neuron groups.</summary>
    public int SourceCount => _ns;
    /// <summary>Number of target components (Nt); equals N for neuron groups.</summary>
    public int TargetCount => _nt;
    /// <summary>Width of the input this group's <see cref="Step"/> expects.</summary>
    public virtual int InputSize => Kind == GroupKind.Synapse ? _ns : _n;
    /// <summary>Width of the output this group's <see cref="Step"/> returns.</summary>
    public virtual int OutputSize => Kind == GroupKind.Synapse ? _nt : _n;
    /// <summary>Steps by which the output lags the computation; ≥ 1 lets a back edge read it without an artefact.</summary>
    public virtual int OutputDelaySteps => 0;
    /// <summary>What <see cref="OutputDelaySteps"/> will be at time step <paramref name="dt"/>, without changing anything (plans are made before a run).</summary>
    public virtual int OutputDelayStepsAt(double dt) => OutputDelaySteps;

    /// <summary>
    /// Throws a <see cref="ParameterException"/> naming the group if it cannot run at time step <paramref name="dt"/> (e.g.
    /// rate·dt &gt; 1); changes nothing. The engine calls it for every dt of a call before any state changes, and
    /// <see cref="PrepareTimeStep"/> calls it before deriving anything: a model never calls it itself.
    /// </summary>
    public virtual void ValidateTimeStep(double dt) { }

    /// <summary>Groups whose state this group reads directly every step (not through a connection), so the plan calls them first.</summary>
    public virtual IEnumerable<Group> ReadsDirectly => Array.Empty<Group>();

    /// <summary>Marks a declared state that a monitor cannot record (its layout is not [batch, …]), with the reason given to the user.</summary>
    protected static void NotMonitorable(StateVariable state, string reason) => state.NotMonitorableBecause = reason;

    /// <summary>
    /// Shape of a per-connection value (<see cref="Parameters.Extent.Connection"/>): [Ns, Nt] for all-to-all synapses;
    /// a convolution overrides it with its kernel matrix [kernel entries, output channels], one weight per device.
    /// </summary>
    public virtual (long Rows, long Columns) ConnectionShape => (_ns, _nt);

    /// <summary>The declared parameters, in declaration order.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;
    /// <summary>The declared state variables, in declaration order.</summary>
    public IReadOnlyList<StateVariable> States => _states;
    /// <summary>The declared derived coefficients, in declaration order (the order they are computed in).</summary>
    public IReadOnlyList<DerivedValue> DerivedValues => _derived;
    /// <summary>Every variable of this group and of groups it wraps, so the engine can keep, monitor and save them all.</summary>
    public virtual IEnumerable<Variable> AllVariables => _parameters.Cast<Variable>().Concat(_states);

    /// <summary>The context this group runs in; an error names the group if it was never bound.</summary>
    public SimulationContext Context => _ctx ?? throw new ShipException($"Group '{DisplayName}' is not bound: add it to a network and initialize, or call Bind.");
    /// <summary>Whether a context is bound.</summary>
    public bool IsBound => _ctx is not null;

    /// <summary>Declares a parameter; call from the constructor so that the name is known before initialization.</summary>
    protected Parameter Param(string name, Extent extent, Value @default, Constraint? constraint = null, ScalarType? type = null)
    {
        CheckNewName(name);
        var p = new Parameter(this, name, extent, @default, constraint, type);
        _parameters.Add(p);
        return p;
    }

    /// <summary>Declares a state variable with its initial value; call from the constructor.</summary>
    protected StateVariable State(string name, Extent extent, Value initial, Constraint? constraint = null, ScalarType? type = null)
    {
        CheckNewName(name);
        var s = new StateVariable(this, name, extent, initial, constraint, type);
        _states.Add(s);
        return s;
    }

    /// <summary>
    /// Declares a coefficient derived from parameters and the time step, with its formula (a function of dt that reads
    /// the parameters, and earlier declared coefficients, it needs); call from the constructor. The framework computes
    /// it when the time step is prepared (each call's first segment, every dt change) and when a parameter is set,
    /// owns the tensors it returns and frees them when replaced; a formula may throw a <see cref="ParameterException"/>
    /// to refuse a parameter value (a rejected <see cref="Set"/> then leaves everything as it was).
    /// </summary>
    protected Derived<T> Derive<T>(string name, Func<double, T> formula)
    {
        ArgumentNullException.ThrowIfNull(formula);
        CheckNewName(name);
        var d = new Derived<T>(this, name, formula);
        _derived.Add(d);
        return d;
    }

    private void CheckNewName(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name == "output")
            throw new ArgumentException($"'{name}' cannot name a variable of {GetType().Name}.", nameof(name));
        if (_parameters.Any(p => p.Name == name) || _states.Any(s => s.Name == name) || _derived.Any(d => d.Name == name))
            throw new ArgumentException($"{GetType().Name} declares '{name}' twice.", nameof(name));
    }

    /// <summary>Finds a variable of this group (or a wrapped one) by name; the error lists the names that exist.</summary>
    public Variable Variable(string name) =>
        AllVariables.FirstOrDefault(v => v.Name == name)
        ?? throw new ParameterException(DisplayName, name,
            $"no such parameter or state; {GetType().Name} has: {string.Join(", ", AllVariables.Select(v => v.Name))}.");

    /// <summary>Sets the value specification of a parameter or initial state; it takes effect at the next initialization (parameters) or run (states).</summary>
    public Group Set(string name, Value value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var v = Variable(name);
        if (v is Parameter p && _ctx is not null)
        {
            // Validate and draw first, so a bad value leaves the old one in place.
            var previous = p.Spec;
            p.Spec = value;
            Tensor fresh;
            try { fresh = p.Materialize(_ctx); }
            catch { p.Spec = previous; throw; }
            var old = p.Tensor;
            p.Tensor = Keep(fresh);
            try { Changed(p); }
            catch
            {
                // A value valid on its own may still be refused by what depends on it (e.g. a rate with rate·dt > 1):
                // put the old value back and derive from it again, so the group is as it was before the call.
                p.Spec = previous;
                p.Tensor = old;
                fresh.Dispose();
                try { Changed(p); }
                catch (ShipException) { /* the old value was accepted before; nothing better to restore */ }
                throw;
            }
        }
        else v.Spec = value;
        return this;
    }

    // The owner may be a group this one wraps: its coefficients (and device) depend on p, and this wrapper's may too.
    private void Changed(Parameter p)
    {
        double dt = Context.Dt;
        ValidateTimeStep(dt);
        DerivedRecompute.UpdateAll(p.Owner._derived, dt);
        if (!ReferenceEquals(p.Owner, this)) DerivedRecompute.UpdateAll(_derived, dt);
        p.Owner.ParameterChanged(p);
        if (!ReferenceEquals(p.Owner, this)) ParameterChanged(p);
    }

    /// <summary>
    /// Hook after a parameter of a bound group was set and the declared coefficients were recomputed, for reactions that
    /// are not coefficients (programming a device with new weights, dropping a cached layout). Never derive here: declare
    /// the coefficient with <see cref="Derive{T}"/>.
    /// </summary>
    protected virtual void ParameterChanged(Parameter parameter) { }

    /// <summary>The current tensor of a parameter or state variable.</summary>
    public Tensor Get(string name) => Variable(name).Value;

    /// <summary>Called when the network tags the group, so wrappers can tag what they wrap (errors then name the user's tag).</summary>
    internal virtual void OnTagged(string tag) { }

    /// <summary>Sets source and target sizes of a synapse group; the network calls it when wiring.</summary>
    internal virtual void SetSynapseSizes(int ns, int nt)
    {
        if (Kind != GroupKind.Synapse) return;
        _ns = ns;
        _nt = nt;
        _n = nt;
    }

    /// <summary>
    /// Most elements one variable, input or output of a group may hold, batch included (2^31 − 1): beyond it libtorch
    /// allocations fail natively or sizes overflow, so initialization refuses the group instead (docs/errors.md).
    /// </summary>
    public const long MaxElements = int.MaxValue;

    /// <summary>
    /// Refuses sizes whose element count (batch × N, Ns × Nt, batch × Ns × Nt, …) exceeds <see cref="MaxElements"/>,
    /// naming the group, the variable and the sizes; called before anything is bound or allocated.
    /// </summary>
    internal void CheckSizes(int batchSize)
    {
        var sizes = Kind == GroupKind.Neuron ? $"N = {ComponentCount}, batch {batchSize}" : $"Ns = {SourceCount}, Nt = {TargetCount}, batch {batchSize}";
        foreach (var v in AllVariables) CheckElements(v.Name, v.FullShape(batchSize), v.DescribeExtent(), sizes);
        CheckElements("input", [batchSize, InputSize], "batch × input width", sizes);
        CheckElements("output", [batchSize, OutputSize], "batch × output width", sizes);
    }

    private void CheckElements(string what, long[] shape, string extent, string sizes)
    {
        var count = System.Numerics.BigInteger.One;
        foreach (var d in shape) count *= d;
        if (count <= MaxElements) return;
        throw new ParameterException(DisplayName, what,
            $"{string.Join(" × ", shape)} = {count} elements ({extent}; {sizes}) exceed the limit of {MaxElements} elements per tensor (Group.MaxElements): use smaller groups, a smaller batch or a sparse connection.");
    }

    /// <summary>Lets a synapse model reject sizes it cannot serve (e.g. an identity link needs Ns = Nt).</summary>
    public virtual void ValidateSizes() { }

    /// <summary>
    /// Binds the group to a context and materializes its parameters (generators are drawn now). Validates every
    /// parameter before keeping any, so a failure leaves the previous values in place.
    /// </summary>
    public virtual void Bind(SimulationContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        CheckSizes(ctx.BatchSize);
        var fresh = new List<Tensor?>();
        // Only this group's own parameters: a wrapper binds its inner group first, so wrapped parameters are drawn once.
        var parameters = _parameters;
        try
        {
            foreach (var p in parameters)
            {
                var t = p.Materialize(ctx); // drawn even when pinned, so the other parameters get the same draws as a fresh network
                if (p.Pinned && p.Tensor is not null) { p.CheckPinned(ctx); t.Dispose(); fresh.Add(null); }
                else fresh.Add(t);
            }
        }
        catch
        {
            foreach (var t in fresh) t?.Dispose();
            throw;
        }
        _ctx = ctx;
        for (int i = 0; i < parameters.Count; i++)
            if (fresh[i] is { } t) parameters[i].Tensor = Keep(t);
        foreach (var d in _derived) d.Invalidate(); // computed again from the new parameters when first needed
        OnBind();
    }

    /// <summary>Hook after parameters are materialized, for checks and state that need the context (not for coefficients: declare them).</summary>
    protected virtual void OnBind() { }

    /// <summary>
    /// Prepares the group (and every group it wraps) for time step <paramref name="dt"/>: the one place dt is checked
    /// (finite, &gt; 0, then <see cref="ValidateTimeStep"/>), then every declared coefficient is recomputed and
    /// <see cref="OnTimeStepPrepared"/> runs. The engine calls it before each call's first step and at every dt change.
    /// </summary>
    public void PrepareTimeStep(double dt)
    {
        DerivedRecompute.CheckDt(this, dt);
        ValidateTimeStep(dt);
        // One update over the whole stack: a formula of an outer wrapper that refuses dt rolls the inner groups back too.
        DerivedRecompute.UpdateAll(StackInnerFirst.SelectMany(g => g._derived).ToList(), dt);
        foreach (var g in StackInnerFirst) g.OnTimeStepPrepared(dt);
    }

    /// <summary>This group after every group it wraps, innermost first.</summary>
    internal virtual IEnumerable<Group> StackInnerFirst => [this];

    /// <summary>
    /// Hook after the coefficients were recomputed for <paramref name="dt"/>, for state whose layout follows the time step
    /// (a delay queue re-timed to the new dt). Coefficients are declared with <see cref="Derive{T}"/>, not computed here.
    /// </summary>
    protected virtual void OnTimeStepPrepared(double dt) { }

    /// <summary>Resets every state variable to its initial specification, then calls <see cref="OnReset"/>.</summary>
    public virtual void ResetState()
    {
        var ctx = Context;
        foreach (var s in _states) s.Tensor = Keep(s.MaterializeFull(ctx));
        OnReset();
    }

    /// <summary>Hook for initial state beyond the declared variables.</summary>
    protected virtual void OnReset() { }

    /// <summary>Advances one step: input [batch, InputSize] (null for groups without sources) → output [batch, OutputSize]. The returned tensor must not be modified afterwards.</summary>
    public abstract Tensor Step(Tensor? input);

    /// <summary>The output the next <see cref="Step"/> will return, known in advance when <see cref="OutputDelaySteps"/> ≥ 1.</summary>
    public virtual Tensor PeekDelayedOutput() =>
        throw new NotSupportedException($"Group '{DisplayName}' has no output delay, so its next output is not known in advance.");

    /// <summary>Takes a tensor out of any dispose scope, for values that must outlive the current step (derived terms, states).</summary>
    protected static Tensor Keep(Tensor t) => t.DetachFromDisposeScope();
}

/// <summary>Base of neuron models: N components with N inputs and N outputs.</summary>
public abstract class NeuronGroup : Group
{
    /// <summary>Creates a neuron group of <paramref name="n"/> components.</summary>
    protected NeuronGroup(int n) : base(GroupKind.Neuron, n) { }
}

/// <summary>Base of synapse models: Ns × Nt connections whose sizes come from the source and target they are wired to.</summary>
public abstract class SynapseGroup : Group
{
    /// <summary>Creates a synapse group; sizes are set when the network wires it.</summary>
    protected SynapseGroup() : base(GroupKind.Synapse, 0) { }

    /// <summary>Sets sizes directly, for testing a synapse model without a network.</summary>
    public SynapseGroup WithSizes(int ns, int nt)
    {
        if (ns < 1 || nt < 1) throw new ParameterException(DisplayName, "Ns/Nt", $"sizes must be >= 1, got Ns={ns}, Nt={nt}.");
        SetSynapseSizes(ns, nt);
        return this;
    }
}

/// <summary>A group fed from outside with a [batch, steps, N] tensor, one slice per step.</summary>
public interface IInputGroup
{
    /// <summary>Throws an <see cref="Errors.InputException"/> naming the group if the data cannot feed the coming steps; changes nothing.</summary>
    void CheckFeed(Tensor data, int stepsNeeded);
    /// <summary>Stores data already accepted by <see cref="CheckFeed"/>; consumption starts at its first step.</summary>
    void Feed(Tensor data, int stepsNeeded);
    /// <summary>Steps of fed data not yet consumed, so a continued run can check it has enough.</summary>
    int RemainingSteps { get; }
    /// <summary>
    /// Steps this data asks for when a run is given no schedule (e.g. the longest of ragged spike trains), or null to
    /// keep the network's Steps; asked before <see cref="CheckFeed"/>, so it must tolerate malformed data (return null).
    /// </summary>
    int? PreferredSteps(Tensor data) => null;
    /// <summary>Data held by the group itself (e.g. ragged trains given to it), fed to every Run that passes none for it; null when none.</summary>
    Tensor? StagedData => null;
}
