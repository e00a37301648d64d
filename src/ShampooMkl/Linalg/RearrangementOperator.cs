using System.Numerics.Tensors;
using ShampooMkl.Memory;
using ShampooMkl.Native;

namespace ShampooMkl.Linalg;

/// <summary>The Van Loan rearrangement R(H) of H = Σ wᵢ gᵢgᵢᵀ applied to factors, from the stored gradients, never forming H.</summary>
/// <remarks>
/// R(H) vec(B) = Σ wᵢ Gᵢ B Gᵢᵀ, R(H)ᵀ vec(A) = Σ wᵢ Gᵢᵀ A Gᵢ and ⟨H, A⊗B⟩ = vec(A)ᵀ R(H) vec(B) = Σ wᵢ ⟨A Gᵢ, Gᵢ B⟩ (DESIGN §1).
/// Per chunk of c examples, with V = [G₁; …; G_c] ((c·m)×n) and W = [G₁ … G_c] (m×(c·n)) from <see cref="GradientChunks{T}"/>:
/// - A side: V·B = [G₁B; …] is one gemm; re-laid out (and scaled by wᵢ) as [w₁G₁B … w_cG_cB], times Wᵀ it is
///   Σ wᵢ GᵢBGᵢᵀ in one more gemm — the H_s (I_N ⊗ B) H_sᵀ of the issue;
/// - B side: A·W = [AG₁ … AG_c] is one gemm; re-laid out as [w₁AG₁; …], Vᵀ times it is Σ wᵢ GᵢᵀAGᵢ.
/// So a pass is four large gemms per chunk and two memory-bound copies, and never a per-example BLAS call: small calls
/// each pay a threading fork/join, which on a busy 2-core machine cost more than the arithmetic.
/// Every sum is accumulated in fp64 by gemm's β = 1 across chunks.
/// </remarks>
internal sealed class RearrangementOperator<T> where T : unmanaged
{
    private readonly GradientSample<T> sample;
    private readonly BlasLibrary blas;
    private readonly int chunkExamples;

    public RearrangementOperator(GradientSample<T> sample, BlasLibrary? blas, int chunkExamples = 0)
    {
        ArgumentNullException.ThrowIfNull(sample);
        this.sample = sample;
        this.blas = BlasGuard.Resolve(blas);
        this.chunkExamples = chunkExamples;
    }

    /// <summary>nextA ← R(H) vec(B) = Σ wᵢ Gᵢ B Gᵢᵀ and nextB ← R(H)ᵀ vec(A) = Σ wᵢ Gᵢᵀ A Gᵢ, both from the given (previous) pair.</summary>
    /// <remarks>The results are symmetrised: for symmetric inputs they are symmetric in exact arithmetic, and the
    /// eigendecompositions and syrk-based consumers downstream assume it.</remarks>
    public void Apply(ReadOnlyMatrixView<double> a, ReadOnlyMatrixView<double> b, MatrixView<double> nextA, MatrixView<double> nextB)
    {
        int m = sample.Rows, n = sample.Cols;
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

            var gb = new MatrixView<double>(products.Span[..length], count * m, n);
            MatrixProduct.Multiply(chunks.Vertical, false, b, false, gb, 1.0, 0.0, blas);
            VerticalToHorizontal(products, relaid, first, count);
            MatrixProduct.Multiply<double>(new ReadOnlyMatrixView<double>(relaid.Span[..length], m, count * n), false,
                chunks.Horizontal, true, nextA, 1.0, beta, blas);

            var ag = new MatrixView<double>(products.Span[..length], m, count * n);
            MatrixProduct.Multiply(a, false, chunks.Horizontal, false, ag, 1.0, 0.0, blas);
            HorizontalToVertical(products, relaid, first, count);
            MatrixProduct.Multiply<double>(chunks.Vertical, true, new ReadOnlyMatrixView<double>(relaid.Span[..length], count * m, n), false,
                nextB, 1.0, beta, blas);
        }

        Symmetrize(nextA);
        Symmetrize(nextB);
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

    // [G₁B; …] ((c·m)×n) → [w₁G₁B … w_cG_cB] (m×(c·n)).
    private void VerticalToHorizontal(AlignedArray<double> source, AlignedArray<double> target, int first, int count)
    {
        int m = sample.Rows, n = sample.Cols, stride = count * n;
        var owner = sample;
        Parallel.For(0, count, i =>
        {
            var w = owner.Weights[first + i];
            var src = source.Span;
            var dst = target.Span;
            for (var r = 0; r < m; r++)
            {
                TensorPrimitives.Multiply(src.Slice(((i * m) + r) * n, n), w, dst.Slice((r * stride) + (i * n), n));
            }
        });
    }

    // [AG₁ … AG_c] (m×(c·n)) → [w₁AG₁; …; w_cAG_c] ((c·m)×n).
    private void HorizontalToVertical(AlignedArray<double> source, AlignedArray<double> target, int first, int count)
    {
        int m = sample.Rows, n = sample.Cols, stride = count * n;
        var owner = sample;
        Parallel.For(0, count, i =>
        {
            var w = owner.Weights[first + i];
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

    private static void Symmetrize(MatrixView<double> c)
    {
        for (var i = 0; i < c.Rows; i++)
        {
            for (var j = i + 1; j < c.Cols; j++)
            {
                var mean = 0.5 * (c[i, j] + c[j, i]);
                c[i, j] = mean;
                c[j, i] = mean;
            }
        }
    }
}
