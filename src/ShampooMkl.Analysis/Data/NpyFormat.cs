using System.Globalization;

namespace ShampooMkl.Analysis.Data;

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
