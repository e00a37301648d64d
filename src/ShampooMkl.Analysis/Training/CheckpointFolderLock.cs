namespace ShampooMkl.Analysis.Training;

/// <summary>Exclusive use of a checkpoint folder by one trainer, held until disposed.</summary>
/// <remarks>
/// The lock is the file <see cref="FileName"/> in the folder, opened with <see cref="FileShare.None"/>: on Linux and macOS
/// .NET takes an advisory <c>flock</c> on it, on Windows a sharing lock. Both belong to the open file, so a trainer
/// killed with <c>kill -9</c> releases its folder with its process, and a stale lock file never blocks anyone. Every
/// trainer that uses the folder through <see cref="Trainer"/> takes it; other programs are not stopped by it.
/// </remarks>
public sealed class CheckpointFolderLock : IDisposable
{
    /// <summary>Name of the lock file inside the checkpoint folder.</summary>
    public const string FileName = ".lock";

    private readonly FileStream stream;

    private CheckpointFolderLock(FileStream stream, string directory)
    {
        this.stream = stream;
        Directory = directory;
    }

    /// <summary>The locked folder (full path).</summary>
    public string Directory { get; }

    /// <summary>Creates <paramref name="directory"/> if needed and takes its lock.</summary>
    /// <exception cref="IOException">The path is not a usable folder (a file, unwritable, on a read-only file system), or
    /// another trainer holds the folder; the message names the folder and what to do.</exception>
    public static CheckpointFolderLock Acquire(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var full = Path.GetFullPath(directory);
        if (File.Exists(full))
        {
            throw new IOException($"The checkpoint folder '{full}' is a file; give a folder (it is created if missing).");
        }

        try
        {
            System.IO.Directory.CreateDirectory(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"The checkpoint folder '{full}' cannot be created: {e.Message}", e);
        }

        var path = Path.Combine(full, FileName);
        try
        {
            return new CheckpointFolderLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None), full);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"The checkpoint folder '{full}' is not writable: {e.Message}", e);
        }
        catch (IOException e) when (File.Exists(path))
        {
            throw new IOException(
                $"The checkpoint folder '{full}' is in use by another trainer; wait for it to finish or give another --checkpoint folder.", e);
        }
        catch (IOException e)
        {
            throw new IOException($"The checkpoint folder '{full}' is not usable: {e.Message}", e);
        }
    }

    /// <summary>Releases the folder (the lock file stays; it is only a handle to lock).</summary>
    public void Dispose() => stream.Dispose();
}
