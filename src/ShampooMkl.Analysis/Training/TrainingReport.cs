using System.Text.Json.Serialization;

namespace ShampooMkl.Analysis.Training;

/// <summary>The outcome of one training run: its configuration and one <see cref="EpochRecord"/> per completed epoch.</summary>
public sealed record TrainingReport
{
    /// <summary>Version of this JSON layout; <see cref="CurrentFormatVersion"/> when written by this build.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Layout version of the file, written first so a consumer can check it before reading the rest.</summary>
    [JsonPropertyOrder(-1)]
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Model name as given on the command line (e.g. <c>mlp</c>), plus its architecture when known.</summary>
    public required string Model { get; init; }

    /// <summary>Optimizer name (e.g. <c>shampoo2</c>).</summary>
    public required string Optimizer { get; init; }

    /// <summary>
    /// The optimizer's settings as invariant text, so runs can be compared and reproduced; JSON holds them typed
    /// (numbers as numbers, <c>true</c>/<c>false</c> as booleans, enum names as strings).
    /// </summary>
    [JsonConverter(typeof(HyperparameterJsonConverter))]
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
