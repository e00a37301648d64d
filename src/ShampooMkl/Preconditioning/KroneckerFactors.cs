using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Preconditioning;

/// <summary>Shampoo's statistics of one m×n block: L = Σ G·Gᵀ (m×m) and R = Σ Gᵀ·G (n×n), or their β₂-EMAs.</summary>
/// <remarks>Each update is one <c>syrk</c> per factor (half the flops of gemm). With β₂ = 1 the factors are
/// plain sums, as in Adagrad; with β₂ &lt; 1 they are exponential moving averages.</remarks>
public sealed class KroneckerFactors<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly AlignedArray<T> left;
    private readonly AlignedArray<T> right;
    private readonly BlasBackend? blas;

    /// <summary>Zero statistics for an m×n block.</summary>
    public KroneckerFactors(int rows, int cols, double beta2, BlasBackend? blas = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        if (!(beta2 > 0 && beta2 <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "β₂ must be in (0, 1].");
        }

        Rows = rows;
        Cols = cols;
        Beta2 = beta2;
        this.blas = blas;
        left = new AlignedArray<T>(rows * rows);
        right = new AlignedArray<T>(cols * cols);
    }

    /// <summary>m.</summary>
    public int Rows { get; }

    /// <summary>n.</summary>
    public int Cols { get; }

    /// <summary>EMA coefficient (1 = sum).</summary>
    public double Beta2 { get; }

    /// <summary>Gradients accumulated so far.</summary>
    public long Count { get; private set; }

    /// <summary>L (m×m, row-major, symmetric).</summary>
    public MatrixView<T> Left => new(left.Span, Rows, Rows);

    /// <summary>R (n×n, row-major, symmetric).</summary>
    public MatrixView<T> Right => new(right.Span, Cols, Cols);

    /// <summary>Tr(L) = Tr(R) = Σ‖G‖²_F (weighted as accumulated): the trace of the Adagrad matrix H.</summary>
    public double Trace
    {
        get
        {
            var sum = 0.0;
            var l = left.Span;
            for (var i = 0; i < Rows; i++)
            {
                sum += double.CreateTruncating(l[(i * Rows) + i]);
            }

            return sum;
        }
    }

    /// <summary>Adds one gradient: L ← β₂·L + (1−β₂)·G·Gᵀ, R ← β₂·R + (1−β₂)·Gᵀ·G (β₂ = 1: plain sums).</summary>
    /// <remarks>The caller has validated shape and finiteness; this is the hot path.</remarks>
    public void Accumulate(ReadOnlyMatrixView<T> gradient)
    {
        var alpha = Beta2 == 1.0 ? T.One : T.CreateTruncating(1.0 - Beta2);
        var beta = T.CreateTruncating(Beta2);
        SymmetricRankUpdate.Update(gradient, transpose: false, Left, alpha, beta, mirrorLower: true, blas);
        SymmetricRankUpdate.Update(gradient, transpose: true, Right, alpha, beta, mirrorLower: true, blas);
        Count++;
    }

    /// <summary>The bias-correction divisor 1 − β₂ᵗ for EMA statistics (1 for sums or before any update).</summary>
    public double BiasCorrection => Beta2 == 1.0 || Count == 0 ? 1.0 : 1.0 - Math.Pow(Beta2, Count);

    internal void Restore(ReadOnlySpan<double> l, ReadOnlySpan<double> r, long count)
    {
        Precision.Convert(l, left.Span);
        Precision.Convert(r, right.Span);
        Count = count;
    }

    /// <summary>Frees the factors.</summary>
    public void Dispose()
    {
        left.Dispose();
        right.Dispose();
    }
}
