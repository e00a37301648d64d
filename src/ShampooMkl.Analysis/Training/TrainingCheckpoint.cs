using System.Text.Json;
using ShampooMkl.IO;
using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Training;

/// <summary>Writes and reads the per-epoch checkpoints of a <see cref="Trainer"/>.</summary>
/// <remarks>
/// Layout: <c>checkpoint.json</c> (a <see cref="TrainingCheckpointState"/>) names a complete sub-folder
/// <c>epoch-NNNN/</c> holding what the <see cref="IOptimizerCheckpointer"/> wrote (optimizer state and parameter
/// values: the library's checkpoints carry both, so the model needs nothing of its own). The sub-folder is written fully before the
/// index is replaced by an atomic rename, so a run killed mid-save still resumes from the previous epoch.
/// </remarks>
public static class TrainingCheckpoint
{
    /// <summary>Name of the index file.</summary>
    public const string IndexFileName = "checkpoint.json";

    private const int FormatVersion = 1;

    // An index is a few kB even after thousands of epochs; anything far larger is not one (and is not read into memory).
    private const long MaxIndexBytes = 16 << 20;

    /// <summary>Whether <paramref name="directory"/> holds a checkpoint index.</summary>
    /// <remarks>Anything at the index's path counts (a directory or FIFO there is refused by <see cref="ReadIndex"/>,
    /// rather than taken for "no checkpoint").</remarks>
    public static bool Exists(string directory) => Path.Exists(Path.Combine(directory, IndexFileName));

    /// <summary>Reads the index without restoring anything (e.g. to show what a resume would continue from).</summary>
    /// <exception cref="InvalidDataException">The index is missing or damaged, larger than 16 MiB, or not a regular file
    /// (a directory, FIFO, device, or a link to one).</exception>
    public static TrainingCheckpointState ReadIndex(string directory)
    {
        var path = Path.Combine(directory, IndexFileName);
        if (!Path.Exists(path))
        {
            throw new InvalidDataException($"No checkpoint in '{directory}' ({IndexFileName} is missing).");
        }

        try
        {
            var state = JsonSerializer.Deserialize(RegularFile.ReadAllBytes(path, MaxIndexBytes), TrainingJsonContext.Default.TrainingCheckpointState)
                ?? throw new InvalidDataException($"'{path}' holds null.");
            if (state.FormatVersion != FormatVersion)
            {
                throw new InvalidDataException($"'{path}' has checkpoint format {state.FormatVersion}; this version reads {FormatVersion}.");
            }

            return state;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid checkpoint index: {e.Message}", e);
        }
    }

    /// <summary>Writes the checkpoint after the last of <paramref name="epochs"/>.</summary>
    public static void Save(
        string directory,
        CheckpointFingerprint fingerprint,
        IReadOnlyList<EpochRecord> epochs,
        IOptimizer optimizer,
        IOptimizerCheckpointer checkpointer)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentOutOfRangeException.ThrowIfZero(epochs.Count, nameof(epochs));
        Directory.CreateDirectory(directory);
        var epochFolder = $"epoch-{epochs[^1].Epoch:D4}";
        var final = Path.Combine(directory, epochFolder);
        var staging = final + ".partial";
        DeleteIfPresent(staging);
        Directory.CreateDirectory(staging);
        checkpointer.Save(optimizer, staging);
        DeleteIfPresent(final);
        Directory.Move(staging, final);

        var state = new TrainingCheckpointState(FormatVersion, fingerprint, epochFolder, [.. epochs]);
        var index = Path.Combine(directory, IndexFileName);
        var temporary = index + ".partial";
        File.WriteAllText(temporary, JsonSerializer.Serialize(state, TrainingJsonContext.Default.TrainingCheckpointState));
        File.Move(temporary, index, overwrite: true);

        // Only the folder the index names is needed; older epochs would make the folder grow with every epoch.
        foreach (var old in Directory.EnumerateDirectories(directory, "epoch-*"))
        {
            if (!string.Equals(Path.GetFileName(old), epochFolder, StringComparison.Ordinal))
            {
                DeleteIfPresent(old);
            }
        }
    }

    /// <summary>Restores parameter values and optimizer state; returns the records of the completed epochs.</summary>
    /// <exception cref="InvalidDataException">The checkpoint belongs to another configuration, or is damaged.</exception>
    public static IReadOnlyList<EpochRecord> Load(
        string directory,
        CheckpointFingerprint expected,
        IOptimizer optimizer,
        IOptimizerCheckpointer checkpointer)
    {
        var state = ReadIndex(directory);
        if (state.Fingerprint != expected)
        {
            throw new InvalidDataException(
                $"The checkpoint in '{directory}' belongs to another run ({Describe(state.Fingerprint)}); this run is {Describe(expected)}. " +
                "Use another --checkpoint folder or the original settings.");
        }

        var folder = Path.Combine(directory, state.EpochFolder);
        if (!Directory.Exists(folder))
        {
            throw new InvalidDataException($"The checkpoint index in '{directory}' names '{state.EpochFolder}', which is missing.");
        }

        checkpointer.Load(optimizer, folder);
        return state.Epochs;
    }

    private static string Describe(CheckpointFingerprint f) =>
        $"model {f.Model}, optimizer {f.Optimizer}, batch {f.BatchSize}, seed {f.Seed}, {f.TrainExamples} training examples, parameters {f.Parameters}";

    private static void DeleteIfPresent(string folder)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
