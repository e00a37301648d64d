using ShampooMkl.Kronecker;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Kronecker;

/// <summary>Gradient samples with known H for the Kronecker tests, and the dense H they stand for.</summary>
internal static class KroneckerTestData
{
    /// <summary>H = Σ wᵢ gᵢgᵢᵀ formed densely (mn×mn), the yardstick the gradient-only library code is checked against.</summary>
    public static double[] DenseH(ReadOnlySpan<double> stack, int count, int m, int n, ReadOnlySpan<double> weights = default)
    {
        int size = m * n;
        var h = new double[size * size];
        for (int i = 0; i < count; i++)
        {
            double w = weights.IsEmpty ? 1.0 / count : weights[i];
            ReadOnlySpan<double> g = stack.Slice(i * size, size);
            for (int p = 0; p < size; p++)
            {
                for (int q = 0; q < size; q++)
                {
                    h[(p * size) + q] += w * g[p] * g[q];
                }
            }
        }

        return h;
    }

    public static double[] DenseH<T>(GradientSample<T> sample) where T : unmanaged =>
        DenseH(Widen(sample), sample.Count, sample.Rows, sample.Cols, sample.Weights);

    public static double[] Dense(KroneckerPair pair) => DenseMatrix.Kronecker(pair.A, pair.Rows, pair.B, pair.Cols);

    /// <summary>The sample's values in fp64 (exactly, for fp32 storage).</summary>
    public static double[] Widen<T>(GradientSample<T> sample) where T : unmanaged
    {
        var result = new double[sample.Data.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = sample.Data[i] switch
            {
                float f => f,
                double d => d,
                var other => throw new NotSupportedException(other.GetType().Name),
            };
        }

        return result;
    }

    /// <summary>A random orthogonal size×size matrix: the eigenvectors of a random symmetric matrix.</summary>
    public static double[] Orthogonal(int seed, int size)
    {
        double[] x = SeededRandom.Gaussian(seed, size * size);
        var s = new double[size * size];
        for (int i = 0; i < size; i++)
        {
            for (int j = 0; j < size; j++)
            {
                s[(i * size) + j] = x[(i * size) + j] + x[(j * size) + i];
            }
        }

        return JacobiEigen.Decompose(s, size).Vectors;
    }

    /// <summary>
    /// N = m·n dense, full-rank gradients whose empirical H (uniform weights) is exactly (A ⊗ B)/N.
    /// </summary>
    /// <remarks>
    /// Proof. Let Q be orthogonal (mn×mn) with columns qᵢ, Zᵢ the m×n matrix with vec(Zᵢ) = qᵢ, and
    /// Gᵢ = A^{1/2} Zᵢ B^{1/2}. With row-major vec, vec(X Z Yᵀ) = (X ⊗ Y) vec(Z), and B^{1/2} is symmetric, so
    /// gᵢ = (A^{1/2} ⊗ B^{1/2}) qᵢ. Then Σᵢ gᵢgᵢᵀ = (A^{1/2} ⊗ B^{1/2}) Q Qᵀ (A^{1/2} ⊗ B^{1/2}) = A^{1/2}A^{1/2} ⊗ B^{1/2}B^{1/2}
    /// = A ⊗ B, using (X ⊗ Y)(U ⊗ V) = XU ⊗ YV and Q Qᵀ = I. With weights 1/N, H = (A ⊗ B)/N. Unlike the Gaussian
    /// construction A^{1/2} Z B^{1/2} with iid Z, this holds exactly for the finite sample, not only in expectation.
    /// </remarks>
    public static (double[] Stack, double[] A, double[] B) ExactKroneckerSample(int seed, int m, int n)
    {
        double[] a = SeededRandom.SymmetricPositiveDefinite(seed, m, shift: 0.05);
        double[] b = SeededRandom.SymmetricPositiveDefinite(seed + 1, n, shift: 0.05);
        double[] aRoot = JacobiEigen.MatrixFunction(a, m, Math.Sqrt);
        double[] bRoot = JacobiEigen.MatrixFunction(b, n, Math.Sqrt);
        int size = m * n;
        double[] q = Orthogonal(seed + 2, size);
        var stack = new double[size * size];
        for (int i = 0; i < size; i++)
        {
            var z = new double[size];
            for (int p = 0; p < size; p++)
            {
                z[p] = q[(p * size) + i];
            }

            double[] g = DenseMatrix.Multiply(DenseMatrix.Multiply(aRoot, m, m, z, m, n), m, n, bRoot, n, n);
            g.CopyTo(stack, i * size);
        }

        return (stack, a, b);
    }

    /// <summary>Relative Frobenius distance ‖x − y‖/‖x‖.</summary>
    public static double RelativeDistance(double[] expected, double[] actual) =>
        DenseMatrix.FrobeniusNorm(DenseMatrix.Add(expected, DenseMatrix.Scale(actual, -1))) / DenseMatrix.FrobeniusNorm(expected);

    /// <summary>Divides by the Frobenius norm.</summary>
    public static double[] Unit(double[] x) => DenseMatrix.Scale(x, 1 / DenseMatrix.FrobeniusNorm(x));
}
