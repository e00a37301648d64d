using ShampooMkl.Distributed;
using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Training;

/// <summary>How a <see cref="Trainer"/> runs: epochs, batch size, data-order seed, checkpoints, and what to call the run.</summary>
public sealed record TrainerOptions
{
    /// <summary>Epochs to complete (counting those restored from a checkpoint).</summary>
    public int Epochs { get; init; } = 3;

    /// <summary>Examples per step; the last batch of an epoch holds the remainder.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Seed of the per-epoch data order (see <see cref="EpochOrder"/>).</summary>
    public int Seed { get; init; }

    /// <summary>Folder that receives a checkpoint after every epoch; null disables checkpoints.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Continue from the checkpoint in <see cref="CheckpointDirectory"/> when there is one.</summary>
    public bool Resume { get; init; }

    /// <summary>Model name recorded in the report and checked on resume.</summary>
    public string ModelName { get; init; } = "model";

    /// <summary>Optimizer name recorded in the report and checked on resume.</summary>
    public string OptimizerName { get; init; } = "optimizer";

    /// <summary>The ranks of a data-parallel run, or null (or one rank) to train in this process alone.</summary>
    /// <remarks>Each rank takes a contiguous share of every batch and the gradients are averaged over the ranks
    /// (<see cref="DataParallelGradients"/>), so the result equals one process's up to the order of that sum. Every rank
    /// evaluates and keeps identical parameters (checked after every epoch); checkpoints are written by rank 0 only.</remarks>
    public ICommunicator? Communicator { get; init; }

    /// <summary>Optimizer settings recorded in the report.</summary>
    public IReadOnlyDictionary<string, string> Hyperparameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Throws with a clear message when a value is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Epochs or batch size below 1.</exception>
    /// <exception cref="ArgumentException">Resume without a checkpoint folder.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Epochs, 1, nameof(Epochs));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        if (Resume && string.IsNullOrWhiteSpace(CheckpointDirectory))
        {
            throw new ArgumentException("Resuming needs a checkpoint folder.", nameof(Resume));
        }
    }
}
