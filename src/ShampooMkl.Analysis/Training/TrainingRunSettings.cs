using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Training;

/// <summary>Everything that defines one MNIST training run, as the command line and the demo give it.</summary>
public sealed record TrainingRunSettings
{
    /// <summary>The model to build.</summary>
    public ModelKind Model { get; init; } = ModelKind.Mlp;

    /// <summary>The optimizer preset.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.ShampooSquared;

    /// <summary>Epochs to complete.</summary>
    public int Epochs { get; init; } = 3;

    /// <summary>Examples per step.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Base learning rate; null means the preset's tuned default.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Seed of the model initialisation and of the data order.</summary>
    public int Seed { get; init; }

    /// <summary>Folder for per-epoch checkpoints, or null.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Continue from the checkpoint when there is one.</summary>
    public bool Resume { get; init; }

    /// <summary>The ranks of a data-parallel run (see <see cref="TrainerOptions.Communicator"/>), or null.</summary>
    public ICommunicator? Communicator { get; init; }
}
