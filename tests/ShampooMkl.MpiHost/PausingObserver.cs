using ShampooMkl.Analysis.Training;

namespace ShampooMkl.MpiHost;

/// <summary>Says when each epoch (and its checkpoint) is complete and then waits, so that a test can act between two
/// epochs of a run that would otherwise finish in milliseconds (e.g. cut the network after the first checkpoint).</summary>
internal sealed class PausingObserver(TimeSpan pause, int rank) : ITrainingObserver
{
    public void OnRunStarted(int firstEpoch, int epochs, int stepsPerEpoch)
    {
    }

    public void OnStep(in TrainingProgress progress)
    {
    }

    public void OnEpochCompleted(EpochRecord record)
    {
        Console.WriteLine($"rank {rank} completed epoch {record.Epoch}");
        Thread.Sleep(pause);
    }
}
