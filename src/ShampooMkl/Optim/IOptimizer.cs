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
    /// <exception cref="InvalidOperationException">This library's optimizers: another step, a checkpoint
    /// export/import/save/load or a dispose is running on another thread; nothing changes.</exception>
    StepResult Step();

    /// <summary>Running counters: skipped steps, root refreshes and their time, failures.</summary>
    OptimizerStatistics Statistics { get; }
}

