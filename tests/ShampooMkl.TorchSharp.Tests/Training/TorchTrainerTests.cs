using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Optim;
using ShampooMkl.TorchSharp.Training;

namespace ShampooMkl.TorchSharp.Tests.Training;

/// <summary>The TorchSharp training loop reports what the core <see cref="Trainer"/> reports, repeats itself for a seed,
/// and refuses what it cannot do.</summary>
public sealed class TorchTrainerTests
{
    /// <summary>A tiny learnable 784-feature set: class c lights up pixel block c, plus seeded noise.</summary>
    private static LabeledImages Synthetic(int count, int seed)
    {
        var random = new Random(seed);
        var images = new float[count * 784];
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            var label = (byte)(i % 10);
            labels[i] = label;
            for (var k = 0; k < 784; k++)
            {
                images[(i * 784) + k] = (float)(random.NextDouble() * 0.3);
            }

            for (var k = 0; k < 70; k++)
            {
                images[(i * 784) + (label * 70) + k] += 1f;
            }
        }

        return new LabeledImages(images, labels);
    }

    private static TrainingReport Train(TorchModelKind model, TorchOptimizerKind optimizer, int seed, List<TrainingProgress>? progress = null)
    {
        using var module = TorchModelFactory.Create(model, seed);
        using var setup = TorchOptimizerPresets.Create(optimizer, module);
        var options = new TrainerOptions { Epochs = 2, BatchSize = 32, Seed = seed, ModelName = "m", OptimizerName = "o", Hyperparameters = setup.Hyperparameters };
        return new TorchTrainer(module, setup, options).Train(Synthetic(100, 1), Synthetic(50, 2), progress is null ? null : new Recorder(progress));
    }

    [Fact]
    public void Train_ReportsEveryEpochLikeTheCoreTrainer()
    {
        var progress = new List<TrainingProgress>();
        var report = Train(TorchModelKind.Mlp, TorchOptimizerKind.ShampooSquared, seed: 3, progress);

        Assert.Equal(2, report.Epochs.Count);
        Assert.Equal(100, report.TrainExamples);
        Assert.Equal(50, report.TestExamples);
        Assert.StartsWith("libtorch ", report.Backend);
        Assert.All(report.Epochs, e =>
        {
            Assert.Equal(4, e.Steps); // ⌈100 / 32⌉, the last batch short
            Assert.InRange(e.OptimizerSeconds, 0, e.WallSeconds);
            Assert.InRange(e.RefreshSeconds, 0, e.OptimizerSeconds);
            Assert.InRange(e.TestAccuracy, 0, 1);
            Assert.Equal(0, e.SkippedSteps);
            Assert.Equal(ShampooOptions.RecommendedShampooSquared.LearningRate, e.LearningRate);
        });
        Assert.True(report.Epochs[1].TrainLoss < report.Epochs[0].TrainLoss);
        Assert.Equal(8, progress.Count);
        Assert.Equal(Enumerable.Range(1, 4).Concat(Enumerable.Range(1, 4)), progress.Select(p => p.Step));
        Assert.Equal(report.Epochs[0].TestAccuracy, progress[4].LastTestAccuracy);
    }

    [Theory]
    [InlineData(TorchModelKind.Cnn, TorchOptimizerKind.Shampoo)]
    [InlineData(TorchModelKind.Vit, TorchOptimizerKind.TorchAdamW)]
    [InlineData(TorchModelKind.Mlp, TorchOptimizerKind.AdamW)]
    public void Train_RepeatsItselfForTheSameSeed(TorchModelKind model, TorchOptimizerKind optimizer)
    {
        var first = Train(model, optimizer, seed: 5);
        var second = Train(model, optimizer, seed: 5);
        Assert.Equal(first.Epochs.Select(e => (e.TrainLoss, e.TestLoss, e.TestAccuracy)), second.Epochs.Select(e => (e.TrainLoss, e.TestLoss, e.TestAccuracy)));
    }

    [Fact]
    public void TorchSharpsOwnOptimizers_HaveNoStatistics()
    {
        var report = Train(TorchModelKind.Mlp, TorchOptimizerKind.TorchAdam, seed: 1);
        Assert.All(report.Epochs, e => Assert.Equal(0, e.RefreshSeconds));
        Assert.Equal("TorchSharp", report.Hyperparameters["implementation"]);
        Assert.Equal("libtorch", report.Backend!.Split(' ')[0]);
    }

    [Fact]
    public void Trainer_RefusesCheckpointsAndForeignFeatureCounts()
    {
        using var module = TorchModelFactory.Create(TorchModelKind.Mlp, 0);
        using var setup = TorchOptimizerPresets.Create(TorchOptimizerKind.TorchAdam, module);
        var checkpoint = Assert.Throws<ArgumentException>(() => new TorchTrainer(module, setup, new TrainerOptions { CheckpointDirectory = "x" }));
        Assert.Contains("checkpoints", checkpoint.Message);

        var trainer = new TorchTrainer(module, setup, new TrainerOptions { Epochs = 1 });
        var small = new LabeledImages(new float[20], new byte[2], features: 10);
        var features = Assert.Throws<ArgumentException>(() => trainer.Train(small, Synthetic(10, 0)));
        Assert.Contains("10 features per example but the model reads 784", features.Message);
    }

    [Fact]
    public void Presets_RefuseABadLearningRate()
    {
        using var module = TorchModelFactory.Create(TorchModelKind.Mlp, 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchOptimizerPresets.Create(TorchOptimizerKind.ShampooSquared, module, double.NaN));
    }

    private sealed class Recorder(List<TrainingProgress> steps) : ITrainingObserver
    {
        public void OnStep(in TrainingProgress progress) => steps.Add(progress);
    }
}
