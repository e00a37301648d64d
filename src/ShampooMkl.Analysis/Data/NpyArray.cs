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
