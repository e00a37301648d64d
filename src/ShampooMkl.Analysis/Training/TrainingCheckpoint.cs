using System.Security.Cryptography;
using System.Text.Json;
using ShampooMkl.IO;
using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Training;

/// <summary>Writes and reads the per-epoch checkpoints of a <see cref="Trainer"/>.</summary>
/// <remarks>
/// Layout: <c>checkpoint.json</c> (a <see cref="TrainingCheckpointState"/>) names a complete sub-folder
/// <c>epoch-NNNN/</c> holding what the <see cref="IOptimizerCheckpointer"/> wrote (optimizer state and parameter
/// values: the library's checkpoints carry both, so the model needs nothing of its own). The sub-folder is written fully before the
/// index is replaced by an atomic rename, so a run killed mid-save still resumes from the previous epoch; a save that
/// fails leaves nothing of its own behind.
/// <para>Integrity end to end: the index carries its own SHA-256 and the length and SHA-256 of every file of the epoch folder.
/// Before anything is read, <see cref="Load"/> checks the index digest, that the epoch folder is the <c>epoch-NNNN</c> of the
/// last record directly inside the checkpoint folder (so an index cannot point elsewhere), that the records are epochs
/// 1…k without gaps, that the folder holds exactly the listed files, each a regular file (no symlink, FIFO or device) of
/// the listed length, and then each file's digest. Any mismatch is an <see cref="InvalidDataException"/> naming the file.</para>
/// </remarks>
public static class TrainingCheckpoint
{
    /// <summary>Name of the index file.</summary>
    public const string IndexFileName = "checkpoint.json";

    private const int FormatVersion = 2;

    /// <summary>Largest index read (the records of a long run are a few hundred bytes per epoch).</summary>
    private const long MaxIndexBytes = 64L << 20;

    /// <summary>Whether <paramref name="directory"/> holds a checkpoint index.</summary>
    /// <exception cref="InvalidDataException">Something that is not a regular file sits where the index belongs (a folder, a
    /// symlink, a FIFO): resuming would silently start from scratch and saving would fail, so it is refused at once.</exception>
    public static bool Exists(string directory)
    {
        var path = Path.Combine(directory, IndexFileName);
        var info = new FileInfo(path);
        if (Directory.Exists(path) || info.LinkTarget is not null)
        {
            throw new InvalidDataException($"'{path}' is not a regular file; remove it or give another --checkpoint folder.");
        }

        return info.Exists;
    }

    /// <summary>Reads and verifies the index without restoring anything (e.g. to show what a resume would continue from).</summary>
    /// <exception cref="InvalidDataException">The index is missing, damaged, edited or inconsistent.</exception>
    public static TrainingCheckpointState ReadIndex(string directory)
    {
        var path = Path.Combine(directory, IndexFileName);
        if (!Exists(directory))
        {
            throw new InvalidDataException($"No checkpoint in '{directory}' ({IndexFileName} is missing).");
        }

        // RegularFile refuses a FIFO or device here without opening it, and the length before allocating.
        var bytes = RegularFile.ReadAllBytes(path, MaxIndexBytes);
        if (bytes.Length == 0)
        {
            throw new InvalidDataException($"'{path}' is 0 bytes, not a checkpoint index.");
        }

        TrainingCheckpointState state;
        try
        {
            state = JsonSerializer.Deserialize(bytes, TrainingJsonContext.Default.TrainingCheckpointState)
                ?? throw new InvalidDataException($"'{path}' holds null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid checkpoint index: {e.Message}", e);
        }

        if (state.FormatVersion != FormatVersion)
        {
            throw new InvalidDataException($"'{path}' has checkpoint format {state.FormatVersion}; this version reads {FormatVersion}.");
        }

        if (state.Fingerprint is null || state.EpochFolder is null || state.Epochs is null || state.Files is null || state.Sha256 is null
            || state.Epochs.Any(e => e is null) || state.Files.Any(f => f is null))
        {
            throw new InvalidDataException($"'{path}' lacks fields of a checkpoint index.");
        }

        if (!string.Equals(state.Sha256, Digest(state), StringComparison.Ordinal))
        {
            throw new InvalidDataException($"'{path}' does not match its own SHA-256: it was edited or damaged. Resume from another folder or start afresh.");
        }

        CheckConsistent(state, path);
        return state;
    }

    /// <summary>Writes the checkpoint after the last of <paramref name="epochs"/>.</summary>
    /// <exception cref="IOException">The checkpoint could not be written (disk full, permissions); the message names the
    /// checkpoint folder, and the previous checkpoint, if any, is still complete and current.</exception>
    public static void Save(
        string directory,
        CheckpointFingerprint fingerprint,
        IReadOnlyList<EpochRecord> epochs,
        IOptimizer optimizer,
        IOptimizerCheckpointer checkpointer)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentOutOfRangeException.ThrowIfZero(epochs.Count, nameof(epochs));
        var epochFolder = EpochFolderName(epochs[^1].Epoch);
        var final = Path.Combine(directory, epochFolder);
        var staging = final + ".partial";
        var index = Path.Combine(directory, IndexFileName);
        var temporary = index + ".partial";
        try
        {
            Directory.CreateDirectory(directory);
            DeleteIfPresent(staging);
            Directory.CreateDirectory(staging);
            checkpointer.Save(optimizer, staging);
            var files = Manifest(staging);
            DeleteIfPresent(final);
            Directory.Move(staging, final);

            var unsigned = new TrainingCheckpointState(FormatVersion, fingerprint, epochFolder, [.. epochs], files, "");
            var state = unsigned with { Sha256 = Digest(unsigned) };
            File.WriteAllText(temporary, JsonSerializer.Serialize(state, TrainingJsonContext.Default.TrainingCheckpointState));
            File.Move(temporary, index, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(staging, temporary);
            throw new IOException($"Could not save the checkpoint of epoch {epochs[^1].Epoch} into '{Path.GetFullPath(directory)}': {e.Message}", e);
        }

        // Only the folder the index names is needed; older epochs would make the folder grow with every epoch.
        foreach (var old in Directory.EnumerateDirectories(directory, "epoch-*"))
        {
            if (!string.Equals(Path.GetFileName(old), epochFolder, StringComparison.Ordinal))
            {
                DeleteIfPresent(old);
            }
        }
    }

    /// <summary>Verifies the whole checkpoint, then restores parameter values and optimizer state; returns the records of the
    /// completed epochs.</summary>
    /// <exception cref="InvalidDataException">The checkpoint belongs to another configuration, or is damaged, edited or
    /// incomplete; nothing has been restored then.</exception>
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
        VerifyFiles(folder, state.Files);
        checkpointer.Load(optimizer, folder);
        return state.Epochs;
    }

    private static string EpochFolderName(int epoch) => $"epoch-{epoch:D4}";

    // The digest covers the index as written with an empty digest field, in the serializer's one canonical form.
    private static string Digest(TrainingCheckpointState state) => Convert.ToHexStringLower(SHA256.HashData(
        JsonSerializer.SerializeToUtf8Bytes(state with { Sha256 = "" }, TrainingJsonContext.Default.TrainingCheckpointState)));

    private static void CheckConsistent(TrainingCheckpointState state, string path)
    {
        if (state.Epochs.Count == 0 || state.Epochs.Where((e, i) => e.Epoch != i + 1).Any())
        {
            throw new InvalidDataException($"'{path}' lists epochs [{string.Join(", ", state.Epochs.Select(e => e.Epoch))}], not 1…k without gaps.");
        }

        if (!string.Equals(state.EpochFolder, EpochFolderName(state.Epochs[^1].Epoch), StringComparison.Ordinal))
        {
            throw new InvalidDataException(
                $"'{path}' names the folder '{state.EpochFolder}'; after epoch {state.Epochs[^1].Epoch} it must be '{EpochFolderName(state.Epochs[^1].Epoch)}'.");
        }

        if (state.Files.Count == 0)
        {
            throw new InvalidDataException($"'{path}' lists no files.");
        }

        foreach (var file in state.Files)
        {
            var parts = file.Name.Split('/');
            if (file.Name.Length == 0 || Path.IsPathRooted(file.Name) || file.Name.Contains('\\')
                || parts.Any(p => p.Length == 0 || p == "." || p == ".."))
            {
                throw new InvalidDataException($"'{path}' lists the file '{file.Name}', which is not a plain path inside its epoch folder.");
            }

            if (file.Length <= 0 || file.Sha256.Length != 64)
            {
                throw new InvalidDataException($"'{path}' lists '{file.Name}' with length {file.Length} and digest '{file.Sha256}'.");
            }
        }

        if (state.Files.Select(f => f.Name).Distinct(StringComparer.Ordinal).Count() != state.Files.Count)
        {
            throw new InvalidDataException($"'{path}' lists a file twice.");
        }
    }

    private static IReadOnlyList<CheckpointFile> Manifest(string folder) =>
    [
        .. Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(path => (Name: Path.GetRelativePath(folder, path).Replace(Path.DirectorySeparatorChar, '/'), Path: path))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => new CheckpointFile(f.Name, new FileInfo(f.Path).Length, HashFile(f.Path))),
    ];

    private static void VerifyFiles(string folder, IReadOnlyList<CheckpointFile> files)
    {
        var info = new DirectoryInfo(folder);
        if (!info.Exists || info.LinkTarget is not null)
        {
            throw new InvalidDataException($"The checkpoint's epoch folder '{folder}' is missing or is not a plain folder.");
        }

        var listed = files.ToDictionary(f => f.Name, StringComparer.Ordinal);
        foreach (var entry in info.EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            var name = Path.GetRelativePath(folder, entry.FullName).Replace(Path.DirectorySeparatorChar, '/');
            if (entry.LinkTarget is not null)
            {
                throw new InvalidDataException($"'{entry.FullName}' is a symbolic link; a checkpoint holds regular files only.");
            }

            if (entry is FileInfo && !listed.ContainsKey(name))
            {
                throw new InvalidDataException($"'{entry.FullName}' is not listed in the checkpoint index; the folder was changed.");
            }
        }

        // Lengths first: a FIFO or device reads as length 0, which no listed file has, so it is never opened.
        foreach (var file in files)
        {
            var path = Path.Combine(folder, file.Name.Replace('/', Path.DirectorySeparatorChar));
            var fileInfo = new FileInfo(path);
            if (!fileInfo.Exists || fileInfo.Length != file.Length)
            {
                throw new InvalidDataException(
                    $"'{path}' is {(fileInfo.Exists ? $"{fileInfo.Length} bytes" : "missing")}; the checkpoint index lists {file.Length} bytes.");
            }
        }

        foreach (var file in files)
        {
            var path = Path.Combine(folder, file.Name.Replace('/', Path.DirectorySeparatorChar));
            if (!string.Equals(HashFile(path), file.Sha256, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"'{path}' does not match the SHA-256 in the checkpoint index: it was changed or damaged.");
            }
        }
    }

    private static string HashFile(string path)
    {
        using var stream = RegularFile.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
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

    // Best effort after a failed save: the failure itself is what the caller must see.
    private static void TryDelete(string folder, string file)
    {
        try
        {
            DeleteIfPresent(folder);
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
