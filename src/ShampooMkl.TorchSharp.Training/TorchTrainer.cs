using System.Diagnostics;
using System.Runtime.InteropServices;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ShampooMkl.TorchSharp.Training;

/// <summary>Mini-batch training of a TorchSharp module with a TorchSharp optimizer (ShampooMkl's through the adapter, or
/// TorchSharp's own), evaluated every epoch, reporting exactly what the core <see cref="Trainer"/> reports.</summary>
/// <remarks>
/// Same protocol as <see cref="Trainer"/>: the batches of epoch e are <see cref="EpochOrder"/>(seed, e) in slices of the
/// batch size (the last one short), the loss is the mean softmax cross-entropy, and the epoch's record carries the
/// training time (forward, backward, optimizer) apart from the evaluation. <see cref="EpochRecord.OptimizerSeconds"/> is
/// the time inside <c>optimizer.step()</c> alone; <c>zero_grad()</c>, forward and backward are the rest.
/// Batches are copied into two tensors allocated once per run, through their storage; every step's temporaries are freed
/// by a dispose scope. With the same seed, model initialisation (see <see cref="TorchModelFactory.Create"/>) and thread
/// count a run repeats itself. Checkpoints and data-parallel training are not supported on this path.
/// </remarks>
public sealed class TorchTrainer
{
    /// <summary>Examples per forward pass when evaluating.</summary>
    private const int EvaluationChunk = 1000;

    private readonly nn.Module<Tensor, Tensor> model;
    private readonly TorchOptimizerSetup optimizer;
    private readonly TrainerOptions options;
    private readonly int features;

    /// <summary>Creates a trainer; the optimizer must be built over <paramref name="model"/>'s parameters.</summary>
    /// <param name="model">A module mapping (batch, features) inputs to (batch, classes) logits.</param>
    /// <param name="optimizer">An optimizer over the model's parameters.</param>
    /// <param name="options">Epochs, batch size, seed and the names to report; <see cref="TrainerOptions.CheckpointDirectory"/>,
    /// <see cref="TrainerOptions.Resume"/> and <see cref="TrainerOptions.Communicator"/> must be left unset.</param>
    /// <param name="features">Features per example the model reads (784 for the MNIST models).</param>
    /// <exception cref="ArgumentException">Checkpoints or a communicator were asked for.</exception>
    public TorchTrainer(nn.Module<Tensor, Tensor> model, TorchOptimizerSetup optimizer, TrainerOptions options, int features = 784)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        options.Validate();
        if (options.CheckpointDirectory is not null || options.Resume)
        {
            throw new ArgumentException("TorchSharp training does not write checkpoints; leave CheckpointDirectory and Resume unset (save with module.save and the optimizer's save_state_dict).", nameof(options));
        }

        if (options.Communicator is { Size: > 1 })
        {
            throw new ArgumentException("TorchSharp training runs in one process; data-parallel training needs the core framework.", nameof(options));
        }

        this.model = model;
        this.optimizer = optimizer;
        this.options = options;
        this.features = features;
    }

    /// <summary>Trains for <see cref="TrainerOptions.Epochs"/> epochs and returns every epoch's record.</summary>
    /// <param name="train">Training examples; their features must match the model's input.</param>
    /// <param name="test">Examples evaluated after every epoch.</param>
    /// <param name="observer">Receives per-step progress and per-epoch records; may be null.</param>
    /// <param name="cancellationToken">Checked between steps.</param>
    /// <exception cref="ArgumentException">A data set's features do not match the model, or a set is empty.</exception>
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

        var batch = options.BatchSize;
        var stepsPerEpoch = (train.Count + batch - 1) / batch;
        var order = new int[train.Count];
        using var inputs = torch.empty(batch, features, ScalarType.Float32);
        using var labels = torch.empty(batch, ScalarType.Int64);
        var records = new List<EpochRecord>();
        double? lastAccuracy = null;
        observer?.OnRunStarted(1, options.Epochs, stepsPerEpoch);
        for (var epoch = 1; epoch <= options.Epochs; epoch++)
        {
            var statistics = optimizer.Statistics;
            var refreshBefore = statistics?.RefreshTime ?? TimeSpan.Zero;
            var skippedBefore = statistics?.SkippedSteps ?? 0;
            EpochOrder.Fill(order, options.Seed, epoch);
            model.train();
            var lossSum = 0.0;
            var optimizerTicks = 0L;
            var clock = Stopwatch.StartNew();
            for (var step = 0; step < stepsPerEpoch; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var start = step * batch;
                var size = Math.Min(batch, train.Count - start);
                Gather(train, order.AsSpan(start, size), inputs, labels);
                float loss;
                using (torch.NewDisposeScope())
                {
                    var x = size == batch ? inputs : inputs.narrow(0, 0, size);
                    var y = size == batch ? labels : labels.narrow(0, 0, size);
                    optimizer.Optimizer.zero_grad();
                    var output = model.forward(x);
                    var value = nn.functional.cross_entropy(output, y);
                    value.backward();
                    loss = value.item<float>();
                    var stepStarted = Stopwatch.GetTimestamp();
                    optimizer.Optimizer.step();
                    optimizerTicks += Stopwatch.GetTimestamp() - stepStarted;
                }

                lossSum += loss;
                if (observer is not null)
                {
                    var seconds = clock.Elapsed.TotalSeconds;
                    observer.OnStep(new TrainingProgress(epoch, options.Epochs, step + 1, stepsPerEpoch, loss, lossSum / (step + 1),
                        seconds > 0 ? (step + 1) / seconds : 0, lastAccuracy));
                }
            }

            clock.Stop();
            var evaluation = Stopwatch.StartNew();
            var (testLoss, testAccuracy) = Evaluate(test);
            evaluation.Stop();
            statistics = optimizer.Statistics;
            var wall = clock.Elapsed.TotalSeconds;
            var record = new EpochRecord(
                epoch,
                lossSum / stepsPerEpoch,
                testLoss,
                testAccuracy,
                wall,
                evaluation.Elapsed.TotalSeconds,
                (double)optimizerTicks / Stopwatch.Frequency,
                ((statistics?.RefreshTime ?? TimeSpan.Zero) - refreshBefore).TotalSeconds,
                stepsPerEpoch,
                (statistics?.SkippedSteps ?? 0) - skippedBefore,
                wall > 0 ? stepsPerEpoch / wall : 0,
                optimizer.LearningRate);
            records.Add(record);
            lastAccuracy = testAccuracy;
            observer?.OnEpochCompleted(record);
        }

        return new TrainingReport
        {
            Model = options.ModelName,
            Optimizer = options.OptimizerName,
            Hyperparameters = options.Hyperparameters,
            Seed = options.Seed,
            BatchSize = batch,
            PlannedEpochs = options.Epochs,
            TrainExamples = train.Count,
            TestExamples = test.Count,
            Backend = DescribeBackend(),
            Threads = torch.get_num_threads(),
            ResumedAfterEpoch = 0,
            Epochs = records,
        };
    }

    /// <summary>Mean cross-entropy and accuracy of the model on <paramref name="data"/>, without gradients, in chunks.</summary>
    public (double Loss, double Accuracy) Evaluate(LabeledImages data)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckFeatures(data, nameof(data));
        if (data.Count == 0)
        {
            throw new ArgumentException("The evaluation set must not be empty.", nameof(data));
        }

        model.eval();
        var chunk = Math.Min(EvaluationChunk, data.Count);
        using var inputs = torch.empty(chunk, features, ScalarType.Float32);
        using var labels = torch.empty(chunk, ScalarType.Int64);
        var order = Enumerable.Range(0, data.Count).ToArray();
        var lossSum = 0.0;
        var correct = 0L;
        using (torch.no_grad())
        {
            for (var start = 0; start < data.Count; start += chunk)
            {
                var size = Math.Min(chunk, data.Count - start);
                Gather(data, order.AsSpan(start, size), inputs, labels);
                using var scope = torch.NewDisposeScope();
                var x = size == chunk ? inputs : inputs.narrow(0, 0, size);
                var y = size == chunk ? labels : labels.narrow(0, 0, size);
                var output = model.forward(x);
                lossSum += nn.functional.cross_entropy(output, y, reduction: nn.Reduction.Sum).item<float>();
                correct += output.argmax(1).eq(y).sum().item<long>();
            }
        }

        model.train();
        return (lossSum / data.Count, (double)correct / data.Count);
    }

    /// <summary>Copies the examples <paramref name="indices"/> into the first rows of the two tensors, through their storage.</summary>
    private void Gather(LabeledImages data, ReadOnlySpan<int> indices, Tensor inputs, Tensor labels)
    {
        var x = MemoryMarshal.Cast<byte, float>(inputs.bytes);
        var y = MemoryMarshal.Cast<byte, long>(labels.bytes);
        var images = data.Images.AsSpan();
        for (var k = 0; k < indices.Length; k++)
        {
            var index = indices[k];
            images.Slice(index * features, features).CopyTo(x.Slice(k * features, features));
            y[k] = data.Labels[index];
        }
    }

    private void CheckFeatures(LabeledImages data, string name)
    {
        if (data.Features != features)
        {
            throw new ArgumentException($"The {name} set has {data.Features} features per example but the model reads {features}.", name);
        }
    }

    /// <summary>libtorch's version, and ShampooMkl's BLAS backend when one is loaded (always for ShampooMkl's optimizers).</summary>
    private static string DescribeBackend()
    {
        var torchVersion = $"libtorch {torch.__version__}";
        var (blas, _) = Trainer.DescribeBlas();
        return blas is null ? torchVersion : $"{torchVersion}; ShampooMkl: {blas}";
    }
}
