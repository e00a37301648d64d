using ShampooMkl.Analysis.Training;

namespace ShampooMkl.Tests.Training;

/// <summary>The trainer's bookkeeping, determinism and checkpoints, with a stand-in optimizer on synthetic data.</summary>
public sealed class TrainerTests
{
    private static readonly Analysis.Data.LabeledImages Train = TrainingTestData.Blobs(200, seed: 11);
    private static readonly Analysis.Data.LabeledImages Test = TrainingTestData.Blobs(60, seed: 12);

    [Fact]
    public void Train_RecordsOneEpochEachWithPlausibleNumbers()
    {
        var model = TrainingTestData.SmallMlp(32);
        using var sgd = new MomentumSgd(model.Parameters);
        var report = new Trainer(model, sgd, new TrainerOptions { Epochs = 4, BatchSize = 32, Seed = 3 }).Train(Train, Test);

        Assert.Equal([1, 2, 3, 4], report.Epochs.Select(e => e.Epoch));
        Assert.All(report.Epochs, e =>
        {
            Assert.Equal(7, e.Steps); // 200 / 32 rounded up: the last batch holds the remaining 8
            Assert.True(e.WallSeconds > 0 && e.StepsPerSecond > 0);
            Assert.InRange(e.TestAccuracy, 0, 1);
            Assert.Equal(0, e.SkippedSteps);
        });
        Assert.True(report.Epochs[^1].TrainLoss < report.Epochs[0].TrainLoss);
        Assert.True(report.Final!.TestAccuracy > 0.9, $"accuracy {report.Final.TestAccuracy}");
        Assert.Equal(28, sgd.StepCount);
        Assert.Equal(200, report.TrainExamples);
        Assert.Equal(0, report.ResumedAfterEpoch);
    }

    [Fact]
    public void Train_ReportsEveryStepToTheObserver()
    {
        var model = TrainingTestData.SmallMlp(50);
        using var sgd = new MomentumSgd(model.Parameters);
        var observer = new RecordingObserver();
        new Trainer(model, sgd, new TrainerOptions { Epochs = 2, BatchSize = 50 }).Train(Train, Test, observer);

        Assert.Equal((1, 2, 4), observer.Started);
        Assert.Equal(8, observer.Steps.Count);
        Assert.Equal([1, 2, 3, 4, 1, 2, 3, 4], observer.Steps.Select(s => s.Step));
        Assert.Null(observer.Steps[0].LastTestAccuracy);
        Assert.NotNull(observer.Steps[4].LastTestAccuracy);
        Assert.Equal(1.0, observer.Steps[^1].Fraction, 12);
        Assert.Equal(2, observer.Epochs.Count);
    }

    [Fact]
    public void Train_SameSeedGivesBitIdenticalParameters()
    {
        var first = TrainOnce(seed: 7, epochs: 2);
        var second = TrainOnce(seed: 7, epochs: 2);
        var other = TrainOnce(seed: 8, epochs: 2);

        Assert.Equal(first, second);
        Assert.NotEqual(first.SelectMany(v => v), other.SelectMany(v => v));
    }

    [Fact]
    public void Resume_AfterOneEpochEqualsUninterruptedTwoEpochs()
    {
        var uninterrupted = TrainOnce(seed: 4, epochs: 2);

        using var folder = new TemporaryFolder();
        var checkpointer = new MomentumSgd.Checkpointer();
        var firstHalf = TrainOnce(seed: 4, epochs: 1, folder.Path, resume: false, checkpointer);
        Assert.True(TrainingCheckpoint.Exists(folder.Path));
        Assert.Equal(1, checkpointer.Saves);

        // Fresh model and optimizer: everything that matters must come from the checkpoint.
        var resumed = TrainOnce(seed: 4, epochs: 2, folder.Path, resume: true, checkpointer, out var report);

        Assert.NotEqual(uninterrupted, firstHalf);
        Assert.Equal(uninterrupted, resumed);
        Assert.Equal(1, report.ResumedAfterEpoch);
        Assert.Equal([1, 2], report.Epochs.Select(e => e.Epoch));
        Assert.Equal("epoch-0002", TrainingCheckpoint.ReadIndex(folder.Path).EpochFolder);
        Assert.Equal(["epoch-0002"], Directory.GetDirectories(folder.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Resume_WithoutCheckpointStartsFresh()
    {
        using var folder = new TemporaryFolder();
        var fresh = TrainOnce(seed: 4, epochs: 1);
        var resumed = TrainOnce(seed: 4, epochs: 1, Path.Combine(folder.Path, "new"), resume: true, new MomentumSgd.Checkpointer());
        Assert.Equal(fresh, resumed);
    }

    [Fact]
    public void Resume_FromAnotherConfigurationThrowsAndLeavesTheModelAlone()
    {
        using var folder = new TemporaryFolder();
        var checkpointer = new MomentumSgd.Checkpointer();
        TrainOnce(seed: 4, epochs: 1, folder.Path, resume: false, checkpointer);

        var model = TrainingTestData.SmallMlp(32);
        var before = TrainingTestData.Snapshot(model.Parameters);
        using var sgd = new MomentumSgd(model.Parameters);
        var trainer = new Trainer(model, sgd, new TrainerOptions { Epochs = 2, BatchSize = 32, Seed = 5, CheckpointDirectory = folder.Path, Resume = true }, checkpointer);

        var error = Assert.Throws<InvalidDataException>(() => trainer.Train(Train, Test));
        Assert.Contains("seed 4", error.Message);
        Assert.Contains("seed 5", error.Message);
        Assert.Equal(before, TrainingTestData.Snapshot(model.Parameters));
    }

    [Fact]
    public void Constructor_RejectsAnOptimizerOverOtherParameters()
    {
        var model = TrainingTestData.SmallMlp(32);
        var other = TrainingTestData.SmallMlp(32);
        using var sgd = new MomentumSgd(other.Parameters);
        Assert.Throws<ArgumentException>(() => new Trainer(model, sgd, new TrainerOptions()));
    }

    [Fact]
    public void Constructor_RejectsABatchLargerThanTheModelHolds()
    {
        var model = TrainingTestData.SmallMlp(16);
        using var sgd = new MomentumSgd(model.Parameters);
        var error = Assert.Throws<ArgumentException>(() => new Trainer(model, sgd, new TrainerOptions { BatchSize = 32 }));
        Assert.Contains("maxBatchSize", error.Message);
    }

    [Fact]
    public void Options_ResumeWithoutFolderIsRejected()
    {
        Assert.Throws<ArgumentException>(() => new TrainerOptions { Resume = true }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainerOptions { Epochs = 0 }.Validate());
    }

    [Fact]
    public void Train_CountsSkippedSteps()
    {
        var train = TrainingTestData.Blobs(64, seed: 2);
        train.Images[5] = float.NaN; // one poisoned example makes every batch that contains it non-finite
        var model = TrainingTestData.SmallMlp(16);
        using var sgd = new MomentumSgd(model.Parameters);
        var report = new Trainer(model, sgd, new TrainerOptions { Epochs = 2, BatchSize = 16 }).Train(train, Test);

        Assert.All(report.Epochs, e => Assert.Equal(1, e.SkippedSteps));
        Assert.Equal(6, sgd.StepCount);
        Assert.True(double.IsNaN(report.Epochs[0].TrainLoss));
    }

    [Fact]
    public void EpochOrder_IsAPermutationThatDependsOnlyOnSeedAndEpoch()
    {
        var a = EpochOrder.Create(1000, seed: 1, epoch: 2);
        Assert.Equal(Enumerable.Range(0, 1000), a.Order());
        Assert.Equal(a, EpochOrder.Create(1000, seed: 1, epoch: 2));
        Assert.NotEqual(a, EpochOrder.Create(1000, seed: 1, epoch: 3));
        Assert.NotEqual(a, EpochOrder.Create(1000, seed: 2, epoch: 2));
    }

    private static List<float[]> TrainOnce(int seed, int epochs, string? folder = null, bool resume = false, IOptimizerCheckpointer? checkpointer = null) =>
        TrainOnce(seed, epochs, folder, resume, checkpointer, out _);

    private static List<float[]> TrainOnce(int seed, int epochs, string? folder, bool resume, IOptimizerCheckpointer? checkpointer, out TrainingReport report)
    {
        var model = TrainingTestData.SmallMlp(32);
        using var sgd = new MomentumSgd(model.Parameters);
        var options = new TrainerOptions { Epochs = epochs, BatchSize = 32, Seed = seed, CheckpointDirectory = folder, Resume = resume };
        report = new Trainer(model, sgd, options, checkpointer).Train(Train, Test);
        return TrainingTestData.Snapshot(model.Parameters);
    }

    private sealed class RecordingObserver : ITrainingObserver
    {
        public (int First, int Epochs, int Steps) Started { get; private set; }

        public List<TrainingProgress> Steps { get; } = [];

        public List<EpochRecord> Epochs { get; } = [];

        public void OnRunStarted(int firstEpoch, int epochs, int stepsPerEpoch) => Started = (firstEpoch, epochs, stepsPerEpoch);

        public void OnStep(in TrainingProgress progress) => Steps.Add(progress);

        public void OnEpochCompleted(EpochRecord record) => Epochs.Add(record);
    }
}
