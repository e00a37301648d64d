namespace ShampooMkl.Analysis.Training;

/// <summary>One file of a checkpoint's epoch folder as the index records it, verified before anything is read.</summary>
/// <param name="Name">Path relative to the epoch folder, '/'-separated; never rooted, never containing "..".</param>
/// <param name="Length">Size in bytes (> 0: a checkpoint never writes an empty file, so a FIFO or device, whose length
/// reads as 0, is refused without being opened).</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the file's bytes.</param>
public sealed record CheckpointFile(string Name, long Length, string Sha256);
