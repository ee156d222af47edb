using Ship.Core.Groups;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Networks.Observers;

/// <summary>
/// Something the stepper informs as a run proceeds (monitors, the finite guard, the output recorder, the energy
/// ledger). The loop has no observer-specific branches: it calls these four methods on every attached observer.
/// An observer never changes a result: it reads tensors the engine hands it and must not modify or keep them (copy
/// what it keeps); tensors it is handed are valid only during the call.
/// </summary>
public interface IRunObserver
{
    /// <summary>
    /// Whether this observer reads the per-step output of <paramref name="group"/> in <see cref="OnStep"/>. A group that
    /// the plan computes a whole block at once is sliced per step only when some observer says yes here; otherwise the
    /// observer sees its output once per block in <see cref="OnBlockEnd"/>. Asked once per run, after validation.
    /// </summary>
    bool NeedsStepOutput(Group group);

    /// <summary>
    /// Whether this observer reads a state of <paramref name="group"/> after every step (a state monitor): the plan then
    /// steps that group one step at a time, since a group computed a block at once only has its state at the block's end.
    /// (Added with the execution plan; defaults to false.)
    /// </summary>
    bool NeedsStepState(Group group) => false;

    /// <summary>Whether this observer looks at <paramref name="group"/> at all, for the plan's description. (Added; defaults to false.)</summary>
    bool Watches(Group group) => false;

    /// <summary>Called once per Run/Continue, after every check passed and before the first step.</summary>
    void OnRunStart(RunStartView run);

    /// <summary>Called after every step, with the outputs of the groups computed (or sliced) step by step.</summary>
    void OnStep(StepView step);

    /// <summary>
    /// Called when a block of steps ends (a whole-segment block, or the steps computed under one dispose scope), with
    /// the [batch, steps, N] outputs of the groups the plan computed a whole block at once.
    /// </summary>
    void OnBlockEnd(BlockView block);

    /// <summary>Called once when the call ends; <paramref name="completed"/> is false when it failed part-way.</summary>
    void OnRunEnd(bool completed);
}

/// <summary>What an observer learns when a call starts.</summary>
/// <param name="Network">The network that runs.</param>
/// <param name="Reset">Whether the call is a Run (states reset) rather than a Continue.</param>
/// <param name="FirstStep">Index of the call's first step, counted from the last reset.</param>
/// <param name="TotalSteps">Steps the call will compute.</param>
public sealed record RunStartView(Network Network, bool Reset, long FirstStep, int TotalSteps);

/// <summary>One computed step, as observers see it.</summary>
public sealed class StepView
{
    private readonly Func<Group, Tensor?> _output;

    /// <summary>Creates a view; the engine makes one per call and refills it.</summary>
    public StepView(Func<Group, Tensor?> output) => _output = output;

    /// <summary>Index of the step, counted from the last reset.</summary>
    public long StepIndex { get; set; }
    /// <summary>Time at the start of the step, seconds since the last reset.</summary>
    public double Time { get; set; }
    /// <summary>The step's dt in seconds.</summary>
    public double Dt { get; set; }
    /// <summary>Time at the end of the step (what monitors record as the step's time), as the network's timeline has it.</summary>
    public double EndTime { get; set; }
    /// <summary>The plan the step runs under (which groups are whole-block, which are stepped). (Added with the execution plan.)</summary>
    public ExecutionPlan? Plan { get; set; }

    /// <summary>The step's output [batch, N] of a group computed or sliced step by step; null for a group seen only per block.</summary>
    public Tensor? Output(Group group) => _output(group);
}

/// <summary>A block of steps, as observers see it.</summary>
public sealed class BlockView
{
    private readonly Func<Group, Tensor?> _output;

    /// <summary>Creates a view; the engine makes one per call and refills it.</summary>
    public BlockView(Func<Group, Tensor?> output) => _output = output;

    /// <summary>Index of the block's first step, counted from the last reset.</summary>
    public long FirstStep { get; set; }
    /// <summary>Number of steps in the block.</summary>
    public int Steps { get; set; }
    /// <summary>The block's dt in seconds (a block never spans a dt change).</summary>
    public double Dt { get; set; }
    /// <summary>The plan the block ran under. (Added with the execution plan.)</summary>
    public ExecutionPlan? Plan { get; set; }
    /// <summary>End time of each step of the block, as the network's timeline has it. (Added with the execution plan.)</summary>
    public IReadOnlyList<double> EndTimes { get; set; } = Array.Empty<double>();

    /// <summary>The [batch, Steps, N] output of a group the plan computed a whole block at once; null for a group stepped one step at a time.</summary>
    public Tensor? SequenceOutput(Group group) => _output(group);
}
