using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace ShampooMkl.Analysis.Data;

/// <summary>Writes NumPy <c>.npy</c> files (C order, little-endian) so tests and exports can round-trip with NumPy.</summary>
public static class NpyWriter
{
    public static void Write(string path, ReadOnlySpan<double> data, int[] shape)
    {
        using FileStream stream = File.Create(path);
        Write(stream, data, shape);
    }

    public static void Write(string path, ReadOnlySpan<float> data, int[] shape)
    {
        using FileStream stream = File.Create(path);
        Write(stream, data, shape);
    }

    public static void Write(Stream stream, ReadOnlySpan<double> data, int[] shape)
    {
        WriteHeader(stream, "<f8", shape, data.Length);
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(data));
            return;
        }

        Span<byte> element = stackalloc byte[sizeof(double)];
        foreach (double value in data)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(element, value);
            stream.Write(element);
        }
    }

    public static void Write(Stream stream, ReadOnlySpan<float> data, int[] shape)
    {
        WriteHeader(stream, "<f4", shape, data.Length);
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(data));
            return;
        }

        Span<byte> element = stackalloc byte[sizeof(float)];
        foreach (float value in data)
        {
            BinaryPrimitives.WriteSingleLittleEndian(element, value);
            stream.Write(element);
        }
    }

    private static void WriteHeader(Stream stream, string dtype, int[] shape, int length)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Any(d => d < 0))
        {
            throw new ArgumentException($"Shape {NpyFormat.FormatShape(shape)} has a negative dimension.", nameof(shape));
        }

        long count = NpyFormat.ElementCount(shape);
        if (count != length)
        {
            throw new ArgumentException(
                $"Shape {NpyFormat.FormatShape(shape)} holds {count} elements but {length} were given.", nameof(shape));
        }

        string dict = $"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {NpyFormat.FormatShape(shape)}, }}";
        // NumPy pads magic + version + length + dict + '\n' to a multiple of 64 so the data is aligned.
        const int alignment = 64;
        int version = dict.Length + 1 + 10 <= ushort.MaxValue ? 1 : 2;
        int prefixLength = version == 1 ? 10 : 12;
        int total = prefixLength + dict.Length + 1;
        int padded = (total + alignment - 1) / alignment * alignment;
        string header = dict + new string(' ', padded - total) + "\n";

        stream.Write(NpyFormat.Magic);
        stream.WriteByte((byte)version);
        stream.WriteByte(0);
        Span<byte> lengthField = stackalloc byte[4];
        if (version == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(lengthField, (ushort)header.Length);
            stream.Write(lengthField[..2]);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(lengthField, (uint)header.Length);
            stream.Write(lengthField);
        }

        stream.Write(Encoding.ASCII.GetBytes(header));
    }
}
