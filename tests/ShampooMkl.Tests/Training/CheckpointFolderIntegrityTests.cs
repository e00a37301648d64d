using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Training;

/// <summary>The checkpoint folder is verified and confined end to end, used by one trainer at a time, and a failed save
/// leaves nothing behind (issue #11, defects 5, 7 and 8).</summary>
public sealed class CheckpointFolderIntegrityTests
{
    private static readonly Analysis.Data.LabeledImages Train = TrainingTestData.Blobs(96, seed: 21);
    private static readonly Analysis.Data.LabeledImages Test = TrainingTestData.Blobs(32, seed: 22);

    [Fact]
    public void EditedEpochList_IsRefusedAndTheModelIsUntouched()
    {
        using var folder = Checkpointed(epochs: 2);
        var index = JsonNode.Parse(File.ReadAllText(IndexPath(folder)))!;
        index["epochs"]!.AsArray().RemoveAt(1); // "epoch 2 never happened": a resume would retrain it
        File.WriteAllText(IndexPath(folder), index.ToJsonString());

        var error = ResumeFails(folder, epochs: 3);
        Assert.Contains("SHA-256", error.Message);
    }

    [Theory]
    [InlineData("../outside")]
    [InlineData("/tmp")]
    [InlineData("epoch-0001")]
    public void IndexNamingAnotherFolder_IsRefusedEvenWithAValidDigest(string epochFolder)
    {
        using var folder = Checkpointed(epochs: 2);
        Resign(folder, state => state with { EpochFolder = epochFolder });

        var error = ResumeFails(folder, epochs: 3);
        Assert.Contains("epoch-0002", error.Message);
    }

    [Fact]
    public void EpochListWithAGap_IsRefusedEvenWithAValidDigest()
    {
        using var folder = Checkpointed(epochs: 2);
        Resign(folder, state => state with { Epochs = [state.Epochs[1]], EpochFolder = "epoch-0002" });

        var error = ResumeFails(folder, epochs: 3);
        Assert.Contains("without gaps", error.Message);
    }

    [Fact]
    public void ChangedByteInTheOptimizerFile_IsRefusedBeforeAnythingIsRead()
    {
        using var folder = Checkpointed(epochs: 1);
        var file = StateFile(folder);
        var bytes = File.ReadAllBytes(file);
        bytes[^1] ^= 1;
        File.WriteAllBytes(file, bytes);

        var checkpointer = new MomentumSgd.Checkpointer();
        var error = ResumeFails(folder, epochs: 2, checkpointer);
        Assert.Contains(file, error.Message);
        Assert.Contains("SHA-256", error.Message);
    }

    [Fact]
    public void UnlistedFileInTheEpochFolder_IsRefused()
    {
        using var folder = Checkpointed(epochs: 1);
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(StateFile(folder))!, "extra.bin"), "x");

        Assert.Contains("not listed", ResumeFails(folder, epochs: 2).Message);
    }

    [Fact]
    public void SymlinkToDevZero_IsRefusedWithoutReadingIt()
    {
        using var folder = Checkpointed(epochs: 1);
        var file = StateFile(folder);
        File.Delete(file);
        File.CreateSymbolicLink(file, "/dev/zero");

        Assert.Contains("symbolic link", ResumeFails(folder, epochs: 2).Message);
    }

    [Fact]
    public async Task FifoInPlaceOfTheOptimizerFile_IsRefusedWithoutOpeningIt()
    {
        Assert.True(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "mkfifo is a POSIX tool; this suite runs on Linux.");
        using var folder = Checkpointed(epochs: 1);
        var file = StateFile(folder);
        File.Delete(file);
        using (var mkfifo = Process.Start("mkfifo", [file]))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        // Opening a FIFO for reading blocks until a writer appears: a reader that opened it would hang this test.
        var resume = Task.Run(() => ResumeFails(folder, epochs: 2));
        var error = await resume.WaitAsync(TimeSpan.FromSeconds(60)); // TimeoutException: resuming from a FIFO hung
        Assert.Contains("bytes", error.Message);
    }

    [Fact]
    public void FolderWhereTheIndexBelongs_IsRefusedInsteadOfStartingAfresh()
    {
        using var folder = new TemporaryFolder();
        Directory.CreateDirectory(Path.Combine(folder.Path, TrainingCheckpoint.IndexFileName));

        var error = ResumeFails(folder, epochs: 1);
        Assert.Contains("not a regular file", error.Message);
    }

    [Fact]
    public void SecondTrainerOnTheSameFolder_IsRefusedBeforeItTrains()
    {
        using var folder = new TemporaryFolder();
        using (CheckpointFolderLock.Acquire(folder.Path))
        {
            var model = TrainingTestData.SmallMlp(32);
            var before = TrainingTestData.Snapshot(model.Parameters);
            using var sgd = new MomentumSgd(model.Parameters);
            var trainer = new Trainer(model, sgd, Options(folder.Path, epochs: 1), new MomentumSgd.Checkpointer());

            var error = Assert.Throws<IOException>(() => trainer.Train(Train, Test));
            Assert.Contains("in use by another trainer", error.Message);
            Assert.Equal(0, sgd.StepCount);
            Assert.Equal(before, TrainingTestData.Snapshot(model.Parameters));
        }

        // Released with its holder: the next trainer gets the folder.
        TrainOnce(folder.Path, epochs: 1, new MomentumSgd.Checkpointer());
        Assert.True(TrainingCheckpoint.Exists(folder.Path));
    }

    [Fact]
    public void CheckpointPathThatIsAFile_IsRefusedBeforeTraining()
    {
        using var folder = new TemporaryFolder();
        var file = Path.Combine(folder.Path, "not-a-folder");
        File.WriteAllText(file, "x");
        var model = TrainingTestData.SmallMlp(32);
        using var sgd = new MomentumSgd(model.Parameters);

        var error = Assert.Throws<IOException>(() => new Trainer(model, sgd, Options(file, epochs: 1)).Train(Train, Test));
        Assert.Contains("is a file", error.Message);
        Assert.Equal(0, sgd.StepCount);
    }

    [Fact]
    public void FailedSave_LeavesNothingBehindAndNamesTheCheckpointFolder()
    {
        using var folder = Checkpointed(epochs: 1);
        var before = File.ReadAllText(IndexPath(folder));
        var model = TrainingTestData.SmallMlp(32);
        using var sgd = new MomentumSgd(model.Parameters);
        var trainer = new Trainer(model, sgd, Options(folder.Path, epochs: 2), new FailingCheckpointer(new MomentumSgd.Checkpointer()));

        var error = Assert.Throws<IOException>(() => trainer.Train(Train, Test));
        Assert.Contains(folder.Path, error.Message);
        Assert.Contains("No space left", error.Message);
        Assert.Equal(["epoch-0001"], Directory.GetDirectories(folder.Path).Select(Path.GetFileName));
        Assert.Equal(before, File.ReadAllText(IndexPath(folder)));
        Assert.False(File.Exists(IndexPath(folder) + ".partial"));
    }

    [Fact]
    public void IntactCheckpoint_StillResumesBitExactly()
    {
        var uninterrupted = TrainOnce(null, epochs: 2, null);
        using var folder = Checkpointed(epochs: 1);
        Assert.Equal(uninterrupted, TrainOnce(folder.Path, epochs: 2, new MomentumSgd.Checkpointer(), resume: true));
    }

    private static TemporaryFolder Checkpointed(int epochs)
    {
        var folder = new TemporaryFolder();
        TrainOnce(folder.Path, epochs, new MomentumSgd.Checkpointer());
        return folder;
    }

    private static InvalidDataException ResumeFails(TemporaryFolder folder, int epochs, IOptimizerCheckpointer? checkpointer = null)
    {
        var model = TrainingTestData.SmallMlp(32);
        var before = TrainingTestData.Snapshot(model.Parameters);
        using var sgd = new MomentumSgd(model.Parameters);
        var trainer = new Trainer(model, sgd, Options(folder.Path, epochs) with { Resume = true }, checkpointer ?? new MomentumSgd.Checkpointer());
        var error = Assert.Throws<InvalidDataException>(() => trainer.Train(Train, Test));
        Assert.Equal(0, sgd.StepCount);
        Assert.Equal(before, TrainingTestData.Snapshot(model.Parameters));
        return error;
    }

    private static List<float[]> TrainOnce(string? folder, int epochs, IOptimizerCheckpointer? checkpointer, bool resume = false)
    {
        var model = TrainingTestData.SmallMlp(32);
        using var sgd = new MomentumSgd(model.Parameters);
        new Trainer(model, sgd, Options(folder, epochs) with { Resume = resume }, checkpointer).Train(Train, Test);
        return TrainingTestData.Snapshot(model.Parameters);
    }

    private static TrainerOptions Options(string? folder, int epochs) =>
        new() { Epochs = epochs, BatchSize = 32, Seed = 9, CheckpointDirectory = folder };

    private static string IndexPath(TemporaryFolder folder) => Path.Combine(folder.Path, TrainingCheckpoint.IndexFileName);

    private static string StateFile(TemporaryFolder folder)
    {
        var index = TrainingCheckpoint.ReadIndex(folder.Path);
        return Path.Combine(folder.Path, index.EpochFolder, index.Files.Single().Name);
    }

    // Rewrites the index with a correct digest, as someone who knows the format could: the consistency checks must
    // hold on their own, not only through the digest.
    private static void Resign(TemporaryFolder folder, Func<TrainingCheckpointState, TrainingCheckpointState> edit)
    {
        var digest = typeof(TrainingCheckpoint).GetMethod("Digest", BindingFlags.NonPublic | BindingFlags.Static)!;
        var context = typeof(TrainingCheckpoint).Assembly.GetType("ShampooMkl.Analysis.Training.TrainingJsonContext")!;
        var options = ((System.Text.Json.Serialization.JsonSerializerContext)context.GetProperty("Default")!.GetValue(null)!).Options;
        var edited = edit(TrainingCheckpoint.ReadIndex(folder.Path));
        var signed = edited with { Sha256 = (string)digest.Invoke(null, [edited])! };
        File.WriteAllText(IndexPath(folder), JsonSerializer.Serialize(signed, options));
        Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.ReadIndex(folder.Path)); // the edit itself is what is refused
    }

    private sealed class FailingCheckpointer(IOptimizerCheckpointer inner) : IOptimizerCheckpointer
    {
        public void Save(IOptimizer optimizer, string folder)
        {
            inner.Save(optimizer, folder);
            throw new IOException("No space left on device");
        }

        public void Load(IOptimizer optimizer, string folder) => inner.Load(optimizer, folder);
    }
}
