using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace ShampooMkl.Analysis.Data;

/// <summary>An array read from a NumPy <c>.npy</c> file, widened to double so analysis code has one element type.</summary>
/// <param name="Shape">C-order dimensions; empty for a 0-d scalar.</param>
/// <param name="Data">Elements in C (row-major) order.</param>
/// <param name="DType">The file's dtype descriptor, e.g. <c>&lt;f4</c>, kept so callers know the original precision.</param>
public sealed record NpyArray(int[] Shape, double[] Data, string DType)
{
    public int Rank => Shape.Length;

    public string ShapeText => NpyFormat.FormatShape(Shape);
}

/// <summary>An array read from a NumPy <c>.npy</c> file in its stored precision: exactly one of <see cref="Single"/> and
/// <see cref="Double"/> is set (fp32 files stay fp32, half the memory of <see cref="NpyArray"/>'s widening).</summary>
/// <param name="Shape">C-order dimensions; empty for a 0-d scalar.</param>
/// <param name="DType">The file's dtype descriptor, <c>&lt;f4</c> or <c>&lt;f8</c>.</param>
/// <param name="Single">The elements of a <c>&lt;f4</c> file in C order, else null.</param>
/// <param name="Double">The elements of a <c>&lt;f8</c> file in C order, else null.</param>
public sealed record NpyStoredArray(int[] Shape, string DType, float[]? Single, double[]? Double)
{
    /// <summary>Number of elements.</summary>
    public long Length => Single?.LongLength ?? Double!.LongLength;

    /// <summary>The shape in Python tuple syntax.</summary>
    public string ShapeText => NpyFormat.FormatShape(Shape);

    /// <summary>The elements widened to fp64 (the stored array itself for a <c>&lt;f8</c> file).</summary>
    public double[] ToDouble()
    {
        if (Double is not null)
        {
            return Double;
        }

        var widened = new double[Single!.Length];
        for (var i = 0; i < widened.Length; i++)
        {
            widened[i] = Single[i];
        }

        return widened;
    }
}

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
    /// <exception cref="InvalidDataException">Not a .npy, an unsupported dtype or order, or a truncated file; the message names the file.</exception>
    public static NpyStoredArray ReadStored(string path)
    {
        using FileStream stream = File.OpenRead(path);
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
    public static NpyStoredArray ReadStored(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        NpyHeader header = ReadHeader(stream);
        long count = NpyFormat.ElementCount(header.Shape);
        if (header.ItemSize == sizeof(float))
        {
            var single = new float[count];
            ReadElements<float>(stream, single, count * sizeof(float));
            return new NpyStoredArray(header.Shape, header.DType, single, null);
        }

        var values = new double[count];
        ReadElements<double>(stream, values, count * sizeof(double));
        return new NpyStoredArray(header.Shape, header.DType, null, values);
    }

    private static NpyArray Widen(NpyStoredArray array) => new(array.Shape, array.ToDouble(), array.DType);

    // Chunks keep every byte span int-length (a large fp64 array has more than 2³¹ bytes); the data is little-endian.
    private static void ReadElements<T>(Stream stream, T[] target, long expectedBytes) where T : unmanaged
    {
        const int chunkElements = 1 << 16;
        var size = Unsafe.SizeOf<T>();
        for (long done = 0; done < target.Length; done += chunkElements)
        {
            int elements = (int)Math.Min(chunkElements, target.Length - done);
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
    }

    /// <summary>
    /// Reads N stored per-example gradients of an m×n weight, the input of the Hessian-approximation
    /// metrics (see DESIGN §1), requiring a 3-D array of shape (N, m, n).
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

internal readonly record struct NpyHeader(string DType, int[] Shape, int ItemSize);

internal static class NpyFormat
{
    public static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Product of the dimensions, rejecting any product a .NET array cannot hold.</summary>
    public static long ElementCount(int[] shape)
    {
        long count = 1;
        foreach (int dimension in shape)
        {
            count *= dimension;
            if (count > Array.MaxLength)
            {
                throw new InvalidDataException(
                    $"shape {FormatShape(shape)}: element count overflows (more than {Array.MaxLength} elements).");
            }
        }

        return count;
    }

    /// <summary>Python tuple syntax, as NumPy writes it: <c>()</c>, <c>(3,)</c>, <c>(2, 3)</c>.</summary>
    public static string FormatShape(IReadOnlyList<int> shape) => shape.Count switch
    {
        0 => "()",
        1 => $"({shape[0].ToString(CultureInfo.InvariantCulture)},)",
        _ => "(" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")",
    };
}

/// <summary>Parses the Python dict literal of a .npy header; just enough of Python's syntax for what NumPy writes.</summary>
internal sealed class NpyHeaderParser
{
    private readonly string _text;
    private int _position;

    private NpyHeaderParser(string text) => _text = text;

    public static NpyHeader Parse(string text)
    {
        var parser = new NpyHeaderParser(text);
        Dictionary<string, object> dict = parser.ParseDict();
        parser.SkipWhitespace();
        if (parser._position != text.Length)
        {
            throw Malformed($"unexpected text after the dict: '{Excerpt(text, parser._position)}'");
        }

        return Interpret(dict);
    }

    private static NpyHeader Interpret(Dictionary<string, object> dict)
    {
        foreach (string key in new[] { "descr", "fortran_order", "shape" })
        {
            if (!dict.ContainsKey(key))
            {
                throw Malformed($"missing key '{key}'");
            }
        }

        if (dict["descr"] is not string dtype)
        {
            throw new InvalidDataException(
                "unsupported dtype: structured (record) dtypes are not supported; only '<f4' and '<f8' are.");
        }

        int itemSize = dtype switch
        {
            "<f4" => sizeof(float),
            "<f8" => sizeof(double),
            _ => throw new InvalidDataException(
                $"unsupported dtype '{dtype}'; only little-endian float32 '<f4' and float64 '<f8' are supported."),
        };

        if (dict["fortran_order"] is not bool fortranOrder)
        {
            throw Malformed("'fortran_order' must be True or False");
        }

        if (fortranOrder)
        {
            throw new InvalidDataException(
                "fortran_order is True: array must be C order (save np.ascontiguousarray(x) instead).");
        }

        if (dict["shape"] is not List<long> dimensions)
        {
            throw Malformed("'shape' must be a tuple of integers");
        }

        var shape = new int[dimensions.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            if (dimensions[i] < 0)
            {
                throw Malformed($"negative dimension {dimensions[i]} in shape");
            }

            if (dimensions[i] > int.MaxValue)
            {
                throw new InvalidDataException(
                    $"shape {FormatLongShape(dimensions)}: element count overflows (dimension {dimensions[i]} exceeds {int.MaxValue}).");
            }

            shape[i] = (int)dimensions[i];
        }

        NpyFormat.ElementCount(shape);
        return new NpyHeader(dtype, shape, itemSize);
    }

    private static string FormatLongShape(List<long> dimensions) =>
        "(" + string.Join(", ", dimensions.Select(d => d.ToString(CultureInfo.InvariantCulture))) + (dimensions.Count == 1 ? ",)" : ")");

    private Dictionary<string, object> ParseDict()
    {
        SkipWhitespace();
        Expect('{');
        var dict = new Dictionary<string, object>(StringComparer.Ordinal);
        while (true)
        {
            SkipWhitespace();
            if (TryConsume('}'))
            {
                return dict;
            }

            string key = ParseString();
            SkipWhitespace();
            Expect(':');
            SkipWhitespace();
            object value = ParseValue();
            if (!dict.TryAdd(key, value))
            {
                throw Malformed($"duplicate key '{key}'");
            }

            SkipWhitespace();
            if (TryConsume(','))
            {
                continue;
            }

            SkipWhitespace();
            Expect('}');
            return dict;
        }
    }

    private object ParseValue()
    {
        if (_position >= _text.Length)
        {
            throw Malformed("header ends where a value was expected");
        }

        char c = _text[_position];
        if (c is '\'' or '"')
        {
            return ParseString();
        }

        if (c == '(')
        {
            return ParseTuple();
        }

        if (c == '[')
        {
            // Structured dtypes are written as a list of fields; skip it so the dtype error names the cause.
            SkipBracketed('[', ']');
            return new object();
        }

        if (char.IsAsciiDigit(c) || c is '-' or '+')
        {
            return ParseInteger();
        }

        if (Matches("True"))
        {
            return true;
        }

        if (Matches("False"))
        {
            return false;
        }

        throw Malformed($"unexpected value '{Excerpt(_text, _position)}'");
    }

    private List<long> ParseTuple()
    {
        Expect('(');
        var items = new List<long>();
        while (true)
        {
            SkipWhitespace();
            if (TryConsume(')'))
            {
                return items;
            }

            items.Add(ParseInteger());
            SkipWhitespace();
            if (TryConsume(','))
            {
                continue;
            }

            Expect(')');
            return items;
        }
    }

    private long ParseInteger()
    {
        int start = _position;
        if (_position < _text.Length && _text[_position] is '-' or '+')
        {
            _position++;
        }

        while (_position < _text.Length && char.IsAsciiDigit(_text[_position]))
        {
            _position++;
        }

        // Python 2 era files may write dimensions as 3L.
        int end = _position;
        if (_position < _text.Length && _text[_position] is 'L' or 'l')
        {
            _position++;
        }

        string digits = _text[start..end];
        if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            bool allDigits = digits.Length > 0 && digits.TrimStart('-', '+').All(char.IsAsciiDigit) && digits.TrimStart('-', '+').Length > 0;
            if (allDigits)
            {
                throw new InvalidDataException($"shape dimension {digits}: element count overflows.");
            }

            throw Malformed($"expected an integer in shape, found '{Excerpt(_text, start)}'");
        }

        return value;
    }

    private string ParseString()
    {
        if (_position >= _text.Length || _text[_position] is not ('\'' or '"'))
        {
            throw Malformed($"expected a quoted string at '{Excerpt(_text, _position)}'");
        }

        char quote = _text[_position++];
        int start = _position;
        int end = _text.IndexOf(quote, start);
        if (end < 0)
        {
            throw Malformed("unterminated string");
        }

        _position = end + 1;
        return _text[start..end];
    }

    private void SkipBracketed(char open, char close)
    {
        int depth = 0;
        while (_position < _text.Length)
        {
            char c = _text[_position++];
            if (c == open)
            {
                depth++;
            }
            else if (c == close && --depth == 0)
            {
                return;
            }
        }

        throw Malformed($"unbalanced '{open}'");
    }

    private bool Matches(string word)
    {
        if (string.CompareOrdinal(_text, _position, word, 0, word.Length) != 0)
        {
            return false;
        }

        _position += word.Length;
        return true;
    }

    private void SkipWhitespace()
    {
        while (_position < _text.Length && char.IsWhiteSpace(_text[_position]))
        {
            _position++;
        }
    }

    private bool TryConsume(char c)
    {
        if (_position < _text.Length && _text[_position] == c)
        {
            _position++;
            return true;
        }

        return false;
    }

    private void Expect(char c)
    {
        if (!TryConsume(c))
        {
            throw Malformed($"expected '{c}' at '{Excerpt(_text, _position)}'");
        }
    }

    private static string Excerpt(string text, int position)
    {
        if (position >= text.Length)
        {
            return "<end of header>";
        }

        string rest = text[position..];
        return rest.Length <= 20 ? rest.TrimEnd() : rest[..20] + "…";
    }

    private static InvalidDataException Malformed(string detail) => new($"malformed .npy header: {detail}.");
}
