using System.Numerics.Tensors;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Kronecker;

/// <summary>Real powers (A + εI)^s of a symmetric PSD matrix via <c>syevd</c>, in fp64, eigenvalues clamped at zero.</summary>
/// <remarks>
/// Used for analysis quantities such as Shampoo's L^{1/2}, not on the optimizer's hot path (that is <see cref="InverseRoot"/>).
/// Clamping is needed because round-off leaves a PSD matrix's smallest eigenvalues slightly negative, and a
/// negative base has no real power. The result is assembled as (D^{s/2}E)ᵀ(D^{s/2}E) by syrk, so it is exactly
/// symmetric and PSD, which later eigendecompositions and Kronecker products rely on.
/// </remarks>
public static class MatrixPower
{
    /// <summary>Writes (max(A, 0) + εI)^s into <paramref name="result"/>.</summary>
    /// <param name="matrix">Symmetric PSD n×n input (its upper triangle is read); not modified.</param>
    /// <param name="exponent">Any finite s; 0 gives I.</param>
    /// <param name="result">n×n output; may not overlap the input.</param>
    /// <param name="epsilon">ε ≥ 0 added after clamping; a negative s needs ε &gt; 0 unless A is positive definite.</param>
    /// <param name="blas">Backend, or the default.</param>
    /// <exception cref="ArgumentException">Shapes differ, s is not finite, ε is negative, or the spans overlap.</exception>
    /// <exception cref="InvalidOperationException">LAPACK failed, the input was not finite, or the power is not finite
    /// (a zero eigenvalue with s &lt; 0 and ε = 0).</exception>
    public static void Compute(ReadOnlyMatrixView<double> matrix, double exponent, MatrixView<double> result,
        double epsilon = 0, BlasBackend? blas = null) => Compute(matrix, exponent, result, epsilon, blas, pool: null);

    /// <summary><see cref="Compute(ReadOnlyMatrixView{double}, double, MatrixView{double}, double, BlasBackend?)"/> with
    /// scratch from <paramref name="pool"/> (null: the shared one).</summary>
    internal static void Compute(ReadOnlyMatrixView<double> matrix, double exponent, MatrixView<double> result,
        double epsilon, BlasBackend? blas, BufferPool? pool)
    {
        var n = matrix.Rows;
        if (matrix.Cols != n || result.Rows != n || result.Cols != n || n < 1)
        {
            throw new ArgumentException($"MatrixPower needs square n×n input and output, got {matrix.Rows}×{matrix.Cols} and {result.Rows}×{result.Cols}.");
        }

        if (!double.IsFinite(exponent))
        {
            throw new ArgumentOutOfRangeException(nameof(exponent), exponent, "The exponent must be finite.");
        }

        if (!(epsilon >= 0) || double.IsInfinity(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be a non-negative finite number.");
        }

        BlasGuard.NoOverlap(matrix.Data, result.Data, "matrix", "result");
        var lib = BlasGuard.Resolve(blas);
        pool ??= BufferPool.Shared;
        using var basisBuffer = pool.Rent<double>(n * n);
        using var scaledBuffer = pool.Rent<double>(n * n);
        using var valuesBuffer = pool.Rent<double>(n);
        var basis = new MatrixView<double>(basisBuffer.Span, n, n);
        var scaled = new MatrixView<double>(scaledBuffer.Span, n, n);
        var values = valuesBuffer.Span;
        for (var i = 0; i < n; i++)
        {
            matrix.Row(i).CopyTo(basis.Row(i));
        }

        if (!FiniteCheck.All(basis.Data))
        {
            throw new InvalidOperationException("MatrixPower input contains NaN or infinite values.");
        }

        using (var eigen = new SymmetricEigen<double>(n, lib, pool))
        {
            var info = eigen.Decompose(basis, values);
            if (info != 0 || !FiniteCheck.All(values))
            {
                throw new InvalidOperationException($"syevd failed for a {n}×{n} matrix (info={info}).");
            }
        }

        var half = 0.5 * exponent;
        for (var k = 0; k < n; k++)
        {
            var s = Math.Pow(Math.Max(values[k], 0.0) + epsilon, half);
            TensorPrimitives.Multiply(basis.Row(k), s, scaled.Row(k));
        }

        SymmetricRankUpdate.Update<double>(scaled, transpose: true, result, 1.0, 0.0, mirrorLower: true, lib);
        for (var i = 0; i < n; i++)
        {
            if (!FiniteCheck.All(result.Row(i)))
            {
                throw new InvalidOperationException($"A^{exponent} is not finite: a zero eigenvalue with a negative exponent needs ε > 0.");
            }
        }
    }

    /// <summary>Convenience overload on a dense row-major n×n array; returns a new array.</summary>
    public static double[] Compute(double[] matrix, int order, double exponent, double epsilon = 0, BlasBackend? blas = null)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var result = new double[order * order];
        Compute(new ReadOnlyMatrixView<double>(matrix, order, order), exponent, new MatrixView<double>(result, order, order), epsilon, blas);
        return result;
    }
}
