using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using ShampooMkl.Analysis.Data;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>Reads an N×m×n gradient .npy keeping its precision: fp32 files stay fp32 (half the memory of
/// <see cref="NpyReader"/>'s fp64 widening), which matters for full-size layers — 2,000 gradients of 256×784 are 1.6 GB.</summary>
/// <remarks>
/// The header dict is parsed by the same <see cref="NpyHeaderParser"/> as <see cref="NpyReader"/> (same accepted dtypes
/// and messages). The data is checked chunk by chunk against the bytes that chunk needs; <see cref="NpyReader.Read(Stream)"/>
/// currently compares the running total with the whole array's size after the first 65,536 elements and so rejects
/// every larger file as truncated — reported to the lead; this reader does not depend on that path.
/// </remarks>
internal static class NpyGradientFile
{
    /// <summary>The array's dtype, shape and data (exactly one of the two arrays is set).</summary>
    public sealed record Contents(string DType, int[] Shape, float[]? Single, double[]? Double)
    {
        /// <summary>Elements in the file.</summary>
        public long Length => Single?.LongLength ?? Double!.LongLength;
    }

    /// <exception cref="InvalidDataException">Not a .npy, an unsupported dtype or order, or a truncated file; the message names the file.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static Contents Read(string path)
    {
        using var stream = File.OpenRead(path);
        try
        {
            var header = NpyHeaderParser.Parse(ReadHeaderText(stream));
            var count = NpyFormat.ElementCount(header.Shape);
            if (header.ItemSize == sizeof(float))
            {
                var single = new float[count];
                ReadData(stream, MemoryMarshal.AsBytes(single.AsSpan()), count * sizeof(float));
                if (!BitConverter.IsLittleEndian)
                {
                    var bytes = MemoryMarshal.AsBytes(single.AsSpan());
                    for (var i = 0; i < single.Length; i++)
                    {
                        single[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * sizeof(float), sizeof(float)));
                    }
                }

                return new Contents(header.DType, header.Shape, single, null);
            }

            var values = new double[count];
            ReadData(stream, MemoryMarshal.AsBytes(values.AsSpan()), count * sizeof(double));
            if (!BitConverter.IsLittleEndian)
            {
                var bytes = MemoryMarshal.AsBytes(values.AsSpan());
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes.Slice(i * sizeof(double), sizeof(double)));
                }
            }

            return new Contents(header.DType, header.Shape, null, values);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}': {e.Message}", e);
        }
    }

    private static void ReadData(Stream stream, Span<byte> target, long expected)
    {
        var done = 0;
        while (done < target.Length)
        {
            var read = stream.Read(target[done..]);
            if (read == 0)
            {
                throw new InvalidDataException($"truncated .npy: expected {expected} bytes of data, found {done}.");
            }

            done += read;
        }
    }

    // The fixed prelude of the format: magic, version, header length, then the dict text (NpyReader's checks and wording).
    private static string ReadHeaderText(Stream stream)
    {
        Span<byte> prefix = stackalloc byte[8];
        if (stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8 || !prefix[..6].SequenceEqual(NpyFormat.Magic))
        {
            throw new InvalidDataException("not a .npy file: wrong magic (expected \\x93NUMPY at the start).");
        }

        byte major = prefix[6], minor = prefix[7];
        if (major is < 1 or > 3 || minor != 0)
        {
            throw new InvalidDataException($"unsupported .npy version {major}.{minor}; only 1.0, 2.0 and 3.0 are understood.");
        }

        var lengthBytes = major == 1 ? 2 : 4;
        Span<byte> lengthField = stackalloc byte[4];
        lengthField.Clear();
        if (stream.ReadAtLeast(lengthField[..lengthBytes], lengthBytes, throwOnEndOfStream: false) < lengthBytes)
        {
            throw new InvalidDataException("malformed .npy header: file ends inside the header length.");
        }

        var headerLength = BinaryPrimitives.ReadUInt32LittleEndian(lengthField);
        if (headerLength > 1 << 20)
        {
            throw new InvalidDataException($"malformed .npy header: declared header length {headerLength} is implausible.");
        }

        var headerBytes = new byte[headerLength];
        if (stream.ReadAtLeast(headerBytes, headerBytes.Length, throwOnEndOfStream: false) < headerLength)
        {
            throw new InvalidDataException($"malformed .npy header: expected {headerLength} header bytes but the file ends early.");
        }

        try
        {
            return (major == 3 ? new UTF8Encoding(false, throwOnInvalidBytes: true) : Encoding.Latin1).GetString(headerBytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new InvalidDataException("malformed .npy header: not valid UTF-8.", ex);
        }
    }
}
