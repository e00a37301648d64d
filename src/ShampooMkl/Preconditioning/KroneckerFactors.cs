using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Preconditioning;

/// <summary>Shampoo's statistics of one m×n block: L = Σ G·Gᵀ (m×m) and R = Σ Gᵀ·G (n×n), or their β₂-EMAs.</summary>
/// <remarks>Each update is one <c>syrk</c> per factor (half the flops of gemm). With β₂ = 1 the factors are
/// plain sums, as in Adagrad; with β₂ &lt; 1 they are exponential moving averages.
/// syrk reads and writes only the upper triangle, so the lower one is mirrored on the first read after updates
/// (<see cref="Left"/>, <see cref="Right"/>) rather than after every update: roots are refreshed every few steps,
/// statistics accumulate at every step, and mirroring a 1024² factor costs about as much as a small gemm.
/// Because a read may write the lower triangle, an instance is not safe for a read concurrent with another read or
/// with <see cref="Accumulate"/> (the optimizer gives each block to one thread at a time).</remarks>
internal sealed class KroneckerFactors<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly AlignedArray<T> left;
    private readonly AlignedArray<T> right;
    private readonly BlasBackend? blas;
    private bool lowerStale;

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

    /// <summary>L (m×m, row-major, symmetric: both triangles are valid).</summary>
    public MatrixView<T> Left
    {
        get
        {
            EnsureSymmetric();
            return new(left.Span, Rows, Rows);
        }
    }

    /// <summary>R (n×n, row-major, symmetric: both triangles are valid).</summary>
    public MatrixView<T> Right
    {
        get
        {
            EnsureSymmetric();
            return new(right.Span, Cols, Cols);
        }
    }

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
        // syrk with β reads only the upper triangle it writes, so a stale lower triangle changes no bit.
        SymmetricRankUpdate.Update(gradient, transpose: false, new MatrixView<T>(left.Span, Rows, Rows), alpha, beta, mirrorLower: false, blas);
        SymmetricRankUpdate.Update(gradient, transpose: true, new MatrixView<T>(right.Span, Cols, Cols), alpha, beta, mirrorLower: false, blas);
        lowerStale = true;
        Count++;
    }

    /// <summary>The even exponent e ≥ 0 of the statistics' scale: the statistics are 2^e·L and 2^e·R, with L and R as
    /// stored (0, the stored factors themselves, unless a rescale was needed to stay finite in <typeparamref name="T"/>).</summary>
    public int Exponent { get; private set; }

    /// <summary>The even k ≥ 0 by which <see cref="Exponent"/> must grow so that an update by a gradient of
    /// max |g| ≤ <paramref name="magnitude"/> keeps every stored entry of L and R below <typeparamref name="T"/>'s
    /// largest value with room for rounding (0 when it fits, as it always does in normal training).</summary>
    /// <remarks>L and R are positive semi-definite with Tr L = Tr R, so no entry exceeds the trace, and the stored trace
    /// after the update is at most β₂·Tr + (1−β₂)·2^-e·max|g|²·m·n (β₂ = 1: Tr + 2^-e·max|g|²·m·n).</remarks>
    internal int OverflowExponent(double magnitude)
    {
        var alpha = Beta2 == 1.0 ? 1.0 : 1.0 - Beta2;
        var history = (Beta2 == 1.0 ? 1.0 : Beta2) * Trace;
        var log2Limit = Math.Log2(FiniteCheck.LargestFinite<T>()) - 8;
        var log2Gradient = Math.Log2(alpha) + (2 * Math.Log2(magnitude)) + Math.Log2((double)Rows * Cols) - Exponent;
        // log2(a + b) ≤ max(log2 a, log2 b) + 1.
        var log2Need = Math.Max(log2Gradient, Math.Log2(history)) + 1;
        if (!(log2Need > log2Limit))
        {
            return 0;
        }

        var k = (int)Math.Min(Math.Ceiling(log2Need - log2Limit), 2000);
        return k + (k & 1);
    }

    /// <summary>Raises <see cref="Exponent"/> by the even <paramref name="k"/>: the stored L and R are multiplied by 2^-k
    /// (exact unless entries become subnormal), the statistics they represent unchanged.</summary>
    internal void Rescale(int k)
    {
        var factor = T.CreateTruncating(Math.ScaleB(1.0, -k));
        System.Numerics.Tensors.TensorPrimitives.Multiply<T>(left.Span, factor, left.Span);
        System.Numerics.Tensors.TensorPrimitives.Multiply<T>(right.Span, factor, right.Span);
        Exponent += k;
    }

    /// <summary>Sets L and R to zero, keeping the update count (the recovery of statistics that are not finite).</summary>
    internal void Clear()
    {
        left.Span.Clear();
        right.Span.Clear();
        lowerStale = false;
        Exponent = 0;
    }

    private void EnsureSymmetric()
    {
        if (lowerStale)
        {
            SymmetricRankUpdate.MirrorUpper(new MatrixView<T>(left.Span, Rows, Rows));
            SymmetricRankUpdate.MirrorUpper(new MatrixView<T>(right.Span, Cols, Cols));
            lowerStale = false;
        }
    }

    /// <summary>The bias-correction divisor 1 − β₂ᵗ for EMA statistics (1 for sums or before any update).</summary>
    public double BiasCorrection => Beta2 == 1.0 || Count == 0 ? 1.0 : 1.0 - Math.Pow(Beta2, Count);

    internal void Restore(ReadOnlySpan<double> l, ReadOnlySpan<double> r, long count, int exponent)
    {
        Exponent = exponent;
        Precision.Convert(l, left.Span);
        Precision.Convert(r, right.Span);
        // The upper triangle is the statistic (it is all syrk reads); the lower one is derived from it.
        lowerStale = true;
        Count = count;
    }

    /// <summary>Frees the factors.</summary>
    public void Dispose()
    {
        left.Dispose();
        right.Dispose();
    }
}
