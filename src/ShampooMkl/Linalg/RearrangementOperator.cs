using System.Numerics.Tensors;
using ShampooMkl.Memory;
using ShampooMkl.Native;

namespace ShampooMkl.Linalg;

/// <summary>The Van Loan rearrangement R(H) of H = Σ wᵢ gᵢgᵢᵀ applied to factors, from the stored gradients, never forming H.</summary>
/// <remarks>
/// R(H) vec(B) = Σ wᵢ Gᵢ B Gᵢᵀ, R(H)ᵀ vec(A) = Σ wᵢ Gᵢᵀ A Gᵢ and ⟨H, A⊗B⟩ = vec(A)ᵀ R(H) vec(B) = Σ wᵢ ⟨A Gᵢ, Gᵢ B⟩ (DESIGN §1).
/// Per chunk of c examples in the vertical layout V = [G₁; …; G_c]:
/// - the n²-sized work (the larger side for a layer with more inputs than outputs) is one gemm each:
///   V·B ((c·m)×n×n) and Vᵀ·[w₁AG₁; …] (n×(c·m)×n);
/// - the m²-sized work is c per-example gemms (AGᵢ and TᵢGᵢᵀ, with wᵢ as gemm's α so weights cost nothing).
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
        using var chunks = new GradientChunks<T>(sample, needVertical: true, needHorizontal: false, scaleBySqrtWeight: false, chunkExamples);
        var elements = chunks.ChunkExamples * sample.GradientLength;
        using var products = new AlignedArray<double>(elements);
        var weights = sample.Weights;
        for (var first = 0; first < sample.Count; first += chunks.ChunkExamples)
        {
            var count = Math.Min(chunks.ChunkExamples, sample.Count - first);
            chunks.Load(first, count);
            var beta = first == 0 ? 0.0 : 1.0;
            var stack = chunks.Vertical;
            var product = new MatrixView<double>(products.Span[..(count * sample.GradientLength)], count * m, n);

            // A side: Tᵢ = Gᵢ B for the whole chunk at once, then Σ wᵢ Tᵢ Gᵢᵀ.
            MatrixProduct.Multiply(stack, false, b, false, product, 1.0, 0.0, blas);
            for (var i = 0; i < count; i++)
            {
                MatrixProduct.Multiply<double>(product.Slice(i * m, 0, m, n), false, chunks.VerticalBlock(i), true, nextA,
                    weights[first + i], i == 0 ? beta : 1.0, blas);
            }

            // B side: Uᵢ = wᵢ A Gᵢ per example, then Σ Gᵢᵀ Uᵢ = Vᵀ U for the whole chunk at once.
            for (var i = 0; i < count; i++)
            {
                MatrixProduct.Multiply(a, false, chunks.VerticalBlock(i), false, product.Slice(i * m, 0, m, n), weights[first + i], 0.0, blas);
            }

            MatrixProduct.Multiply<double>(stack, true, product, false, nextB, 1.0, beta, blas);
        }

        Symmetrize(nextA);
        Symmetrize(nextB);
    }

    /// <summary>⟨H, A ⊗ B⟩ = Σ wᵢ ⟨A Gᵢ, Gᵢ B⟩: the same two products as <see cref="Apply"/> without the reductions.</summary>
    public double InnerProduct(ReadOnlyMatrixView<double> a, ReadOnlyMatrixView<double> b)
    {
        int m = sample.Rows, n = sample.Cols;
        using var chunks = new GradientChunks<T>(sample, needVertical: true, needHorizontal: false, scaleBySqrtWeight: false, chunkExamples);
        var elements = chunks.ChunkExamples * sample.GradientLength;
        using var right = new AlignedArray<double>(elements);
        using var left = new AlignedArray<double>(elements);
        var weights = sample.Weights;
        var total = 0.0;
        for (var first = 0; first < sample.Count; first += chunks.ChunkExamples)
        {
            var count = Math.Min(chunks.ChunkExamples, sample.Count - first);
            chunks.Load(first, count);
            var length = count * sample.GradientLength;
            var gb = new MatrixView<double>(right.Span[..length], count * m, n);
            var ag = new MatrixView<double>(left.Span[..length], count * m, n);
            MatrixProduct.Multiply(chunks.Vertical, false, b, false, gb, 1.0, 0.0, blas);
            for (var i = 0; i < count; i++)
            {
                MatrixProduct.Multiply(a, false, chunks.VerticalBlock(i), false, ag.Slice(i * m, 0, m, n), weights[first + i], 0.0, blas);
            }

            total += TensorPrimitives.Dot<double>(ag.Data, gb.Data);
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
