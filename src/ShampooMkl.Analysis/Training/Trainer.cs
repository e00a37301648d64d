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
    /// <exception cref="IOException">The checkpoint folder is not usable (a file, unwritable) or is in use by another trainer
    /// (<see cref="CheckpointFolderLock"/>), checked before the first step; or a checkpoint could not be saved.</exception>
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

        // One trainer per checkpoint folder, for the whole run: rank 0 writes it, so rank 0 holds it.
        using var folderLock = options.CheckpointDirectory is not null && (ranks is null || ranks.Rank == 0)
            ? CheckpointFolderLock.Acquire(options.CheckpointDirectory)
            : null;
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

        var stepsPerEpoch = StepsPerEpoch(train.Count, dropLast: false);
        var batches = new BatchBuffers(options.BatchSize, model.InputFeatures, train.Count);
        observer?.OnRunStarted(resumedAfter + 1, options.Epochs, stepsPerEpoch);
        double? lastAccuracy = records.Count == 0 ? null : records[^1].TestAccuracy;

        for (var epoch = resumedAfter + 1; epoch <= options.Epochs; epoch++)
        {
            var refreshBefore = optimizer.Statistics.RefreshTime;
            var skippedBefore = optimizer.Statistics.SkippedSteps;
            var lossSum = 0.0;
            var clock = Stopwatch.StartNew();
            var optimizerTicks = RunEpoch(train, batches, reducer, epoch, stepsPerEpoch, (step, loss) =>
            {
                lossSum += loss;
                if (observer is not null)
                {
                    var seconds = clock.Elapsed.TotalSeconds;
                    observer.OnStep(new TrainingProgress(
                        epoch, options.Epochs, step, stepsPerEpoch, loss, lossSum / step,
                        seconds > 0 ? step / seconds : 0, lastAccuracy));
                }
            }, cancellationToken);

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

    /// <summary>Takes <paramref name="steps"/> optimizer steps on full batches in the trainer's epoch order, without
    /// evaluation, checkpoints or <see cref="TrainerOptions.Epochs"/>: epoch e visits the ⌊N/B⌋ full batches of
    /// <see cref="EpochOrder"/>(seed, e) (one batch of all N examples when N &lt; B) and drops the short rest, so every
    /// step sees the same number of examples. Epochs continue as needed (e = 1, 2, …).</summary>
    /// <param name="train">Training examples; their features must match the model's input.</param>
    /// <param name="steps">Optimizer steps to take (0: none).</param>
    /// <param name="afterStep">Called after every step with the step number (1-based, counted over the whole call) and the mini-batch loss; may be null.</param>
    /// <param name="cancellationToken">Checked before every step.</param>
    /// <exception cref="ArgumentException">The data set's features do not match the model, or it is empty.</exception>
    public void TrainSteps(LabeledImages train, int steps, Action<int, float>? afterStep = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        CheckFeatures(train, nameof(train));
        if (train.Count == 0)
        {
            throw new ArgumentException("The training set must not be empty.", nameof(train));
        }

        var ranks = options.Communicator is { Size: > 1 } communicator ? communicator : null;
        var reducer = ranks is null ? null : new DataParallelGradients(ranks, model.Parameters);
        var stepsPerEpoch = StepsPerEpoch(train.Count, dropLast: true);
        var batches = new BatchBuffers(options.BatchSize, model.InputFeatures, train.Count);
        var done = 0;
        for (var epoch = 1; done < steps; epoch++)
        {
            RunEpoch(train, batches, reducer, epoch, Math.Min(stepsPerEpoch, steps - done), (_, loss) =>
            {
                done++;
                afterStep?.Invoke(done, loss);
            }, cancellationToken);
        }
    }

    /// <summary>The batches of an epoch: ⌈N/B⌉ with a short last one, or ⌊N/B⌋ full ones (at least one) when <paramref name="dropLast"/>.</summary>
    private int StepsPerEpoch(int count, bool dropLast) =>
        dropLast ? Math.Max(1, count / options.BatchSize) : (count + options.BatchSize - 1) / options.BatchSize;

    /// <summary>The shared loop: the first <paramref name="steps"/> batches of epoch <paramref name="epoch"/>'s order, each gathered,
    /// run forward and backward (averaged over the ranks when distributed) and stepped; <paramref name="afterStep"/> gets the
    /// 1-based step within the epoch and the loss. Returns the ticks spent in <see cref="IOptimizer.Step"/>.</summary>
    private long RunEpoch(LabeledImages train, BatchBuffers batches, DataParallelGradients? reducer, int epoch, int steps,
        Action<int, float> afterStep, CancellationToken cancellationToken)
    {
        var batch = options.BatchSize;
        var features = model.InputFeatures;
        EpochOrder.Fill(batches.Order, options.Seed, epoch);
        var optimizerTicks = 0L;
        for (var step = 0; step < steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var start = step * batch;
            var size = Math.Min(batch, train.Count - start);
            Gather(train, batches.Order.AsSpan(start, size), batches.Inputs, batches.Labels);
            var loss = reducer is null
                ? model.ForwardBackward(batches.Inputs.AsSpan(0, size * features), batches.Labels.AsSpan(0, size), size)
                : ForwardBackwardShare(options.Communicator!, reducer, batches.Inputs, batches.Labels, size);
            var stepStarted = Stopwatch.GetTimestamp();
            optimizer.Step();
            optimizerTicks += Stopwatch.GetTimestamp() - stepStarted;
            afterStep(step + 1, loss);
        }

        return optimizerTicks;
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

    /// <summary>The reusable buffers of one batch and of an epoch's order.</summary>
    private sealed class BatchBuffers(int batch, int features, int count)
    {
        public float[] Inputs { get; } = new float[batch * features];

        public byte[] Labels { get; } = new byte[batch];

        public int[] Order { get; } = new int[count];
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

    /// <summary>The backend and its thread count for a report; (null, 0) when no BLAS loads.</summary>
    internal static (string? Backend, int Threads) DescribeBlas()
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
