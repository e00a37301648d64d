using System.Numerics.Tensors;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Kronecker;

/// <summary>The Van Loan rearrangement R(H) of H = Σ wᵢ gᵢgᵢᵀ applied to factors, from the stored gradients, never forming H.</summary>
/// <remarks>
/// R(H) vec(B) = Σ wᵢ Gᵢ B Gᵢᵀ, R(H)ᵀ vec(A) = Σ wᵢ Gᵢᵀ A Gᵢ and ⟨H, A⊗B⟩ = vec(A)ᵀ R(H) vec(B) = Σ wᵢ ⟨A Gᵢ, Gᵢ B⟩ (docs/design.md, 'Conventions').
/// Per chunk of c examples, with V = [G₁; …; G_c] ((c·m)×n) and W = [G₁ … G_c] (m×(c·n)) from <see cref="GradientChunks{T}"/>,
/// every product is one large BLAS call over the whole chunk (V·B, A·W and the reductions); between them the
/// block-diagonal sum over examples is a memory-bound re-layout between the vertical and horizontal stacks,
/// e.g. Σ wᵢ GᵢBGᵢᵀ = H_s (I ⊗ B) H_sᵀ of the issue. There is never a per-example BLAS call: small calls each pay a
/// threading fork/join, which for calls this small can cost more than their arithmetic.
/// Every sum is accumulated in fp64 by BLAS's β = 1 across chunks. The chunk buffers are allocated once per operator
/// and reused by every pass.
/// </remarks>
internal sealed class RearrangementOperator<T> : IKroneckerOperator where T : unmanaged
{
    /// <summary>Cost of an order-d eigendecomposition in gemm-flop equivalents, per d³, with a margin: the measured
    /// syevd-to-gemm ratio (docs/performance.md) rounded up towards the plain path because the saving it is weighed against is counted at gemm's flop rate while syrk usually runs
    /// slower per flop, and because the syevd timing varies from run to run. Near the break-even the two paths cost
    /// about the same, so the exact value matters little.</summary>
    private const double EigenCostPerCube = 16;

    private readonly GradientSample<T> sample;
    private readonly int chunkExamples;
    private readonly bool? factorGram;
    private GradientChunks<T>? chunks;
    private AlignedArray<double>? first;
    private AlignedArray<double>? second;

    /// <param name="sample">The gradients.</param>
    /// <param name="chunkExamples">Examples per chunk; 0 picks a chunk of about 32 MB.</param>
    /// <param name="factorGram">Whether each side's reduction goes through the Gram factor of the other side's matrix
    /// (true), a plain gemm (false), or whichever costs less (null).</param>
    public RearrangementOperator(GradientSample<T> sample, int chunkExamples = 0, bool? factorGram = null)
    {
        ArgumentNullException.ThrowIfNull(sample);
        this.sample = sample;
        this.chunkExamples = chunkExamples;
        this.factorGram = factorGram;
    }

    public int Rows => sample.Rows;

    public int Cols => sample.Cols;

    /// <summary>nextA ← R(H) vec(B) = Σ wᵢ Gᵢ B Gᵢᵀ and nextB ← R(H)ᵀ vec(A) = Σ wᵢ Gᵢᵀ A Gᵢ, both from the given (previous) pair.</summary>
    /// <remarks>
    /// A and B must be symmetric PSD (power iterates from PSD starts are). Each side is reduced one of two ways:
    /// - plainly, e.g. Σ wᵢ (GᵢB)Gᵢᵀ = [w₁G₁B … ] Wᵀ: a gemm of 2·N·m²·n flops, the result symmetrised;
    /// - through B = QᵀQ (eigenvectors scaled by √max(λ, 0)): Σ wᵢ (GᵢQᵀ)(GᵢQᵀ)ᵀ is a Gram matrix, one syrk of half
    ///   those flops and exactly symmetric PSD, but it costs an n×n eigendecomposition.
    /// The factor pays only when the sample is large next to the factor's order (N·m² ≥ 16·n² for the A side): for the
    /// 784-input layer of a 4-example sample the eigendecomposition would cost a hundred times the products.
    /// </remarks>
    public void Apply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> nextA, Span<double> nextB, BlasBackend? blas)
    {
        int m = sample.Rows, n = sample.Cols, count = sample.Count;
        CheckLengths(a, b);
        CheckLengths(nextA, nextB);
        var lib = BlasGuard.Resolve(blas);
        var factorB = factorGram ?? FactorPays(count, m, n);
        var factorA = factorGram ?? FactorPays(count, n, m);
        using var aFactor = factorA ? new AlignedArray<double>(m * m) : null;
        using var bFactor = factorB ? new AlignedArray<double>(n * n) : null;
        if (aFactor is not null)
        {
            GramFactor(new ReadOnlyMatrixView<double>(a, m, m), new MatrixView<double>(aFactor.Span, m, m), lib);
        }

        if (bFactor is not null)
        {
            GramFactor(new ReadOnlyMatrixView<double>(b, n, n), new MatrixView<double>(bFactor.Span, n, n), lib);
        }

        var targetA = new MatrixView<double>(nextA, m, m);
        var targetB = new MatrixView<double>(nextB, n, n);
        var loaded = Chunks();
        for (var start = 0; start < count; start += loaded.ChunkExamples)
        {
            var size = Math.Min(loaded.ChunkExamples, count - start);
            loaded.Load(start, size);
            var beta = start == 0 ? 0.0 : 1.0;
            var length = size * sample.GradientLength;
            var products = first!.Span[..length];
            var relaid = second!.Span[..length];

            // A side: [G₁B; …] (or [G₁Qᵀ; …]) in one gemm, re-laid out side by side with weights wᵢ (or √wᵢ), then one
            // gemm against Wᵀ (or one syrk).
            MatrixProduct.Multiply(loaded.Vertical, false,
                bFactor is null ? new ReadOnlyMatrixView<double>(b, n, n) : new ReadOnlyMatrixView<double>(bFactor.Span, n, n), bFactor is not null,
                new MatrixView<double>(products, size * m, n), 1.0, 0.0, lib);
            Relayout(first, second, start, size, toHorizontal: true, squareRoot: bFactor is not null);
            var horizontal = new ReadOnlyMatrixView<double>(relaid, m, size * n);
            if (bFactor is null)
            {
                MatrixProduct.Multiply(horizontal, false, loaded.Horizontal, true, targetA, 1.0, beta, lib);
            }
            else
            {
                SymmetricRankUpdate.Update(horizontal, transpose: false, targetA, 1.0, beta, mirrorLower: false, lib);
            }

            // B side: [AG₁ … ] (or [PG₁ … ]) in one gemm, re-laid out stacked with weights, then Vᵀ· (or one syrk).
            MatrixProduct.Multiply(aFactor is null ? new ReadOnlyMatrixView<double>(a, m, m) : new ReadOnlyMatrixView<double>(aFactor.Span, m, m), false,
                loaded.Horizontal, false, new MatrixView<double>(products, m, size * n), 1.0, 0.0, lib);
            Relayout(first, second, start, size, toHorizontal: false, squareRoot: aFactor is not null);
            var vertical = new ReadOnlyMatrixView<double>(relaid, size * m, n);
            if (aFactor is null)
            {
                MatrixProduct.Multiply(loaded.Vertical, true, vertical, false, targetB, 1.0, beta, lib);
            }
            else
            {
                SymmetricRankUpdate.Update(vertical, transpose: true, targetB, 1.0, beta, mirrorLower: false, lib);
            }
        }

        Finish(targetA, factored: bFactor is not null);
        Finish(targetB, factored: aFactor is not null);
    }

    /// <summary>⟨H, A ⊗ B⟩ = Σ wᵢ ⟨A Gᵢ, Gᵢ B⟩: the two products of <see cref="Apply"/> without the reductions, then dots.</summary>
    public double InnerProduct(ReadOnlySpan<double> a, ReadOnlySpan<double> b, BlasBackend? blas)
    {
        int m = sample.Rows, n = sample.Cols;
        CheckLengths(a, b);
        var lib = BlasGuard.Resolve(blas);
        var loaded = Chunks();
        var total = 0.0;
        for (var start = 0; start < sample.Count; start += loaded.ChunkExamples)
        {
            var size = Math.Min(loaded.ChunkExamples, sample.Count - start);
            loaded.Load(start, size);
            var length = size * sample.GradientLength;
            MatrixProduct.Multiply(loaded.Vertical, false, new ReadOnlyMatrixView<double>(b, n, n), false,
                new MatrixView<double>(first!.Span[..length], size * m, n), 1.0, 0.0, lib);
            MatrixProduct.Multiply(new ReadOnlyMatrixView<double>(a, m, m), false, loaded.Horizontal, false,
                new MatrixView<double>(second!.Span[..length], m, size * n), 1.0, 0.0, lib);
            total += BlockDots(first, second, start, size);
        }

        return total;
    }

    public void Dispose()
    {
        chunks?.Dispose();
        first?.Dispose();
        second?.Dispose();
        chunks = null;
        first = null;
        second = null;
    }

    /// <summary>Whether reducing Σ wᵢ Gᵢ X Gᵢᵀ (X of order <paramref name="factorOrder"/>, result of order
    /// <paramref name="resultOrder"/>) by syrk saves more than factoring X costs.</summary>
    private static bool FactorPays(int count, int resultOrder, int factorOrder) =>
        (double)count * resultOrder * resultOrder >= EigenCostPerCube * factorOrder * factorOrder;

    // Syrk results hold the upper triangle; gemm results agree with their transpose up to round-off.
    private static void Finish(MatrixView<double> target, bool factored)
    {
        if (factored)
        {
            SymmetricRankUpdate.MirrorUpper(target);
            return;
        }

        var order = target.Rows;
        for (var i = 0; i < order; i++)
        {
            for (var j = i + 1; j < order; j++)
            {
                var mean = 0.5 * (target[i, j] + target[j, i]);
                target[i, j] = mean;
                target[j, i] = mean;
            }
        }
    }

    private void CheckLengths(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int m = sample.Rows, n = sample.Cols;
        if (a.Length != m * m || b.Length != n * n)
        {
            throw new ArgumentException($"For {m}×{n} gradients A must hold {m * m} values and B {n * n}; got {a.Length} and {b.Length}.");
        }
    }

    private GradientChunks<T> Chunks()
    {
        if (chunks is null)
        {
            chunks = new GradientChunks<T>(sample, needVertical: true, needHorizontal: true, scaleBySqrtWeight: false, chunkExamples);
            var elements = chunks.ChunkExamples * sample.GradientLength;
            first = new AlignedArray<double>(elements);
            second = new AlignedArray<double>(elements);
        }

        return chunks;
    }

    // Between the stacks, each example scaled by sᵢ = wᵢ or √wᵢ: vertical [Y₁; …; Y_c] ((c·m)×n) → horizontal
    // [s₁Y₁ … s_cY_c] (m×(c·n)), or horizontal → vertical.
    private void Relayout(AlignedArray<double> source, AlignedArray<double> target, int start, int count, bool toHorizontal, bool squareRoot)
    {
        int m = sample.Rows, n = sample.Cols, stride = count * n;
        var owner = sample;
        Parallel.For(0, count, i =>
        {
            var w = squareRoot ? Math.Sqrt(owner.Weights[start + i]) : owner.Weights[start + i];
            var src = source.Span;
            var dst = target.Span;
            for (var r = 0; r < m; r++)
            {
                int vertical = ((i * m) + r) * n, horizontal = (r * stride) + (i * n);
                TensorPrimitives.Multiply(src.Slice(toHorizontal ? vertical : horizontal, n), w, dst.Slice(toHorizontal ? horizontal : vertical, n));
            }
        });
    }

    // Σᵢ wᵢ ⟨GᵢB, AGᵢ⟩ with GᵢB stacked vertically in `vertical` and AGᵢ side by side in `horizontal`.
    private double BlockDots(AlignedArray<double> vertical, AlignedArray<double> horizontal, int start, int count)
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

            partial[i] = owner.Weights[start + i] * sum;
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
    private static void GramFactor(ReadOnlyMatrixView<double> x, MatrixView<double> factor, BlasBackend blas)
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
