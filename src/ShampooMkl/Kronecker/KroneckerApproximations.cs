using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Kronecker;

/// <summary>The closed-form Kronecker approximations of H that the paper compares with the optimum: Shampoo², Shampoo and K-FAC.</summary>
/// <remarks>Each is returned as a <see cref="KroneckerPair"/> whose A ⊗ B is the approximation itself, scale included (the table in docs/design.md, 'Conventions').</remarks>
public static class KroneckerApproximations
{
    /// <summary>L and R of the sample in one pass: two fp64 syrk calls per chunk on the √w-scaled gradients.</summary>
    public static ShampooStatistics ComputeStatistics<T>(GradientSample<T> sample, BlasBackend? blas = null) where T : unmanaged =>
        ComputeStatistics(sample, blas, chunkExamples: 0);

    internal static ShampooStatistics ComputeStatistics<T>(GradientSample<T> sample, BlasBackend? blas, int chunkExamples)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(sample);
        var lib = BlasGuard.Resolve(blas);
        int m = sample.Rows, n = sample.Cols;
        var left = new double[m * m];
        var right = new double[n * n];
        var l = new MatrixView<double>(left, m, m);
        var r = new MatrixView<double>(right, n, n);
        using var chunks = new GradientChunks<T>(sample, needVertical: true, needHorizontal: true, scaleBySqrtWeight: true, chunkExamples);
        for (var first = 0; first < sample.Count; first += chunks.ChunkExamples)
        {
            chunks.Load(first, Math.Min(chunks.ChunkExamples, sample.Count - first));
            var beta = first == 0 ? 0.0 : 1.0;

            // Σ wᵢ GᵢGᵢᵀ = W Wᵀ over the horizontal stack; Σ wᵢ GᵢᵀGᵢ = Vᵀ V over the vertical one.
            SymmetricRankUpdate.Update(chunks.Horizontal, transpose: false, l, 1.0, beta, mirrorLower: false, lib);
            SymmetricRankUpdate.Update(chunks.Vertical, transpose: true, r, 1.0, beta, mirrorLower: false, lib);
        }

        SymmetricRankUpdate.MirrorUpper(l);
        SymmetricRankUpdate.MirrorUpper(r);
        return new ShampooStatistics(left, right, m, n);
    }

    /// <summary>Shampoo²: L ⊗ R / Tr(H), with 1/√Tr(H) folded into each factor. Exact when H is a Kronecker product.</summary>
    /// <exception cref="InvalidOperationException">Tr(H) = 0 (all gradients zero).</exception>
    public static KroneckerPair ShampooSquared(ShampooStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        if (!(statistics.Trace > 0))
        {
            throw new InvalidOperationException("Tr(H) is zero: every gradient in the sample is zero.");
        }

        var s = 1 / Math.Sqrt(statistics.Trace);
        var a = new double[statistics.L.Length];
        var b = new double[statistics.R.Length];
        TensorPrimitives.Multiply(statistics.L, s, a);
        TensorPrimitives.Multiply(statistics.R, s, b);
        return new KroneckerPair(a, statistics.Rows, b, statistics.Cols);
    }

    /// <summary>Shampoo (Gupta et al. 2018): L^{1/2} ⊗ R^{1/2}, square roots by eigendecomposition with eigenvalues clamped at zero.</summary>
    public static KroneckerPair Shampoo(ShampooStatistics statistics, BlasBackend? blas = null)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        var a = MatrixPower.Compute(statistics.L, statistics.Rows, 0.5, blas: blas);
        var b = MatrixPower.Compute(statistics.R, statistics.Cols, 0.5, blas: blas);
        return new KroneckerPair(a, statistics.Rows, b, statistics.Cols);
    }

    /// <summary>K-FAC for a dense layer whose per-example gradient is Gᵢ = δᵢ aᵢᵀ: E[δδᵀ] ⊗ E[aaᵀ].</summary>
    /// <param name="outputGradients">δ, N×m (row i is δᵢ, the loss gradient w.r.t. the layer's pre-activations).</param>
    /// <param name="inputs">a, N×n (row i is the layer's input aᵢ).</param>
    /// <param name="weights">N relative weights (normalised to sum 1), or empty for uniform, as in <see cref="GradientSample{T}"/>.</param>
    /// <param name="blas">Backend, or the default.</param>
    /// <exception cref="ArgumentException">Row counts or weight count differ, or a weight is invalid.</exception>
    public static KroneckerPair KFac<T>(ReadOnlyMatrixView<T> outputGradients, ReadOnlyMatrixView<T> inputs,
        ReadOnlySpan<double> weights = default, BlasBackend? blas = null)
        where T : unmanaged
    {
        BlasGuard.EnsureSupported<T>();
        var count = outputGradients.Rows;
        if (inputs.Rows != count || count < 1)
        {
            throw new ArgumentException($"δ has {outputGradients.Rows} rows and a has {inputs.Rows}; both need the same N ≥ 1.");
        }

        var w = NormalizedWeights(weights, count);
        var lib = BlasGuard.Resolve(blas);
        return new KroneckerPair(
            WeightedSecondMoment(outputGradients, w, lib), outputGradients.Cols,
            WeightedSecondMoment(inputs, w, lib), inputs.Cols);
    }

    // Σ wᵢ xᵢxᵢᵀ = Xᵀ diag(w) X as one fp64 syrk on the rows scaled by √wᵢ.
    private static double[] WeightedSecondMoment<T>(ReadOnlyMatrixView<T> x, double[] w, BlasBackend blas) where T : unmanaged
    {
        int count = x.Rows, d = x.Cols;
        var scaled = new double[count * d];
        for (var i = 0; i < count; i++)
        {
            var target = scaled.AsSpan(i * d, d);
            if (typeof(T) == typeof(double))
            {
                TensorPrimitives.Multiply(MemoryMarshal.Cast<T, double>(x.Row(i)), Math.Sqrt(w[i]), target);
            }
            else
            {
                TensorPrimitives.ConvertChecked(MemoryMarshal.Cast<T, float>(x.Row(i)), target);
                TensorPrimitives.Multiply(target, Math.Sqrt(w[i]), target);
            }
        }

        if (!FiniteCheck.All<double>(scaled))
        {
            throw new ArgumentException("K-FAC inputs contain NaN or infinite values.");
        }

        var result = new double[d * d];
        SymmetricRankUpdate.Update<double>(new ReadOnlyMatrixView<double>(scaled, count, d), transpose: true,
            new MatrixView<double>(result, d, d), 1.0, 0.0, mirrorLower: true, blas);
        return result;
    }

    // Same rules as a gradient sample, so K-FAC and H are weighted identically.
    private static double[] NormalizedWeights(ReadOnlySpan<double> weights, int count) =>
        SampleWeights.Normalize(weights, count);
}
