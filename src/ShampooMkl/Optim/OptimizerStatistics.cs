namespace ShampooMkl.Optim;

/// <summary>Counters an optimizer keeps for reports and logs.</summary>
public sealed class OptimizerStatistics
{
    /// <summary>Steps not applied, state unchanged: a gradient was not finite, or the update would have made a
    /// parameter or optimizer state NaN or infinite (e.g. a learning rate or weight decay near the floating-point range).</summary>
    public long SkippedSteps { get; set; }

    /// <summary>Most entries <see cref="Log"/> keeps; older ones are dropped first.</summary>
    public const int MaxLogEntries = 100;

    /// <summary>Root refreshes performed (steps in which roots were recomputed, whatever the number of blocks).</summary>
    public long RootRefreshes { get; set; }

    /// <summary>Block root computations performed, successful or not (the denominator of <see cref="FailedRootBlocks"/>).</summary>
    public long RefreshedBlocks { get; set; }

    /// <summary>Blocks whose root computation failed (previous roots kept, ε raised).</summary>
    public long FailedRootBlocks { get; set; }

    /// <summary>Kronecker blocks whose statistics were scaled down by a power of two so that they stay finite in the
    /// factor precision (fp32 statistics of gradients near 1e19); logged. Not stored in checkpoints.</summary>
    public long RescaledBlocks { get; set; }

    /// <summary>Wall time spent computing roots.</summary>
    public TimeSpan RefreshTime { get; set; }

    /// <summary>Wall time spent in the rest of the step (statistics, preconditioning, update).</summary>
    public TimeSpan StepTime { get; set; }

    private readonly List<string> log = new();

    /// <summary>Recent recovered failures, newest last (at most <see cref="MaxLogEntries"/>); read-only, appended to
    /// by <see cref="AddLog"/>.</summary>
    public IReadOnlyList<string> Log => log;

    /// <summary>Appends to <see cref="Log"/>, dropping the oldest entries beyond <see cref="MaxLogEntries"/>.</summary>
    public void AddLog(string entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        log.Add(entry);
        if (log.Count > MaxLogEntries)
        {
            log.RemoveRange(0, log.Count - MaxLogEntries);
        }
    }

    /// <summary>Replaces the log with <paramref name="entries"/> (a checkpoint's, or a snapshot's after a refused step).</summary>
    internal void ReplaceLog(IEnumerable<string> entries)
    {
        log.Clear();
        foreach (var entry in entries)
        {
            AddLog(entry);
        }
    }
}
