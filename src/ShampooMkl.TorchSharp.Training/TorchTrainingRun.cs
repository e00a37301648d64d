using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Training;
using TorchSharp;

namespace ShampooMkl.TorchSharp.Training;

/// <summary>Builds the model, optimizer and trainer of a <see cref="TorchTrainingSettings"/> and runs it on an MNIST split.</summary>
public static class TorchTrainingRun
{
    /// <summary>Trains and returns the report; the model is named <c>name (architecture)</c> and the framework is recorded
    /// in the hyperparameters as <c>framework = torchsharp</c>.</summary>
    /// <remarks>ShampooMkl's BLAS backend is loaded before the model is built, for every optimizer (TorchSharp's own
    /// too, when a backend is installed), so that runs compared side by side differ only in the optimizer: loading MKL
    /// and its OpenMP runtime into the process changes how fast libtorch's own OpenMP threads run on a busy machine
    /// (docs/performance.md, 2026-12-03).</remarks>
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

        _ = Trainer.DescribeBlas();
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
