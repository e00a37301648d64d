using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Training;
using TorchSharp;

namespace ShampooMkl.TorchSharp.Training;

/// <summary>Builds the model, optimizer and trainer of a <see cref="TorchTrainingSettings"/> and runs it on an MNIST split.</summary>
public static class TorchTrainingRun
{
    /// <summary>Trains and returns the report; the model is named <c>name (architecture)</c> and the framework is recorded
    /// in the hyperparameters as <c>framework = torchsharp</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Epochs, batch size or threads below 1.</exception>
    public static TrainingReport Run(TorchTrainingSettings settings, MnistSplit data, ITrainingObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(data);
        if (settings.Threads is { } threads)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1, nameof(settings.Threads));
            torch.set_num_threads(threads);
        }

        using var model = TorchModelFactory.Create(settings.Model, settings.Seed);
        using var setup = TorchOptimizerPresets.Create(settings.Optimizer, model, settings.LearningRate);
        var options = new TrainerOptions
        {
            Epochs = settings.Epochs,
            BatchSize = settings.BatchSize,
            Seed = settings.Seed,
            ModelName = $"{TorchModelFactory.Name(settings.Model)} {TorchModelFactory.Describe(settings.Model)}",
            OptimizerName = TorchOptimizerPresets.Name(settings.Optimizer),
            Hyperparameters = new Dictionary<string, string>(setup.Hyperparameters) { ["framework"] = "torchsharp" },
        };
        return new TorchTrainer(model, setup, options).Train(data.Train, data.Test, observer, cancellationToken);
    }
}
