namespace ShampooMkl.Analysis.Data;

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
