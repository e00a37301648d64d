namespace ShampooMkl.Analysis.Training;

/// <summary>What one epoch of training measured.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean over the epoch's batches of the mini-batch loss, taken before each step.</param>
/// <param name="TestLoss">Mean cross-entropy on the test set after the epoch.</param>
/// <param name="TestAccuracy">Fraction of the test set classified correctly after the epoch.</param>
/// <param name="WallSeconds">Time of the training steps (forward, backward, optimizer), without evaluation or checkpointing.</param>
/// <param name="EvaluationSeconds">Time of the test-set evaluation.</param>
/// <param name="OptimizerSeconds">Part of <paramref name="WallSeconds"/> spent inside the optimizer's steps (the rest is the model and batching).</param>
/// <param name="RefreshSeconds">Part of <paramref name="OptimizerSeconds"/> spent recomputing preconditioner roots.</param>
/// <param name="Steps">Optimizer steps attempted in the epoch (batches).</param>
/// <param name="SkippedSteps">Steps the optimizer skipped because of a non-finite gradient.</param>
/// <param name="StepsPerSecond">Steps divided by <paramref name="WallSeconds"/>.</param>
/// <param name="LearningRate">The optimizer's learning rate at the end of the epoch.</param>
public sealed record EpochRecord(
    int Epoch,
    double TrainLoss,
    double TestLoss,
    double TestAccuracy,
    double WallSeconds,
    double EvaluationSeconds,
    double OptimizerSeconds,
    double RefreshSeconds,
    int Steps,
    long SkippedSteps,
    double StepsPerSecond,
    double LearningRate);
