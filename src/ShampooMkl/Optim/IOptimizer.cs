namespace ShampooMkl.Optim;

/// <summary>An optimizer over a fixed list of parameters: reads their gradients, updates their values.</summary>
public interface IOptimizer : IDisposable
{
    /// <summary>The parameters, in the order their state is checkpointed.</summary>
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Steps taken (skipped steps are not counted).</summary>
    long StepCount { get; }

    /// <summary>The learning rate the next step will use (after the schedule).</summary>
    double CurrentLearningRate { get; }

    /// <summary>Applies one update from the gradients currently in <see cref="Parameter.Gradient"/>.</summary>
    /// <remarks>Validates every gradient first: a NaN/±∞ gradient skips the whole step (reported in the result,
    /// state unchanged); a parameter whose gradient array was swapped for one of another length throws.</remarks>
    StepResult Step();

    /// <summary>Running counters: skipped steps, root refreshes and their time, failures.</summary>
    OptimizerStatistics Statistics { get; }
}

/// <summary>What one call to <see cref="IOptimizer.Step"/> did.</summary>
/// <param name="Applied">False when the step was skipped (non-finite gradient).</param>
/// <param name="RefreshedRoots">Whether preconditioner roots were recomputed in this step.</param>
/// <param name="Message">Why the step was skipped, or a root failure that was recovered from; null when all is well.</param>
public readonly record struct StepResult(bool Applied, bool RefreshedRoots, string? Message);

/// <summary>Counters an optimizer keeps for reports and logs.</summary>
public sealed class OptimizerStatistics
{
    /// <summary>Steps skipped because a gradient was not finite.</summary>
    public long SkippedSteps { get; set; }

    /// <summary>Most entries <see cref="Log"/> keeps; older ones are dropped first.</summary>
    public const int MaxLogEntries = 100;

    /// <summary>Root refreshes performed (steps in which roots were recomputed, whatever the number of blocks).</summary>
    public long RootRefreshes { get; set; }

    /// <summary>Block root computations performed, successful or not (the denominator of <see cref="FailedRootBlocks"/>).</summary>
    public long RefreshedBlocks { get; set; }

    /// <summary>Blocks whose root computation failed (previous roots kept, ε raised).</summary>
    public long FailedRootBlocks { get; set; }

    /// <summary>Wall time spent computing roots.</summary>
    public TimeSpan RefreshTime { get; set; }

    /// <summary>Wall time spent in the rest of the step (statistics, preconditioning, update).</summary>
    public TimeSpan StepTime { get; set; }

    /// <summary>Recent recovered failures, newest last (bounded).</summary>
    public List<string> Log { get; } = new();

    /// <summary>Appends to <see cref="Log"/>, dropping the oldest entries beyond <see cref="MaxLogEntries"/>.</summary>
    public void AddLog(string entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Log.Add(entry);
        if (Log.Count > MaxLogEntries)
        {
            Log.RemoveRange(0, Log.Count - MaxLogEntries);
        }
    }
}
