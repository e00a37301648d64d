namespace ShampooMkl.Analysis.Models;

/// <summary>Fills every row of a row-major matrix with one vector (how the layers start their outputs from the bias).</summary>
internal static class RowBroadcast
{
    /// <summary>Writes <paramref name="row"/> into each of the <c>destination.Length / row.Length</c> rows.</summary>
    /// <remarks>Copying the already filled prefix onto the rest doubles the filled part each step, so a 73,728×8
    /// convolution output costs 17 memcpy calls instead of one call per row.</remarks>
    public static void Fill(Span<float> destination, ReadOnlySpan<float> row)
    {
        if (destination.IsEmpty)
        {
            return;
        }

        row.CopyTo(destination);
        var filled = row.Length;
        while (filled < destination.Length)
        {
            var count = Math.Min(filled, destination.Length - filled);
            destination[..count].CopyTo(destination[filled..]);
            filled += count;
        }
    }
}
