using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Kronecker;

/// <summary>The paper's quality metrics of a Kronecker approximation Ĥ = A⊗B of H = Σ wᵢ gᵢgᵢᵀ, computed from the gradients without forming H.</summary>
/// <remarks>
/// ‖H‖_F² = Σᵢⱼ wᵢwⱼ⟨Gᵢ, Gⱼ⟩² needs the N×N Gram matrix of the stacked gradients (in blocks), or H itself when m·n &lt; N,
/// the one expensive metric (min(N²·m·n, N·(m·n)²) flops), so it is computed once per sample by
/// <see cref="ComputeHNorm{T}(GradientSample{T}, BlasBackend?)"/> and passed to the per-approximation metrics. ⟨H, A⊗B⟩ = Σ wᵢ tr(Gᵢᵀ A Gᵢ B) costs 2·N·m·n·(m + n) flops; ‖A⊗B‖_F = ‖A‖_F‖B‖_F is free.
/// The Gram entries must be fp64 sums: an inner product of two random gradients is about ‖Gᵢ‖‖Gⱼ‖/√(mn), while an
/// fp32 dot of length m·n errs by about √(mn)·2⁻²⁴‖Gᵢ‖‖Gⱼ‖, which for a 256×784 layer is a percent of the entry.
/// fp32 samples are therefore promoted a column tile at a time and accumulated by dsyrk/dgemm with β = 1.
/// </remarks>
public static class KroneckerSimilarity
{
    /// <summary>‖H‖_F with H = Σ wᵢ gᵢgᵢᵀ, for any N: through the Gram matrix of the gradients in square blocks of
    /// examples, or, when m·n &lt; N, through H itself (the smaller matrix); fp64 sums either way.</summary>
    /// <remarks>The gradients are multiplied by 2^−e first, e the binary exponent of the largest |entry| (exact: a power
    /// of two), so the fourth powers in ‖H‖² neither overflow nor underflow whatever the scale of the gradients; the
    /// result is scaled back by 4^e and is ∞ or 0 only when ‖H‖ itself is outside the fp64 range. Memory is bounded
    /// (tens of MB of blocks, or H when it is at most 256 MB), never N×N.</remarks>
    public static double ComputeHNorm<T>(GradientSample<T> sample, BlasBackend? blas = null) where T : unmanaged =>
        ComputeHNorm(sample, blas, chunkColumns: 0);

    internal static double ComputeHNorm<T>(GradientSample<T> sample, BlasBackend? blas, int chunkColumns, int blockExamples = 0, HNormPath? path = null)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(sample);
        var lib = BlasGuard.Resolve(blas);
        if (!(sample.MaxMagnitude > 0))
        {
            return 0;
        }

        var exponent = Math.ILogB(sample.MaxMagnitude);
        var plan = HNormPlan.For(sample.Count, sample.GradientLength, chunkColumns, blockExamples, path);
        var squared = plan.Path == HNormPath.Covariance
            ? CovarianceSquaredNorm(sample, plan, exponent, lib)
            : BlockedGramSquaredNorm(sample, plan, exponent, lib);
        return Math.ScaleB(Math.Sqrt(squared), 2 * exponent);
    }

    // ‖H'‖² for the gradients scaled by 2^−e, from the Gram matrix in b×b blocks: a diagonal block by syrk, the others by
    // gemm, each accumulated over column tiles; Σ wᵢwⱼK_ij² summed block by block in a fixed order.
    private static double BlockedGramSquaredNorm<T>(GradientSample<T> sample, HNormPlan plan, int exponent, BlasBackend lib) where T : unmanaged
    {
        int count = sample.Count, length = sample.GradientLength, block = plan.BlockExamples, width = plan.ChunkColumns;
        using var blockBuffer = new AlignedArray<double>(checked(block * block));
        using var first = new AlignedArray<double>(checked(block * width));
        using var second = block == count ? null : new AlignedArray<double>(checked(block * width));
        var weights = sample.Weights;
        var total = 0.0;
        for (var i0 = 0; i0 < count; i0 += block)
        {
            var rows = Math.Min(block, count - i0);
            for (var j0 = i0; j0 < count; j0 += block)
            {
                var cols = Math.Min(block, count - j0);
                var diagonal = i0 == j0;
                var gram = new MatrixView<double>(blockBuffer.Span[..(rows * cols)], rows, cols);
                for (var start = 0; start < length; start += width)
                {
                    var w = Math.Min(width, length - start);
                    var beta = start == 0 ? 0.0 : 1.0;
                    PromoteTile(sample, i0, rows, start, w, exponent, first);
                    var a = new ReadOnlyMatrixView<double>(first.Span[..(rows * w)], rows, w);
                    if (diagonal)
                    {
                        SymmetricRankUpdate.Update(a, transpose: false, gram, 1.0, beta, mirrorLower: false, lib);
                    }
                    else
                    {
                        PromoteTile(sample, j0, cols, start, w, exponent, second!);
                        MatrixProduct.Multiply(a, false, new ReadOnlyMatrixView<double>(second!.Span[..(cols * w)], cols, w), true, gram, 1.0, beta, lib);
                    }
                }

                for (var i = 0; i < rows; i++)
                {
                    var row = gram.Row(i);
                    var off = 0.0;
                    for (var j = diagonal ? i + 1 : 0; j < cols; j++)
                    {
                        off += weights[j0 + j] * row[j] * row[j];
                    }

                    var wi = weights[i0 + i];
                    total += diagonal ? wi * ((wi * row[i] * row[i]) + (2 * off)) : wi * 2 * off;
                }
            }
        }

        return total;
    }

    // ‖H'‖² for the gradients scaled by 2^−e, with H' = Σ wᵢ gᵢgᵢᵀ formed by syrk over chunks of √wᵢ-scaled rows.
    private static double CovarianceSquaredNorm<T>(GradientSample<T> sample, HNormPlan plan, int exponent, BlasBackend lib) where T : unmanaged
    {
        int count = sample.Count, length = sample.GradientLength, chunk = plan.BlockExamples;
        using var hBuffer = new AlignedArray<double>(checked(length * length));
        using var rowsBuffer = new AlignedArray<double>(checked(chunk * length));
        var h = new MatrixView<double>(hBuffer.Span, length, length);
        for (var first = 0; first < count; first += chunk)
        {
            var rows = Math.Min(chunk, count - first);
            PromoteTile(sample, first, rows, 0, length, exponent, rowsBuffer);
            var owner = sample;
            var buffer = rowsBuffer;
            var offset = first;
            Parallel.For(0, rows, i =>
            {
                var row = buffer.Span.Slice(i * length, length);
                TensorPrimitives.Multiply(row, Math.Sqrt(owner.Weights[offset + i]), row);
            });
            SymmetricRankUpdate.Update(new ReadOnlyMatrixView<double>(rowsBuffer.Span[..(rows * length)], rows, length), transpose: true, h,
                1.0, first == 0 ? 0.0 : 1.0, mirrorLower: false, lib);
        }

        var total = 0.0;
        for (var k = 0; k < length; k++)
        {
            var row = h.Row(k);
            var off = 0.0;
            for (var l = k + 1; l < length; l++)
            {
                off += row[l] * row[l];
            }

            total += (row[k] * row[k]) + (2 * off);
        }

        return total;
    }

    // Columns [start, start + w) of examples [first, first + rows), promoted to fp64 and multiplied by 2^−e, into a rows×w tile.
    private static void PromoteTile<T>(GradientSample<T> sample, int first, int rows, int start, int w, int exponent, AlignedArray<double> tile)
        where T : unmanaged
    {
        var data = sample.Memory;
        var length = sample.GradientLength;
        Parallel.For(0, rows, i =>
        {
            var target = tile.Span.Slice(i * w, w);
            Promote(data.Span.Slice(((first + i) * length) + start, w), target);
            ScaleByPowerOfTwo(target, -exponent);
        });
    }

    // x ← x·2^k exactly (two steps when 2^k itself is not a normal double, e.g. for subnormal gradients).
    private static void ScaleByPowerOfTwo(Span<double> x, int k)
    {
        if (k == 0)
        {
            return;
        }

        var half = k / 2;
        if (Math.Abs(k) <= 1000)
        {
            TensorPrimitives.Multiply(x, Math.ScaleB(1.0, k), x);
            return;
        }

        TensorPrimitives.Multiply(x, Math.ScaleB(1.0, half), x);
        TensorPrimitives.Multiply(x, Math.ScaleB(1.0, k - half), x);
    }

    /// <summary>⟨H, A⊗B⟩_F = Σ wᵢ tr(Gᵢᵀ A Gᵢ Bᵀ), batched through gemm.</summary>
    /// <exception cref="ArgumentException">The pair's shape differs from the sample's.</exception>
    public static double InnerProduct<T>(GradientSample<T> sample, KroneckerPair approximation, BlasBackend? blas = null) where T : unmanaged =>
        InnerProduct(sample, approximation, blas, chunkExamples: 0);

    internal static double InnerProduct<T>(GradientSample<T> sample, KroneckerPair approximation, BlasBackend? blas, int chunkExamples)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(approximation);
        if (approximation.Rows != sample.Rows || approximation.Cols != sample.Cols)
        {
            throw new ArgumentException($"The pair approximates {approximation.Rows}×{approximation.Cols} gradients, the sample holds {sample.Rows}×{sample.Cols}.", nameof(approximation));
        }

        using var op = new RearrangementOperator<T>(sample, chunkExamples);
        return op.InnerProduct(approximation.A, approximation.B, blas);
    }

    /// <summary>cos(H, A⊗B) = ⟨H, A⊗B⟩ / (‖H‖_F ‖A‖_F ‖B‖_F): one pass over the sample, given ‖H‖_F.</summary>
    public static double Cosine<T>(GradientSample<T> sample, KroneckerPair approximation, double hNorm, BlasBackend? blas = null)
        where T : unmanaged =>
        Cosine(InnerProduct(sample, approximation, blas), hNorm, approximation);

    /// <summary>cos(H, A⊗B) from an already known ⟨H, A⊗B⟩ (e.g. a power iteration's σ·‖A‖²‖B‖²).</summary>
    public static double Cosine(double innerProduct, double hNorm, KroneckerPair approximation)
    {
        ArgumentNullException.ThrowIfNull(approximation);
        return innerProduct / (hNorm * approximation.FrobeniusNorm);
    }

    /// <summary>cos(X, Y) of two Kronecker products, = ⟨A_x, A_y⟩⟨B_x, B_y⟩ / (‖A_x‖‖B_x‖‖A_y‖‖B_y‖); needs no sample.</summary>
    /// <remarks>Compares approximations with each other, e.g. Shampoo² against the optimum, scale-free.</remarks>
    public static double Cosine(KroneckerPair x, KroneckerPair y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Rows != y.Rows || x.Cols != y.Cols)
        {
            throw new ArgumentException($"Pairs of different shapes: {x.Rows}×{x.Cols} and {y.Rows}×{y.Cols}.");
        }

        return TensorPrimitives.CosineSimilarity<double>(x.A, y.A) * TensorPrimitives.CosineSimilarity<double>(x.B, y.B);
    }

    /// <summary>‖H − A⊗B‖_F / ‖H‖_F at the pair's own scale, = √(‖H‖² − 2⟨H, A⊗B⟩ + ‖A⊗B‖²) / ‖H‖.</summary>
    /// <remarks>The expansion cancels when Ĥ ≈ H, so values below about 1e-7 are round-off, not accuracy. Unscaled
    /// approximations such as Shampoo's L^{1/2}⊗R^{1/2} have no meaningful scale here; use the scale-free metrics for them.</remarks>
    public static double RelativeError(double innerProduct, double hNorm, KroneckerPair approximation)
    {
        ArgumentNullException.ThrowIfNull(approximation);
        var norm = approximation.FrobeniusNorm;
        var squared = (hNorm * hNorm) - (2 * innerProduct) + (norm * norm);
        return Math.Sqrt(Math.Max(squared, 0)) / hNorm;
    }

    /// <summary>min_c ‖H − c·Ĥ‖_F / ‖H‖_F = √(1 − cos²(H, Ĥ)): the error after the best rescaling, the fair comparison for
    /// preconditioners whose scale is set elsewhere (Adagrad's Σ vs E, Shampoo's L^{1/2}⊗R^{1/2}, grafting).</summary>
    public static double ScaleFreeRelativeError(double cosine) => Math.Sqrt(Math.Max(0, 1 - (cosine * cosine)));

    private static void Promote<T>(ReadOnlySpan<T> source, Span<double> target) where T : unmanaged
    {
        if (typeof(T) == typeof(double))
        {
            MemoryMarshal.Cast<T, double>(source).CopyTo(target);
        }
        else
        {
            TensorPrimitives.ConvertChecked(MemoryMarshal.Cast<T, float>(source), target);
        }
    }
}
