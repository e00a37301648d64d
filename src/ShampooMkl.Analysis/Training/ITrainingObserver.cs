namespace ShampooMkl.Analysis.Training;

/// <summary>Receives a run's progress; every method defaults to doing nothing.</summary>
/// <remarks>Called on the training thread between steps, so an observer should be quick (a progress bar, not I/O per step).</remarks>
public interface ITrainingObserver
{
    /// <summary>A run starts (or resumes) with <paramref name="firstEpoch"/>.</summary>
    void OnRunStarted(int firstEpoch, int epochs, int stepsPerEpoch)
    {
    }

    /// <summary>A step finished.</summary>
    void OnStep(in TrainingProgress progress)
    {
    }

    /// <summary>An epoch finished and was evaluated (and checkpointed when enabled).</summary>
    void OnEpochCompleted(EpochRecord record)
    {
    }
}
