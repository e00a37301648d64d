namespace ShampooMkl.Optim;

/// <summary>An optimizer over a fixed list of parameters: reads their gradients, updates their values.</summary>
public interface IOptimizer : IDisposable
{
    /// <summary>The parameters, in the order their state is checkpointed.</summary>
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Steps taken (skipped steps are not counted).</summary>
    long StepCount { get; }

    /// <summary>The learning rate the next step will use for the first parameter group:
    /// <see cref="GetCurrentLearningRate"/>(0).</summary>
    double CurrentLearningRate { get; }

    /// <summary>The learning rate the next step will use for group <paramref name="group"/>: its base rate
    /// (<see cref="GetLearningRate"/>) times its own schedule's factor at step <see cref="StepCount"/> + 1 — the rate the
    /// update is taken with.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not in [0, <see cref="GroupCount"/>).</exception>
    double GetCurrentLearningRate(int group);

    /// <summary>The number of parameter groups, in constructor order (a list of parameters is one group).</summary>
    int GroupCount { get; }

    /// <summary>Group <paramref name="group"/>'s base learning rate η₀: the step's rate is η₀ times the group's
    /// schedule factor. Starts at the group's options' <c>LearningRate</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not in [0, <see cref="GroupCount"/>).</exception>
    double GetLearningRate(int group);

    /// <summary>Sets group <paramref name="group"/>'s base learning rate from the next step on (what an external
    /// learning-rate scheduler calls between steps). The rate is optimizer state: a checkpoint saves and restores it.</summary>
    /// <param name="group">The group, in [0, <see cref="GroupCount"/>).</param>
    /// <param name="learningRate">The new base rate, finite and ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">Not a group index, or a rate that is NaN, infinite or negative (nothing changes).</exception>
    /// <exception cref="InvalidOperationException">Called while <see cref="Step"/> runs on another thread (nothing changes).</exception>
    void SetLearningRate(int group, double learningRate);

    /// <summary>Applies one update from the gradients currently in <see cref="Parameter.Gradient"/>.</summary>
    /// <remarks>Validates every gradient first: a NaN/±∞ gradient skips the whole step (reported in the result,
    /// state unchanged); a parameter whose gradient array was swapped for one of another length throws.</remarks>
    /// <exception cref="InvalidOperationException">This library's optimizers: another step, a checkpoint
    /// export/import/save/load or a dispose is running on another thread; nothing changes.</exception>
    StepResult Step();

    /// <summary>Running counters: skipped steps, root refreshes and their time, failures.</summary>
    OptimizerStatistics Statistics { get; }
}

