namespace ShampooMkl.Analysis.Training;

/// <summary>The state of a run after one step, for progress bars and status lines.</summary>
/// <param name="Epoch">Current epoch, 1-based.</param>
/// <param name="Epochs">Epochs planned.</param>
/// <param name="Step">Steps done in this epoch, 1-based.</param>
/// <param name="StepsPerEpoch">Steps (batches) per epoch.</param>
/// <param name="BatchLoss">Loss of the batch just processed.</param>
/// <param name="MeanLoss">Mean batch loss of the epoch so far.</param>
/// <param name="StepsPerSecond">Steps per second in this epoch so far.</param>
/// <param name="LastTestAccuracy">Test accuracy after the previous epoch, or null in the first.</param>
public readonly record struct TrainingProgress(
    int Epoch,
    int Epochs,
    int Step,
    int StepsPerEpoch,
    double BatchLoss,
    double MeanLoss,
    double StepsPerSecond,
    double? LastTestAccuracy)
{
    /// <summary>Fraction of the whole run completed, in [0, 1].</summary>
    public double Fraction => ((double)(Epoch - 1) * StepsPerEpoch + Step) / ((double)Epochs * StepsPerEpoch);
}
