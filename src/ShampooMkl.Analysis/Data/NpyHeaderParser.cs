using System.Globalization;

namespace ShampooMkl.Analysis.Data;

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
