using System.Numerics;
using ShampooMkl.Memory;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Linalg;

/// <summary>A test matrix stored with an offset and a row stride inside a larger array whose unused
/// elements hold NaN, so a BLAS call that reads or writes outside the view shows up in the result or the padding.</summary>
internal sealed class StridedMatrix<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private StridedMatrix(int rows, int cols, int padding, int offset)
    {
        Rows = rows;
        Cols = cols;
        Stride = Math.Max(cols, 1) + padding;
        Offset = offset;
        // A trailing pad after the last row as well: BLAS must not touch it either.
        Buffer = new T[offset + (rows * Stride) + padding];
        Buffer.AsSpan().Fill(T.NaN);
    }

    public T[] Buffer { get; }

    public int Rows { get; }

    public int Cols { get; }

    public int Stride { get; }

    public int Offset { get; }

    public MatrixView<T> View => new(Buffer.AsSpan(Offset), Rows, Cols, Stride);

    public ReadOnlyMatrixView<T> ReadOnly => new(Buffer.AsSpan(Offset), Rows, Cols, Stride);

    public T this[int i, int j]
    {
        get => Buffer[Offset + (i * Stride) + j];
        set => Buffer[Offset + (i * Stride) + j] = value;
    }

    /// <summary>Gaussian entries rounded to T, so the double reference sees exactly the values BLAS sees.</summary>
    public static StridedMatrix<T> Random(int seed, int rows, int cols, int padding = 0, int offset = 0)
    {
        var matrix = new StridedMatrix<T>(rows, cols, padding, offset);
        var values = SeededRandom.Gaussian(seed, rows * cols);
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < cols; j++)
            {
                matrix[i, j] = T.CreateTruncating(values[(i * cols) + j]);
            }
        }

        return matrix;
    }

    /// <summary>A matrix whose elements (not only its padding) are NaN.</summary>
    public static StridedMatrix<T> Empty(int rows, int cols, int padding = 0, int offset = 0) => new(rows, cols, padding, offset);

    /// <summary>Random symmetric (Gaussian upper triangle mirrored).</summary>
    public static StridedMatrix<T> RandomSymmetric(int seed, int n, int padding = 0)
    {
        var matrix = Random(seed, n, n, padding);
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < i; j++)
            {
                matrix[i, j] = matrix[j, i];
            }
        }

        return matrix;
    }

    public static StridedMatrix<T> FromDense(double[] values, int rows, int cols, int padding = 0)
    {
        var matrix = new StridedMatrix<T>(rows, cols, padding, 0);
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < cols; j++)
            {
                matrix[i, j] = T.CreateTruncating(values[(i * cols) + j]);
            }
        }

        return matrix;
    }

    public StridedMatrix<T> Clone()
    {
        var copy = new StridedMatrix<T>(Rows, Cols, Stride - Math.Max(Cols, 1), Offset);
        Buffer.CopyTo(copy.Buffer, 0);
        return copy;
    }

    /// <summary>Element (i, j) of op(this) as a double.</summary>
    public double At(int i, int j, bool transpose) => double.CreateChecked(transpose ? this[j, i] : this[i, j]);

    public double[] ToDense()
    {
        var dense = new double[Rows * Cols];
        for (var i = 0; i < Rows; i++)
        {
            for (var j = 0; j < Cols; j++)
            {
                dense[(i * Cols) + j] = double.CreateChecked(this[i, j]);
            }
        }

        return dense;
    }

    /// <summary>Whether every element outside the view still holds the NaN it was created with.</summary>
    public bool PaddingIntact()
    {
        for (var index = 0; index < Buffer.Length; index++)
        {
            var inside = index >= Offset && (index - Offset) / Stride < Rows && (index - Offset) % Stride < Cols;
            if (!inside && !T.IsNaN(Buffer[index]))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Precision-aware comparison helpers shared by the Linalg tests.</summary>
internal static class TestPrecision
{
    public static double Epsilon<T>() where T : IFloatingPointIeee754<T> => Tolerance.MachineEpsilon<T>();

    public static string Name<T>() => typeof(T) == typeof(float) ? "fp32" : "fp64";
}
