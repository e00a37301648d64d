using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ShampooMkl.IO;

namespace ShampooMkl.Analysis.Data;

/// <summary>Reads NumPy <c>.npy</c> files so gradients dumped from PyTorch/JAX runs can be analysed here.</summary>
/// <remarks>
/// Format: magic <c>\x93NUMPY</c>, major and minor version bytes, a little-endian header length
/// (2 bytes in 1.0, 4 bytes in 2.0/3.0), then a Python dict literal with <c>descr</c>,
/// <c>fortran_order</c> and <c>shape</c>, then the raw data. Only little-endian float32/float64 in C
/// order are accepted: that is what <c>np.save</c> writes for the arrays we exchange, and rejecting the
/// rest loudly is better than silently transposing or byte-swapping.
/// </remarks>
public static class NpyReader
{
    /// <summary>Reads the one array of the file at <paramref name="path"/>, widened to fp64.</summary>
    /// <exception cref="InvalidDataException">Not a .npy, an unsupported dtype or order, or a truncated file; the message names the file.</exception>
    public static NpyArray Read(string path) => Widen(ReadStored(path));

    /// <summary>Reads one array, widened to fp64, and leaves the stream just after it (several <c>np.save</c> calls may share a file).</summary>
    public static NpyArray Read(Stream stream) => Widen(ReadStored(stream));

    /// <summary>Reads the one array of the file at <paramref name="path"/> in its stored precision (for large gradient files).</summary>
    /// <remarks>Only a regular file (or a link to one) is read (<see cref="RegularFile"/>); the data size the header
    /// declares is compared with the file's length before the array is allocated.</remarks>
    /// <exception cref="InvalidDataException">Not a .npy, an unsupported dtype or order, a truncated file, or not a regular
    /// file (a directory, FIFO, device, or a link to one); the message names the file.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public static NpyStoredArray ReadStored(string path)
    {
        using FileStream stream = RegularFile.OpenRead(path);
        try
        {
            return ReadStored(stream);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"'{path}': {ex.Message}", ex);
        }
    }

    /// <summary>Reads one array in its stored precision and leaves the stream just after it.</summary>
    /// <remarks>A seekable stream's remaining length must hold the data the header declares, checked before allocating;
    /// a stream that cannot seek is read in chunks into an array that grows with the data that actually arrives, so
    /// memory never runs ahead of the input by more than a factor of two.</remarks>
    /// <exception cref="InvalidDataException">Not a .npy, an unsupported dtype or order, or truncated.</exception>
    public static NpyStoredArray ReadStored(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        NpyHeader header = ReadHeader(stream);
        long count = NpyFormat.ElementCount(header.Shape);
        long expectedBytes = count * header.ItemSize;
        if (stream.CanSeek)
        {
            long remaining = stream.Length - stream.Position;
            if (expectedBytes > remaining)
            {
                throw new InvalidDataException(
                    $"truncated .npy: expected {expectedBytes} bytes of data, found {Math.Max(remaining, 0)} " +
                    $"(the header declares shape {NpyFormat.FormatShape(header.Shape)} of '{header.DType}').");
            }
        }

        if (header.ItemSize == sizeof(float))
        {
            return new NpyStoredArray(header.Shape, header.DType, ReadElements<float>(stream, count, expectedBytes, stream.CanSeek), null);
        }

        return new NpyStoredArray(header.Shape, header.DType, null, ReadElements<double>(stream, count, expectedBytes, stream.CanSeek));
    }

    private static NpyArray Widen(NpyStoredArray array) => new(array.Shape, array.ToDouble(), array.DType);

    // Chunks keep every byte span int-length (a large fp64 array has more than 2³¹ bytes); the data is little-endian.
    // With a known length the target is allocated at once; otherwise it doubles as data arrives.
    private static T[] ReadElements<T>(Stream stream, long count, long expectedBytes, bool lengthChecked) where T : unmanaged
    {
        const int chunkElements = 1 << 16;
        var size = Unsafe.SizeOf<T>();
        var target = new T[lengthChecked ? count : Math.Min(count, chunkElements)];
        for (long done = 0; done < count; done += chunkElements)
        {
            int elements = (int)Math.Min(chunkElements, count - done);
            if (done + elements > target.LongLength)
            {
                Array.Resize(ref target, (int)Math.Min(count, Math.Max(done + elements, 2 * target.LongLength)));
            }

            Span<byte> bytes = MemoryMarshal.AsBytes(target.AsSpan((int)done, elements));
            ThrowIfShort(expectedBytes, done * size, bytes.Length, ReadFully(stream, bytes));
            if (!BitConverter.IsLittleEndian)
            {
                for (int i = 0; i < elements; i++)
                {
                    bytes.Slice(i * size, size).Reverse();
                }
            }
        }

        return target;
    }

    /// <summary>
    /// Reads N stored per-example gradients of an m×n weight, the input of the Hessian-approximation
    /// metrics (see docs/design.md, 'Conventions'), requiring a 3-D array of shape (N, m, n).
    /// </summary>
    public static (int Count, int Rows, int Columns, double[] Data) ReadGradients(string path)
    {
        NpyArray array = Read(path);
        if (array.Rank != 3 || array.Shape.Any(d => d == 0))
        {
            throw new InvalidDataException(
                $"'{path}' holds an array of shape {array.ShapeText}; per-example gradients must be a non-empty " +
                "3-D array of shape (N, m, n): N gradients of an m×n weight.");
        }

        return (array.Shape[0], array.Shape[1], array.Shape[2], array.Data);
    }

    // A chunk is short only when the file ended: compare what this chunk got with what it asked for
    // (comparing the running total with the whole array's size rejected every file longer than one chunk).
    private static void ThrowIfShort(long expectedBytes, long bytesBefore, int requested, int read)
    {
        if (read < requested)
        {
            throw new InvalidDataException($"truncated .npy: expected {expectedBytes} bytes of data, found {bytesBefore + read}.");
        }
    }

    private static int ReadFully(Stream stream, Span<byte> target)
    {
        int total = 0;
        while (total < target.Length)
        {
            int read = stream.Read(target[total..]);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    private static NpyHeader ReadHeader(Stream stream)
    {
        Span<byte> prefix = stackalloc byte[8];
        int got = ReadFully(stream, prefix);
        if (got < 8 || !prefix[..6].SequenceEqual(NpyFormat.Magic))
        {
            throw new InvalidDataException("not a .npy file: wrong magic (expected \\x93NUMPY at the start).");
        }

        byte major = prefix[6];
        byte minor = prefix[7];
        if (major is < 1 or > 3 || minor != 0)
        {
            throw new InvalidDataException(
                $"unsupported .npy version {major}.{minor}; only 1.0, 2.0 and 3.0 are understood.");
        }

        int lengthBytes = major == 1 ? 2 : 4;
        Span<byte> lengthField = stackalloc byte[4];
        if (ReadFully(stream, lengthField[..lengthBytes]) < lengthBytes)
        {
            throw new InvalidDataException("malformed .npy header: file ends inside the header length.");
        }

        uint headerLength = major == 1
            ? BinaryPrimitives.ReadUInt16LittleEndian(lengthField)
            : BinaryPrimitives.ReadUInt32LittleEndian(lengthField);
        // Real headers are a few hundred bytes; a huge value means a corrupt file, not a huge dict.
        const uint maxHeaderLength = 1 << 20;
        if (headerLength > maxHeaderLength)
        {
            throw new InvalidDataException($"malformed .npy header: declared header length {headerLength} is implausible.");
        }

        var headerBytes = new byte[headerLength];
        if (ReadFully(stream, headerBytes) < headerLength)
        {
            throw new InvalidDataException(
                $"malformed .npy header: expected {headerLength} header bytes but the file ends early.");
        }

        Encoding encoding = major == 3 ? new UTF8Encoding(false, throwOnInvalidBytes: true) : Encoding.Latin1;
        string text;
        try
        {
            text = encoding.GetString(headerBytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new InvalidDataException("malformed .npy header: not valid UTF-8.", ex);
        }

        return NpyHeaderParser.Parse(text);
    }
}
