using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Kronecker;

/// <summary>The paper's quality metrics of a Kronecker approximation Ĥ = A⊗B of H = Σ wᵢ gᵢgᵢᵀ, computed from the gradients without forming H.</summary>
/// <remarks>
/// ‖H‖_F² = Σᵢⱼ wᵢwⱼ⟨Gᵢ, Gⱼ⟩² needs the N×N Gram matrix of the stacked gradients, the one expensive metric
/// (N²·m·n flops), so it is computed once per sample by <see cref="ComputeHNorm{T}(GradientSample{T}, BlasBackend?)"/> and passed to the per-approximation
/// metrics. ⟨H, A⊗B⟩ = Σ wᵢ tr(Gᵢᵀ A Gᵢ B) costs 2·N·m·n·(m + n) flops; ‖A⊗B‖_F = ‖A‖_F‖B‖_F is free.
/// The Gram entries must be fp64 sums: an inner product of two random gradients is about ‖Gᵢ‖‖Gⱼ‖/√(mn), while an
/// fp32 dot of length m·n errs by about √(mn)·2⁻²⁴‖Gᵢ‖‖Gⱼ‖, which for a 256×784 layer is a percent of the entry.
/// fp32 samples are therefore promoted a column chunk at a time and accumulated by dsyrk with β = 1.
/// </remarks>
public static class KroneckerSimilarity
{
    /// <summary>‖H‖_F with H = Σ wᵢ gᵢgᵢᵀ, via the Gram matrix of the gradients (one blocked fp64 syrk; N×N doubles of memory).</summary>
    public static double ComputeHNorm<T>(GradientSample<T> sample, BlasBackend? blas = null) where T : unmanaged =>
        ComputeHNorm(sample, blas, chunkColumns: 0);

    internal static double ComputeHNorm<T>(GradientSample<T> sample, BlasBackend? blas, int chunkColumns) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(sample);
        var lib = BlasGuard.Resolve(blas);
        var count = sample.Count;
        var length = sample.GradientLength;
        using var gramBuffer = new AlignedArray<double>(checked(count * count));
        var gram = new MatrixView<double>(gramBuffer.Span, count, count);
        if (typeof(T) == typeof(double) && chunkColumns <= 0)
        {
            // fp64 storage is already the N×(m·n) stack: one syrk, no copy.
            var stack = new ReadOnlyMatrixView<double>(MemoryMarshal.Cast<T, double>(sample.Data), count, length);
            SymmetricRankUpdate.Update(stack, transpose: false, gram, 1.0, 0.0, mirrorLower: false, lib);
        }
        else
        {
            var width = chunkColumns > 0
                ? Math.Min(chunkColumns, length)
                : Math.Clamp(GradientChunks<T>.DefaultChunkElements / count, 1, length);
            using var columns = new AlignedArray<double>(count * width);
            var data = sample.Memory;
            for (var start = 0; start < length; start += width)
            {
                var w = Math.Min(width, length - start);
                var offset = start;
                Parallel.For(0, count, i => Promote(data.Span.Slice((i * length) + offset, w), columns.Span.Slice(i * w, w)));
                var block = new ReadOnlyMatrixView<double>(columns.Span[..(count * w)], count, w);
                SymmetricRankUpdate.Update(block, transpose: false, gram, 1.0, start == 0 ? 0.0 : 1.0, mirrorLower: false, lib);
            }
        }

        // Only the upper triangle is filled: diagonal once, each off-diagonal pair twice.
        var weights = sample.Weights;
        var total = 0.0;
        for (var i = 0; i < count; i++)
        {
            var row = gram.Row(i);
            var off = 0.0;
            for (var j = i + 1; j < count; j++)
            {
                off += weights[j] * row[j] * row[j];
            }

            total += weights[i] * ((weights[i] * row[i] * row[i]) + (2 * off));
        }

        return Math.Sqrt(total);
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
