using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using ShampooMkl.IO;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>Saves and restores an optimizer's complete state (parameters included) in one versioned, checksummed binary file.</summary>
/// <remarks>
/// <para>Layout, little-endian:</para>
/// <list type="number">
/// <item>magic: the 8 ASCII bytes <c>SHMPCKPT</c>;</item>
/// <item>format version: int32, currently <see cref="FormatVersion"/>;</item>
/// <item>payload length: int64;</item>
/// <item>payload: kind, signature lines, options text, statistics (counters, times in ticks, log), then the tensors —
/// each a name, an element type (4 = fp32, stored when every value is exactly an fp32; 8 = fp64), rank, dimensions,
/// element count and raw values. Strings are length-prefixed UTF-8;</item>
/// <item>SHA-256 of everything before it (magic, version, length and payload).</item>
/// </list>
/// <para>Saving writes a temporary file in the target folder and moves it over the target, so a crash never leaves a
/// half-written checkpoint under the real name (the <see cref="Stream"/> overloads write and read the same bytes at the
/// stream's position; atomicity is then the caller's). Loading checks magic, version, length and checksum, then the optimizer
/// kind and signature (parameter names, shapes, groups, and the options that give the state its meaning), then every
/// tensor; any failure throws <see cref="InvalidDataException"/> and leaves the optimizer as it was. Options outside
/// the signature (schedule, weight decay, Nesterov, ε, frequencies…) may differ: the live optimizer's values apply from
/// the next step, while each block's current ε is state and is restored. Each group's base learning rate is state too
/// (<see cref="IOptimizer.SetLearningRate"/> may have changed it, e.g. from an external scheduler) and is restored, as
/// PyTorch's <c>load_state_dict</c> restores <c>lr</c>; to retune it, call <see cref="IOptimizer.SetLearningRate"/>
/// after loading.</para>
/// <para>Resuming gives bit-identical parameters to an uninterrupted run on the same machine and BLAS settings (with
/// MKL across machines, also fix <c>MKL_CBWR</c>).</para>
/// </remarks>
public static class Checkpoint
{
    /// <summary>The format version this build writes and reads.</summary>
    public const int FormatVersion = 1;

    private const int HeaderLength = 8 + 4 + 8;
    private const int ChecksumLength = 32;
    private const byte Single = 4;
    private const byte Double = 8;
    private const int MaxRank = 16;

    /// <summary>The first 8 bytes of every checkpoint.</summary>
    internal static ReadOnlySpan<byte> Magic => "SHMPCKPT"u8;

    /// <summary>Writes the complete state of <paramref name="optimizer"/> to <paramref name="path"/>, atomically.</summary>
    /// <remarks>This library's optimizers are held exclusively while their state is read, so the file is one step's
    /// state, never a mix of two.</remarks>
    /// <exception cref="IOException">The file could not be written (disk full, permission denied, a folder in the way); the
    /// message names <paramref name="path"/>, and the previous file, if any, is unchanged.</exception>
    /// <exception cref="InvalidOperationException">A step (or another checkpoint call) of this optimizer is running on
    /// another thread; nothing is written.</exception>
    public static void Save(ICheckpointable optimizer, string path)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Checkpoints are written little-endian; this machine is big-endian.");
        }

        byte[] bytes;
        using (ExclusiveUse.Enter(optimizer, "Checkpoint.Save"))
        {
            bytes = Serialize(optimizer);
        }

        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full) ?? ".";
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(folder);
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The temporary file is ours; the user needs the file they asked for and the reason.
            var reason = e is UnauthorizedAccessException ? "permission denied" : e.Message.Replace(temp, full, StringComparison.Ordinal);
            throw new IOException($"Could not save the checkpoint to '{full}' ({reason.TrimEnd('.')}); the previous file, if any, is unchanged.", e);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>Writes the complete state of <paramref name="optimizer"/> to <paramref name="stream"/> at its current
    /// position (the same bytes as a file), leaving the stream open and positioned after the checkpoint.</summary>
    /// <remarks>Atomicity is the caller's: a stream written halfway (an exception from the stream) holds a truncated
    /// checkpoint, which <see cref="Load(ICheckpointable, Stream)"/> refuses. The state is serialised completely before
    /// the first byte is written, so an error of the optimizer writes nothing.</remarks>
    /// <exception cref="ArgumentException"><paramref name="stream"/> cannot be written.</exception>
    /// <exception cref="IOException">The stream failed while writing.</exception>
    /// <exception cref="InvalidOperationException">A step (or another checkpoint call) of this optimizer is running on
    /// another thread; nothing is written.</exception>
    public static void Save(ICheckpointable optimizer, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The checkpoint stream cannot be written; pass a writable stream (e.g. a FileStream opened for writing or a MemoryStream).", nameof(stream));
        }

        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Checkpoints are written little-endian; this machine is big-endian.");
        }

        byte[] bytes;
        using (ExclusiveUse.Enter(optimizer, "Checkpoint.Save"))
        {
            bytes = Serialize(optimizer);
        }

        stream.Write(bytes);
        stream.Flush();
    }

    /// <summary>Restores <paramref name="optimizer"/> (state, parameters and statistics) from <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">Not a checkpoint, another format version, truncated or altered, or saved from
    /// another kind of optimizer, another model or incompatible options, or not a regular file (see <see cref="Read(string)"/>);
    /// the optimizer is unchanged.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidOperationException">A step (or another checkpoint call) of this optimizer is running on
    /// another thread; the optimizer is unchanged.</exception>
    public static void Load(ICheckpointable optimizer, string path)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Apply(optimizer, Read(path), $"'{path}'");
    }

    /// <summary>Restores <paramref name="optimizer"/> from the checkpoint at <paramref name="stream"/>'s current position,
    /// with the same checks as <see cref="Load(ICheckpointable, string)"/>. Reads exactly the checkpoint's bytes (its header
    /// gives the length), so the stream is left positioned after it and open.</summary>
    /// <exception cref="ArgumentException"><paramref name="stream"/> cannot be read.</exception>
    /// <exception cref="InvalidDataException">Not a checkpoint, another format version, truncated (the stream ends early)
    /// or altered, or saved from another kind of optimizer, another model or incompatible options; the optimizer is unchanged.</exception>
    /// <exception cref="InvalidOperationException">A step (or another checkpoint call) of this optimizer is running on
    /// another thread; the optimizer is unchanged.</exception>
    public static void Load(ICheckpointable optimizer, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Apply(optimizer, Read(stream), StreamLabel);
    }

    private const string StreamLabel = "The checkpoint stream";

    private static void Apply(ICheckpointable optimizer, CheckpointContents contents, string source)
    {
        // Held from the import to the statistics, so no step runs on a half-loaded optimizer or between the two.
        using var use = ExclusiveUse.Enter(optimizer, "Checkpoint.Load");
        if (contents.Kind != optimizer.CheckpointKind)
        {
            throw new InvalidDataException($"{source} holds the state of the {contents.Kind} optimizer; it cannot be loaded into {optimizer.CheckpointKind}.");
        }

        CheckSignature(source, contents.Signature, optimizer.CheckpointSignature);
        optimizer.ImportState(contents.Tensors);
        var s = optimizer.Statistics;
        var saved = contents.Statistics;
        s.SkippedSteps = saved.SkippedSteps;
        s.RootRefreshes = saved.RootRefreshes;
        s.RefreshedBlocks = saved.RefreshedBlocks;
        s.FailedRootBlocks = saved.FailedRootBlocks;
        s.RefreshTime = saved.RefreshTime;
        s.StepTime = saved.StepTime;
        s.ReplaceLog(saved.Log);
    }

    /// <summary>Reads and verifies a checkpoint without loading it into an optimizer.</summary>
    /// <remarks>Only a regular file (or a link to one) is read (<see cref="RegularFile"/>), and the length its header
    /// declares is compared with the file's before the file is read into memory, so a special file or a lying header
    /// is refused at once without allocating what it declares.</remarks>
    /// <exception cref="InvalidDataException">Not a checkpoint, another format version, truncated or altered, or not a
    /// regular file (a directory, FIFO, device, or a link to one).</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static CheckpointContents Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Parse(ReadFile(path), $"'{path}'");
    }

    // The fixed header first: magic, version and declared length must agree with the file's length before the
    // whole file is allocated.
    private static byte[] ReadFile(string path)
    {
        using var stream = RegularFile.OpenRead(path);
        var fileLength = stream.Length;
        Span<byte> header = stackalloc byte[HeaderLength];
        var got = stream.ReadAtLeast(header, HeaderLength, throwOnEndOfStream: false);
        CheckHeader(header[..got], fileLength, $"'{path}'");
        var file = new byte[fileLength];
        header.CopyTo(file);
        RegularFile.ReadExactly(stream, file.AsSpan(HeaderLength), path);
        return file;
    }

    private static void CheckHeader(ReadOnlySpan<byte> header, long fileLength, string source)
    {
        if (header.Length < Magic.Length || !header[..Magic.Length].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{source} is not a ShampooMkl checkpoint (its first bytes are not 'SHMPCKPT').");
        }

        if (fileLength < HeaderLength + ChecksumLength)
        {
            throw new InvalidDataException($"{source} is truncated: {fileLength} bytes is shorter than an empty checkpoint.");
        }

        var version = BitConverter.ToInt32(header[8..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException(
                $"{source} has checkpoint format version {version}; this build reads version {FormatVersion} only.");
        }

        var length = BitConverter.ToInt64(header[12..]);
        if (length < 0 || length > Array.MaxLength - HeaderLength - ChecksumLength || HeaderLength + length + ChecksumLength != fileLength)
        {
            throw new InvalidDataException(
                $"{source} is truncated or padded: its header announces a payload of {length} bytes, so {(length < 0 ? "an impossible size" : $"{HeaderLength + length + ChecksumLength} bytes")}, the file has {fileLength}.");
        }
    }

    /// <summary>Reads and verifies the checkpoint at <paramref name="stream"/>'s current position without loading it;
    /// reads exactly its bytes and leaves the stream open.</summary>
    /// <exception cref="ArgumentException"><paramref name="stream"/> cannot be read.</exception>
    /// <exception cref="InvalidDataException">Not a checkpoint, another format version, truncated or altered.</exception>
    public static CheckpointContents Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            throw new ArgumentException("The checkpoint stream cannot be read; pass a readable stream positioned at the checkpoint.", nameof(stream));
        }

        var header = new byte[HeaderLength];
        var got = stream.ReadAtLeast(header, HeaderLength, throwOnEndOfStream: false);
        if (got < Magic.Length || !header.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{StreamLabel} does not hold a ShampooMkl checkpoint at its position (its first bytes are not 'SHMPCKPT').");
        }

        if (got < HeaderLength)
        {
            throw new InvalidDataException($"{StreamLabel} is truncated: it ends {got} bytes into the checkpoint's header.");
        }

        var length = BitConverter.ToInt64(header, 12);
        if (length < 0 || length > Array.MaxLength - HeaderLength - ChecksumLength)
        {
            throw new InvalidDataException($"{StreamLabel} is corrupted: its header announces a payload of {length} bytes.");
        }

        var file = new byte[HeaderLength + length + ChecksumLength];
        header.CopyTo(file, 0);
        var rest = stream.ReadAtLeast(file.AsSpan(HeaderLength), file.Length - HeaderLength, throwOnEndOfStream: false);
        if (rest < file.Length - HeaderLength)
        {
            throw new InvalidDataException(
                $"{StreamLabel} is truncated: its header announces {file.Length} bytes, the stream ends after {HeaderLength + rest}.");
        }

        return Parse(file, StreamLabel);
    }

    private static void CheckSignature(string source, IReadOnlyList<string> saved, IReadOnlyList<string> live)
    {
        for (var i = 0; i < Math.Max(saved.Count, live.Count); i++)
        {
            var a = i < saved.Count ? saved[i] : "(nothing)";
            var b = i < live.Count ? live[i] : "(nothing)";
            if (a != b)
            {
                throw new InvalidDataException(
                    $"{source} was saved from another model or incompatible options. Parameter {i}:{Environment.NewLine}" +
                    $"  checkpoint: {a}{Environment.NewLine}  optimizer:  {b}");
            }
        }
    }

    private static byte[] Serialize(ICheckpointable optimizer)
    {
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(optimizer.CheckpointKind);
            var signature = optimizer.CheckpointSignature;
            w.Write(signature.Count);
            foreach (var line in signature)
            {
                w.Write(line);
            }

            w.Write(optimizer.DescribeOptions());
            var s = optimizer.Statistics;
            w.Write(s.SkippedSteps);
            w.Write(s.RootRefreshes);
            w.Write(s.RefreshedBlocks);
            w.Write(s.FailedRootBlocks);
            w.Write(s.RefreshTime.Ticks);
            w.Write(s.StepTime.Ticks);
            w.Write(s.Log.Count);
            foreach (var entry in s.Log)
            {
                w.Write(entry);
            }

            var tensors = optimizer.ExportState();
            w.Write(tensors.Count);
            foreach (var t in tensors)
            {
                WriteTensor(w, t);
            }
        }

        var body = payload.GetBuffer().AsSpan(0, (int)payload.Length);
        var file = new byte[HeaderLength + body.Length + ChecksumLength];
        Magic.CopyTo(file);
        BitConverter.TryWriteBytes(file.AsSpan(8), FormatVersion);
        BitConverter.TryWriteBytes(file.AsSpan(12), (long)body.Length);
        body.CopyTo(file.AsSpan(HeaderLength));
        SHA256.HashData(file.AsSpan(0, HeaderLength + body.Length), file.AsSpan(HeaderLength + body.Length));
        return file;
    }

    private static void WriteTensor(BinaryWriter w, StateTensor t)
    {
        w.Write(t.Name);
        // Most state is fp32 (parameters, fp32 factors); storing it as such halves the file and loses nothing.
        var exactSingle = true;
        foreach (var x in t.Data)
        {
            if ((double)(float)x != x)
            {
                exactSingle = false;
                break;
            }
        }

        w.Write(exactSingle ? Single : Double);
        w.Write(t.Shape.Length);
        foreach (var d in t.Shape)
        {
            w.Write(d);
        }

        w.Write(t.Data.Length);
        if (exactSingle)
        {
            var narrow = new float[t.Data.Length];
            Precision.Convert<double, float>(t.Data, narrow);
            w.Write(MemoryMarshal.AsBytes(narrow.AsSpan()));
        }
        else
        {
            w.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
        }
    }

    private static CheckpointContents Parse(byte[] file, string source)
    {
        CheckHeader(file.AsSpan(0, Math.Min(file.Length, HeaderLength)), file.Length, source);
        var length = BitConverter.ToInt64(file, 12);
        var payloadEnd = HeaderLength + (int)length;
        Span<byte> hash = stackalloc byte[ChecksumLength];
        SHA256.HashData(file.AsSpan(0, payloadEnd), hash);
        if (!hash.SequenceEqual(file.AsSpan(payloadEnd, ChecksumLength)))
        {
            throw new InvalidDataException($"{source} is corrupted: its SHA-256 checksum does not match its contents.");
        }

        try
        {
            using var r = new BinaryReader(new MemoryStream(file, HeaderLength, (int)length, writable: false), Encoding.UTF8);
            var kind = r.ReadString();
            var signature = ReadStrings(r);
            var options = r.ReadString();
            var statistics = new OptimizerStatistics
            {
                SkippedSteps = r.ReadInt64(),
                RootRefreshes = r.ReadInt64(),
                RefreshedBlocks = r.ReadInt64(),
                FailedRootBlocks = r.ReadInt64(),
                RefreshTime = TimeSpan.FromTicks(r.ReadInt64()),
                StepTime = TimeSpan.FromTicks(r.ReadInt64()),
            };
            statistics.ReplaceLog(ReadStrings(r));
            var count = ReadCount(r, "tensor count");
            var tensors = new List<StateTensor>(Math.Min(count, 1 << 16));
            for (var i = 0; i < count; i++)
            {
                tensors.Add(ReadTensor(r));
            }

            if (r.BaseStream.Position != r.BaseStream.Length)
            {
                throw new InvalidDataException("bytes left over after the last tensor");
            }

            return new CheckpointContents(kind, signature, options, statistics, tensors);
        }
        // BinaryReader reports a malformed 7-bit length as FormatException and a negative string length as IOException
        // (found by fuzz/: a crafted payload with a valid checksum); over a MemoryStream no IOException is real I/O.
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or ArgumentException or OverflowException or DecoderFallbackException
            or FormatException or IOException)
        {
            // The checksum matched, so the writer itself produced this: say so rather than blaming the disk.
            throw new InvalidDataException($"{source} has a valid checksum but a malformed payload ({e.Message}).", e);
        }
    }

    private static string[] ReadStrings(BinaryReader r)
    {
        var count = ReadCount(r, "string count");
        var result = new string[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = r.ReadString();
        }

        return result;
    }

    private static int ReadCount(BinaryReader r, string what)
    {
        var count = r.ReadInt32();
        if (count < 0 || count > r.BaseStream.Length - r.BaseStream.Position)
        {
            throw new InvalidDataException($"{what} {count} is impossible at this point of the payload");
        }

        return count;
    }

    private static StateTensor ReadTensor(BinaryReader r)
    {
        var name = r.ReadString();
        var type = r.ReadByte();
        if (type is not (Single or Double))
        {
            throw new InvalidDataException($"tensor '{name}' has unknown element type {type}");
        }

        var rank = r.ReadInt32();
        if (rank is < 0 or > MaxRank)
        {
            throw new InvalidDataException($"tensor '{name}' has rank {rank}");
        }

        var shape = new int[rank];
        var product = 1L;
        for (var d = 0; d < rank; d++)
        {
            shape[d] = r.ReadInt32();
            if (shape[d] < 0)
            {
                throw new InvalidDataException($"tensor '{name}' has a negative dimension");
            }

            product *= shape[d];
        }

        var count = r.ReadInt32();
        // A scalar has rank 0 and one value; an empty eigenbasis has shape [0] and none.
        if (count < 0 || count != product || (long)count * type > r.BaseStream.Length - r.BaseStream.Position)
        {
            throw new InvalidDataException($"tensor '{name}' declares {count} values for shape [{string.Join("×", shape)}]");
        }

        var data = new double[count];
        if (type == Single)
        {
            var narrow = new float[count];
            ReadExactly(r, MemoryMarshal.AsBytes(narrow.AsSpan()));
            Precision.Convert<float, double>(narrow, data);
        }
        else
        {
            ReadExactly(r, MemoryMarshal.AsBytes(data.AsSpan()));
        }

        return new StateTensor(name, shape, data);
    }

    private static void ReadExactly(BinaryReader r, Span<byte> into)
    {
        if (r.Read(into) != into.Length)
        {
            throw new EndOfStreamException("a tensor's values end early");
        }
    }
}
