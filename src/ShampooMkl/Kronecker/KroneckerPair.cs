using System.Numerics.Tensors;
using ShampooMkl.Memory;

namespace ShampooMkl.Kronecker;

/// <summary>A Kronecker-factored approximation A ⊗ B of an mn×mn matrix, any scale folded into the factors (fp64, row-major).</summary>
/// <remarks>With row-major vec (docs/design.md, 'Conventions'), (A ⊗ B) vec(G) = vec(A G Bᵀ): A (m×m) acts on a gradient's rows, B (n×n) on its columns.
/// The factors are not copied; treat them as immutable once wrapped.</remarks>
public sealed class KroneckerPair
{
    /// <summary>Wraps A (m×m) and B (n×n).</summary>
    /// <exception cref="ArgumentException">A is not m×m or B is not n×n.</exception>
    public KroneckerPair(double[] a, int rows, double[] b, int cols)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        if (a.Length != rows * rows || b.Length != cols * cols)
        {
            throw new ArgumentException($"A must be {rows}×{rows} and B {cols}×{cols}; got {a.Length} and {b.Length} elements.");
        }

        A = a;
        B = b;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>The left factor A (m×m).</summary>
    public double[] A { get; }

    /// <summary>The right factor B (n×n).</summary>
    public double[] B { get; }

    /// <summary>m.</summary>
    public int Rows { get; }

    /// <summary>n.</summary>
    public int Cols { get; }

    /// <summary>A as a matrix view.</summary>
    public ReadOnlyMatrixView<double> AView => new(A, Rows, Rows);

    /// <summary>B as a matrix view.</summary>
    public ReadOnlyMatrixView<double> BView => new(B, Cols, Cols);

    /// <summary>‖A ⊗ B‖_F = ‖A‖_F ‖B‖_F.</summary>
    public double FrobeniusNorm => TensorPrimitives.Norm(A) * TensorPrimitives.Norm(B);

    /// <summary>Tr(A ⊗ B) = Tr(A) Tr(B).</summary>
    public double Trace => TraceOf(A, Rows) * TraceOf(B, Cols);

    /// <summary>The same approximation with A and B rescaled to unit Frobenius norm, and the scale s with A ⊗ B = s·Â ⊗ B̂.</summary>
    public (KroneckerPair Unit, double Scale) Normalized()
    {
        var na = TensorPrimitives.Norm(A);
        var nb = TensorPrimitives.Norm(B);
        if (!(na > 0) || !(nb > 0))
        {
            throw new InvalidOperationException("A zero factor has no direction.");
        }

        var a = new double[A.Length];
        var b = new double[B.Length];
        TensorPrimitives.Multiply(A, 1 / na, a);
        TensorPrimitives.Multiply(B, 1 / nb, b);
        return (new KroneckerPair(a, Rows, b, Cols), na * nb);
    }

    /// <summary>s·(A ⊗ B), with √s folded into each factor so both keep comparable magnitudes (s ≥ 0).</summary>
    public KroneckerPair Scaled(double scale)
    {
        if (!(scale >= 0) || double.IsInfinity(scale))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The scale must be finite and non-negative.");
        }

        var root = Math.Sqrt(scale);
        var a = new double[A.Length];
        var b = new double[B.Length];
        TensorPrimitives.Multiply(A, root, a);
        TensorPrimitives.Multiply(B, root, b);
        return new KroneckerPair(a, Rows, b, Cols);
    }

    internal static double TraceOf(ReadOnlySpan<double> matrix, int order)
    {
        var sum = 0.0;
        for (var i = 0; i < order; i++)
        {
            sum += matrix[(i * order) + i];
        }

        return sum;
    }
}
