using System.Numerics.Tensors;
using ShampooMkl.Memory;

namespace ShampooMkl.Linalg;

/// <summary>The Van Loan rearrangement R(H) of H = Σ wᵢ gᵢgᵢᵀ applied to factors, from the stored gradients, never forming H.</summary>
/// <remarks>
/// R(H) vec(B) = Σ wᵢ Gᵢ B Gᵢᵀ, R(H)ᵀ vec(A) = Σ wᵢ Gᵢᵀ A Gᵢ and ⟨H, A⊗B⟩ = vec(A)ᵀ R(H) vec(B) = Σ wᵢ ⟨A Gᵢ, Gᵢ B⟩ (DESIGN §1).
/// Per chunk of c examples, with V = [G₁; …; G_c] ((c·m)×n) and W = [G₁ … G_c] (m×(c·n)) from <see cref="GradientChunks{T}"/>,
/// every product is one large BLAS call over the whole chunk (V·Qᵀ, P·W, V·B, A·W, and the syrk reductions); between
/// them the block-diagonal sum over examples is a memory-bound re-layout between the vertical and horizontal stacks,
/// e.g. Σ wᵢ GᵢBGᵢᵀ = H_s (I ⊗ B) H_sᵀ of the issue. There is never a per-example BLAS call: small calls each pay a
/// threading fork/join, which on a busy 2-core machine costs more than their arithmetic.
/// Every sum is accumulated in fp64 by BLAS's β = 1 across chunks.
/// </remarks>
internal sealed class RearrangementOperator<T> where T : unmanaged
{
    private readonly GradientSample<T> sample;
    private readonly BlasBackend blas;
    private readonly int chunkExamples;

    public RearrangementOperator(GradientSample<T> sample, BlasBackend? blas, int chunkExamples = 0)
    {
        ArgumentNullException.ThrowIfNull(sample);
        this.sample = sample;
        this.blas = BlasGuard.Resolve(blas);
        this.chunkExamples = chunkExamples;
    }

    /// <summary>nextA ← R(H) vec(B) = Σ wᵢ Gᵢ B Gᵢᵀ and nextB ← R(H)ᵀ vec(A) = Σ wᵢ Gᵢᵀ A Gᵢ, both from the given (previous) pair.</summary>
    /// <remarks>
    /// A and B must be symmetric PSD (power iterates from PSD starts are); round-off negative eigenvalues are clamped.
    /// Factoring them as A = PᵀP and B = QᵀQ (eigenvectors scaled by √λ) turns each sum into a Gram matrix,
    /// Σ wᵢ (GᵢQᵀ)(GᵢQᵀ)ᵀ and Σ wᵢ (PGᵢ)ᵀ(PGᵢ): the reductions become syrk (half a gemm's flops), which cuts a pass from
    /// 4·N·m·n·(m + n) to 3·N·m·n·(m + n) flops for two eigendecompositions, and the results are exactly symmetric PSD.
    /// </remarks>
    public void Apply(ReadOnlyMatrixView<double> a, ReadOnlyMatrixView<double> b, MatrixView<double> nextA, MatrixView<double> nextB)
    {
        int m = sample.Rows, n = sample.Cols;
        using var aFactor = new AlignedArray<double>(m * m);
        using var bFactor = new AlignedArray<double>(n * n);
        var p = new MatrixView<double>(aFactor.Span, m, m);
        var q = new MatrixView<double>(bFactor.Span, n, n);
        GramFactor(a, p);
        GramFactor(b, q);

        using var chunks = new GradientChunks<T>(sample, needVertical: true, needHorizontal: true, scaleBySqrtWeight: false, chunkExamples);
        var elements = chunks.ChunkExamples * sample.GradientLength;
        using var products = new AlignedArray<double>(elements);
        using var relaid = new AlignedArray<double>(elements);
        for (var first = 0; first < sample.Count; first += chunks.ChunkExamples)
        {
            var count = Math.Min(chunks.ChunkExamples, sample.Count - first);
            chunks.Load(first, count);
            var beta = first == 0 ? 0.0 : 1.0;
            var length = count * sample.GradientLength;

            // A side: [G₁Qᵀ; …] in one gemm, re-laid out as [√w₁G₁Qᵀ … ], then Σ wᵢ GᵢBGᵢᵀ as one syrk.
            MatrixProduct.Multiply(chunks.Vertical, false, q, true,
                new MatrixView<double>(products.Span[..length], count * m, n), 1.0, 0.0, blas);
            VerticalToHorizontal(products, relaid, first, count);
            SymmetricRankUpdate.Update(new ReadOnlyMatrixView<double>(relaid.Span[..length], m, count * n), transpose: false,
                nextA, 1.0, beta, mirrorLower: false, blas);

            // B side: [PG₁ … PG_c] in one gemm, re-laid out as [√w₁PG₁; …], then Σ wᵢ GᵢᵀAGᵢ as one syrk.
            MatrixProduct.Multiply(p, false, chunks.Horizontal, false, new MatrixView<double>(products.Span[..length], m, count * n), 1.0, 0.0, blas);
            HorizontalToVertical(products, relaid, first, count);
            SymmetricRankUpdate.Update(new ReadOnlyMatrixView<double>(relaid.Span[..length], count * m, n), transpose: true,
                nextB, 1.0, beta, mirrorLower: false, blas);
        }

        SymmetricRankUpdate.MirrorUpper(nextA);
        SymmetricRankUpdate.MirrorUpper(nextB);
    }

    /// <summary>⟨H, A ⊗ B⟩ = Σ wᵢ ⟨A Gᵢ, Gᵢ B⟩: the two products of <see cref="Apply"/> without the reductions, then dots.</summary>
    public double InnerProduct(ReadOnlyMatrixView<double> a, ReadOnlyMatrixView<double> b)
    {
        int m = sample.Rows, n = sample.Cols;
        using var chunks = new GradientChunks<T>(sample, needVertical: true, needHorizontal: true, scaleBySqrtWeight: false, chunkExamples);
        var elements = chunks.ChunkExamples * sample.GradientLength;
        using var right = new AlignedArray<double>(elements);
        using var left = new AlignedArray<double>(elements);
        var total = 0.0;
        for (var first = 0; first < sample.Count; first += chunks.ChunkExamples)
        {
            var count = Math.Min(chunks.ChunkExamples, sample.Count - first);
            chunks.Load(first, count);
            var length = count * sample.GradientLength;
            MatrixProduct.Multiply(chunks.Vertical, false, b, false, new MatrixView<double>(right.Span[..length], count * m, n), 1.0, 0.0, blas);
            MatrixProduct.Multiply(a, false, chunks.Horizontal, false, new MatrixView<double>(left.Span[..length], m, count * n), 1.0, 0.0, blas);
            total += BlockDots(right, left, first, count);
        }

        return total;
    }

    // [Y₁; …; Y_c] ((c·m)×n) → [√w₁Y₁ … √w_cY_c] (m×(c·n)).
    private void VerticalToHorizontal(AlignedArray<double> source, AlignedArray<double> target, int first, int count)
    {
        int m = sample.Rows, n = sample.Cols, stride = count * n;
        var owner = sample;
        Parallel.For(0, count, i =>
        {
            var w = Math.Sqrt(owner.Weights[first + i]);
            var src = source.Span;
            var dst = target.Span;
            for (var r = 0; r < m; r++)
            {
                TensorPrimitives.Multiply(src.Slice(((i * m) + r) * n, n), w, dst.Slice((r * stride) + (i * n), n));
            }
        });
    }

    // [Z₁ … Z_c] (m×(c·n)) → [√w₁Z₁; …; √w_cZ_c] ((c·m)×n).
    private void HorizontalToVertical(AlignedArray<double> source, AlignedArray<double> target, int first, int count)
    {
        int m = sample.Rows, n = sample.Cols, stride = count * n;
        var owner = sample;
        Parallel.For(0, count, i =>
        {
            var w = Math.Sqrt(owner.Weights[first + i]);
            var src = source.Span;
            var dst = target.Span;
            for (var r = 0; r < m; r++)
            {
                TensorPrimitives.Multiply(src.Slice((r * stride) + (i * n), n), w, dst.Slice(((i * m) + r) * n, n));
            }
        });
    }

    // Σᵢ wᵢ ⟨GᵢB, AGᵢ⟩ with GᵢB stacked vertically in `vertical` and AGᵢ side by side in `horizontal`.
    private double BlockDots(AlignedArray<double> vertical, AlignedArray<double> horizontal, int first, int count)
    {
        int m = sample.Rows, n = sample.Cols, stride = count * n;
        var partial = new double[count];
        var owner = sample;
        Parallel.For(0, count, i =>
        {
            var v = vertical.Span;
            var h = horizontal.Span;
            var sum = 0.0;
            for (var r = 0; r < m; r++)
            {
                sum += TensorPrimitives.Dot<double>(v.Slice(((i * m) + r) * n, n), h.Slice((r * stride) + (i * n), n));
            }

            partial[i] = owner.Weights[first + i] * sum;
        });

        // Summed in example order so the result does not depend on thread scheduling.
        var total = 0.0;
        foreach (var p in partial)
        {
            total += p;
        }

        return total;
    }

    // X = FᵀF for symmetric PSD X: F's rows are X's eigenvectors scaled by √max(λ, 0).
    private void GramFactor(ReadOnlyMatrixView<double> x, MatrixView<double> factor)
    {
        var order = x.Rows;
        using var values = new AlignedArray<double>(order);
        for (var i = 0; i < order; i++)
        {
            x.Row(i).CopyTo(factor.Row(i));
        }

        using (var eigen = new SymmetricEigen<double>(order, blas))
        {
            var info = eigen.Decompose(factor, values.Span);
            if (info != 0 || !FiniteCheck.All(values.Span))
            {
                throw new InvalidOperationException($"syevd failed on a {order}×{order} power-iteration factor (info={info}).");
            }
        }

        for (var k = 0; k < order; k++)
        {
            TensorPrimitives.Multiply(factor.Row(k), Math.Sqrt(Math.Max(values.Span[k], 0)), factor.Row(k));
        }
    }
}
