using System.Diagnostics;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Models;
using ShampooMkl.Distributed;
using ShampooMkl.Linalg;
using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Training;

/// <summary>Mini-batch training of an <see cref="IModel"/> with an <see cref="IOptimizer"/>, evaluated and optionally checkpointed every epoch.</summary>
/// <remarks>
/// Determinism: the batches of epoch e depend only on (seed, e) (<see cref="EpochOrder"/>), and a checkpoint holds
/// everything else that changes during training (parameter values and optimizer state), so a run resumed after
/// epoch k ends with the same parameters, bit for bit, as one that never stopped — on the same machine, backend
/// and thread count, since BLAS results may differ between those.
/// Data-parallel (<see cref="TrainerOptions.Communicator"/>): every rank runs this loop on its share of each batch;
/// checkpoints are saved collectively and written by rank 0, and resume with any rank count.
/// </remarks>
public sealed class Trainer
{
    private readonly IModel model;
    private readonly IOptimizer optimizer;
    private readonly TrainerOptions options;
    private readonly IOptimizerCheckpointer checkpointer;

    /// <summary>Creates a trainer; the optimizer must own exactly the model's parameters, in the model's order.</summary>
    /// <param name="model">The model to train.</param>
    /// <param name="optimizer">An optimizer built over <paramref name="model"/>'s <see cref="IModel.Parameters"/>.</param>
    /// <param name="options">Epochs, batch size, seed, checkpoints.</param>
    /// <param name="checkpointer">How the optimizer's state is saved with a checkpoint; null uses <see cref="OptimizerCheckpointer.Default"/>.</param>
    /// <exception cref="ArgumentException">The optimizer's parameters are not the model's, or the batch exceeds the model's maximum.</exception>
    public Trainer(IModel model, IOptimizer optimizer, TrainerOptions options, IOptimizerCheckpointer? checkpointer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.BatchSize > model.MaxBatchSize)
        {
            throw new ArgumentException(
                $"Batch size {options.BatchSize} exceeds the model's maximum of {model.MaxBatchSize}; build the model with a larger maxBatchSize.",
                nameof(options));
        }

        var mine = model.Parameters;
        var theirs = optimizer.Parameters;
        if (mine.Count != theirs.Count || mine.Where((p, i) => !ReferenceEquals(p, theirs[i])).Any())
        {
            throw new ArgumentException("The optimizer must be built over the model's Parameters (same objects, same order).", nameof(optimizer));
        }

        this.model = model;
        this.optimizer = optimizer;
        this.options = options;
        this.checkpointer = checkpointer ?? OptimizerCheckpointer.Default;
    }

    /// <summary>Trains until <see cref="TrainerOptions.Epochs"/> epochs are complete and returns every epoch's record.</summary>
    /// <param name="train">Training examples; their features must match the model's input.</param>
    /// <param name="test">Examples evaluated after every epoch.</param>
    /// <param name="observer">Receives per-step progress and per-epoch records; may be null.</param>
    /// <param name="cancellationToken">Checked between steps; a cancelled run keeps its last completed checkpoint.</param>
    /// <exception cref="ArgumentException">A data set's features do not match the model, or the training set is empty.</exception>
    /// <exception cref="InvalidDataException">Resuming from a checkpoint of another configuration, or a damaged one.</exception>
    public TrainingReport Train(LabeledImages train, LabeledImages test, ITrainingObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        CheckFeatures(train, nameof(train));
        CheckFeatures(test, nameof(test));
        if (train.Count == 0 || test.Count == 0)
        {
            throw new ArgumentException("Training and test sets must not be empty.", train.Count == 0 ? nameof(train) : nameof(test));
        }

        var fingerprint = new CheckpointFingerprint(options.ModelName, options.OptimizerName, options.BatchSize, options.Seed, train.Count, DescribeParameters());
        var records = new List<EpochRecord>();
        var resumedAfter = 0;
        var ranks = options.Communicator is { Size: > 1 } communicator ? communicator : null;
        var reducer = ranks is null ? null : new DataParallelGradients(ranks, model.Parameters);
        if (options.Resume && TrainingCheckpoint.Exists(options.CheckpointDirectory!))
        {
            IReadOnlyList<EpochRecord> restored = [];
            void Load() => restored = TrainingCheckpoint.Load(options.CheckpointDirectory!, fingerprint, optimizer, checkpointer);
            if (ranks is null)
            {
                Load();
            }
            else
            {
                DistributedCheckpoint.LoadWith(ranks, Load);
            }

            records.AddRange(restored);
            resumedAfter = records.Count;
        }

        var batch = options.BatchSize;
        var stepsPerEpoch = (train.Count + batch - 1) / batch;
        var features = model.InputFeatures;
        var inputs = new float[batch * features];
        var labels = new byte[batch];
        var order = new int[train.Count];
        observer?.OnRunStarted(resumedAfter + 1, options.Epochs, stepsPerEpoch);
        double? lastAccuracy = records.Count == 0 ? null : records[^1].TestAccuracy;

        for (var epoch = resumedAfter + 1; epoch <= options.Epochs; epoch++)
        {
            EpochOrder.Fill(order, options.Seed, epoch);
            var refreshBefore = optimizer.Statistics.RefreshTime;
            var skippedBefore = optimizer.Statistics.SkippedSteps;
            var lossSum = 0.0;
            var optimizerTicks = 0L;
            var clock = Stopwatch.StartNew();
            for (var step = 0; step < stepsPerEpoch; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var start = step * batch;
                var size = Math.Min(batch, train.Count - start);
                Gather(train, order.AsSpan(start, size), inputs, labels);
                var loss = reducer is null
                    ? model.ForwardBackward(inputs.AsSpan(0, size * features), labels.AsSpan(0, size), size)
                    : ForwardBackwardShare(ranks!, reducer, inputs, labels, size);
                var stepStarted = Stopwatch.GetTimestamp();
                optimizer.Step();
                optimizerTicks += Stopwatch.GetTimestamp() - stepStarted;
                lossSum += loss;
                if (observer is not null)
                {
                    var seconds = clock.Elapsed.TotalSeconds;
                    observer.OnStep(new TrainingProgress(
                        epoch, options.Epochs, step + 1, stepsPerEpoch, loss, lossSum / (step + 1),
                        seconds > 0 ? (step + 1) / seconds : 0, lastAccuracy));
                }
            }

            clock.Stop();
            var evaluation = Stopwatch.StartNew();
            var (testLoss, testAccuracy) = model.Evaluate(test.Images, test.Labels, test.Count);
            evaluation.Stop();
            var wall = clock.Elapsed.TotalSeconds;
            var record = new EpochRecord(
                epoch,
                lossSum / stepsPerEpoch,
                testLoss,
                testAccuracy,
                wall,
                evaluation.Elapsed.TotalSeconds,
                (double)optimizerTicks / Stopwatch.Frequency,
                (optimizer.Statistics.RefreshTime - refreshBefore).TotalSeconds,
                stepsPerEpoch,
                optimizer.Statistics.SkippedSteps - skippedBefore,
                wall > 0 ? stepsPerEpoch / wall : 0,
                optimizer.CurrentLearningRate);
            records.Add(record);
            lastAccuracy = testAccuracy;
            if (ranks is not null && !DataParallelGradients.ReplicasAgree(ranks, model.Parameters))
            {
                throw new InvalidOperationException($"After epoch {epoch} the ranks' parameters differ: their gradients were not identical.");
            }

            if (options.CheckpointDirectory is not null)
            {
                void Save() => TrainingCheckpoint.Save(options.CheckpointDirectory, fingerprint, records, optimizer, checkpointer);
                if (ranks is null)
                {
                    Save();
                }
                else
                {
                    DistributedCheckpoint.SaveWith(ranks, optimizer, Save);
                }
            }

            observer?.OnEpochCompleted(record);
        }

        var (backend, threads) = DescribeBlas();
        return new TrainingReport
        {
            Model = options.ModelName,
            Optimizer = options.OptimizerName,
            Hyperparameters = options.Hyperparameters,
            Seed = options.Seed,
            BatchSize = options.BatchSize,
            PlannedEpochs = options.Epochs,
            TrainExamples = train.Count,
            TestExamples = test.Count,
            Backend = backend,
            Threads = threads,
            ResumedAfterEpoch = resumedAfter,
            Epochs = records,
        };
    }

    /// <summary>This rank's share of the batch forward and backward, then the gradients and loss averaged over the ranks.</summary>
    private float ForwardBackwardShare(ICommunicator ranks, DataParallelGradients reducer, float[] inputs, byte[] labels, int size)
    {
        var (start, count) = DataParallelGradients.ShareOf(size, ranks.Rank, ranks.Size);
        var features = model.InputFeatures;
        var local = 0.0;
        if (count > 0)
        {
            local = model.ForwardBackward(inputs.AsSpan(start * features, count * features), labels.AsSpan(start, count), count);
        }
        else
        {
            foreach (var p in model.Parameters)
            {
                Array.Clear(p.Gradient);
            }
        }

        return (float)reducer.AllReduceMean(count, size, local);
    }

    private void CheckFeatures(LabeledImages data, string name)
    {
        if (data.Features != model.InputFeatures)
        {
            throw new ArgumentException($"The {name} set has {data.Features} features per example but the model reads {model.InputFeatures}.", name);
        }
    }

    private static void Gather(LabeledImages data, ReadOnlySpan<int> indices, Span<float> inputs, Span<byte> labels)
    {
        var features = data.Features;
        var images = data.Images.AsSpan();
        for (var k = 0; k < indices.Length; k++)
        {
            var index = indices[k];
            images.Slice(index * features, features).CopyTo(inputs.Slice(k * features, features));
            labels[k] = data.Labels[index];
        }
    }

    private string DescribeParameters() =>
        string.Join(";", model.Parameters.Select(p => $"{p.Name}[{string.Join("x", p.Shape)}]"));

    private static (string? Backend, int Threads) DescribeBlas()
    {
        // Reporting must never fail a finished run, and an optimizer that never touched BLAS may run where none loads.
        try
        {
            var blas = BlasBackend.Default;
            return ($"{blas.Kind} {blas.Version}", blas.MaxThreads);
        }
        catch (NativeLoadException)
        {
            return (null, 0);
        }
    }
}
