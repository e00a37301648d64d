using System.Text.Json.Serialization;

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

/// <summary>The outcome of one training run: its configuration and one <see cref="EpochRecord"/> per completed epoch.</summary>
public sealed record TrainingReport
{
    /// <summary>Model name as given on the command line (e.g. <c>mlp</c>), plus its architecture when known.</summary>
    public required string Model { get; init; }

    /// <summary>Optimizer name (e.g. <c>shampoo2</c>).</summary>
    public required string Optimizer { get; init; }

    /// <summary>The optimizer's settings, formatted invariantly, so runs can be compared and reproduced.</summary>
    public IReadOnlyDictionary<string, string> Hyperparameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Seed of the data order (and, by convention, of the model initialisation).</summary>
    public int Seed { get; init; }

    /// <summary>Examples per optimizer step (the last batch of an epoch may be smaller).</summary>
    public int BatchSize { get; init; }

    /// <summary>Epochs the run was asked to complete.</summary>
    public int PlannedEpochs { get; init; }

    /// <summary>Training examples.</summary>
    public int TrainExamples { get; init; }

    /// <summary>Test examples.</summary>
    public int TestExamples { get; init; }

    /// <summary>BLAS backend in use, or null when none was loaded.</summary>
    public string? Backend { get; init; }

    /// <summary>BLAS threads in use, or 0 when unknown.</summary>
    public int Threads { get; init; }

    /// <summary>Epoch the run resumed after (0 when it started fresh).</summary>
    public int ResumedAfterEpoch { get; init; }

    /// <summary>Completed epochs in order, including those restored from a checkpoint.</summary>
    public IReadOnlyList<EpochRecord> Epochs { get; init; } = [];

    /// <summary>Sum of the epochs' training time.</summary>
    public double TotalTrainSeconds => Epochs.Sum(e => e.WallSeconds);

    /// <summary>Sum of the epochs' time inside the optimizer.</summary>
    public double TotalOptimizerSeconds => Epochs.Sum(e => e.OptimizerSeconds);

    /// <summary>Sum of the epochs' root-refresh time.</summary>
    public double TotalRefreshSeconds => Epochs.Sum(e => e.RefreshSeconds);

    /// <summary>The last epoch, or null before any completed.</summary>
    [JsonIgnore]
    public EpochRecord? Final => Epochs.Count == 0 ? null : Epochs[^1];
}

/// <summary>Several runs on the same data, e.g. one per optimizer in the demo.</summary>
public sealed record TrainingComparison
{
    /// <summary>What the runs share (data set, model), in words.</summary>
    public required string Description { get; init; }

    /// <summary>BLAS backend and version.</summary>
    public string? Backend { get; init; }

    /// <summary>When the comparison was produced (UTC, ISO 8601).</summary>
    public string? CreatedUtc { get; init; }

    /// <summary>Wall time of the whole comparison, including data loading.</summary>
    public double TotalSeconds { get; init; }

    /// <summary>The runs.</summary>
    public IReadOnlyList<TrainingReport> Runs { get; init; } = [];
}
